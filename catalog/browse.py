"""Reading a ready dataset's Arrow folder: pages of rows and per-column statistics.

The folder is what `datasets.Dataset.save_to_disk` wrote (storage.arrow_dir). Everything here
memory-maps the Arrow files and touches only the rows or record batches it needs, so a page of
a 50 GB dataset costs about as much as a page of a small one.

Values are made JSON-safe for the API and the templates:
- bytes become {"binary": true, "size": n} (raw bytes are never sent to a browser);
- structs and lists stay nested (dicts and lists) with the same rule applied inside;
- dates and times become ISO strings, decimals strings, NaN and infinities strings;
- long strings are kept whole (the template truncates them; the API gives them in full).
"""

import datetime
import decimal
import json
import math
from collections import namedtuple
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from catalog import storage
from catalog.models import Dataset

Page = namedtuple("Page", "rows total columns")


class RowsUnavailable(Exception):
    """The dataset has no readable rows (not ready yet, or its files are gone)."""


# --------------------------------------------------------------------------------------- rows


def open_arrow(path):
    """The saved dataset at path, memory-mapped (never copied into RAM)."""
    import datasets  # imported here: it is slow to import and only pages that browse need it

    try:
        loaded = datasets.load_from_disk(str(path), keep_in_memory=False)
    except FileNotFoundError:
        raise RowsUnavailable("The dataset's files are missing on disk; retry or delete it.") from None
    if isinstance(loaded, datasets.DatasetDict):
        # A whole DatasetDict saved in one folder: show the first split rather than nothing.
        loaded = next(iter(loaded.values()))
    return loaded


def open_ready(dataset):
    """The memory-mapped Arrow data of a ready dataset; RowsUnavailable otherwise."""
    if dataset.status != Dataset.Status.READY:
        raise RowsUnavailable(
            f"This dataset is {dataset.get_status_display().lower()}; its rows can be browsed once it is ready."
        )
    return open_arrow(storage.arrow_dir(dataset.pk))


def slice_rows(arrow, start, stop):
    """Rows start..stop (clamped to the data) as JSON-safe dicts."""
    start, stop = max(0, min(start, arrow.num_rows)), max(0, min(stop, arrow.num_rows))
    if stop <= start:
        return []
    # The "arrow" format slices the memory-mapped table without decoding features (no PIL images).
    table = arrow.with_format("arrow")[start:stop]
    return [{name: json_safe(value) for name, value in row.items()} for row in table.to_pylist()]


def read_page(dataset, offset, limit):
    """Rows offset..offset+limit of a ready dataset, with the total count and the column names."""
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must not be negative")
    arrow = open_ready(dataset)
    return Page(slice_rows(arrow, offset, offset + limit), arrow.num_rows, list(arrow.column_names))


def read_rows(dataset, offset, limit):
    """(rows, total): rows offset..offset+limit as JSON-safe dicts, and the dataset's row count."""
    page = read_page(dataset, offset, limit)
    return page.rows, page.total


class RowSequence:
    """A ready dataset's rows as a lazy sequence, so django.core.paginator.Paginator can page it.

    Only the slice a page asks for is ever read.
    """

    def __init__(self, dataset):
        self.arrow = open_ready(dataset)
        self.columns = list(self.arrow.column_names)

    def __len__(self):
        return self.arrow.num_rows

    def count(self):
        return self.arrow.num_rows

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("RowSequence only supports slices")
        start, stop, _ = index.indices(self.arrow.num_rows)
        return slice_rows(self.arrow, start, stop)


def json_safe(value):
    """A value from Arrow's to_pylist() turned into something json.dumps(allow_nan=False) accepts."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"binary": True, "size": len(value)}
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # Map columns come back as lists of (key, value) tuples; lists of pairs are fine in JSON.
        return [json_safe(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)


# ------------------------------------------------------------------------------------ media

# Media types a browser may show inline from our origin. Anything else (an SVG could carry a
# script) is sent as a download.
INLINE_MEDIA_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "audio/wav",
    "audio/x-wav",
    "audio/mpeg",
    "audio/flac",
    "audio/x-flac",
    "audio/ogg",
    "audio/webm",
    "audio/mp4",
}


class MediaCell(namedtuple("MediaCell", "kind url name size")):
    """An image or audio value of the row browser: shown as a thumbnail or a player, from `url`."""


class LabelCell(namedtuple("LabelCell", "value name")):
    """A ClassLabel value of the row browser: its integer and its class name."""


def label_columns(arrow):
    """{column: [class names]} for the dataset's top-level ClassLabel columns."""
    import datasets

    return {name: f.names for name, f in arrow.features.items() if isinstance(f, datasets.ClassLabel)}


def media_columns(arrow):
    """{column: "image" | "audio"} for the dataset's top-level Image and Audio columns."""
    import datasets

    kinds = {}
    for name, feature in arrow.features.items():
        if isinstance(feature, datasets.Image):
            kinds[name] = "image"
        elif isinstance(feature, datasets.Audio):
            kinds[name] = "audio"
    return kinds


def read_media(dataset, row, column):
    """(bytes, media type, file name) of one image or audio value of a ready dataset.

    Only bytes stored in the Arrow files are ever served, never a file a path points to.
    Raises RowsUnavailable, or KeyError / IndexError for a column or row that is not media.
    """
    import mimetypes

    # The viewer's memory-mapped table, shared by the requests of one page's thumbnails: opening
    # the dataset with `datasets` in each of several parallel requests races in its progress bars.
    from catalog.viewer import query, source

    table, features = query.open_dataset(dataset)
    if source.media_kind(features.get(column)) is None:
        raise KeyError(column)
    if not 0 <= row < table.num_rows:
        raise IndexError(row)
    value = table.column(column)[row].as_py()
    if not value or value.get("bytes") is None:
        raise KeyError(column)
    name = (value.get("path") or "").rsplit("/", 1)[-1]
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return value["bytes"], media_type, name


