"""REST API under /api/v1/. Thin: validation in serializers, every state change in services."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from catalog import browse, services, uploads
from catalog.accounts import hub_tokens, permissions
from catalog.exports import responses as export_responses
from catalog.exports import writers as export_writers
from catalog.filters import DatasetFilter, DatasetPagination
from catalog.models import Dataset
from catalog.parsers import JSONParser
from catalog.serializers import (
    DatasetSerializer,
    DownloadRequestSerializer,
    HubQuerySerializer,
    HubRequestSerializer,
    ImportRequestSerializer,
)
from catalog.viewer import params as viewer_params
from catalog.viewer import query as viewer_query


class RowsQuery(serializers.Serializer):
    """?offset=&limit= of the rows endpoint; a bad value is a 400 naming the parameter."""

    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**53)
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)
    # The viewer's parameters; checked against the dataset's columns by catalog.viewer.params.
    sort = serializers.CharField(required=False, help_text="Sort by this column.")
    order = serializers.ChoiceField(["asc", "desc"], required=False, help_text="Sort order (asc by default).")
    q = serializers.CharField(required=False, help_text="Only rows whose text columns contain this (any case).")
    filter = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="column:op[:value], repeatable; op is eq, ne, lt, lte, gt, gte, null or notnull.",
    )


class RowsPage(serializers.Serializer):
    """A page of rows (the response of the rows endpoint)."""

    count = serializers.IntegerField(help_text="Rows that match the sort, search and filters.")
    total = serializers.IntegerField(help_text="Rows in the dataset.")
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    columns = serializers.ListField(child=serializers.CharField())
    indices = serializers.ListField(child=serializers.IntegerField(), help_text="Each row's number in the dataset.")
    rows = serializers.ListField(child=serializers.DictField(), help_text="Binary values: {binary: true, size: n}.")


class ExportQuery(serializers.Serializer):
    """?format=&shard= of the export endpoint (checked by catalog.exports.responses.parse)."""

    format = serializers.ChoiceField(list(export_writers.FORMATS))
    shard = serializers.IntegerField(
        required=False, min_value=0, help_text="Which Parquet shard, when there are several."
    )


class Problem(serializers.Serializer):
    detail = serializers.CharField()


class NoBody(serializers.Serializer):
    """Actions that take no input (cancel, retry): the browsable API shows only their button."""


def conflict(exc):
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


class DatasetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    queryset = Dataset.objects.select_related("owner")
    permission_classes = [permissions.DatasetPermission]
    # Statuses of each action beyond the ones every operation shares (catalog/api_schema.py).
    error_statuses = {"cancel": [409], "retry": [409], "rows": [409], "import_file": [413]}
    # The list's filters, ordering and page size are the datasets page's (catalog.filters).
    filter_backends = [DjangoFilterBackend]
    filterset_class = DatasetFilter
    pagination_class = DatasetPagination
    # What each action reads, so the schema and the browsable API's forms are exact per action.
    serializer_classes = {
        "download": DownloadRequestSerializer,
        "import_file": ImportRequestSerializer,
        "cancel": NoBody,
        "retry": NoBody,
        "rows": RowsQuery,
    }

    def get_serializer_class(self):
        return self.serializer_classes.get(self.action, DatasetSerializer)

    def get_queryset(self):
        return permissions.visible_datasets(self.request.user, super().get_queryset())

    def filter_queryset(self, queryset):
        # Query filters apply to the list only: ?status= must not hide one dataset from its own URL.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def dataset_body(self, dataset):
        return DatasetSerializer(dataset, context=self.get_serializer_context()).data

    def perform_destroy(self, instance):
        services.delete(instance)

    @extend_schema(
        request=DownloadRequestSerializer,
        responses={
            202: DatasetSerializer,
            200: DatasetSerializer,
            400: OpenApiTypes.OBJECT,
            503: Problem,
        },
    )
    @action(detail=False, methods=["post"])
    def download(self, request):
        """Queue a download from the Hub. An identical live or ready dataset is returned with 200."""
        form = DownloadRequestSerializer(
            data=request.data, context={"hub_token": hub_tokens.token_for_lookup(request.user)}
        )
        form.is_valid(raise_exception=True)  # 400 naming the field, or 503 if the Hub cannot be reached.
        dataset, created = services.request_download(**form.validated_data, owner=request.user)
        return Response(self.dataset_body(dataset), status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    @extend_schema(request=ImportRequestSerializer, responses={202: DatasetSerializer, 400: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser, JSONParser])
    def import_file(self, request):
        """Import a local csv, json/jsonl or parquet file: an upload, or a path under HFD_IMPORT_ROOTS."""
        data = request.data  # Parsing stops an uploaded file at HFD_MAX_UPLOAD_BYTES (catalog/uploads.py).
        if uploads.upload_refused(request):
            return Response(
                {"file": [uploads.upload_refused(request)]}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        form = ImportRequestSerializer(data=data)
        form.is_valid(raise_exception=True)
        arguments = form.to_service_kwargs()
        if arguments["path"] and not permissions.can_import_server_path(request.user):
            raise PermissionDenied("Importing a file from a path on the server needs its own permission.")
        try:
            dataset = services.import_local(**arguments, owner=request.user)
        except services.ImportRefused as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(self.dataset_body(dataset), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: DatasetSerializer, 409: Problem})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop a pending, downloading or processing dataset."""
        dataset = self.get_object()
        try:
            services.cancel(dataset)
        except services.TransitionNotAllowed as exc:
            return conflict(exc)
        return Response(self.dataset_body(dataset))

    @extend_schema(request=None, responses={202: DatasetSerializer, 409: Problem})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue a failed or cancelled dataset again; it resumes from what is on disk."""
        dataset = self.get_object()
        try:
            services.retry(dataset)
        except (services.TransitionNotAllowed, services.AlreadyExists) as exc:
            return conflict(exc)
        return Response(self.dataset_body(dataset), status=status.HTTP_202_ACCEPTED)

    # --- Row browser (web pages work) -------------------------------------------------------

    @extend_schema(parameters=[RowsQuery], responses={200: RowsPage, 400: OpenApiTypes.OBJECT, 409: Problem})
    @action(detail=True, methods=["get"])
    def rows(self, request, pk=None):
        """A page of a ready dataset's rows, filtered, searched and sorted in place by DuckDB.

        `count` is the number of rows that match, `total` the dataset's; `indices` the rows' numbers.
        Binary values come as {"binary": true, "size": n}; structs and lists stay nested.
        """
        dataset = self.get_object()
        query = RowsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        offset, limit = query.validated_data["offset"], query.validated_data["limit"]
        try:
            result, _view = viewer_query.read_view(dataset, request.query_params, offset, limit)
        except browse.RowsUnavailable as exc:
            return conflict(exc)
        except viewer_params.BadQuery as exc:
            raise ValidationError(exc.as_dict()) from None
        return Response(
            {
                "count": result.matched,
                "total": result.total,
                "offset": offset,
                "limit": limit,
                "columns": result.columns,
                "indices": result.indices,
                "rows": result.rows,
            }
        )

    @extend_schema(
        parameters=[ExportQuery],
        responses={
            **{(200, media_type): OpenApiTypes.BINARY for media_type in export_writers.MEDIA_TYPES.values()},
            (206, export_writers.MEDIA_TYPES["parquet"]): OpenApiTypes.BINARY,
            304: None,
            300: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            409: Problem,
            416: None,
        },
    )
    @action(
        detail=True,
        methods=["get", "head"],
        # ?format= names the file format here, not one of DRF's renderers.
        content_negotiation_class=export_responses.AnyFormatNegotiation,
    )
    def export(self, request, pk=None):
        """Download a ready dataset as Parquet, JSON Lines or CSV, streamed.

        Parquet is served with Content-Length, ETag and Range; a large dataset's Parquet comes in
        shards (without `shard`, a 300 answer lists them). JSON Lines and CSV are streamed as they are
        read, so their size is not known in advance.
        """
        dataset = self.get_object()
        try:
            fmt, shard = export_responses.parse(request.query_params)
        except export_responses.BadExport as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        if not dataset.is_ready:
            return conflict(f"This dataset is {dataset.get_status_display().lower()}; it can be exported once ready.")
        try:
            return export_responses.response_for(request, dataset, fmt, shard)
        except export_responses.BadExport as exc:
            raise ValidationError({exc.field: [exc.message]}) from None


@extend_schema(parameters=[HubQuerySerializer], responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def hub_dataset(request, repo_id):
    """What a Hub dataset offers: its commit sha, subsets and their splits with file counts and sizes."""
    from catalog import hub  # Imports `datasets`: only when this endpoint is used.

    query = HubRequestSerializer(data={"repo_id": repo_id, **request.query_params.dict()})
    query.is_valid(raise_exception=True)
    try:
        token = hub_tokens.token_for_lookup(request.user)  # The caller's own Hub token, if they stored one.
        info = hub.inspect(query.validated_data["repo_id"], query.validated_data["revision"], token)
    except hub.HubError as exc:
        return Response({"detail": exc.message}, status=exc.status)
    return Response(info)


# hub.HubError statuses: bad subset or split, private or gated, not found, the Hub refused, unreachable.
hub_dataset.cls.error_statuses = {"get": [400, 403, 404, 502, 503, 504]}
