"""Server-rendered pages. Every page but the login needs a signed-in user."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from catalog import views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.DatasetListView.as_view(), name="dataset-list"),
    path("datasets/new/", views.DownloadView.as_view(), name="dataset-download"),
    path("datasets/import/", views.ImportView.as_view(), name="dataset-import"),
    path("datasets/<uuid:pk>/", views.DatasetDetailView.as_view(), name="dataset-detail"),
    path("datasets/<uuid:pk>/media/", views.DatasetMediaView.as_view(), name="dataset-media"),
    path("datasets/<uuid:pk>/cancel/", views.DatasetActionView.as_view(action="cancel"), name="dataset-cancel"),
    path("datasets/<uuid:pk>/retry/", views.DatasetActionView.as_view(action="retry"), name="dataset-retry"),
    path("datasets/<uuid:pk>/delete/", views.DatasetDeleteView.as_view(), name="dataset-delete"),
    path("storage/", views.StorageView.as_view(), name="storage"),
    path("", include("catalog.accounts.urls")),
]
