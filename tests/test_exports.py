"""Exports: Parquet (sharded, Range, ETag), JSON Lines and CSV, through the API and `manage.py export`."""

import base64
import csv
import io
import json

import datasets
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from catalog import storage
from catalog.models import Dataset

pytestmark = pytest.mark.django_db

N = 300
FEATURES = datasets.Features(
    {
        "id": datasets.Value("int64"),
        "score": datasets.Value("float64"),
        "text": datasets.Value("string"),
        "label": datasets.ClassLabel(names=["neg", "pos"]),
        "blob": datasets.Value("binary"),
        "meta": {"tag": datasets.Value("string"), "values": datasets.List(datasets.Value("int32"))},
    }
)


def data():
    return {
        "id": list(range(N)),
        "score": [None if i % 5 == 0 else i / 4 for i in range(N)],
        "text": [None if i % 7 == 0 else f'line {i}, "quoted"\nnext ünï' for i in range(N)],
        "label": [i % 2 for i in range(N)],
        "blob": [None if i % 3 == 0 else bytes([i % 256]) * (i % 5) for i in range(N)],
        "meta": [{"tag": f"t{i}", "values": list(range(i % 3))} for i in range(N)],
    }


ROWS = [dict(zip(data(), values)) for values in zip(*data().values())]


@pytest.fixture
def ready(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY, name="acme/multi train")
    datasets.Dataset.from_dict(data(), features=FEATURES).save_to_disk(str(storage.arrow_dir(dataset.pk)), num_shards=2)
    return dataset


def url(dataset, **params):
    return f"/api/v1/datasets/{dataset.pk}/export/?" + "&".join(f"{k}={v}" for k, v in params.items())


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_parquet_export_has_every_row_and_the_features(api_client, ready):
    response = api_client.get(url(ready, format="parquet"))
    assert response.status_code == 200
    content = body(response)
    assert int(response["Content-Length"]) == len(content)
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    assert response["Content-Disposition"] == 'attachment; filename="acme-multi-train-train.parquet"'
    assert response["Accept-Ranges"] == "bytes"
    table = pq.read_table(io.BytesIO(content))
    assert table.to_pylist() == ROWS
    assert datasets.Features.from_arrow_schema(table.schema) == FEATURES
    # The bytes served are the shard written beside the Arrow folder, and stay the same.
    (shard,) = (storage.exports_dir(ready.pk) / "parquet").glob("*.parquet")
    assert shard.read_bytes() == content
    again = api_client.get(url(ready, format="parquet"))
    assert body(again) == content and again["ETag"] == response["ETag"]


def test_parquet_range_requests_and_etag(api_client, ready):
    whole = body(api_client.get(url(ready, format="parquet")))
    response = api_client.get(url(ready, format="parquet"), HTTP_RANGE="bytes=100-1099")
    assert response.status_code == 206
    assert body(response) == whole[100:1100]
    assert response["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    assert response["Content-Length"] == "1000"
    # The footer, as a Parquet reader asks for it.
    tail = api_client.get(url(ready, format="parquet"), HTTP_RANGE="bytes=-8")
    footer = body(tail)
    assert footer == whole[-8:] and tail.status_code == 206 and footer[-4:] == b"PAR1"
    unsatisfiable = api_client.get(url(ready, format="parquet"), HTTP_RANGE=f"bytes={len(whole)}-")
    assert unsatisfiable.status_code == 416 and unsatisfiable["Content-Range"] == f"bytes */{len(whole)}"
    etag = tail["ETag"]
    assert api_client.get(url(ready, format="parquet"), HTTP_IF_NONE_MATCH=etag).status_code == 304
    # If-Range with another version's tag: the whole file, not a piece of the wrong one.
    other = api_client.get(url(ready, format="parquet"), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert other.status_code == 200 and body(other) == whole
    head = api_client.head(url(ready, format="parquet"))
    assert head.status_code == 200 and head["Content-Length"] == str(len(whole)) and body(head) == b""


def test_large_parquet_export_comes_in_shards(api_client, ready, settings):
    settings.HFD_EXPORT_SHARD_BYTES = 4_000  # a few batches per shard
    response = api_client.get(url(ready, format="parquet"))
    assert response.status_code == 300
    shards = response.json()["shards"]
    assert len(shards) > 1
    assert [s["name"] for s in shards] == [f"train-{i:05d}-of-{len(shards):05d}.parquet" for i in range(len(shards))]
    rows = []
    for shard in shards:
        assert shard["url"].startswith("http://testserver/api/v1/datasets/")
        got = api_client.get(shard["url"])
        content = body(got)
        assert got.status_code == 200 and len(content) == shard["size"] == int(got["Content-Length"])
        rows += pq.read_table(io.BytesIO(content)).to_pylist()
    assert rows == ROWS
    assert api_client.get(url(ready, format="parquet", shard=len(shards))).status_code == 400


def plain(row):
    """A row as the JSON Lines export writes it: binary in base64."""
    out = dict(row)
    out["blob"] = None if row["blob"] is None else base64.b64encode(row["blob"]).decode()
    return out


def test_jsonl_export_streams_every_row(api_client, ready):
    response = api_client.get(url(ready, format="jsonl"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert not response.has_header("Content-Length")
    lines = body(response).decode().splitlines()
    assert [json.loads(line) for line in lines] == [plain(r) for r in ROWS]
    # HEAD says what a GET would send, without writing the rows.
    head = api_client.head(url(ready, format="jsonl"))
    assert head.status_code == 200 and head["Content-Type"] == response["Content-Type"] and body(head) == b""


def test_csv_export_streams_every_row(api_client, ready):
    response = api_client.get(url(ready, format="csv"))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    reader = csv.reader(io.StringIO(body(response).decode(), newline=""))
    header, *rows = list(reader)
    assert header == list(FEATURES)

    def cell(value):
        if value is None:
            return ""
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return str(value)

    assert rows == [[cell(v) for v in plain(r).values()] for r in ROWS]


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "format"),
        ({"format": "xlsx"}, "format"),
        ({"format": "csv", "shard": "1"}, "shard"),
        ({"format": "parquet", "shard": "x"}, "shard"),
    ],
)
def test_bad_export_requests_name_the_field(api_client, ready, params, field):
    response = api_client.get(url(ready, **params))
    assert response.status_code == 400 and list(response.json()) == [field]


def test_export_of_a_dataset_that_is_not_ready_is_a_conflict(api_client, make_dataset):
    dataset = make_dataset(status=Dataset.Status.DOWNLOADING)
    assert api_client.get(url(dataset, format="csv")).status_code == 409


def test_export_needs_login(client, ready):
    assert client.get(url(ready, format="csv")).status_code in (401, 403)


def test_manage_py_export(ready, tmp_path, capsysbinary):
    call_command("export", str(ready.pk), "--format", "jsonl", "--output", str(tmp_path / "out.jsonl"))
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [plain(r) for r in ROWS]
    call_command("export", str(ready.pk), "--output", str(tmp_path / "parquet"))
    (written,) = (tmp_path / "parquet").glob("*.parquet")
    assert pq.read_table(written).to_pylist() == ROWS
    with pytest.raises(CommandError, match="dataset_id"):
        call_command("export", "not-a-uuid", "--output", str(tmp_path / "x"))
