"""Resumable, parallel download of a plan's files into the dataset's own folder.

huggingface_hub (>= 1.18) names a partial file after its process and deletes it when that
process ends, so a crashed worker would start every unfinished file from zero. We keep our
own `<name>.partial` files next to the finished ones instead: a new worker resumes each file
with an HTTP Range request from the bytes already on disk. A file is moved into place only
after its size and (where the Hub gives one) its sha256 match.

A large file (HFD_SEGMENT_MIN_BYTES or more per segment) is fetched as several byte ranges at
once, each over its own connection into its own `<name>.partial-<start>-<end>` file, so each
resumes on its own; on a link capped per connection that is several times faster. The ranges
are then joined into `<name>.partial`, hashed as they are written (no second read), checked
and moved into place.
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


def segments_of(size):
    """[(start, end)] byte ranges (end exclusive) a file of `size` bytes is fetched in."""
    count = min(settings.HFD_SEGMENTS_PER_FILE, size // max(1, settings.HFD_SEGMENT_MIN_BYTES))
    if count <= 1:
        return [(0, size)]
    step = -(-size // count)  # ceiling division
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def segment_path(final, start, end):
    return final.with_name(f"{final.name}.partial-{start}-{end}")


def segment_files(final):
    """Segment partial files of `final` on disk, whatever ranges they are for."""
    return sorted(final.parent.glob(f"{glob_escape(final.name)}.partial-*-*")) if final.parent.exists() else []


def glob_escape(name):
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


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
        else:
            for start, end in segments_of(planned.size):
                segment = segment_path(final, start, end)
                if segment.exists():
                    total += min(segment.stat().st_size, end - start)
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
    segments = segments_of(planned.size)
    if len(segments) > 1 and not partial.exists():
        return fetch_segmented(final, repo_id, sha, planned, segments, reporter, token, stop)
    for stray in segment_files(final):  # from a run with other settings: this file is fetched whole
        stray.unlink(missing_ok=True)

    def attempt():
        if stop.is_set():
            raise DownloadStopped()
        digest = transfer(repo_id, sha, planned, partial, reporter, token, stop)
        verify(planned, partial, digest)

    with hub.interruptible_by(stop):
        hub.with_retries(attempt, what=f"download of '{planned.path}'")
    if stop.is_set():
        raise DownloadStopped()
    os.replace(partial, final)
    return final


def fetch_segmented(final, repo_id, sha, planned, segments, reporter, token, stop):
    """Fetch the byte ranges of one file at once, each resumable; join, hash, check, move into place."""
    parts = [(segment_path(final, start, end), start, end) for start, end in segments]
    wanted = {path for path, _, _ in parts}
    for stray in segment_files(final):
        if stray not in wanted:
            stray.unlink(missing_ok=True)

    def fetch_part(path, start, end):
        def attempt():
            if stop.is_set():
                raise DownloadStopped()
            transfer_range(repo_id, sha, planned, path, start, end, reporter, token, stop)

        with hub.interruptible_by(stop):
            hub.with_retries(attempt, what=f"download of '{planned.path}' bytes {start}-{end - 1}")

    def attempt():
        with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="fetch-range") as pool:
            for future in [pool.submit(fetch_part, *part) for part in parts]:
                future.result()
        if stop.is_set():
            raise DownloadStopped()
        join_and_verify(planned, [path for path, _, _ in parts], partial_path(final))

    try:
        attempt()
    except hub.ChecksumMismatch:
        attempt()  # join_and_verify deleted the segments: the whole file is fetched once more.
    if stop.is_set():
        raise DownloadStopped()
    os.replace(partial_path(final), final)
    return final


def transfer_range(repo_id, sha, planned, path, start, end, reporter, token, stop):
    """Append the missing bytes of the range start..end (exclusive) of one file to its segment file."""
    have = path.stat().st_size if path.exists() else 0
    if have > end - start:
        path.unlink()
        have = 0
    if have == end - start:
        return
    first = start + have
    with hub.stream_file(repo_id, sha, planned.path, start=first, end=end - 1, token=token) as (response, offset):
        with open(path, "ab") as out:
            position = offset  # where the body starts in the file: 0 if the server ignored the Range
            for chunk in hub.iter_body(response, repo_id):
                if stop.is_set():
                    raise DownloadStopped()
                keep = chunk[max(0, first - position) : max(0, end - position)]
                position += len(chunk)
                if keep:
                    out.write(keep)
                    reporter.add(len(keep))
                    first += len(keep)
                if position >= end:
                    break
            out.flush()
            os.fsync(out.fileno())
    if first != end:
        raise hub.HubUnavailable(
            f"The transfer of '{planned.path}' bytes {start:,}-{end - 1:,} ended after {first - start:,} bytes."
        )


def join_and_verify(planned, parts, partial):
    """Write the segments one after the other into `partial`, hashing as it writes; then check.

    Each segment is deleted once copied, so the file takes at most one segment more than its
    size on disk. On a mismatch everything is deleted (ChecksumMismatch) and fetched again.
    """
    expected, digest, what = expected_digest(planned, planned.size)
    size = 0
    with open(partial, "wb") as out:
        for part in parts:
            with open(part, "rb") as source:
                for block in iter(lambda: source.read(1024 * 1024), b""):
                    out.write(block)
                    size += len(block)
                    if digest is not None:
                        digest.update(block)
        out.flush()
        os.fsync(out.fileno())
    for part in parts:
        part.unlink(missing_ok=True)
    if size != planned.size or (digest is not None and digest.hexdigest() != expected):
        partial.unlink()
        problem = (
            f"has {size:,} bytes, expected {planned.size:,}"
            if size != planned.size
            else f"did not match the Hub's {what}"
        )
        raise hub.ChecksumMismatch(f"'{planned.path}' {problem}; it is fetched again.")


def expected_digest(planned, size):
    """(expected hex digest, a fresh hash object, its name) for the Hub's checksum of a file, or (None, None, None)."""
    if planned.sha256:
        return planned.sha256, hashlib.sha256(), "sha256"
    if planned.git_oid:
        # A git blob id is the sha1 of "blob <size>\0" and the content.
        return planned.git_oid, hashlib.sha1(b"blob %d\0" % size), "git blob id"
    return None, None, None


