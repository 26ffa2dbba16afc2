"""Validation of what people send: names that end up in URLs and on disk, and download requests.

Each validator raises django.core.exceptions.ValidationError with a message a person can act on.
DownloadRequest is the single validation path of a download request (page, API and command).
"""

import logging
import re

from django import forms
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

# The Hub's rule: letters, digits, "-", "_", "."; at most 96 characters per part;
# "--" and ".." are forbidden; "-" and "." may not start or end a part.
_HUB_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_]$|^[A-Za-z0-9_]$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,199}$")


def validate_repo_id(value):
    if not value or value != value.strip() or any(ch.isspace() for ch in value):
        raise ValidationError("Enter a Hub dataset id like 'namespace/name' or 'name', without spaces.")
    parts = value.split("/")
    if len(parts) > 2:
        raise ValidationError("A Hub dataset id has at most one '/', as in 'namespace/name'.")
    for part in parts:
        if ".." in part or "--" in part:
            raise ValidationError("A Hub dataset id may not contain '..' or '--'.")
        if not _HUB_NAME.match(part):
            raise ValidationError(
                "Use letters, digits, '-', '_' and '.' (not first or last), "
                "at most 96 characters per part, as in 'namespace/name'."
            )


def validate_safe_name(value, what="name"):
    """Subset (config) and split names: a conservative character set, never a path."""
    if not _SAFE_NAME.match(value or "") or ".." in value:
        raise ValidationError(
            f"The {what} may use letters, digits, '-', '_' and '.', must not start with '.' or '-', "
            "and is at most 128 characters."
        )


def validate_subset(value):
    validate_safe_name(value, "subset")


def validate_split(value):
    validate_safe_name(value, "split")


def validate_revision(value):
    """A branch, tag or commit sha. Branches may contain '/', but never '..' or '//'."""
    if not _REVISION.match(value or "") or ".." in value or "//" in value or value.endswith("/"):
        raise ValidationError(
            "A revision is a branch, tag or commit sha: letters, digits, '-', '_', '.', and '/' "
            "between parts, at most 200 characters."
        )


# --- A download request ------------------------------------------------------------------

# Counts are stored as 64-bit signed integers (PostgreSQL bigint, Arrow int64).
INT64_MAX = 2**63 - 1


class DownloadRequest(forms.Form):
    """The one set of rules for a download request, Hub check included.

    The web form (catalog.forms.DownloadForm) is this form with widgets; the API's
    DownloadRequestSerializer runs it; `manage.py download` runs it. Field errors name the field.
    Once every field is well formed, clean() asks the Hub whether it offers this repo, revision,
    subset and split: an answer that something is missing becomes an error on that field; a Hub
    that cannot be reached becomes a form-wide error, and `hub_unreachable` holds its message
    (the API answers 503 with it). After is_valid(), `plan` is the Hub's download plan.
    """

    # What a missing value means (an empty value is an error: there is no empty split).
    DEFAULTS = {"split": "train"}

    repo_id = forms.CharField(
        max_length=200, validators=[validate_repo_id], help_text="As on the Hub, e.g. 'stanfordnlp/imdb' or 'squad'."
    )
    subset = forms.CharField(
        max_length=128,
        required=False,
        validators=[validate_subset],
        help_text="The dataset's configuration. Empty: its default subset.",
    )
    split = forms.CharField(max_length=128, validators=[validate_split], help_text="Default: train.")
    revision = forms.CharField(
        max_length=200,
        required=False,
        validators=[validate_revision],
        help_text="Branch, tag or commit sha. Empty: the default branch.",
    )
    max_samples = forms.IntegerField(
        required=False, min_value=1, max_value=INT64_MAX, help_text="Keep only the first rows. Empty: all of them."
    )
    name = forms.CharField(
        max_length=255, required=False, help_text="Shown in the catalog. Empty: made from the id, subset and split."
    )

    plan = None
    hub_unreachable = ""

    def __init__(self, *args, hub_token=None, **kwargs):
        super().__init__(*args, **kwargs)
        # A user's personal Hub token for the check (catalog.accounts.hub_tokens); None: the site's HF_TOKEN.
        self.hub_token = hub_token

    @classmethod
    def from_input(cls, data, **kwargs):
        """The form for data in which a missing key takes its default (an API body, command options)."""
        values = {key: data.get(key) for key in data}
        for key, default in cls.DEFAULTS.items():
            if values.get(key) is None:
                values[key] = default
        return cls(values, **kwargs)

    def clean(self):
        data = super().clean()
        if not self.errors:
            self.check_on_hub(data)
        return data

    def check_on_hub(self, data):
        """Ask the Hub (catalog.hub.check_download) so that a typo fails here, not later in the worker."""
        from catalog import hub  # Imports huggingface_hub and datasets: only when a request is checked.

        try:
            self.plan = hub.check_download(
                data["repo_id"], data["revision"], data["subset"], data["split"], token=self.hub_token
            )
        except hub.HubError as exc:
            if exc.field and exc.permanent:
                self.add_error(exc.field, exc.message)
            else:
                self.hub_unreachable = exc.message
                self.add_error(None, f"{exc.message} The request was not checked; try again in a moment.")
        except Exception:
            # Something the Hub module did not foresee: log it for us, tell the person plainly.
            logger.exception("Checking %s on the Hub failed", data["repo_id"])
            self.hub_unreachable = (
                f"'{data['repo_id']}' could not be checked on the Hub because of an unexpected error; "
                "it has been logged. Try again, or check the dataset's page on the Hub."
            )
            self.add_error(None, self.hub_unreachable)

    def download_arguments(self):
        """Keyword arguments for services.request_download (with the Hub's plan: the resolved subset and commit)."""
        arguments = {
            key: self.cleaned_data[key] for key in ("repo_id", "split", "subset", "revision", "max_samples", "name")
        }
        return {**arguments, "plan": self.plan}
