"""Who may see and do what: the one module pages, the API, the admin and the sockets ask.

The rules (README "Users and permissions"):
- Every signed-in user browses the shared catalog, except datasets fetched with a personal Hub
  token (`Dataset.personal`), which only their owner and staff see.
- Downloading and uploading need the model permission `catalog.add_dataset`; importing a file
  from a path on the server also needs `catalog.import_server_path`.
- Only a dataset's owner or staff may cancel, retry or delete it.
- Only staff see server paths (the data folder, Arrow folders, import source paths).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q
from django.http.request import is_same_domain, split_domain_port, validate_host
from rest_framework import permissions as drf_permissions

from catalog.models import Dataset

REQUEST_PERMISSION = "catalog.add_dataset"
SERVER_PATH_PERMISSION = "catalog.import_server_path"

# What a server path is replaced with in text shown to people who may not see paths.
HIDDEN_DATA_DIR = "<data folder>"
HIDDEN_IMPORT_DIR = "<import folder>"


def is_signed_in(user):
    return bool(user and user.is_authenticated and user.is_active)


def is_staff(user):
    return is_signed_in(user) and user.is_staff


# --- Seeing datasets ----------------------------------------------------------------------


def visible_datasets(user, queryset=None):
    """The datasets this user may see (none for an anonymous user)."""
    queryset = Dataset.objects.all() if queryset is None else queryset
    if not is_signed_in(user):
        return queryset.none()
    if user.is_staff:
        return queryset
    return queryset.filter(Q(personal=False) | Q(owner=user))


def can_view(user, dataset):
    return may_hear(user, audience(dataset))


def audience(dataset):
    """Who may see a dataset, as plain data a live message can carry (it never changes once created).

    With it in the message, each socket decides without a database lookup of its own.
    """
    return audience_of(dataset.personal, dataset.owner_id)


def audience_of(personal, owner_id):
    """audience() from the two fields, for code that read them without the record."""
    return {"personal": bool(personal), "owner_id": owner_id}


def may_hear(user, audience):
    """can_view() from a dataset's audience(); with none known, only staff (who see every dataset)."""
    if not is_signed_in(user):
        return False
    if audience is None:
        return user.is_staff
    return user.is_staff or not audience["personal"] or audience["owner_id"] == user.pk


# --- Changing datasets --------------------------------------------------------------------


def can_request(user):
    """May download from the Hub or upload a file (the `add_dataset` model permission)."""
    return is_signed_in(user) and user.has_perm(REQUEST_PERMISSION)


def can_import_server_path(user):
    """May import a file that is already on the server (its own permission, on top of add_dataset)."""
    return can_request(user) and user.has_perm(SERVER_PATH_PERMISSION)


def can_manage(user, dataset):
    """May cancel, retry or delete this dataset: its owner, or staff."""
    if not is_signed_in(user):
        return False
    return user.is_staff or (dataset.owner_id is not None and dataset.owner_id == user.pk)


# --- Server paths -------------------------------------------------------------------------


def can_see_server_paths(user):
    return is_staff(user)


def hide_paths(user, text):
    """Text with the data folder and the import folders replaced, for users who may not see paths."""
    if not text or can_see_server_paths(user):
        return text
    return _without_paths(text)


def _without_paths(text):
    replacements = [(str(settings.DATA_DIR), HIDDEN_DATA_DIR)]
    replacements += [(str(root), HIDDEN_IMPORT_DIR) for root in settings.HFD_IMPORT_ROOTS]
    # Longest first, so a folder inside another is replaced as a whole.
    for path, placeholder in sorted(replacements, key=lambda item: len(item[0]), reverse=True):
        text = text.replace(path, placeholder)
    return text


def dataset_for_user(user, data):
    """A serialized dataset (API record or live state) as this user may see it: no server paths."""
    return data if can_see_server_paths(user) else without_server_paths(data)


def without_server_paths(data):
    """A serialized dataset as every user who may not see server paths sees it (one copy serves them all)."""
    data = dict(data)
    if "local_path" in data:
        data["local_path"] = ""
    if isinstance(data.get("config"), dict):
        data["config"] = {key: value for key, value in data["config"].items() if key != "source_path"}
    if data.get("error_message"):
        data["error_message"] = _without_paths(data["error_message"])
    return data


# --- WebSocket origins -------------------------------------------------------------------

DEFAULT_PORTS = {"http": "80", "https": "443"}


def allowed_origin(origin, host):
    """May a page from `origin` open a socket to this server reached as `host` (the Host header)?

    As Django's CSRF check: the origin is one of CSRF_TRUSTED_ORIGINS, or it is this very site,
    host and port, with the host in ALLOWED_HOSTS. A page on another port of the same host is
    another origin and is refused.
    """
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
        scheme, origin_host, origin_port = parts.scheme, parts.hostname, parts.port
    except ValueError:
        return False
    if scheme not in DEFAULT_PORTS or not origin_host:
        return False
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if origin == trusted:
            return True
        if "*" in trusted:
            trusted_parts = urlsplit(trusted)
            if trusted_parts.scheme == scheme and is_same_domain(parts.netloc, trusted_parts.netloc):
                return True
    request_host, request_port = split_domain_port(host or "")
    if not request_host or not validate_host(request_host, settings.ALLOWED_HOSTS):
        return False
    origin_port = str(origin_port or DEFAULT_PORTS[scheme])
    return origin_host.lower().strip("[]") == request_host.strip("[]") and origin_port == (
        request_port or DEFAULT_PORTS[scheme]
    )


# --- The REST API -------------------------------------------------------------------------


class DatasetPermission(drf_permissions.BasePermission):
    """The API's datasets endpoints: browse when signed in, request with add_dataset, manage your own.

    Object-level checks run after the queryset is narrowed to visible_datasets(), so a dataset
    someone may not see is a 404, not a 403.
    """

    REQUEST_ACTIONS = {"download", "import_file"}
    MANAGE_ACTIONS = {"destroy", "cancel", "retry"}
    message = "You need the permission to download and import datasets (ask an administrator)."

    def has_permission(self, request, view):
        if not is_signed_in(request.user):
            return False
        if getattr(view, "action", None) in self.REQUEST_ACTIONS:
            return can_request(request.user)
        return True

    def has_object_permission(self, request, view, obj):
        if getattr(view, "action", None) in self.MANAGE_ACTIONS:
            self.message = "Only the dataset's owner or staff may cancel, retry or delete it."
            return can_manage(request.user, obj)
        return can_view(request.user, obj)
