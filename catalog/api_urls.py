from django.urls import include, path
from rest_framework.routers import DefaultRouter

from catalog import api
from catalog.accounts.api import TokenViewSet

app_name = "api"

router = DefaultRouter()
router.register("datasets", api.DatasetViewSet, basename="dataset")
router.register("tokens", TokenViewSet, basename="token")

urlpatterns = [
    path("hub/<path:repo_id>/", api.hub_dataset, name="hub-dataset"),
    path("", include(router.urls)),
]
