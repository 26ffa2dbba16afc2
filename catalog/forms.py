"""Forms of the web pages. Rules are in catalog.validators (shared with the API); state changes are services'."""

from django import forms
from django.conf import settings

from catalog import validators


class DownloadForm(validators.DownloadRequest):
    """The download page's form: the rules (and the Hub check) of DownloadRequest, with labels and widgets."""

    LABELS = {"repo_id": "Hub dataset id", "max_samples": "Max samples"}
    PLACEHOLDERS = {"repo_id": "namespace/name", "revision": "main", "subset": "default", "split": ""}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["split"].initial = self.DEFAULTS["split"]
        self.fields["split"].help_text = ""
        for name, label in self.LABELS.items():
            self.fields[name].label = label
        # Plain text inputs so the form works without JavaScript; download.js turns subset and
        # split into selects filled with what the dataset offers.
        for name, placeholder in self.PLACEHOLDERS.items():
            attrs = {"autocomplete": "off", "spellcheck": "false"}
            if placeholder:
                attrs["placeholder"] = placeholder
            self.fields[name].widget.attrs.update(attrs)


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

    def __init__(self, *args, allow_server_path=False, **kwargs):
        super().__init__(*args, **kwargs)
        roots = settings.HFD_IMPORT_ROOTS
        if not allow_server_path:
            # The import folders are server paths: only people allowed to import from them see them.
            del self.fields["path"]
        elif roots:
            self.fields["path"].help_text = "Under " + ", ".join(str(root) for root in roots) + "."
        else:
            self.fields["path"].help_text = "Switched off: no import folders are configured (HFD_IMPORT_ROOTS)."
            self.fields["path"].disabled = True

    def clean(self):
        data = super().clean()
        if "path" not in self.fields:
            if not self.errors and not data.get("file"):
                self.add_error("file", "Choose a file to upload.")
            return data
        if not self.errors and bool(data.get("file")) == bool(data.get("path")):
            raise forms.ValidationError("Choose a file to upload or give a path on the server (one of the two).")
        return data

    # import_local names its inputs uploaded_file and path; the form's upload field is "file".
    FIELD_OF_SERVICE_ARGUMENT = {"uploaded_file": "file", "file": "file", "path": "path", "name": "name"}

    def field_for(self, service_field):
        return self.FIELD_OF_SERVICE_ARGUMENT.get(service_field)
