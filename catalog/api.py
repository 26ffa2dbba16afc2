"""REST API under /api/v1/. Thin: validation in serializers, every state change in services."""

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from catalog import browse, services
from catalog.models import Dataset
from catalog.serializers import (
    DatasetSerializer,
    DownloadRequestSerializer,
    HubQuerySerializer,
    ImportRequestSerializer,
)


class RowsQuery(serializers.Serializer):
    """?offset=&limit= of the rows endpoint; a bad value is a 400 naming the parameter."""

    offset = serializers.IntegerField(required=False, default=0, min_value=0)
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)


def conflict(exc):
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, enum=Dataset.Status.values, description="Only datasets in this status."),
        OpenApiParameter("source", str, enum=Dataset.Source.values, description="Only datasets from this source."),
        OpenApiParameter("search", str, description="Part of the name or repo id."),
    ]
)
class DatasetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = DatasetSerializer
    queryset = Dataset.objects.select_related("owner")

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        params = self.request.query_params
        for field, choices in (("status", Dataset.Status), ("source", Dataset.Source)):
            value = params.get(field)
            if value:
                if value not in choices.values:
                    allowed = ", ".join(choices.values)
                    raise ValidationError({field: [f"Unknown {field} {value!r}; use one of {allowed}."]})
                queryset = queryset.filter(**{field: value})
        search = params.get("search", "").strip()
        if search:
            queryset = queryset.filter(Q(name__icontains=search) | Q(repo_id__icontains=search))
        return queryset.order_by("-created_at")

    def perform_destroy(self, instance):
        services.delete(instance)

    @extend_schema(
        request=DownloadRequestSerializer,
        responses={
            202: DatasetSerializer,
            200: DatasetSerializer,
            400: OpenApiTypes.OBJECT,
            503: OpenApiTypes.OBJECT,
        },
    )
    @action(detail=False, methods=["post"])
    def download(self, request):
        """Queue a download from the Hub. An identical live or ready dataset is returned with 200."""
        form = DownloadRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)  # 400 naming the field, or 503 if the Hub cannot be reached.
        user = request.user if request.user.is_authenticated else None
        dataset, created = services.request_download(**form.validated_data, owner=user)
        body = DatasetSerializer(dataset, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    @extend_schema(request=ImportRequestSerializer, responses={202: DatasetSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser, JSONParser])
    def import_file(self, request):
        """Import a local csv, json/jsonl or parquet file: an upload, or a path under HFD_IMPORT_ROOTS."""
        form = ImportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = request.user if request.user.is_authenticated else None
        try:
            dataset = services.import_local(**form.to_service_kwargs(), owner=user)
        except services.ImportRefused as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        body = DatasetSerializer(dataset, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: DatasetSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop a pending, downloading or processing dataset."""
        dataset = self.get_object()
        try:
            services.cancel(dataset)
        except services.TransitionNotAllowed as exc:
            return conflict(exc)
        return Response(self.get_serializer(dataset).data)

    @extend_schema(request=None, responses={202: DatasetSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue a failed or cancelled dataset again; it resumes from what is on disk."""
        dataset = self.get_object()
        try:
            services.retry(dataset)
        except (services.TransitionNotAllowed, services.AlreadyExists) as exc:
            return conflict(exc)
        return Response(self.get_serializer(dataset).data, status=status.HTTP_202_ACCEPTED)

    # --- Row browser (web pages work) -------------------------------------------------------

    @extend_schema(parameters=[RowsQuery], responses={200: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def rows(self, request, pk=None):
        """A page of a ready dataset's rows, read memory-mapped from its Arrow files.

        Binary values come as {"binary": true, "size": n}; structs and lists stay nested.
        """
        dataset = self.get_object()
        query = RowsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        offset, limit = query.validated_data["offset"], query.validated_data["limit"]
        try:
            page = browse.read_page(dataset, offset, limit)
        except browse.RowsUnavailable as exc:
            return conflict(exc)
        return Response(
            {"count": page.total, "offset": offset, "limit": limit, "columns": page.columns, "rows": page.rows}
        )


@extend_schema(parameters=[HubQuerySerializer], responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def hub_dataset(request, repo_id):
    """What a Hub dataset offers: its commit sha, subsets and their splits with file counts and sizes."""
    from catalog import hub  # Imports `datasets`: only when this endpoint is used.

    query = HubQuerySerializer(data={"repo_id": repo_id, **request.query_params.dict()})
    query.is_valid(raise_exception=True)
    try:
        info = hub.inspect(query.validated_data["repo_id"], query.validated_data["revision"])
    except hub.HubError as exc:
        return Response({"detail": exc.message}, status=exc.status)
    return Response(info)
