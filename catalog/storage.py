"""Disk layout and path safety. Every path under the data directory is built here.

DATA_DIR/datasets/<uuid>/
    downloads/<repo path>          finished files fetched from the Hub
    downloads/<repo path>.partial  a file being fetched; kept across crashes to resume
    arrow/                         the finished Arrow dataset (load_from_disk opens it)
    arrow.tmp-<run id>/            being written by that run; renamed to arrow/ only when complete
    build-cache-<run id>/          the `datasets` build cache of that run, removed after the build
    README.md                      the dataset card of the pinned commit, when the repository has one
    exports/parquet/               Parquet shards, written on the first Parquet export
    upload/                        a local file given to the import API
"""

import errno
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath

from django.conf import settings


class UnsafePath(ValueError):
    """A path that would leave the folder it must stay in."""


def data_dir():
    return Path(settings.DATA_DIR)


def datasets_root():
    return data_dir() / "datasets"


def dataset_dir(dataset_id):
    # The id is a UUID: parse it so nothing else can become a folder name.
    return datasets_root() / str(uuid.UUID(str(dataset_id)))


def downloads_dir(dataset_id):
    return dataset_dir(dataset_id) / "downloads"


def arrow_dir(dataset_id):
    return dataset_dir(dataset_id) / "arrow"


def card_file(dataset_id):
    return dataset_dir(dataset_id) / "README.md"


def exports_dir(dataset_id):
    return dataset_dir(dataset_id) / "exports"


def upload_dir(dataset_id):
    return dataset_dir(dataset_id) / "upload"


def safe_join(root, relative):
    """Join a relative path (e.g. a file name from the Hub) below root, refusing any escape."""
    rel = PurePosixPath(str(relative).replace("\\", "/"))
    if rel.is_absolute() or not rel.parts or any(part in ("..", "") for part in rel.parts):
        raise UnsafePath(f"Refusing unsafe path {relative!r}.")
    root = Path(root).resolve()
    target = (root / Path(*rel.parts)).resolve()
    if root != target and root not in target.parents:
        raise UnsafePath(f"Refusing path {relative!r}: it leaves {root}.")
    return target


# File systems allow 255 bytes per name; leave room for the ".partial" and temporary suffixes.
MAX_FILENAME_BYTES = 200


def upload_filename(name):
    """A safe name on disk for a file a client sent: no folders, no odd characters, at most MAX_FILENAME_BYTES."""
    from django.utils.text import get_valid_filename

    try:
        name = get_valid_filename(PurePosixPath(name.replace("\\", "/")).name)
    except Exception:  # get_valid_filename refuses names that end up empty or "." / "..".
        name = "upload"
    stem, suffix = os.path.splitext(name)
    suffix = suffix[:20]
    while len((stem + suffix).encode()) > MAX_FILENAME_BYTES:
        stem = stem[:-1]
    return (stem or "upload") + suffix


def is_within(path, roots):
    """True if path (resolved, links followed) lies inside one of roots."""
    path = Path(path).resolve()
    return any(path == Path(r).resolve() or Path(r).resolve() in path.parents for r in roots)


def new_temp_dir(final_dir, tag=None):
    """A fresh sibling folder to build into, later moved onto final_dir by publish_dir.

    tag (a run id) names the folder after the run that writes it.
    """
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    temp = final_dir.with_name(f"{final_dir.name}.tmp-{tag or uuid.uuid4().hex[:8]}")
    temp.mkdir()
    return temp


def publish_dir(temp_dir, final_dir):
    """Put a completely written folder in place with a rename, so readers never see half of it."""
    final_dir = Path(final_dir)
    if final_dir.exists():
        old = final_dir.with_name(f"{final_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final_dir, old)
        os.replace(temp_dir, final_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp_dir, final_dir)
    return final_dir


def remove_temp_dirs(final_dir):
    final_dir = Path(final_dir)
    if final_dir.parent.exists():
        for leftover in final_dir.parent.glob(f"{final_dir.name}.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def build_cache_dir(dataset_id, run_id):
    return dataset_dir(dataset_id) / f"build-cache-{run_id}"


def remove_dataset_files(dataset_id):
    shutil.rmtree(dataset_dir(dataset_id), ignore_errors=True)


def folder_size(path):
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def free_space():
    root = data_dir()
    root.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(root).free


# --- Disk space ------------------------------------------------------------------------------

# Peak disk use of a download as a multiple of its source bytes: the source files and the Arrow
# files the build writes (about 1.3 times the parquet bytes; catalog.building.save moves them into
# place), and for media columns a second Arrow copy that save_to_disk writes with the files
# embedded: 3.6 measured for the test Hub's parquet split then. The largest case is the rule.
BUILD_SPACE_FACTOR = 4


class NotEnoughSpace(Exception):
    def __init__(self, needed, free):
        self.needed, self.free = needed, free
        super().__init__(
            f"Not enough disk space: {needed:,} bytes needed, {free:,} bytes free in the data folder. "
            "Free some space (or delete datasets), then retry."
        )


def space_needed(source_bytes, already_on_disk=0):
    """Free bytes a download or import of source_bytes still needs, given what is already on disk."""
    return max(0, source_bytes * BUILD_SPACE_FACTOR - already_on_disk)


def ensure_space(needed):
    """Raise NotEnoughSpace (with both numbers) unless `needed` bytes are free in the data folder."""
    free = free_space()
    if needed > free:
        raise NotEnoughSpace(needed, free)


def is_disk_full(exc):
    """True if exc, or an error it wraps (`datasets` wraps them), is a full disk or quota."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def remove_unresumable(dataset_id):
    """After a failure: remove what a retry cannot resume (build folders, capped rows); keep partial files."""
    folder = dataset_dir(dataset_id)
    if not folder.exists():
        return
    for leftover in [
        *folder.glob("arrow.tmp-*"),
        *folder.glob("build-cache-*"),
        downloads_dir(dataset_id) / "first-rows",
    ]:
        shutil.rmtree(leftover, ignore_errors=True)
