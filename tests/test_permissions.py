"""Who may see and do what (catalog.accounts.permissions), through every entry point.

Users: `user` (alice: add_dataset and import_server_path), `other_user` (bob: add_dataset),
`reader` (carol: no permission, browse only) and `staff_user` (steve: staff, not superuser).
"""

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from catalog import services, storage
from catalog.accounts import permissions
from catalog.accounts.models import ApiToken
from catalog.models import Dataset
from hfdatasets.asgi import application
from tests.fixtures import api_signed_in, api_with_authorization, signed_in

S = Dataset.Status
DOWNLOAD_URL = "/api/v1/datasets/download/"
IMPORT_URL = "/api/v1/datasets/import/"


# --- The rules themselves -------------------------------------------------------------------


def test_rules(user, other_user, reader, staff_user, make_dataset):
    shared = make_dataset(owner=user)
    personal = make_dataset(owner=user, personal=True, repo_id="acme/private", name="private")
    orphan = make_dataset(owner=None, repo_id="acme/orphan", name="orphan")

    assert set(permissions.visible_datasets(user)) == {shared, personal, orphan}
    assert set(permissions.visible_datasets(other_user)) == {shared, orphan}
    assert set(permissions.visible_datasets(staff_user)) == {shared, personal, orphan}
    assert not permissions.can_view(other_user, personal) and permissions.can_view(staff_user, personal)

    assert permissions.can_manage(user, shared) and permissions.can_manage(staff_user, shared)
    assert not permissions.can_manage(other_user, shared) and not permissions.can_manage(reader, shared)
    assert not permissions.can_manage(user, orphan) and permissions.can_manage(staff_user, orphan)

    assert permissions.can_request(user) and permissions.can_request(other_user)
    assert not permissions.can_request(reader)
    assert permissions.can_import_server_path(user) and not permissions.can_import_server_path(other_user)
    assert permissions.can_see_server_paths(staff_user) and not permissions.can_see_server_paths(user)


def test_the_hub_endpoint_serves_only_visible_ready_datasets(user, other_user, make_dataset):
    from catalog.hubapi import access

    shared = make_dataset(owner=user, status=S.READY)
    personal = make_dataset(owner=user, status=S.READY, personal=True, repo_id="acme/private", name="private")
    make_dataset(owner=user, status=S.FAILED, repo_id="acme/failed", name="failed")
    assert set(access.visible_datasets(user)) == {shared, personal}
    assert set(access.visible_datasets(other_user)) == {shared}


def test_anonymous_sees_nothing(db, make_dataset):
    from django.contrib.auth.models import AnonymousUser

    make_dataset()
    assert not permissions.visible_datasets(AnonymousUser()).exists()


# --- Owner of every entry point -------------------------------------------------------------


def test_owner_is_set_by_api_download_and_upload(other_user):
    client = api_signed_in(other_user)
    body = client.post(DOWNLOAD_URL, {"repo_id": "acme/multi"}, format="json").json()
    assert body["owner"] == "bob"
    upload = client.post(IMPORT_URL, {"file": _csv("rows.csv")}, format="multipart")
    assert upload.status_code == 202, upload.content
    assert upload.json()["owner"] == "bob"
    assert set(Dataset.objects.values_list("owner__username", flat=True)) == {"bob"}


def test_owner_is_set_by_the_upload_form(other_user):
    response = signed_in(other_user).post("/datasets/import/", {"file": _csv("rows.csv"), "name": ""})
    assert response.status_code == 302
    assert Dataset.objects.get().owner == other_user


def _csv(name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"a,b\n1,2\n", content_type="text/csv")


# --- Cancel, retry, delete: owner or staff only ---------------------------------------------


