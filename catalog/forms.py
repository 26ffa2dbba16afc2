"""Forms of the web pages. Field rules are the API's (catalog.validators); state changes are services'."""

import logging

from django import forms
from django.conf import settings

from catalog import validators
from catalog.models import Dataset

logger = logging.getLogger(__name__)


class DownloadForm(forms.Form):
    """The same fields, limits and validators as the API's DownloadRequestSerializer."""

    repo_id = forms.CharField(
        label="Hub dataset id",
        max_length=200,
        validators=[validators.validate_repo_id],
        help_text="As on the Hub, e.g. 'stanfordnlp/imdb' or 'squad'.",
        widget=forms.TextInput(attrs={"placeholder": "namespace/name", "autocomplete": "off", "spellcheck": "false"}),
    )
    revision = forms.CharField(
        max_length=200,
        required=False,
        validators=[validators.validate_revision],
        help_text="Branch, tag or commit sha. Empty: the default branch.",
        widget=forms.TextInput(attrs={"placeholder": "main", "autocomplete": "off", "spellcheck": "false"}),
    )
    # Plain text inputs so the form works without JavaScript; download.js turns them into
    # selects filled with what the dataset offers.
    subset = forms.CharField(
        max_length=128,
        required=False,
        validators=[validators.validate_subset],
        help_text="The dataset's configuration. Empty: its default subset.",
        widget=forms.TextInput(attrs={"placeholder": "default", "autocomplete": "off", "spellcheck": "false"}),
    )
    split = forms.CharField(
        max_length=128,
        initial="train",
        validators=[validators.validate_split],
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    max_samples = forms.IntegerField(
        label="Max samples",
        required=False,
        min_value=1,
        help_text="Keep only the first rows. Empty: all of them.",
    )
    name = forms.CharField(
        max_length=255,
        required=False,
        help_text="Shown in the catalog. Empty: made from the id, subset and split.",
    )

    def check_on_hub(self):
        """Ask the Hub whether it offers this subset and split, so a typo fails here, not in the worker.

        Returns the download plan (for its size) or None after adding an error to the form.
        A Hub that cannot be reached becomes a form-wide error, never an exception.
        """
        from catalog import hub  # imports huggingface_hub and datasets: only when a form is sent

        data = self.cleaned_data
        try:
            sha, _private = hub.resolve_revision(data["repo_id"], data["revision"], attempts=hub.INTERACTIVE_ATTEMPTS)
            return hub.plan(data["repo_id"], sha, data["subset"], data["split"])
        except hub.HubError as exc:
            self.add_error(exc.field, exc.message)
        except Exception:
            # Something the Hub module did not foresee: log it for us, tell the person plainly.
            logger.exception("Checking %s on the Hub failed", data["repo_id"])
            self.add_error(
                None,
                f"'{data['repo_id']}' could not be checked on the Hub because of an unexpected error; "
                "it has been logged. Try again, or check the dataset's page on the Hub.",
            )
        return None

    def download_arguments(self):
        """Keyword arguments for services.request_download."""
        data = self.cleaned_data
        return {
            "repo_id": data["repo_id"],
            "split": data["split"],
            "subset": data["subset"],
            "revision": data["revision"],
            "max_samples": data["max_samples"],
            "name": data["name"],
        }


class ImportForm(forms.Form):
    """A local csv, json/jsonl or parquet file: uploaded, or a path under HFD_IMPORT_ROOTS.

    Which files are acceptable is decided by services.import_local (ImportRefused names the field).
    """

    ACCEPT = ".csv,.json,.jsonl,.parquet"

    name = forms.CharField(max_length=255, required=False, help_text="Shown in the catalog. Empty: the file's name.")
    file = forms.FileField(
        label="Upload a file",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
        help_text="csv, json, jsonl or parquet.",
    )
    path = forms.CharField(
        label="Or a path on the server",
        max_length=1024,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "/srv/data/file.parquet"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        roots = settings.HFD_IMPORT_ROOTS
        if roots:
            self.fields["path"].help_text = "Under " + ", ".join(str(root) for root in roots) + "."
        else:
            self.fields["path"].help_text = "Switched off: no import folders are configured (HFD_IMPORT_ROOTS)."
            self.fields["path"].disabled = True

    def clean(self):
        data = super().clean()
        if not self.errors and bool(data.get("file")) == bool(data.get("path")):
            raise forms.ValidationError("Choose a file to upload or give a path on the server (one of the two).")
        return data

    # import_local names its inputs uploaded_file and path; the form's upload field is "file".
    FIELD_OF_SERVICE_ARGUMENT = {"uploaded_file": "file", "file": "file", "path": "path", "name": "name"}

    def field_for(self, service_field):
        return self.FIELD_OF_SERVICE_ARGUMENT.get(service_field)


class DatasetFilterForm(forms.Form):
    """The datasets page's filters; unknown values are ignored rather than answered with an error."""

    status = forms.ChoiceField(choices=[("", "All")] + list(Dataset.Status.choices), required=False)
    q = forms.CharField(label="Search", max_length=200, required=False)
