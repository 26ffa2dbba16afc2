from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from catalog import validators
from catalog.accounts import permissions
from catalog.hubapi.naming import hub_repo_id
from catalog.models import Dataset


def django_validator(func):
    """Run one of catalog.validators as a DRF field validator."""

    def run(value):
        try:
            func(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    return run


class DatasetStateSerializer(serializers.ModelSerializer):
    """A dataset's state: the one wire format of the REST API and of the live (WebSocket) messages.

    The transfer speed and time left are known only to a running download or the live relay;
    they come in through the context ({"bytes_per_second": ..., "eta_seconds": ...}) and are
    null otherwise. catalog.progress.dataset_state() is this serializer's output.
    """

    subset = serializers.CharField(read_only=True)
    split = serializers.CharField(read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    progress_percent = serializers.FloatField(read_only=True)
    bytes_per_second = serializers.SerializerMethodField()
    eta_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "repo_id",
            "subset",
            "split",
            "status",
            "status_label",
            "downloaded_bytes",
            "total_bytes",
            "progress_percent",
            "bytes_per_second",
            "eta_seconds",
            "total_samples",
            "error_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="While downloading; else null."))
    def get_bytes_per_second(self, dataset):
        return self.context.get("bytes_per_second")

    @extend_schema_field(serializers.FloatField(allow_null=True, help_text="While downloading; else null."))
    def get_eta_seconds(self, dataset):
        return self.context.get("eta_seconds")


class DatasetSerializer(DatasetStateSerializer):
    """A dataset in the REST API: its state plus what it is, where it lives and who asked for it."""

    url = serializers.HyperlinkedIdentityField(view_name="api:dataset-detail")
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    revision = serializers.CharField(read_only=True)
    max_samples = serializers.IntegerField(read_only=True, allow_null=True)
    hub_repo_id = serializers.SerializerMethodField(
        help_text="Once ready: the id to pass to datasets.load_dataset with HF_ENDPOINT=<this server>/hub."
    )

    class Meta(DatasetStateSerializer.Meta):
        fields = DatasetStateSerializer.Meta.fields + [
            "url",
            "source",
            "revision",
            "max_samples",
            "config",
            "resolved_revision",
            "features",
            "column_stats",
            "size_on_disk",
            "local_path",
            "owner",
            "personal",
            "started_at",
            "finished_at",
            "hub_repo_id",
        ]
        read_only_fields = fields

    def get_hub_repo_id(self, dataset) -> str | None:
        return hub_repo_id(dataset) if dataset.is_ready else None

    def to_representation(self, instance):
        # Server paths only for staff (catalog.accounts.permissions).
        request = self.context.get("request")
        return permissions.dataset_for_user(request.user if request else None, super().to_representation(instance))


def serializer_field(form_field, default=empty):
    """A DRF field with the limits and help of a Django form field, for the schema and the browsable API's form."""
    options = {"required": form_field.required and default is empty, "help_text": form_field.help_text}
    if default is not empty:
        options["default"] = default
    if isinstance(form_field, forms.IntegerField):
        return serializers.IntegerField(
            min_value=form_field.min_value,
            max_value=form_field.max_value,
            allow_null=not form_field.required,
            **options,
        )
    return serializers.CharField(max_length=form_field.max_length, allow_blank=not form_field.required, **options)


class HubUnreachable(APIException):
    status_code = 503
    default_detail = "The Hub could not be reached; try again in a moment."
    default_code = "hub_unreachable"


class DownloadRequestSerializer(serializers.Serializer):
    """A download from the Hub. Checked on the Hub first: 400 naming the field, 503 if the Hub cannot be reached."""

    # The rules are catalog.validators.DownloadRequest's (shared with the page and the command).
    # The fields below only describe the request (schema, browsable API form); validation runs
    # the DownloadRequest form on the raw input.

    rules = validators.DownloadRequest
    repo_id = serializer_field(rules.base_fields["repo_id"])
    subset = serializer_field(rules.base_fields["subset"])
    split = serializer_field(rules.base_fields["split"], default=rules.DEFAULTS["split"])
    revision = serializer_field(rules.base_fields["revision"])
    max_samples = serializer_field(rules.base_fields["max_samples"])
    name = serializer_field(rules.base_fields["name"])

    def to_internal_value(self, data):
        if not hasattr(data, "get"):
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: ["Send a JSON object."]})
        # The Hub is asked with the caller's personal Hub token, if they stored one (context "hub_token").
        request = self.rules.from_input(data, hub_token=self.context.get("hub_token"))
        if request.is_valid():
            return request.download_arguments()
        if request.hub_unreachable:
            raise HubUnreachable(request.hub_unreachable)
        errors = request.errors.get_json_data()
        raise serializers.ValidationError(
            {
                api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field: [e["message"] for e in messages]
                for field, messages in errors.items()
            }
        )


class HubQuerySerializer(serializers.Serializer):
    """The query string of the Hub inspection endpoint (repo_id is in its path)."""

    revision = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        validators=[django_validator(validators.validate_revision)],
        help_text="Branch, tag or commit sha. Empty: the default branch.",
    )


class HubRequestSerializer(HubQuerySerializer):
    """Path and query together, validated as one (a bad repo_id is a 400 naming it)."""

    repo_id = serializers.CharField(max_length=200, validators=[django_validator(validators.validate_repo_id)])


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        required=False, allow_empty_file=False, help_text="A csv, json, jsonl or parquet file."
    )
    path = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", help_text="A file under HFD_IMPORT_ROOTS."
    )
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, data):
        if bool(data.get("file")) == bool(data.get("path")):
            raise serializers.ValidationError({"file": ["Give either a file to upload or a path on the server."]})
        return data

    def to_service_kwargs(self):
        data = self.validated_data
        return {"name": data["name"], "uploaded_file": data.get("file"), "path": data["path"] or None}