@pytest.mark.parametrize("action", ["cancel", "retry", "delete"])
def test_others_may_not_change_a_dataset_pages(user, other_user, staff_user, make_dataset, action):
    status = S.DOWNLOADING if action == "cancel" else S.FAILED
    dataset = make_dataset(owner=user, status=status)
    storage.arrow_dir(dataset.pk).mkdir(parents=True)
    url = f"/datasets/{dataset.pk}/{action}/"
    refused = signed_in(other_user).post(url)
    assert refused.status_code == 403
    assert b"owner or staff" in refused.content
    dataset.refresh_from_db()
    assert dataset.status == status and storage.dataset_dir(dataset.pk).exists()
    # The confirmation page is refused too, and the buttons are not offered to others.
    if action == "delete":
        assert signed_in(other_user).get(url).status_code == 403
    detail = signed_in(other_user).get(f"/datasets/{dataset.pk}/")
    assert detail.status_code == 200 and b'data-action="delete"' not in detail.content
    assert b'data-action="delete"' in signed_in(user).get(f"/datasets/{dataset.pk}/").content

    assert signed_in(staff_user).post(url).status_code == 302
    if action == "delete":
        assert not Dataset.objects.filter(pk=dataset.pk).exists()
    else:
        dataset.refresh_from_db()
        assert dataset.status != status


def api_client_of(person, via):
    """An API client of this user, signed in with a session or sending a personal API token."""
    if via == "session":
        return api_signed_in(person)
    _, key = ApiToken.objects.create(user=person, expiry=None, name="test")
    return api_with_authorization(f"Bearer {key}")


@pytest.mark.parametrize("via", ["session", "token"])
@pytest.mark.parametrize("action", ["cancel", "retry", "delete"])
def test_others_may_not_change_a_dataset_api(user, other_user, reader, make_dataset, action, via):
    status = S.DOWNLOADING if action == "cancel" else S.FAILED
    dataset = make_dataset(owner=user, status=status)

    def call(person):
        client = api_client_of(person, via)
        if action == "delete":
            return client.delete(f"/api/v1/datasets/{dataset.pk}/")
        return client.post(f"/api/v1/datasets/{dataset.pk}/{action}/")

    for person in (other_user, reader):
        response = call(person)
        assert response.status_code == 403, response.content
        assert "owner or staff" in response.json()["detail"]
    dataset.refresh_from_db()
    assert dataset.status == status
    assert call(user).status_code in (200, 202, 204)


def test_staff_may_change_anyones_dataset_api(user, staff_user, make_dataset):
    dataset = make_dataset(owner=user, status=S.DOWNLOADING)
    assert api_signed_in(staff_user).post(f"/api/v1/datasets/{dataset.pk}/cancel/").status_code == 200
    assert api_signed_in(staff_user).delete(f"/api/v1/datasets/{dataset.pk}/").status_code == 204


def test_admin_actions_need_staff_and_the_model_permissions(user, staff_user, make_dataset):
    dataset = make_dataset(owner=user, status=S.DOWNLOADING)
    client = signed_in(staff_user)
    # Staff without the admin's model permissions cannot use the change list at all.
    response = client.post("/admin/catalog/dataset/", {"action": "cancel_selected", "_selected_action": [dataset.pk]})
    assert response.status_code == 403
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.add(*Permission.objects.filter(codename__in=["view_dataset", "change_dataset"]))
    response = client.post("/admin/catalog/dataset/", {"action": "cancel_selected", "_selected_action": [dataset.pk]})
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.status == S.CANCELLED


# --- Roles: browse only, download, import server paths --------------------------------------


@pytest.mark.parametrize("via", ["session", "token"])
def test_reader_browses_but_cannot_download_or_import(reader, make_dataset, via):
    make_dataset(name="shared one")
    pages = signed_in(reader)
    listing = pages.get("/")
    assert listing.status_code == 200 and b"shared one" in listing.content
    assert b'href="/datasets/new/"' not in listing.content
    for url in ("/datasets/new/", "/datasets/import/"):
        assert pages.get(url).status_code == 403
    assert pages.post("/datasets/import/", {"file": _csv("x.csv")}).status_code == 403
    api = api_client_of(reader, via)
    assert api.get("/api/v1/datasets/").json()["count"] == 1
    assert api.post(DOWNLOAD_URL, {"repo_id": "acme/multi"}, format="json").status_code == 403
    assert api.post(IMPORT_URL, {"file": _csv("x.csv")}, format="multipart").status_code == 403
    assert Dataset.objects.count() == 1


