"""catalog.browse: pages of rows and column statistics read from a saved Arrow dataset."""

import datetime
import decimal
import json

import datasets
import pytest

from catalog import browse, storage
from catalog.models import Dataset

FEATURES = datasets.Features(
    {
        "id": datasets.Value("int64"),
        "score": datasets.Value("float64"),
        "text": datasets.Value("string"),
        "blob": datasets.Value("binary"),
        "meta": {"tag": datasets.Value("string"), "values": datasets.Sequence(datasets.Value("int32"))},
        "flag": datasets.Value("bool"),
    }
)


def rows_data(n):
    return {
        "id": list(range(n)),
        "score": [None if i % 5 == 0 else i * 0.5 for i in range(n)],
        "text": [None if i % 7 == 0 else "x" * (i % 4) for i in range(n)],
        "blob": [None if i % 3 == 0 else bytes(i) for i in range(n)],
        "meta": [None if i % 6 == 0 else {"tag": f"t{i}", "values": list(range(i % 3))} for i in range(n)],
        "flag": [i % 2 == 0 for i in range(n)],
    }


def save(dataset_id, data, features=FEATURES, **kwargs):
    path = storage.arrow_dir(dataset_id)
    datasets.Dataset.from_dict(data, features=features).save_to_disk(str(path), **kwargs)
    return path


@pytest.fixture
def ready(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    # Several shards, so reads and statistics cross file boundaries.
    save(dataset.pk, rows_data(40), num_shards=3)
    return dataset


def test_read_rows_slices_only_the_page_asked_for(ready):
    rows, total = browse.read_rows(ready, 10, 5)
    assert total == 40
    assert [r["id"] for r in rows] == [10, 11, 12, 13, 14]
    # Across a shard boundary and up to the end.
    rows, total = browse.read_rows(ready, 12, 100)
    assert [r["id"] for r in rows] == list(range(12, 40))
    # Past the end: nothing, but the total is still given.
    assert browse.read_rows(ready, 40, 10) == ([], 40)
    assert browse.read_rows(ready, 1000, 10) == ([], 40)


def test_values_are_json_safe(ready):
    rows, _ = browse.read_rows(ready, 0, 8)
    by_id = {r["id"]: r for r in rows}
    assert by_id[0]["blob"] is None and by_id[0]["score"] is None and by_id[0]["meta"] is None
    assert by_id[4]["blob"] == {"binary": True, "size": 4}
    assert by_id[5]["meta"] == {"tag": "t5", "values": [0, 1]}
    assert by_id[2]["flag"] is True
    assert list(by_id[1]) == ["id", "score", "text", "blob", "meta", "flag"]
    json.dumps(rows, allow_nan=False)  # no bytes, no NaN


def test_long_strings_are_kept_whole(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    long_text = "word " * 50_000
    save(dataset.pk, {"text": [long_text]}, features=datasets.Features({"text": datasets.Value("string")}))
    rows, total = browse.read_rows(dataset, 0, 1)
    assert total == 1 and rows[0]["text"] == long_text


def test_data_is_memory_mapped(ready):
    from datasets.table import ConcatenationTable, MemoryMappedTable

    arrow = browse.open_ready(ready)
    # One memory-mapped table per shard file, concatenated without copying.
    assert isinstance(arrow.data, ConcatenationTable)
    blocks = [table for row in arrow.data.blocks for table in row]
    assert len(blocks) == 3 and all(isinstance(table, MemoryMappedTable) for table in blocks)


def test_read_page_gives_columns(ready):
    page = browse.read_page(ready, 0, 2)
    assert page.columns == ["id", "score", "text", "blob", "meta", "flag"]
    assert page.total == 40 and len(page.rows) == 2


@pytest.mark.parametrize("status", ["pending", "downloading", "processing", "failed", "cancelled"])
def test_rows_of_a_dataset_that_is_not_ready_are_unavailable(make_dataset, status):
    dataset = make_dataset(status=status)
    with pytest.raises(browse.RowsUnavailable, match=status):
        browse.read_rows(dataset, 0, 10)


def test_missing_files_are_unavailable_not_a_crash(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    with pytest.raises(browse.RowsUnavailable, match="missing"):
        browse.read_rows(dataset, 0, 10)


def test_negative_offset_is_refused(ready):
    with pytest.raises(ValueError):
        browse.read_rows(ready, -1, 10)


def test_row_sequence_pages_with_django_paginator(ready):
    from django.core.paginator import Paginator

    rows = browse.RowSequence(ready)
    page = Paginator(rows, 15).get_page(3)
    assert page.paginator.num_pages == 3
    assert [r["id"] for r in page.object_list] == list(range(30, 40))


def test_dataset_dict_folder_shows_its_first_split(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"a": [1, 2, 3]})})
    dd.save_to_disk(str(storage.arrow_dir(dataset.pk)))
    assert browse.read_rows(dataset, 0, 10) == ([{"a": 1}, {"a": 2}, {"a": 3}], 3)


