"""How the API knows who is calling: personal API tokens, passwords (HTTP Basic), the session.

ApiTokenAuthentication is the one to reuse for any endpoint that takes a token, e.g. the Hub
endpoint, whose clients send `Authorization: Bearer <token>`. `Token <key>` works as well.

Failed token and Basic attempts count against the caller's address (and user, for Basic), like
failed logins on the sign-in page (django-axes); a locked-out caller gets 429 with a message
saying when to try again, before any password or token is checked.
"""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_lockout_message
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions, status
from rest_framework.authentication import BasicAuthentication, get_authorization_header

TOKEN_KEYWORDS = (b"bearer", b"token")
# Longer than any user name (auth.User allows 150); also what django-axes can store (255).
MAX_USERNAME_LENGTH = 150


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"


def lockout_message(request):
    cool_off = get_cool_off(request)
    if cool_off:
        minutes = max(1, round(cool_off.total_seconds() / 60))
        return f"Too many failed sign-in attempts from this address or for this user. Try again in {minutes} minute(s)."
    return f"Too many failed sign-in attempts from this address or for this user. {get_lockout_message()}"


def refuse_if_locked_out(request, credentials):
    if not AxesProxyHandler.is_allowed(request, credentials):
        raise LockedOut(lockout_message(request))


def client_username(request, credentials):
    """django-axes: the user name an attempt was for. Never parses an API request's body to find it."""
    if credentials is not None:
        return credentials.get("username") or ""
    if isinstance(request, HttpRequest):  # The login form.
        return request.POST.get("username", "")
    return ""


def lockout_parameters(request, credentials):
    """django-axes: count failures per user name and per address; a token failure has no user name."""
    if credentials and credentials.get("username"):
        return ["username", "ip_address"]
    return ["ip_address"]


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <key>` or `Token <key>` with a personal API token (django-rest-knox)."""

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in TOKEN_KEYWORDS:
            return None  # Not a token: another authentication class may take it.
        refuse_if_locked_out(request, {"username": ""})
        try:
            if len(auth) != 2:
                raise exceptions.AuthenticationFailed(
                    "Invalid Authorization header: give 'Bearer <token>' or 'Token <token>', one token without spaces."
                )
            try:
                key = auth[1].decode("ascii")
            except UnicodeDecodeError:
                raise exceptions.AuthenticationFailed("Invalid token: a token is plain ASCII text.") from None
            return self.authenticate_credentials(key.encode())
        except exceptions.AuthenticationFailed:
            # Recorded by django-axes against the caller's address.
            user_login_failed.send(sender=__name__, credentials={"username": ""}, request=request)
            raise

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class RateLimitedBasicAuthentication(BasicAuthentication):
    """HTTP Basic with a user name and password; a locked-out user or address gets 429 first."""

    def authenticate_credentials(self, userid, password, request=None):
        if "\x00" in userid or "\x00" in password or len(userid) > MAX_USERNAME_LENGTH:
            # No user has such a name or password; the database must not be asked (PostgreSQL refuses NUL).
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        credentials = {"username": userid}
        refuse_if_locked_out(request, credentials)
        # django.contrib.auth.authenticate() reports a failure to django-axes itself.
        result = super().authenticate_credentials(userid, password, request)
        # The right password clears the user's earlier failures, as a successful sign-in on the page does.
        if AxesProxyHandler.get_failures(request, credentials):
            AxesProxyHandler.reset_attempts(username=userid)
        return result


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token: `Authorization: Bearer <token>` (or `Token <token>`).",
        }


class PasswordScheme(OpenApiAuthenticationExtension):
    target_class = RateLimitedBasicAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic"}