def test_server_path_import_needs_its_own_permission(other_user, user, settings, tmp_path):
    root = tmp_path / "imports"
    root.mkdir()
    (root / "rows.csv").write_text("a,b\n1,2\n")
    settings.HFD_IMPORT_ROOTS = [root]
    path = str(root / "rows.csv")
    refused = api_signed_in(other_user).post(IMPORT_URL, {"path": path}, format="json")
    assert refused.status_code == 403
    assert "server" in refused.json()["detail"]
    form = signed_in(other_user).get("/datasets/import/")
    assert form.status_code == 200 and b'name="path"' not in form.content and str(root).encode() not in form.content
    # A path sent anyway is ignored by the form: it still wants a file.
    response = signed_in(other_user).post("/datasets/import/", {"path": path})
    assert response.status_code == 200 and not Dataset.objects.exists()

    allowed = api_signed_in(user).post(IMPORT_URL, {"path": path}, format="json")
    assert allowed.status_code == 202
    assert allowed.json()["owner"] == "alice"


# --- Datasets fetched with a personal token -------------------------------------------------


@pytest.mark.parametrize("via", ["session", "token"])
def test_personal_dataset_is_hidden_from_other_users(user, other_user, staff_user, make_dataset, via):
    personal = make_dataset(owner=user, personal=True, name="secret set", repo_id="acme/secret")
    for person, sees in ((user, True), (other_user, False), (staff_user, True)):
        pages, api = signed_in(person), api_client_of(person, via)
        assert (b"secret set" in pages.get("/").content) is sees
        assert (b"secret set" in pages.get("/storage/").content) is sees
        assert pages.get(f"/datasets/{personal.pk}/").status_code == (200 if sees else 404)
        assert api.get(f"/api/v1/datasets/{personal.pk}/").status_code == (200 if sees else 404)
        assert api.get(f"/api/v1/datasets/{personal.pk}/rows/").status_code == (409 if sees else 404)
        assert (api.get("/api/v1/datasets/").json()["count"] == 1) is sees
    assert api_signed_in(other_user).delete(f"/api/v1/datasets/{personal.pk}/").status_code == 404
    assert signed_in(other_user).post(f"/datasets/{personal.pk}/delete/").status_code == 404
    assert Dataset.objects.filter(pk=personal.pk).exists()


# --- Server paths ---------------------------------------------------------------------------


def test_only_staff_see_server_paths(user, staff_user, make_dataset, settings, tmp_path):
    root = tmp_path / "imports"
    settings.HFD_IMPORT_ROOTS = [root]
    arrow = storage.arrow_dir(uuid.uuid4())
    dataset = make_dataset(
        owner=user,
        source=Dataset.Source.LOCAL,
        status=S.FAILED,
        local_path=str(arrow),
        config={"source_path": str(root / "rows.csv"), "format": "csv", "split": "train"},
        error_message=f"The file {root / 'rows.csv'} is gone; data in {settings.DATA_DIR}.",
    )
    data_dir = str(settings.DATA_DIR).encode()
    for person, sees in ((user, False), (staff_user, True)):
        body = api_signed_in(person).get(f"/api/v1/datasets/{dataset.pk}/").json()
        assert (body["local_path"] == str(arrow)) is sees
        assert ("source_path" in body["config"]) is sees
        assert (str(root) in body["error_message"]) is sees
        listing = api_signed_in(person).get("/api/v1/datasets/").content
        assert (data_dir in listing) is sees and (str(root).encode() in listing) is sees
        for url in (f"/datasets/{dataset.pk}/", "/", "/storage/"):
            content = signed_in(person).get(url).content
            assert (data_dir in content) is sees, url
            if url != "/storage/":
                assert (str(root).encode() in content) is sees, url
    hidden = api_signed_in(user).get(f"/api/v1/datasets/{dataset.pk}/").json()["error_message"]
    assert hidden == "The file <import folder>/rows.csv is gone; data in <data folder>."