@pytest.mark.parametrize(
    "value, expected",
    [
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (b"abc", {"binary": True, "size": 3}),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
        (datetime.date(2024, 1, 2), "2024-01-02"),
        (datetime.timedelta(seconds=90), 90.0),
        (decimal.Decimal("1.50"), "1.50"),
        ([("k", b"v")], [["k", {"binary": True, "size": 1}]]),
        ({"a": {"b": [b"xy", None]}}, {"a": {"b": [{"binary": True, "size": 2}, None]}}),
    ],
)
def test_json_safe(value, expected):
    assert browse.json_safe(value) == expected


# --------------------------------------------------------------------------------- statistics


def test_column_stats_per_kind(ready):
    stats = browse.compute_column_stats(storage.arrow_dir(ready.pk))
    assert list(stats) == ["id", "score", "text", "blob", "meta", "flag"]
    assert stats["id"] == {"kind": "number", "rows": 40, "nulls": 0, "min": 0, "max": 39, "mean": 19.5}
    scores = [i * 0.5 for i in range(40) if i % 5]
    assert stats["score"]["nulls"] == 8
    assert stats["score"]["min"] == 0.5 and stats["score"]["max"] == 19.5
    assert stats["score"]["mean"] == pytest.approx(sum(scores) / len(scores))
    lengths = [i % 4 for i in range(40) if i % 7]
    assert stats["text"] == {
        "kind": "string",
        "rows": 40,
        "nulls": 6,
        "length_min": 0,
        "length_max": 3,
        "length_mean": pytest.approx(sum(lengths) / len(lengths)),
    }
    # Binary, structs and booleans only count nulls.
    assert stats["blob"] == {"kind": "other", "rows": 40, "nulls": 14}
    assert stats["meta"] == {"kind": "other", "rows": 40, "nulls": 7}
    assert stats["flag"] == {"kind": "other", "rows": 40, "nulls": 0}


def test_column_stats_stream_over_many_batches(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    n = 5000
    path = save(
        dataset.pk,
        {"n": list(range(n)), "s": ["é" * (i % 10) for i in range(n)]},
        features=datasets.Features({"n": datasets.Value("int32"), "s": datasets.Value("string")}),
        num_shards=4,
    )
    batches = [batch for table in browse.open_tables(path) for batch in table.to_batches()]
    assert len(batches) >= 4 and sum(b.num_rows for b in batches) == n
    stats = browse.compute_column_stats(path)
    assert stats["n"]["min"] == 0 and stats["n"]["max"] == n - 1 and stats["n"]["mean"] == (n - 1) / 2
    # Lengths are in characters, not bytes.
    assert stats["s"]["length_max"] == 9


def test_column_stats_leave_out_nan_and_spell_out_infinity(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    path = save(
        dataset.pk,
        {"f": [1.0, float("nan"), 3.0, None], "g": [float("inf"), 1.0, None, None], "empty": [None] * 4},
        features=datasets.Features(
            {"f": datasets.Value("float32"), "g": datasets.Value("float64"), "empty": datasets.Value("int64")}
        ),
    )
    stats = browse.compute_column_stats(path)
    assert stats["f"] == {"kind": "number", "rows": 4, "nulls": 1, "min": 1.0, "max": 3.0, "mean": 2.0}
    assert stats["g"]["max"] == "Infinity" and stats["g"]["min"] == 1.0
    assert stats["empty"] == {"kind": "number", "rows": 4, "nulls": 4, "min": None, "max": None, "mean": None}
    json.dumps(stats, allow_nan=False)


def test_column_stats_of_an_empty_dataset_list_the_columns(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    path = save(
        dataset.pk,
        {"a": [], "b": []},
        features=datasets.Features({"a": datasets.Value("int64"), "b": datasets.Value("string")}),
    )
    stats = browse.compute_column_stats(path)
    assert stats["a"] == {"kind": "number", "rows": 0, "nulls": 0, "min": None, "max": None, "mean": None}
    assert stats["b"]["kind"] == "string" and stats["b"]["rows"] == 0
