"""A large file is fetched as several byte ranges at once, each resumable on its own, checksum still checked."""

import hashlib
import os

import pytest

from catalog import fetch, hub, progress
from catalog.models import Dataset

REPO = "acme/big"
PATH = "data/big.bin"
SIZE = 1_000_003  # not a multiple of the segment count


@pytest.fixture
def segmented(settings):
    settings.HFD_SEGMENTS_PER_FILE = 4
    settings.HFD_SEGMENT_MIN_BYTES = 200_000
    settings.HFD_RETRY_BACKOFF = 0.01


@pytest.fixture
def big(fake_hub):
    data = os.urandom(SIZE)
    sha = fake_hub.add_repo(REPO, {PATH: data})
    fake_hub.reset_counters()
    return data, sha


def make_run(data):
    dataset = Dataset.objects.create(
        name=REPO, repo_id=REPO, status=Dataset.Status.DOWNLOADING, run_id="run-1", total_bytes=len(data)
    )
    planned = hub.PlannedFile(path=PATH, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return dataset, planned, progress.ProgressReporter(dataset, "run-1")


def ranges_asked(fake_hub):
    return sorted((r for method, path, r in fake_hub.requests if method == "GET" and path.endswith(PATH)), key=str)


def test_a_large_file_comes_in_four_ranges_at_once(db, segmented, big, fake_hub):
    data, sha = big
    dataset, planned, reporter = make_run(data)
    assert fetch.segments_of(SIZE) == [(0, 250_001), (250_001, 500_002), (500_002, 750_003), (750_003, SIZE)]
    [path] = fetch.fetch_files(dataset.pk, REPO, sha, [planned], reporter)
    assert path.read_bytes() == data
    assert ranges_asked(fake_hub) == sorted(
        ["bytes=0-250000", "bytes=250001-500001", "bytes=500002-750002", "bytes=750003-1000002"]
    )
    assert fake_hub.bytes_served(REPO, PATH) == SIZE
    assert reporter.done == SIZE
    assert fetch.segment_files(path) == [] and not fetch.partial_path(path).exists()


def test_each_range_resumes_from_its_own_file(db, segmented, big, fake_hub):
    data, sha = big
    dataset, planned, reporter = make_run(data)
    final = fetch.local_path(dataset.pk, PATH)
    final.parent.mkdir(parents=True)
    # A crashed run: the first range complete, 1,000 bytes of the third.
    fetch.segment_path(final, 0, 250_001).write_bytes(data[:250_001])
    fetch.segment_path(final, 500_002, 750_003).write_bytes(data[500_002:501_002])
    assert fetch.bytes_on_disk(dataset.pk, [planned]) == 251_001
    fetch.fetch_files(
        dataset.pk, REPO, sha, [planned], progress.ProgressReporter(dataset, "run-1", already_done=251_001)
    )
    assert final.read_bytes() == data
    assert ranges_asked(fake_hub) == sorted(["bytes=250001-500001", "bytes=501002-750002", "bytes=750003-1000002"])
    assert fake_hub.bytes_served(REPO, PATH) == SIZE - 251_001


def test_a_dropped_range_resumes_alone(db, segmented, big, fake_hub):
    data, sha = big
    dataset, planned, reporter = make_run(data)
    fake_hub.fail(REPO, PATH, drop_after=100_000, times=1)
    [path] = fetch.fetch_files(dataset.pk, REPO, sha, [planned], reporter)
    assert path.read_bytes() == data
    assert fake_hub.bytes_served(REPO, PATH) == SIZE  # the cut range went on from where it stopped
    assert len(ranges_asked(fake_hub)) == 5


def test_a_corrupt_range_fails_the_sha256_and_the_file_is_fetched_again(db, segmented, big, fake_hub):
    data, sha = big
    dataset, planned, reporter = make_run(data)
    final = fetch.local_path(dataset.pk, PATH)
    final.parent.mkdir(parents=True)
    fetch.segment_path(final, 0, 250_001).write_bytes(b"\0" * 250_001)  # complete, but wrong
    [path] = fetch.fetch_files(dataset.pk, REPO, sha, [planned], reporter)
    assert path.read_bytes() == data
    assert fake_hub.bytes_served(REPO, PATH) == SIZE + (SIZE - 250_001)


def test_small_files_and_a_whole_file_partial_are_fetched_whole(db, segmented, big, fake_hub, settings):
    data, sha = big
    assert fetch.segments_of(399_999) == [(0, 399_999)]  # two ranges would be under the minimum
    dataset, planned, reporter = make_run(data)
    final = fetch.local_path(dataset.pk, PATH)
    final.parent.mkdir(parents=True)
    fetch.partial_path(final).write_bytes(data[:10])  # a partial from a run that fetched it whole
    fetch.segment_path(final, 0, 123).write_bytes(b"x")  # and a stray range of other settings
    fetch.fetch_files(dataset.pk, REPO, sha, [planned], reporter)
    assert final.read_bytes() == data
    assert ranges_asked(fake_hub) == ["bytes=10-"]
    assert fetch.segment_files(final) == []


def test_a_whole_file_is_hashed_as_it_is_written_and_a_wrong_resumed_prefix_is_caught(db, big, fake_hub, settings):
    settings.HFD_SEGMENTS_PER_FILE = 1
    settings.HFD_RETRY_BACKOFF = 0.01
    data, sha = big
    dataset, planned, reporter = make_run(data)
    final = fetch.local_path(dataset.pk, PATH)
    final.parent.mkdir(parents=True)
    fetch.partial_path(final).write_bytes(b"\0" * 10)  # bytes on disk that are not the file's
    fetch.fetch_files(dataset.pk, REPO, sha, [planned], reporter)
    assert final.read_bytes() == data
    # The resumed transfer failed the sha256 (the prefix read back, the rest hashed as written),
    # and the retry fetched the whole file.
    assert ranges_asked(fake_hub) == sorted([None, "bytes=10-"], key=str)
    assert fake_hub.bytes_served(REPO, PATH) == (SIZE - 10) + SIZE