# --- Anonymous requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/", "/api/v1/datasets/", "/api/v1/schema/", "/api/v1/docs/", "/api/v1/hub/acme/multi/"]
)
def test_anonymous_api_gets_401_with_a_challenge(db, url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate")


def test_schema_is_served_to_signed_in_users(reader):
    assert api_signed_in(reader).get("/api/v1/schema/").status_code == 200


# --- Admin ----------------------------------------------------------------------------------


def test_admin_cannot_edit_what_the_files_depend_on(admin_client, make_dataset):
    dataset = make_dataset(status=S.READY, resolved_revision="a" * 40, local_path="/srv/x")
    page = admin_client.get(f"/admin/catalog/dataset/{dataset.pk}/change/").content
    for field in ("source", "repo_id", "config", "local_path", "resolved_revision", "personal"):
        assert f'name="{field}"'.encode() not in page, field
    assert b'name="name"' in page
    response = admin_client.post(
        f"/admin/catalog/dataset/{dataset.pk}/change/",
        {"name": "renamed", "owner": "", "repo_id": "evil/repo", "config": "{}", "source": "local"},
    )
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.name == "renamed"
    assert (dataset.repo_id, dataset.source, dataset.config["split"]) == ("acme/multi", "huggingface", "train")


# --- WebSockets -----------------------------------------------------------------------------


@pytest.fixture
def redis_layer(settings, redis_url):
    """The real Redis channel layer, with a prefix of our own."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": f"hfd-perm-{uuid.uuid4().hex[:12]}"},
        }
    }
    yield
    async_to_sync(channel_layers.make_backend("default").flush)()


def socket_headers(person, origin="http://127.0.0.1:8000", host="127.0.0.1:8000"):
    client = signed_in(person)
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if host is not None:
        headers.append((b"host", host.encode()))
    return headers


async def _connects(path, headers):
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin, host, allowed",
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://localhost", "localhost", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),  # same host, another port
        ("http://127.0.0.1", "127.0.0.1:8000", False),
        ("https://127.0.0.1", "127.0.0.1:8000", False),  # default port 443, not 8000
        ("http://evil.example:8000", "evil.example:8000", False),  # not in ALLOWED_HOSTS
        ("null", "127.0.0.1:8000", False),
        (None, "127.0.0.1:8000", False),
        ("https://datasets.example.org", "127.0.0.1:8000", True),  # CSRF_TRUSTED_ORIGINS
    ],
)
def test_socket_origin_must_be_this_site_host_and_port(redis_layer, user, settings, origin, host, allowed):
    settings.CSRF_TRUSTED_ORIGINS = ["https://datasets.example.org"]
    headers = socket_headers(user, origin=origin, host=host)
    assert async_to_sync(_connects)("/ws/datasets/", headers) is allowed


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/nothing/", "/ws/datasets/not-a-uuid/", "/", "/ws/datasets/../../etc/"])
def test_unknown_socket_paths_are_refused_not_crashed(redis_layer, user, path):
    assert async_to_sync(_connects)(path, socket_headers(user)) is False


def test_a_live_message_decides_who_hears_it_by_its_audience(user, other_user, staff_user, make_dataset):
    personal = make_dataset(repo_id="acme/personal", personal=True)  # owned by `user`
    shared = make_dataset(repo_id="acme/shared")
    everyone = (user, other_user, staff_user)
    assert [permissions.may_hear(who, permissions.audience(personal)) for who in everyone] == [True, False, True]
    assert [permissions.may_hear(who, permissions.audience(shared)) for who in everyone] == [True, True, True]
    # A message that does not say who may see its dataset reaches only staff, who see everything.
    assert [permissions.may_hear(who, None) for who in everyone] == [False, False, True]


@pytest.mark.django_db(transaction=True)
def test_sockets_only_carry_datasets_the_user_may_see(redis_layer, user, other_user, settings):
    settings.HFD_IMPORT_ROOTS = []
    shared = Dataset.objects.create(name="shared", repo_id="acme/shared", owner=user, config={"split": "train"})
    personal = Dataset.objects.create(
        name="personal", repo_id="acme/personal", owner=user, personal=True, config={"split": "train"}
    )

    their_headers, my_headers = socket_headers(other_user), socket_headers(user)

    async def body():
        from asgiref.sync import sync_to_async

        theirs = WebsocketCommunicator(application, "/ws/datasets/?page_size=1", headers=their_headers)
        assert (await theirs.connect(timeout=5))[0]
        snapshot = await theirs.receive_json_from(timeout=5)
        assert snapshot["dataset"]["id"] == str(shared.pk)
        assert await theirs.receive_nothing(timeout=0.2)

        one = WebsocketCommunicator(application, f"/ws/datasets/{personal.pk}/", headers=their_headers)
        assert (await one.connect(timeout=5))[0]
        assert await one.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}

        mine = WebsocketCommunicator(application, "/ws/datasets/", headers=my_headers)
        assert (await mine.connect(timeout=5))[0]
        ids = {(await mine.receive_json_from(timeout=5))["dataset"]["id"] for _ in range(2)}
        assert ids == {str(shared.pk), str(personal.pk)}

        # Changes: the owner hears about both, the other user only about the shared one.
        await sync_to_async(services.cancel)(personal)
        await sync_to_async(services.cancel)(shared)
        heard = [(await mine.receive_json_from(timeout=5))["dataset"]["id"] for _ in range(2)]
        assert heard == [str(personal.pk), str(shared.pk)]
        message = await theirs.receive_json_from(timeout=5)
        assert message["dataset"]["id"] == str(shared.pk)
        await sync_to_async(services.delete)(personal)
        assert (await mine.receive_json_from(timeout=5))["event"] == "deleted"
        assert await theirs.receive_nothing(timeout=0.3)
        for communicator in (theirs, mine):
            await communicator.disconnect()

    async_to_sync(body)()


@pytest.mark.django_db(transaction=True)
def test_a_deletion_off_the_page_reaches_those_who_may_see_it(redis_layer, user, other_user):
    # The list socket's snapshot is one page; a deletion elsewhere still moves the status tabs.
    shared = [
        Dataset.objects.create(name=f"shared {i}", repo_id=f"acme/s{i}", owner=user, config={"split": "train"})
        for i in range(3)
    ]
    personal = Dataset.objects.create(
        name="personal", repo_id="acme/personal", owner=user, personal=True, config={"split": "train"}
    )
    their_headers = socket_headers(other_user)

    async def body():
        from asgiref.sync import sync_to_async

        theirs = WebsocketCommunicator(application, "/ws/datasets/?page_size=1", headers=their_headers)
        assert (await theirs.connect(timeout=5))[0]
        assert (await theirs.receive_json_from(timeout=5))["event"] == "snapshot"
        assert await theirs.receive_nothing(timeout=0.2)
        await sync_to_async(services.delete)(personal)
        await sync_to_async(services.delete)(shared[0])
        # Its cancel (a status event) may be looked up after the row is gone, and then is dropped; the
        # deletion itself always arrives. Nothing about the personal dataset.
        message = await theirs.receive_json_from(timeout=5)
        if message["event"] == "status":
            message = await theirs.receive_json_from(timeout=5)
        assert (message["event"], message["dataset"]["id"]) == ("deleted", str(shared[0].pk))
        assert await theirs.receive_nothing(timeout=0.3)
        await theirs.disconnect()

    async_to_sync(body)()
