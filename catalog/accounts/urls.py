from django.urls import path

from catalog.accounts import views

urlpatterns = [
    path("account/", views.AccountView.as_view(), name="account"),
    path("account/tokens/", views.NewTokenView.as_view(), name="account-token-new"),
    path("account/tokens/<int:pk>/revoke/", views.RevokeTokenView.as_view(), name="account-token-revoke"),
    path("account/hub-token/", views.HubTokenView.as_view(), name="account-hub-token"),
]
