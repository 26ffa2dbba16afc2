"""The export formats, written from the memory-mapped Arrow table one record batch at a time."""

import base64
import csv
import fcntl
import io
import json
import math
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from catalog import browse, storage
from catalog.viewer import source

FORMATS = ("parquet", "jsonl", "csv")
MEDIA_TYPES = {"parquet": "application/vnd.apache.parquet", "jsonl": "application/jsonl", "csv": "text/csv"}
CONTENT_TYPES = {
    "parquet": MEDIA_TYPES["parquet"],
    "jsonl": MEDIA_TYPES["jsonl"] + "; charset=utf-8",
    "csv": MEDIA_TYPES["csv"] + "; charset=utf-8",
}


def file_stem(dataset):
    """A download name: the dataset's name and split, in safe characters."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{dataset.name}-{dataset.split or 'data'}").strip("-.")
    return stem[:100] or "dataset"


def table_of(dataset):
    return source.read_table(storage.arrow_dir(dataset.pk))


def batches(table, rows=10_000):
    yield from table.to_batches(max_chunksize=rows)


# ------------------------------------------------------------------------------------- JSON Lines and CSV


def plain_value(value):
    """A value from to_pylist() as JSON data: bytes in base64, NaN and infinities null, the rest as the viewer has it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return browse.json_safe(value)


def iter_jsonl(table):
    """One JSON object per row, UTF-8, '\\n' after each."""
    for batch in batches(table):
        lines = (json.dumps(plain_value(row), ensure_ascii=False, allow_nan=False) for row in batch.to_pylist())
        yield ("\n".join(lines) + "\n").encode() if batch.num_rows else b""


def csv_cell(value):
    """Flat values as they are; nested ones (structs, lists) as JSON text; binary in base64."""
    value = plain_value(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def iter_csv(table):
    """A header row and one row per dataset row (RFC 4180 quoting, '\\r\\n' line ends as csv writes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.column_names)
    for batch in batches(table):
        for row in batch.to_pylist():
            writer.writerow([csv_cell(v) for v in row.values()])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


STREAMS = {"jsonl": iter_jsonl, "csv": iter_csv}


# ------------------------------------------------------------------------------------- Parquet


def shard_bytes():
    return settings.HFD_EXPORT_SHARD_BYTES


def parquet_files(dataset):
    """The dataset's Parquet shards, written on first use; the same files (and bytes) afterwards."""
    folder = storage.exports_dir(dataset.pk) / "parquet"
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        # One writer at a time: a second request waits and then finds the shards written.
        with open(folder.parent / "parquet.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not folder.is_dir():
                temp = storage.new_temp_dir(folder)
                try:
                    write_parquet(table_of(dataset), temp, dataset.split or "data", shard_bytes())
                except BaseException:
                    import shutil

                    shutil.rmtree(temp, ignore_errors=True)
                    raise
                storage.publish_dir(temp, folder)
    return sorted(folder.glob("*.parquet"))


def write_parquet(table, folder, prefix, max_bytes):
    """Shards of consecutive rows, each about max_bytes of Arrow data; names as the Hub gives them."""
    groups, current, size = [], [], 0
    for batch in batches(table, rows=50_000):
        if current and size + batch.nbytes > max_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(batch)
        size += batch.nbytes
    groups.append(current)
    paths = []
    for index, group in enumerate(groups):
        path = Path(folder) / f"{prefix}-{index:05d}-of-{len(groups):05d}.parquet"
        # The schema keeps its "huggingface" metadata, so `datasets` reads the features back exactly.
        with pq.ParquetWriter(str(path), table.schema) as writer:
            if group:
                writer.write_table(pa.Table.from_batches(group, schema=table.schema), row_group_size=50_000)
        paths.append(path)
    return paths
