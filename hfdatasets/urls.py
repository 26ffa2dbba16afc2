from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from catalog.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("catalog.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api-auth/", include("rest_framework.urls")),
    # A Hugging-Face-Hub-compatible endpoint: HF_ENDPOINT=<this server>/hub
    path("hub/", include("catalog.hubapi.urls")),
    path("", include("catalog.urls")),
]

# A path under /api/ that matches no route gets the API's JSON 404, like every other API error.
handler404 = "catalog.views.not_found"
