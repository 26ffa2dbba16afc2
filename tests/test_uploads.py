"""Uploads over HFD_MAX_UPLOAD_BYTES are refused while they stream, and leave nothing behind."""

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog import storage
from catalog.models import Dataset
from hfdatasets.asgi import application

LIMIT = 10_000


@pytest.fixture
def small_limit(settings):
    settings.HFD_MAX_UPLOAD_BYTES = LIMIT


def csv_file(size, name="big.csv"):
    row = b"1,2\n"
    return SimpleUploadedFile(name, b"a,b\n" + row * (size // len(row)), content_type="text/csv")


def nothing_stored():
    root = storage.datasets_root()
    return not Dataset.objects.exists() and (not root.exists() or not any(root.rglob("*")))


def test_api_upload_over_the_limit_is_413_on_the_file_field(api_client, small_limit):
    response = api_client.post("/api/v1/datasets/import/", {"file": csv_file(LIMIT * 5)}, format="multipart")
    assert response.status_code == 413
    assert "HFD_MAX_UPLOAD_BYTES" in response.json()["file"][0]
    assert nothing_stored()


def test_api_upload_at_the_limit_is_accepted(api_client, small_limit):
    response = api_client.post("/api/v1/datasets/import/", {"file": csv_file(LIMIT - 100)}, format="multipart")
    assert response.status_code == 202, response.content


def test_form_upload_over_the_limit_names_the_field(client, user, small_limit):
    client.force_login(user)
    response = client.post("/datasets/import/", {"file": csv_file(LIMIT * 5), "name": ""})
    assert response.status_code == 413
    assert response.context["form"].errors["file"] == [
        f"The upload is larger than the {LIMIT:,} bytes allowed (HFD_MAX_UPLOAD_BYTES)."
    ]
    assert nothing_stored()


# --- In front of Django: the body is never read past the limit ------------------------------


def http_scope(headers, path="/api/v1/datasets/import/"):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")] + headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def test_a_too_large_content_length_is_refused_before_reading(db, small_limit):
    async def body():
        communicator = ApplicationCommunicator(
            application, http_scope([(b"content-length", b"99999999999999999999999"), (b"content-type", b"x/y")])
        )
        # No body is sent at all: the answer comes from the header alone.
        start = await communicator.receive_output(timeout=5)
        assert start["type"] == "http.response.start" and start["status"] == 413
        assert b"HFD_MAX_UPLOAD_BYTES" in (await communicator.receive_output(timeout=5))["body"]
        await communicator.wait(timeout=5)

    async_to_sync(body)()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_cut_off_at_the_limit(small_limit):
    from catalog.uploads import FORM_OVERHEAD_BYTES

    chunk = b"x" * 64 * 1024
    chunks_to_limit = (LIMIT + FORM_OVERHEAD_BYTES) // len(chunk) + 1

    async def body():
        communicator = ApplicationCommunicator(
            application, http_scope([(b"content-type", b"multipart/form-data; boundary=zz")])
        )
        for _ in range(chunks_to_limit):
            await communicator.send_input({"type": "http.request", "body": chunk, "more_body": True})
        # The client would go on for ever; the server has stopped reading and answers.
        start = await communicator.receive_output(timeout=10)
        assert start["type"] == "http.response.start" and start["status"] == 413
        await communicator.receive_output(timeout=5)
        await communicator.wait(timeout=5)

    async_to_sync(body)()
    assert nothing_stored()
