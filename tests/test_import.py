"""POST /api/v1/datasets/import/: local files through the same processing step."""

import io
import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog import pipeline, storage
from catalog.models import Dataset

pytestmark = pytest.mark.django_db(transaction=True)

IMPORT_URL = "/api/v1/datasets/import/"


def process(response):
    assert response.status_code == 202, response.content
    dataset_id = response.json()["id"]
    assert response.json()["source"] == "local"
    pipeline.run_local_import(dataset_id)
    return Dataset.objects.get(pk=dataset_id)


def upload(name, content):
    return SimpleUploadedFile(name, content)


def parquet_bytes():
    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": [1, 2, 3], "y": ["a", "b", None]}), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "filename, content, rows",
    [
        ("people.csv", b"name,age\nada,36\nalan,41\n", 2),
        ("rows.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', 3),
        ("rows.json", json.dumps([{"a": 1}, {"a": 2}]).encode(), 2),
        ("table.parquet", parquet_bytes(), 3),
    ],
)
def test_uploaded_files_become_ready_arrow_datasets(api_client, filename, content, rows):
    dataset = process(api_client.post(IMPORT_URL, {"file": upload(filename, content)}, format="multipart"))
    assert dataset.status == Dataset.Status.READY, dataset.error_message
    assert dataset.total_samples == rows
    assert dataset.name == filename
    assert len(datasets.load_from_disk(dataset.local_path)) == rows


def test_import_from_an_allowed_root(api_client, settings, tmp_path):
    root = tmp_path / "imports"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "data.csv").write_text("a,b\n1,2\n")
    settings.HFD_IMPORT_ROOTS = [root]
    response = api_client.post(IMPORT_URL, {"path": str(root / "sub" / "data.csv"), "name": "Mine"}, format="json")
    dataset = process(response)
    assert dataset.status == Dataset.Status.READY, dataset.error_message
    assert dataset.name == "Mine"
    # The source stays where it is; only the Arrow copy is ours.
    assert (root / "sub" / "data.csv").exists()


@pytest.mark.parametrize("path", ["/etc/passwd.csv", "{root}/../outside.csv", "{root}/link.csv"])
def test_paths_outside_the_roots_are_refused(api_client, settings, tmp_path, path):
    root = tmp_path / "imports"
    root.mkdir()
    (tmp_path / "outside.csv").write_text("a\n1\n")
    (root / "link.csv").symlink_to(tmp_path / "outside.csv")
    settings.HFD_IMPORT_ROOTS = [root]
    response = api_client.post(IMPORT_URL, {"path": path.format(root=root)}, format="json")
    assert response.status_code == 400
    assert "outside the allowed import folders" in response.json()["path"][0]
    assert Dataset.objects.count() == 0


def test_path_imports_are_off_without_roots(api_client, settings, tmp_path):
    settings.HFD_IMPORT_ROOTS = []
    response = api_client.post(IMPORT_URL, {"path": str(tmp_path / "a.csv")}, format="json")
    assert response.status_code == 400
    assert "HFD_IMPORT_ROOTS" in response.json()["path"][0]


def test_missing_file_under_root(api_client, settings, tmp_path):
    settings.HFD_IMPORT_ROOTS = [tmp_path]
    response = api_client.post(IMPORT_URL, {"path": str(tmp_path / "nope.csv")}, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["path"][0]


@pytest.mark.parametrize(
    "data, field",
    [
        ({}, "file"),
        ({"file": ("evil.exe", b"MZ")}, "file"),
        ({"file": ("empty.csv", b"")}, "file"),
        ({"path": "/tmp/x.txt"}, "path"),
    ],
)
def test_bad_imports_are_400_naming_the_field(api_client, settings, tmp_path, data, field):
    settings.HFD_IMPORT_ROOTS = [tmp_path]
    if "file" in data:
        data = {"file": upload(*data["file"])}
    response = api_client.post(IMPORT_URL, data, format="multipart")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_a_broken_file_fails_with_a_message_and_nothing_ready(api_client):
    dataset = process(
        api_client.post(IMPORT_URL, {"file": upload("bad.parquet", b"not parquet at all")}, format="multipart")
    )
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error_message
    assert not storage.arrow_dir(dataset.pk).exists()
