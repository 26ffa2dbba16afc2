"""Deterministic test repositories for the fake Hub (about 3.5 MB in total, built in well under a second)."""

from __future__ import annotations

import csv
import functools
import io
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq

TOKEN = "hf_test_token"  # the token of PRIVATE
MULTI, JSONL, CSV, PRIVATE, MISSING = "acme/multi", "acme/jsonl", "acme/csv", "acme/private", "acme/missing"

MULTI_TRAIN_SHARDS = 4
MULTI_ROWS_PER_SHARD = 5000
MULTI_ROW_GROUP_SIZE = 250
MULTI_FILES = {
    "default": {
        "train": [f"data/train-{i:05d}-of-{MULTI_TRAIN_SHARDS:05d}.parquet" for i in range(MULTI_TRAIN_SHARDS)],
        "test": ["data/test-00000-of-00001.parquet"],
    },
    "extra": {"train": ["extra/train-00000-of-00001.parquet"], "test": ["extra/test-00000-of-00001.parquet"]},
}
# Expected number of rows: ROWS[repo_id][config][split]. JSONL_V1_ROWS is the older commit of acme/jsonl.
ROWS = {
    MULTI: {
        "default": {"train": MULTI_TRAIN_SHARDS * MULTI_ROWS_PER_SHARD, "test": 1000},
        "extra": {"train": 300, "test": 120},
    },
    JSONL: {"default": {"train": 200, "test": 50}},
    CSV: {"default": {"train": 150, "test": 40}},
    PRIVATE: {"default": {"train": 10}},
}
JSONL_V1_ROWS = {"default": {"train": 100, "test": 50}}
MULTI_COLUMNS = ["id", "score", "text", "meta", "blob"]


def _readme(title: str, configs: dict[str, dict[str, str]] | None = None) -> bytes:
    """README.md, with the Hub's `configs:` YAML front matter when ``configs`` ({config: {split: glob}}) is given."""
    yaml_lines = []
    if configs:
        yaml_lines.append("configs:")
        for i, (name, splits) in enumerate(configs.items()):
            yaml_lines += [f"- config_name: {name}", "  data_files:"]
            yaml_lines += [f"  - split: {split}\n    path: {glob}" for split, glob in splits.items()]
            yaml_lines += ["  default: true"] if i == 0 else []
    yaml_lines += ["license: mit", f"pretty_name: {title}"]
    return (
        "---\n" + "\n".join(yaml_lines) + f"\n---\n\n# {title}\n\nA test dataset served by the fake Hub.\n"
    ).encode()


def parquet_rows(first_id: int, n: int, seed: int, row_group_size: int = MULTI_ROW_GROUP_SIZE) -> bytes:
    """Parquet with int/float/string/struct(list)/binary columns, some nulls, many row groups."""
    rnd = random.Random(seed)
    ids = range(first_id, first_id + n)
    table = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "score": pa.array([None if i % 17 == 0 else i * 0.5 for i in ids], pa.float64()),
            "text": pa.array([None if i % 23 == 0 else f"row {i} " + "lorem ipsum " * (i % 4) for i in ids]),
            "meta": pa.array(
                [None if i % 29 == 0 else {"tag": f"t{i % 5}", "values": list(range(i % 4))} for i in ids],
                pa.struct([("tag", pa.string()), ("values", pa.list_(pa.int32()))]),
            ),
            "blob": pa.array([None if i % 31 == 0 else rnd.randbytes(120) for i in ids], pa.binary()),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=row_group_size)
    return buf.getvalue()


@functools.cache
def _multi_files() -> dict[str, bytes]:
    files, next_id = {}, 0
    for config, splits in MULTI_FILES.items():
        for split, paths in splits.items():
            per_file = ROWS[MULTI][config][split] // len(paths)
            for path in paths:
                files[path] = parquet_rows(next_id, per_file, seed=next_id)
                next_id += per_file
    globs = {
        "default": {"train": "data/train-*.parquet", "test": "data/test-*.parquet"},
        "extra": {"train": "extra/train-*.parquet", "test": "extra/test-*.parquet"},
    }
    return {"README.md": _readme("Multi", globs), **files}


def multi_files() -> dict[str, bytes]:
    """acme/multi: configs "default" (train in 4 parquet shards, test) and "extra" (train, test)."""
    return dict(_multi_files())


def jsonl_files(train_rows: int = 200, test_rows: int = 50) -> dict[str, bytes]:
    """acme/jsonl: no YAML configs, splits found by the Hub's file naming (data/{split}-00000-of-00001.jsonl)."""

    def rows(split: str, n: int) -> bytes:
        return "".join(
            json.dumps({"id": i, "text": f"{split} line {i}", "label": i % 3, "score": None if i % 7 == 0 else i / 10})
            + "\n"
            for i in range(n)
        ).encode()

    return {
        "README.md": b"# JSONL\n\nNo YAML here: splits come from file names.\n",
        "data/train-00000-of-00001.jsonl": rows("train", train_rows),
        "data/test-00000-of-00001.jsonl": rows("test", test_rows),
    }


def csv_files() -> dict[str, bytes]:
    """acme/csv: splits declared with YAML configs pointing at csv/train.csv and csv/test.csv."""

    def rows(n: int) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "name", "value"])
        writer.writerows([i, f"name-{i}", "" if i % 11 == 0 else i * 1.5] for i in range(n))
        return out.getvalue().encode()

    return {
        "README.md": _readme("CSV", {"default": {"train": "csv/train.csv", "test": "csv/test.csv"}}),
        "csv/train.csv": rows(ROWS[CSV]["default"]["train"]),
        "csv/test.csv": rows(ROWS[CSV]["default"]["test"]),
    }


def private_files() -> dict[str, bytes]:
    return {
        "README.md": b"# Private\n",
        "data/train-00000-of-00001.jsonl": jsonl_files(10, 0)["data/train-00000-of-00001.jsonl"],
    }


def register_standard_repos(hub) -> dict[str, dict]:
    """(Re-)create the standard repos on ``hub``; returns {repo_id: {"sha", "files", "rows", ...}}.

    acme/jsonl has two commits on main; branch "v1" and tag "v1.0" point at the first one.
    acme/missing is never registered.
    """
    for repo_id in (MULTI, JSONL, CSV, PRIVATE):
        hub.remove_repo(repo_id)
    jsonl_v1 = jsonl_files(*JSONL_V1_ROWS["default"].values())
    v1 = hub.add_repo(JSONL, jsonl_v1, message="First version")
    out = {
        MULTI: {"sha": hub.add_repo(MULTI, multi_files()), "files": multi_files()},
        JSONL: {
            "sha": hub.add_repo(JSONL, jsonl_files(), message="More rows"),
            "files": jsonl_files(),
            "v1_sha": v1,
            "v1_files": jsonl_v1,
        },
        CSV: {"sha": hub.add_repo(CSV, csv_files()), "files": csv_files()},
        PRIVATE: {"sha": hub.add_repo(PRIVATE, private_files(), private=True, token=TOKEN), "files": private_files()},
    }
    hub.set_ref(JSONL, "v1", v1)
    hub.set_ref(JSONL, "v1.0", v1, tag=True)
    for repo_id, info in out.items():
        info["rows"] = ROWS[repo_id]
    return out
