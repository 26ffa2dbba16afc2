"""Resumable, parallel download of a plan's files into the dataset's own folder.

huggingface_hub (>= 1.18) names a partial file after its process and deletes it when that
process ends, so a crashed worker would start every unfinished file from zero. We keep our
own `<name>.partial` files next to the finished ones instead: a new worker resumes each file
with an HTTP Range request from the bytes already on disk. A file is moved into place only
after its size and (where the Hub gives one) its sha256 match.
"""

import hashlib
import logging
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from django.conf import settings

from catalog import hub, storage
from catalog.progress import DownloadStopped

logger = logging.getLogger(__name__)


def local_path(dataset_id, repo_path):
    return storage.safe_join(storage.downloads_dir(dataset_id), repo_path)


def partial_path(final):
    return final.with_name(final.name + ".partial")


def bytes_on_disk(dataset_id, files):
    """Bytes of the planned files already downloaded (finished or partial): where a resume starts."""
    total = 0
    for planned in files:
        final = local_path(dataset_id, planned.path)
        partial = partial_path(final)
        if final.exists() and final.stat().st_size == planned.size:
            total += planned.size
        elif partial.exists():
            total += min(partial.stat().st_size, planned.size)
    return total


def fetch_files(dataset_id, repo_id, sha, files, reporter, token=None, parallel=None):
    """Download every planned file (several at once); returns their local paths in plan order.

    Raises DownloadStopped when the reporter says the download is no longer ours, or the first
    HubError of any file after its retries. A stop does not wait for the fetch threads: one
    stuck in a stalled read ends on its own at its next chunk or timeout, and writes nothing more.
    """
    stop = threading.Event()
    parallel = parallel or settings.HFD_PARALLEL_FILES
    # The fetch threads only count bytes; this thread writes progress (see ProgressReporter).
    reporter.auto_flush = False
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="fetch")
    futures = [
        pool.submit(fetch_file, local_path(dataset_id, planned.path), repo_id, sha, planned, reporter, token, stop)
        for planned in files
    ]
    try:
        pending = set(futures)
        while pending:
            # Wake up every progress interval: write progress, and see a cancel even while no bytes arrive.
            done, pending = wait(pending, timeout=reporter.interval, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()
            reporter.check()
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        reporter.auto_flush = True
    return [local_path(dataset_id, planned.path) for planned in files]


def fetch_file(final, repo_id, sha, planned, reporter, token, stop):
    """Download one planned file to `final`, resuming its partial file; retries transient faults."""
    if final.exists() and final.stat().st_size == planned.size:
        return final
    partial = partial_path(final)
    partial.parent.mkdir(parents=True, exist_ok=True)

    def attempt():
        if stop.is_set():
            raise DownloadStopped()
        transfer(repo_id, sha, planned, partial, reporter, token, stop)
        verify(planned, partial)

    with hub.interruptible_by(stop):
        hub.with_retries(attempt, what=f"download of '{planned.path}'")
    if stop.is_set():
        raise DownloadStopped()
    os.replace(partial, final)
    return final


def transfer(repo_id, sha, planned, partial, reporter, token, stop):
    """Append the missing bytes of one file to its partial file."""
    start = partial.stat().st_size if partial.exists() else 0
    if start > planned.size:  # Not the file we expect any more: start over.
        partial.unlink()
        start = 0
    if start == planned.size:
        return
    counted = start  # bytes of this file already in the reporter's count
    with hub.stream_file(repo_id, sha, planned.path, start=start, token=token) as (response, offset):
        with open(partial, "r+b" if partial.exists() else "wb") as out:
            # offset is 0 if the server ignored our Range: rewrite from the beginning.
            out.seek(offset)
            out.truncate()
            position = offset
            for chunk in hub.iter_body(response, repo_id):
                if stop.is_set():
                    raise DownloadStopped()
                out.write(chunk)
                position += len(chunk)
                if position > counted:
                    reporter.add(position - counted)
                    counted = position
            out.flush()
            os.fsync(out.fileno())
    if position != planned.size:
        raise hub.HubUnavailable(
            f"The transfer of '{planned.path}' ended after {position:,} of {planned.size:,} bytes."
        )


def verify(planned, partial):
    """Size, then the Hub's checksum: sha256 for LFS files, the git blob id for files kept in git."""
    size = partial.stat().st_size
    if size != planned.size:
        raise hub.HubUnavailable(f"'{planned.path}' has {size:,} bytes on disk, expected {planned.size:,}.")
    if planned.sha256:
        expected, digest, what = planned.sha256, hashlib.sha256(), "sha256"
    elif planned.git_oid:
        # A git blob id is the sha1 of "blob <size>\0" and the content.
        expected, digest, what = planned.git_oid, hashlib.sha1(b"blob %d\0" % size), "git blob id"
    else:
        return
    with open(partial, "rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        partial.unlink()
        raise hub.ChecksumMismatch(f"'{planned.path}' did not match the Hub's {what}; it is fetched again.")
