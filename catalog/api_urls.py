from django.urls import include, path
from rest_framework.routers import DefaultRouter

from catalog import api

app_name = "api"

router = DefaultRouter()
router.register("datasets", api.DatasetViewSet, basename="dataset")

urlpatterns = [
    path("", include(router.urls)),
]
