from django.urls import path

from catalog.hubapi import views

app_name = "hubapi"

REPO = "<str:namespace>/<str:name>"

urlpatterns = [
    path("api/whoami-v2", views.WhoAmI.as_view(), name="whoami"),
    path(f"api/datasets/{REPO}", views.RepoInfo.as_view(), name="info"),
    path(f"api/datasets/{REPO}/revision/<str:revision>", views.RepoInfo.as_view(), name="info-revision"),
    path(f"api/datasets/{REPO}/tree/<str:revision>", views.Tree.as_view(), name="tree"),
    path(f"api/datasets/{REPO}/tree/<str:revision>/<path:path>", views.Tree.as_view(), name="tree-path"),
    path(f"api/datasets/{REPO}/paths-info/<str:revision>", views.PathsInfo.as_view(), name="paths-info"),
    path(f"api/datasets/{REPO}/refs", views.Refs.as_view(), name="refs"),
    path(f"datasets/{REPO}/resolve/<str:revision>/<path:path>", views.Resolve.as_view(), name="resolve"),
]