def transfer(repo_id, sha, planned, partial, reporter, token, stop):
    """Append the missing bytes of one file to its partial file.

    Returns the hash object of the Hub's checksum fed with the whole file (the bytes already on
    disk, read once, then each chunk as it is written), so verify() need not read it again; or
    None when nothing was fetched or the Hub gives no checksum.
    """
    start = partial.stat().st_size if partial.exists() else 0
    if start > planned.size:  # Not the file we expect any more: start over.
        partial.unlink()
        start = 0
    if start == planned.size:
        return None
    counted = start  # bytes of this file already in the reporter's count
    _expected, digest, _what = expected_digest(planned, planned.size)
    with hub.stream_file(repo_id, sha, planned.path, start=start, token=token) as (response, offset):
        with open(partial, "r+b" if partial.exists() else "wb") as out:
            if digest is not None and offset:
                for block in iter(lambda: out.read(min(1024 * 1024, offset - out.tell())), b""):
                    digest.update(block)
            # offset is 0 if the server ignored our Range: rewrite from the beginning.
            out.seek(offset)
            out.truncate()
            position = offset
            for chunk in hub.iter_body(response, repo_id):
                if stop.is_set():
                    raise DownloadStopped()
                out.write(chunk)
                if digest is not None:
                    digest.update(chunk)
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
    return digest


def verify(planned, partial, digest=None):
    """Size, then the Hub's checksum: sha256 for LFS files, the git blob id for files kept in git.

    digest, if given, was fed with the file's bytes while they were written (transfer()).
    """
    size = partial.stat().st_size
    if size != planned.size:
        raise hub.HubUnavailable(f"'{planned.path}' has {size:,} bytes on disk, expected {planned.size:,}.")
    expected, fresh, what = expected_digest(planned, size)
    if fresh is None:
        return
    if digest is None:
        digest = fresh
        with open(partial, "rb") as f:
            for block in iter(lambda: f.read(1024 * 1024), b""):
                digest.update(block)
    if digest.hexdigest() != expected:
        partial.unlink()
        raise hub.ChecksumMismatch(f"'{planned.path}' did not match the Hub's {what}; it is fetched again.")
