"""Hostile input gets a 4xx (or a form error), never a 5xx."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from catalog import storage
from catalog.models import Dataset

DOWNLOAD_URL = "/api/v1/datasets/download/"
IMPORT_URL = "/api/v1/datasets/import/"


@pytest.mark.parametrize("max_samples", [2**63, 2**64, 10**30, -(2**63), "9" * 400])
def test_huge_max_samples_is_never_a_server_error(api_client, max_samples):
    response = api_client.post(DOWNLOAD_URL, {"repo_id": "acme/multi", "max_samples": max_samples}, format="json")
    assert response.status_code in (202, 400), response.content


def test_huge_max_samples_on_the_form_is_never_a_server_error(client, user):
    client.force_login(user)
    response = client.post("/datasets/new/", {"repo_id": "acme/multi", "split": "train", "max_samples": "9" * 400})
    assert response.status_code in (200, 302)


@pytest.mark.parametrize(
    "body",
    [
        {"repo_id": "acme/mu\x00lti"},
        {"repo_id": "acme/multi", "name": "a\x00b"},
        {"repo_id": "acme/multi", "split": "tr\x00ain"},
        {"repo_id": "acme/multi", "revision": "\x00"},
    ],
)
def test_nul_bytes_in_a_request_are_400(api_client, body):
    response = api_client.post(DOWNLOAD_URL, body, format="json")
    assert response.status_code == 400
    assert not Dataset.objects.exists()


def test_nul_bytes_in_queries_and_forms(api_client, client, user):
    assert api_client.get("/api/v1/datasets/?search=a%00b").status_code == 400
    assert api_client.get("/api/v1/datasets/?status=%00").status_code == 400
    assert api_client.get("/api/v1/hub/acme%00/multi/").status_code in (400, 404)
    assert api_client.post(IMPORT_URL, {"path": "/tmp/a\x00.csv"}, format="json").status_code == 400
    client.force_login(user)
    assert client.get("/?q=a%00b").status_code == 200
    assert client.post("/datasets/new/", {"repo_id": "a\x00", "split": "train"}).status_code == 200
    assert client.post("/account/tokens/", {"name": "a\x00b"}).status_code == 400
    assert client.post("/accounts/login/", {"username": "al\x00ice", "password": "x"}).status_code == 200


@pytest.mark.parametrize("userid", ["al\x00ice", "\x00", "x" * 10_000])
def test_odd_basic_credentials_are_401(db, userid):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{userid}:pw\x00".encode()).decode())
    assert client.get("/api/v1/datasets/").status_code == 401


@pytest.mark.parametrize("name", ["é" * 200 + ".csv", "a" * 300 + ".csv", "../" * 100 + "x.csv", "\x00.csv"])
def test_long_and_odd_upload_file_names(api_client, name):
    upload = SimpleUploadedFile(name, b"a,b\n1,2\n", content_type="text/csv")
    response = api_client.post(IMPORT_URL, {"file": upload}, format="multipart")
    assert response.status_code in (202, 400), response.content
    if response.status_code == 202:
        dataset = Dataset.objects.get(pk=response.json()["id"])
        assert len(dataset.name) <= 255
        stored = list(storage.upload_dir(dataset.pk).iterdir())
        assert len(stored) == 1 and len(stored[0].name.encode()) <= storage.MAX_FILENAME_BYTES
        assert stored[0].suffix == ".csv"


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_json_is_400(api_client, depth):
    body = "[" * depth + "]" * depth
    for url in (DOWNLOAD_URL, IMPORT_URL, "/api/v1/tokens/"):
        response = api_client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)


def test_malformed_bodies_are_400(api_client):
    for body, content_type in [
        (b"\xff\xfe{", "application/json"),
        (b'{"repo_id": ', "application/json"),
        (
            b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n',
            "multipart/form-data; boundary=zz",
        ),
        (b"", "multipart/form-data"),
    ]:
        response = api_client.generic("POST", IMPORT_URL, body, content_type=content_type)
        assert response.status_code in (400, 415), (body, response.status_code)
