"""Personal API tokens (django-rest-knox), Bearer and Token auth, rate limits on every way to sign in."""

import base64
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.accounts.models import ApiToken
from catalog.models import Dataset
from tests.fixtures import api_signed_in, api_with_authorization

TOKENS_URL = "/api/v1/tokens/"
PASSWORD = "wonderland-42"


def new_key(person, name="laptop", **extra):
    response = api_signed_in(person).post(TOKENS_URL, {"name": name, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- Creating, listing, revoking ------------------------------------------------------------


def test_create_returns_the_key_once_and_stores_only_a_hash(user):
    created = new_key(user, "laptop")
    assert set(created) == {"id", "name", "created", "expiry", "key"}
    assert created["name"] == "laptop" and created["expiry"] is None
    key = created["key"]
    assert key.startswith("hfd_") and len(key) > 60
    stored = ApiToken.objects.get(pk=created["id"])
    assert key not in (stored.digest, stored.token_key) and len(stored.digest) == 128

    listing = api_signed_in(user).get(TOKENS_URL)
    assert listing.status_code == 200
    assert listing.json() == [{"id": created["id"], "name": "laptop", "created": created["created"], "expiry": None}]
    assert key.encode() not in listing.content


def test_several_named_tokens_with_optional_expiry(user, other_user):
    new_key(user, "laptop")
    week = new_key(user, "ci", expires_in_days=7)
    expiry = timezone.datetime.fromisoformat(week["expiry"])
    assert timedelta(days=6, hours=23) < expiry - timezone.now() <= timedelta(days=7)
    new_key(other_user, "bob's")
    names = [t["name"] for t in api_signed_in(user).get(TOKENS_URL).json()]
    assert sorted(names) == ["ci", "laptop"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "x", "expires_in_days": 10**30}, "expires_in_days"),
        ({"name": "x", "expires_in_days": "soon"}, "expires_in_days"),
    ],
)
def test_bad_token_requests_are_400_naming_the_field(user, body, field):
    response = api_signed_in(user).post(TOKENS_URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_revoke_only_your_own(user, other_user):
    mine = new_key(user)
    theirs = new_key(other_user)
    assert api_signed_in(user).delete(f"{TOKENS_URL}{theirs['id']}/").status_code == 404
    assert api_with_authorization(f"Bearer {theirs['key']}").get("/api/v1/datasets/").status_code == 200
    assert api_signed_in(user).delete(f"{TOKENS_URL}{mine['id']}/").status_code == 204
    response = api_with_authorization(f"Bearer {mine['key']}").get("/api/v1/datasets/")
    assert response.status_code == 401


def test_a_token_cannot_create_tokens(user):
    key = new_key(user)["key"]
    response = api_with_authorization(f"Bearer {key}").post(TOKENS_URL, {"name": "more"}, format="json")
    assert response.status_code == 403
    assert ApiToken.objects.count() == 1
    # Listing and revoking with a token are fine.
    assert api_with_authorization(f"Bearer {key}").get(TOKENS_URL).status_code == 200


def test_anonymous_token_endpoint_is_401(db):
    response = APIClient().post(TOKENS_URL, {"name": "x"}, format="json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


# --- Using a token --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
def test_the_api_accepts_bearer_and_token(user, scheme):
    key = new_key(user)["key"]
    client = api_with_authorization(f"{scheme} {key}")
    response = client.post("/api/v1/datasets/download/", {"repo_id": "acme/multi"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["owner"] == "alice"
    assert Dataset.objects.get().owner == user


def test_expired_token_is_refused(user):
    created = new_key(user, expires_in_days=1)
    ApiToken.objects.filter(pk=created["id"]).update(expiry=timezone.now() - timedelta(seconds=1))
    assert api_with_authorization(f"Bearer {created['key']}").get("/api/v1/datasets/").status_code == 401
    assert not ApiToken.objects.filter(pk=created["id"]).exists()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer a b",
        "Bearer hfd_notatoken",
        "Token " + "f" * 68,
        "Bearer \u00ff\u00fe",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    ],
)
def test_bad_credentials_are_401_never_500(db, header):
    response = api_with_authorization(header).get("/api/v1/datasets/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"]


def test_token_of_a_deactivated_user_is_refused(user):
    key = new_key(user)["key"]
    user.is_active = False
    user.save()
    assert api_with_authorization(f"Bearer {key}").get("/api/v1/datasets/").status_code == 401


# --- The account page -----------------------------------------------------------------------


def test_account_page_creates_shows_once_and_revokes(user):
    client = Client()
    client.force_login(user)
    page = client.get("/account/")
    assert page.status_code == 200 and b"No tokens yet" in page.content
    created = client.post("/account/tokens/", {"name": "notebook", "expires_in_days": "30"})
    assert created.status_code == 201
    token = ApiToken.objects.get()
    key = created.context["new_key"]["key"]
    assert key.encode() in created.content
    assert created["Cache-Control"] == "no-store"
    assert api_with_authorization(f"Bearer {key}").get("/api/v1/datasets/").status_code == 200
    again = client.get("/account/")
    assert b"notebook" in again.content and key.encode() not in again.content
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert not ApiToken.objects.exists()
    assert api_with_authorization(f"Bearer {key}").get("/api/v1/datasets/").status_code == 401


def test_account_page_cannot_revoke_someone_elses_token(user, other_user):
    theirs = new_key(other_user)
    client = Client()
    client.force_login(user)
    assert client.post(f"/account/tokens/{theirs['id']}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=theirs["id"]).exists()


# --- Rate limits (django-axes) --------------------------------------------------------------


@pytest.fixture
def low_limit(settings):
    settings.AXES_FAILURE_LIMIT = 3


def basic(username, password):
    return api_with_authorization("Basic " + base64.b64encode(f"{username}:{password}".encode()).decode())


def test_basic_auth_locks_out_a_user_after_failures(user, low_limit):
    for _ in range(3):
        assert basic("alice", "wrong").get("/api/v1/datasets/").status_code == 401
    locked = basic("alice", PASSWORD).get("/api/v1/datasets/")
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.json()["detail"]
    assert "minute" in locked.json()["detail"]


def test_basic_auth_success_resets_the_count(user, low_limit):
    for _ in range(2):
        assert basic("alice", "wrong").get("/api/v1/datasets/").status_code == 401
    assert basic("alice", PASSWORD).get("/api/v1/datasets/").status_code == 200
    for _ in range(2):
        assert basic("alice", "wrong").get("/api/v1/datasets/").status_code == 401
    assert basic("alice", PASSWORD).get("/api/v1/datasets/").status_code == 200


def test_bad_tokens_lock_out_the_address(user, low_limit):
    key = new_key(user)["key"]
    for _ in range(3):
        assert api_with_authorization("Bearer hfd_" + "0" * 64).get("/api/v1/datasets/").status_code == 401
    locked = api_with_authorization(f"Bearer {key}").get("/api/v1/datasets/")
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.json()["detail"]
    # Another address is not affected.
    other = APIClient(REMOTE_ADDR="10.0.0.7")
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert other.get("/api/v1/datasets/").status_code == 200


def test_login_form_locks_out_with_a_clear_page(user, low_limit):
    client = Client()
    for _ in range(2):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200 and b"correct username and password" in response.content
    # The failure that reaches the limit already answers with the lockout; so does the right password now.
    assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 429
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429
    assert b"Too many failed attempts" in locked.content
    assert "_auth_user_id" not in client.session
