"""The account page: personal API tokens (create, shown once, revoke) and the personal Hub token."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from catalog.accounts import hub_tokens
from catalog.accounts.api import create_token, live_tokens
from catalog.accounts.forms import HubTokenForm, NewTokenForm


def account_page(request, *, token_form=None, hub_form=None, new_key=None, status=200):
    context = {
        "tokens": live_tokens(request.user),
        "token_form": token_form or NewTokenForm(),
        "hub_form": hub_form or HubTokenForm(),
        "new_key": new_key,
        "has_hub_token": hub_tokens.has_token(request.user),
        "hub_tokens_enabled": hub_tokens.storing_enabled(),
    }
    return render(request, "accounts/account.html", context, status=status)


class AccountView(LoginRequiredMixin, View):
    def get(self, request):
        return account_page(request)


class NewTokenView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request):
        form = NewTokenForm(request.POST)
        if not form.is_valid():
            return account_page(request, token_form=form, status=400)
        token, key = create_token(request.user, form.cleaned_data["name"], form.cleaned_data["expires_in_days"])
        # Rendered, not redirected: the key must not travel through the session or a URL.
        response = account_page(request, new_key={"name": token.name, "key": key}, status=201)
        response["Cache-Control"] = "no-store"
        return response


class RevokeTokenView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request, pk):
        token = get_object_or_404(live_tokens(request.user), pk=pk)
        token.delete()
        messages.success(request, f"Revoked the token '{token.name}'.")
        return redirect("account")


@method_decorator(sensitive_post_parameters("token"), name="post")
class HubTokenView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request):
        if request.POST.get("remove"):
            hub_tokens.remove(request.user)
            messages.success(request, "Removed your Hugging Face token; your downloads use the site's token.")
            return redirect("account")
        form = HubTokenForm(request.POST)
        if not form.is_valid():
            return account_page(request, hub_form=form, status=400)
        try:
            hub_tokens.store(request.user, form.cleaned_data["token"])
        except hub_tokens.HubTokenUnavailable as exc:
            form.add_error("token", str(exc))
            return account_page(request, hub_form=form, status=400)
        messages.success(request, "Saved your Hugging Face token. Datasets you download from now on use it.")
        return redirect("account")
