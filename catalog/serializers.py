from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from catalog import validators
from catalog.models import Dataset


def django_validator(func):
    """Run one of catalog.validators as a DRF field validator."""

    def run(value):
        try:
            func(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    return run


class DatasetSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:dataset-detail")
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    subset = serializers.CharField(read_only=True)
    split = serializers.CharField(read_only=True)
    revision = serializers.CharField(read_only=True)
    max_samples = serializers.IntegerField(read_only=True, allow_null=True)
    progress_percent = serializers.FloatField(read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "url",
            "name",
            "source",
            "repo_id",
            "subset",
            "split",
            "revision",
            "max_samples",
            "config",
            "status",
            "downloaded_bytes",
            "total_bytes",
            "progress_percent",
            "total_samples",
            "resolved_revision",
            "features",
            "column_stats",
            "size_on_disk",
            "local_path",
            "error_message",
            "owner",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class DownloadRequestSerializer(serializers.Serializer):
    repo_id = serializers.CharField(max_length=200, validators=[django_validator(validators.validate_repo_id)])
    subset = serializers.CharField(
        max_length=128,
        required=False,
        allow_blank=True,
        default="",
        validators=[django_validator(validators.validate_subset)],
    )
    split = serializers.CharField(
        max_length=128, required=False, default="train", validators=[django_validator(validators.validate_split)]
    )
    revision = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        validators=[django_validator(validators.validate_revision)],
    )
    max_samples = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class HubQuerySerializer(serializers.Serializer):
    repo_id = serializers.CharField(max_length=200, validators=[django_validator(validators.validate_repo_id)])
    revision = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        validators=[django_validator(validators.validate_revision)],
    )


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
