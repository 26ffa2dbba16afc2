"""REST API under /api/v1/. Thin: validation in serializers, every state change in services."""

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from catalog import services
from catalog.models import Dataset
from catalog.serializers import DatasetSerializer, DownloadRequestSerializer


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

    @extend_schema(request=DownloadRequestSerializer, responses={202: DatasetSerializer, 200: DatasetSerializer})
    @action(detail=False, methods=["post"])
    def download(self, request):
        """Queue a download from the Hub. An identical live or ready dataset is returned with 200."""
        form = DownloadRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = request.user if request.user.is_authenticated else None
        dataset, created = services.request_download(**form.validated_data, owner=user)
        body = DatasetSerializer(dataset, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

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