def is_binary_marker(value):
    return isinstance(value, dict) and value.keys() == {"binary", "size"} and value["binary"] is True


# --------------------------------------------------------------------------------------- stats


def arrow_files(arrow_path):
    """The data files of a saved dataset, in row order (state.json lists them; else by name)."""
    path = Path(arrow_path)
    if path.is_file():
        return [path]
    state = path / "state.json"
    if state.is_file():
        names = [entry["filename"] for entry in json.loads(state.read_text()).get("_data_files", [])]
        if names:
            return [path / name for name in names]
    return sorted(path.glob("*.arrow"))


# Rows handed to pyarrow.compute at once: builders write record batches of as few as 100 rows,
# and a Python round per batch would cost more than the counting; this many stays small in memory.
STATS_ROWS = 64 * 1024


def read_file_table(file):
    """One data file as a Table whose buffers point into a memory mapping of it (nothing is copied)."""
    source = pa.memory_map(str(file))
    # save_to_disk writes the IPC stream format; the file format is accepted too.
    try:
        return pa.ipc.open_stream(source).read_all()
    except pa.ArrowInvalid:
        source.seek(0)
        return pa.ipc.open_file(source).read_all()


def open_tables(arrow_path):
    """Every data file of a saved dataset as a memory-mapped Table, in row order."""
    return [read_file_table(file) for file in arrow_files(arrow_path)]


def slices(tables, rows=STATS_ROWS):
    """The rows of the tables, `rows` at a time (zero-copy slices)."""
    for table in tables:
        for offset in range(0, table.num_rows, rows):
            yield table.slice(offset, rows)


def column_kind(arrow_type):
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return "string"
    return "other"


class _ColumnStats:
    """Running totals for one column; only numbers (never the values) are kept between batches."""

    def __init__(self, kind):
        self.kind = kind
        self.rows = 0
        self.nulls = 0
        self.min = self.max = None
        self.sum = 0.0
        self.counted = 0  # non-null values that went into min/max/mean

    def add(self, array):
        """Count one more stretch of the column (an Array or a ChunkedArray)."""
        self.rows += len(array)
        self.nulls += array.null_count
        if self.kind == "other" or array.null_count == len(array):
            return
        values = array
        if self.kind == "string":
            values = pc.utf8_length(array)
        elif pa.types.is_floating(array.type):
            # NaN would poison the mean and is not valid JSON: leave it out of min/max/mean.
            values = pc.filter(array, pc.invert(pc.is_nan(array)))
        values = values.drop_null()
        if not len(values):
            return
        low_high = pc.min_max(values)
        low, high = low_high["min"].as_py(), low_high["max"].as_py()
        self.min = low if self.min is None else min(self.min, low)
        self.max = high if self.max is None else max(self.max, high)
        # Summing as float64 cannot overflow the way an int64 sum could.
        self.sum += pc.sum(values.cast(pa.float64())).as_py() or 0.0
        self.counted += len(values)

    def result(self):
        out = {"kind": self.kind, "rows": self.rows, "nulls": self.nulls}
        if self.kind == "other":
            return out
        mean = self.sum / self.counted if self.counted else None
        prefix = "length_" if self.kind == "string" else ""
        out[prefix + "min"] = _finite(self.min)
        out[prefix + "max"] = _finite(self.max)
        out[prefix + "mean"] = _finite(mean)
        return out


def _finite(number):
    """Infinities have no JSON number form (PostgreSQL jsonb refuses them): spell them out as rows do."""
    if isinstance(number, float) and not math.isfinite(number):
        return json_safe(number)
    return number


def compute_column_stats(arrow_path, tables=None):
    """Per-column statistics of the saved dataset at arrow_path, counted STATS_ROWS rows at a time.

    Returns {column: {"kind", "rows", "nulls", ...}} in column order, where numbers add
    "min", "max", "mean" and strings add "length_min", "length_max", "length_mean"
    (in characters); other types (bool, binary, structs, lists, dates) only count nulls.
    Min, max and mean are null when a column has no non-null values.
    """
    stats = None
    # tables: the folder's files already opened (open_tables), when the caller reads them again.
    for table in slices(open_tables(arrow_path) if tables is None else tables):
        if stats is None:
            stats = {field.name: _ColumnStats(column_kind(field.type)) for field in table.schema}
        for field, column in zip(table.schema, table.columns):
            stats[field.name].add(column)
    if stats is None:
        # No batches at all (an empty dataset): read the schema so every column is still listed.
        schema = _schema(arrow_path)
        stats = {field.name: _ColumnStats(column_kind(field.type)) for field in schema} if schema else {}
    return {name: column.result() for name, column in stats.items()}


def _schema(arrow_path):
    for file in arrow_files(arrow_path):
        return read_file_table(file).schema
    # save_to_disk writes no data file for an empty dataset; its features are in dataset_info.json.
    info = Path(arrow_path) / "dataset_info.json"
    if info.is_file():
        import datasets

        features = json.loads(info.read_text()).get("features")
        if features:
            return datasets.Features.from_dict(features).arrow_schema
    return None
