"""A saved dataset's Arrow files as one memory-mapped pyarrow Table, and its `datasets` features.

`save_to_disk` writes Arrow IPC *stream* files. Reading a memory-mapped stream with
`read_all()` builds a Table whose buffers point into the mapping: nothing is copied into RAM,
and DuckDB scans such a Table zero-copy. Opening costs a pass over the batch headers (a few
milliseconds for a million rows), so recently opened tables are kept per process.
"""

import json
import threading
from collections import OrderedDict
from pathlib import Path

import pyarrow as pa

from catalog import browse

_cache = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 8


def data_folder(arrow_path):
    """The folder holding the data files: a saved DatasetDict shows its first split, as browse does."""
    path = Path(arrow_path)
    index = path / "dataset_dict.json"
    if index.is_file():
        splits = json.loads(index.read_text()).get("splits") or []
        if splits:
            return path / splits[0]
    return path


def read_table(arrow_path):
    """Every data file of the saved dataset at arrow_path, memory-mapped and concatenated (no cache)."""
    arrow_path = data_folder(arrow_path)
    files = browse.arrow_files(arrow_path)
    tables = [browse.read_file_table(file) for file in files]
    if not tables:
        schema = browse._schema(arrow_path) or pa.schema([])
        return schema.empty_table()
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _stamp(arrow_path):
    """Changes whenever the folder is replaced (publish_dir renames a new one into place)."""
    path = Path(arrow_path)
    try:
        return path.stat().st_ino, path.stat().st_mtime_ns
    except FileNotFoundError:
        raise browse.RowsUnavailable("The dataset's files are missing on disk; retry or delete it.") from None


def open_table(arrow_path):
    """The dataset's Table, memory-mapped; reused while the folder on disk is unchanged."""
    key = str(arrow_path)
    stamp = _stamp(arrow_path)
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] == stamp:
            _cache.move_to_end(key)
            return hit[1]
    try:
        table = read_table(arrow_path)
    except FileNotFoundError:
        raise browse.RowsUnavailable("The dataset's files are missing on disk; retry or delete it.") from None
    with _cache_lock:
        # A deleted dataset's mapping would keep its disk space in use: let it go.
        for gone in [k for k in _cache if not Path(k).exists()]:
            del _cache[gone]
        _cache[key] = (stamp, table)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return table


def forget(arrow_path):
    """Drop a cached table (its files are about to be deleted)."""
    with _cache_lock:
        _cache.pop(str(arrow_path), None)


def features(arrow_path):
    """{column: feature dict} as `datasets` wrote it in dataset_info.json ({} if there is none).

    Plain JSON, so the viewer knows class label names and media columns without importing datasets.
    """
    info = data_folder(arrow_path) / "dataset_info.json"
    try:
        data = json.loads(info.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    found = data.get("features") or {}
    return found if isinstance(found, dict) else {}


def media_kind(feature):
    """ "image" or "audio" for a top-level Image or Audio feature, else None."""
    if isinstance(feature, dict):
        return {"Image": "image", "Audio": "audio"}.get(feature.get("_type"))
    return None


def class_names(feature):
    """The label names of a ClassLabel feature, else None."""
    if isinstance(feature, dict) and feature.get("_type") == "ClassLabel":
        return list(feature.get("names") or [])
    return None
