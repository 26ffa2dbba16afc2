"""The download pipeline against the test Hub over real HTTP (no HF internals are mocked)."""

import io
import threading
import time

import datasets
import pyarrow.parquet as pq
import pytest
from django.db import connection

from catalog import fetch, pipeline, progress, services, storage
from catalog.models import Dataset
from tests.fakehub import repos
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

S = Dataset.Status
MULTI_TRAIN = repos.MULTI_FILES["default"]["train"]


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.HFD_RETRY_BACKOFF = 0.01
    settings.HFD_MAX_FAULT_RETRIES = 4


def split_size(hub, repo_id, paths):
    files = hub.standard_repos[repo_id]["files"]
    return sum(len(files[p]) for p in paths)


def data_bytes_served(hub, repo_id):
    """Bytes of data files served (the README that `datasets` reads to find configs is not data)."""
    return hub.bytes_served(repo_id) - hub.bytes_served(repo_id, "README.md")


def start(repo_id, **options):
    options.setdefault("split", "train")
    dataset, created = services.request_download(repo_id, **options)
    assert created
    return dataset


def run(dataset, **kwargs):
    pipeline.run_download(dataset.pk, **kwargs)
    dataset.refresh_from_db()
    return dataset


def download(repo_id, **options):
    return run(start(repo_id, **options))


class RecordingReporter(progress.ProgressReporter):
    """The real reporter, also remembering what it wrote, to check the progress contract."""

    flushes = []
    total_at_first_byte = []

    def add(self, nbytes):
        if not self.total_at_first_byte:
            self.total_at_first_byte.append(Dataset.objects.get(pk=self.dataset.pk).total_bytes)
        super().add(nbytes)

    def flush(self):
        # The time a flush starts: the debounce counts from there (a slow database write must not
        # make two flushes look closer than they were).
        started = time.monotonic()
        super().flush()
        self.flushes.append((started, self.done, self.total))


@pytest.fixture
def recording_reporter():
    RecordingReporter.flushes = []
    RecordingReporter.total_at_first_byte = []
    return RecordingReporter


def in_thread(func, *args, **kwargs):
    def target():
        try:
            func(*args, **kwargs)
        finally:
            connection.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


# --- The happy path -----------------------------------------------------------------------


def test_full_download_builds_arrow_that_load_from_disk_opens(fake_hub):
    dataset = download(repos.MULTI)
    assert dataset.status == S.READY, dataset.error_message
    assert dataset.resolved_revision == fake_hub.standard_repos[repos.MULTI]["sha"]
    loaded = datasets.load_from_disk(dataset.local_path)
    assert len(loaded) == repos.ROWS[repos.MULTI]["default"]["train"] == dataset.total_samples
    assert [f["name"] for f in dataset.features] == repos.MULTI_COLUMNS
    assert dict((f["name"], f["type"]) for f in dataset.features)["id"] == "int64"
    assert dataset.total_bytes == split_size(fake_hub, repos.MULTI, MULTI_TRAIN)
    assert dataset.downloaded_bytes == dataset.total_bytes
    assert dataset.size_on_disk > 0
    assert dataset.column_stats
    assert dataset.started_at <= dataset.finished_at
    # Exactly the split's files were fetched, once each.
    assert data_bytes_served(fake_hub, repos.MULTI) == dataset.total_bytes
    assert fake_hub.bytes_served(repos.MULTI, repos.MULTI_FILES["default"]["test"][0]) == 0
    # Only the Arrow folder and the card stay: nothing half-written, and the source files are not kept twice.
    assert sorted(p.name for p in storage.dataset_dir(dataset.pk).iterdir()) == ["README.md", "arrow"]
    assert storage.card_file(dataset.pk).read_bytes() == fake_hub.standard_repos[repos.MULTI]["files"]["README.md"]
    assert dataset.size_on_disk == storage.folder_size(storage.arrow_dir(dataset.pk))


def test_arrow_matches_the_source_rows(fake_hub):
    dataset = download(repos.MULTI, subset="extra", split="test")
    assert dataset.status == S.READY, dataset.error_message
    loaded = datasets.load_from_disk(dataset.local_path)
    source = pq.read_table(
        io.BytesIO(fake_hub.standard_repos[repos.MULTI]["files"][repos.MULTI_FILES["extra"]["test"][0]])
    )
    assert loaded.data.table.select(repos.MULTI_COLUMNS).to_pylist() == source.select(repos.MULTI_COLUMNS).to_pylist()


@pytest.mark.parametrize("repo_id", [repos.JSONL, repos.CSV])
def test_jsonl_and_csv_repos(fake_hub, repo_id):
    dataset = download(repo_id, split="test")
    assert dataset.status == S.READY, dataset.error_message
    assert dataset.total_samples == repos.ROWS[repo_id]["default"]["test"]


def test_revision_is_pinned_to_a_commit_sha(fake_hub):
    info = fake_hub.standard_repos[repos.JSONL]
    dataset = download(repos.JSONL, revision="v1")
    assert dataset.resolved_revision == info["v1_sha"]
    assert dataset.total_samples == repos.JSONL_V1_ROWS["default"]["train"]


def test_total_bytes_is_known_before_the_first_byte_and_progress_is_monotonic(fake_hub, recording_reporter, settings):
    settings.HFD_PROGRESS_INTERVAL = 0.05
    fake_hub.throttle(repos.MULTI, bytes_per_second=4_000_000)
    dataset = run(start(repos.MULTI), reporter_factory=recording_reporter)
    assert dataset.status == S.READY, dataset.error_message
    expected = split_size(fake_hub, repos.MULTI, MULTI_TRAIN)
    assert set(recording_reporter.total_at_first_byte) == {expected}
    done = [d for _, d, _ in recording_reporter.flushes]
    assert len(done) >= 3
    assert done == sorted(done)
    assert all(d <= expected for d in done)
    assert done[-1] == expected
    # Debounced: no two consecutive writes closer than the interval (but the final one).
    times = [t for t, _, _ in recording_reporter.flushes][:-1]
    assert all(b - a >= 0.045 for a, b in zip(times, times[1:]))


# --- max_samples ----------------------------------------------------------------------------


def test_max_samples_streams_only_what_it_needs(fake_hub):
    dataset = download(repos.MULTI, max_samples=100)
    assert dataset.status == S.READY, dataset.error_message
    assert dataset.total_samples == 100
    split_bytes = split_size(fake_hub, repos.MULTI, MULTI_TRAIN)
    served = data_bytes_served(fake_hub, repos.MULTI)
    assert served < split_bytes * 0.1, (served, split_bytes)
    # Only the first shard was touched, and only part of it.
    assert fake_hub.bytes_served(repos.MULTI, MULTI_TRAIN[1]) == 0
    loaded = datasets.load_from_disk(dataset.local_path)
    assert loaded["id"] == list(range(100))
    assert dataset.downloaded_bytes == dataset.total_bytes == served


def test_max_samples_on_parquet_knows_its_exact_total_before_reading_rows(fake_hub, recording_reporter, settings):
    settings.HFD_PROGRESS_INTERVAL = 0
    dataset = run(start(repos.MULTI, max_samples=600), reporter_factory=recording_reporter)
    assert dataset.status == S.READY, dataset.error_message
    split_bytes = split_size(fake_hub, repos.MULTI, MULTI_TRAIN)
    totals = [total for _, _, total in recording_reporter.flushes]
    # Footer reads are shown against the whole split; the row groups against what they really take.
    assert totals[0] == split_bytes
    assert totals[-1] == dataset.total_bytes == data_bytes_served(fake_hub, repos.MULTI) < split_bytes / 10
    assert len([t for t in totals if t == dataset.total_bytes]) >= 3  # 600 rows: three row groups of 250


def test_max_samples_across_shards(fake_hub):
    n = repos.MULTI_ROWS_PER_SHARD + 10
    dataset = download(repos.MULTI, max_samples=n)
    assert dataset.total_samples == n
    assert datasets.load_from_disk(dataset.local_path)["id"][-1] == n - 1
    assert fake_hub.bytes_served(repos.MULTI, MULTI_TRAIN[2]) == 0


def big_line_repo(hub, kind, rows=40_000):
    """A repo with one large jsonl or csv train file, so that stopping early is visible."""
    if kind == "jsonl":
        body = "".join(f'{{"id": {i}, "text": "row number {i} with some padding text"}}\n' for i in range(rows))
    else:
        # Quoted fields with commas and newlines: a record is not always a line.
        body = "id,text\n" + "".join(f'{i},"row {i}, with a comma\nand a newline"\n' for i in range(rows))
    repo_id = f"acme/big-{kind}"
    # datasets reads JSON Lines in blocks of `chunksize` bytes (10 MiB unless the card says otherwise)
    # and infers types from the first block: a capped read takes whole blocks, so make them small.
    readme = b"---\nconfigs:\n- config_name: default\n  chunksize: 65536\n---\n" if kind == "jsonl" else b"# big\n"
    hub.add_repo(repo_id, {"README.md": readme, f"data/train-00000-of-00001.{kind}": body.encode()})
    return repo_id, len(body.encode())


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_max_samples_on_line_formats_stops_streaming_early(fake_hub, kind):
    repo_id, size = big_line_repo(fake_hub, kind)
    # Slow enough that the kernel's socket buffers cannot swallow the whole file at once.
    fake_hub.throttle(repo_id, bytes_per_second=2_000_000)
    dataset = download(repo_id, max_samples=7)
    assert dataset.status == S.READY, dataset.error_message
    assert dataset.total_samples == 7
    loaded = datasets.load_from_disk(dataset.local_path)
    assert loaded["id"] == list(range(7))
    if kind == "csv":
        assert loaded["text"][3] == "row 3, with a comma\nand a newline"
    assert data_bytes_served(fake_hub, repo_id) < size / 2


def test_max_samples_larger_than_the_split_gives_the_whole_split(fake_hub):
    dataset = download(repos.JSONL, split="test", max_samples=10_000)
    assert dataset.total_samples == repos.ROWS[repos.JSONL]["default"]["test"]


# --- Resume, faults --------------------------------------------------------------------------


def test_resume_continues_from_partial_files_on_disk(fake_hub):
    dataset = start(repos.MULTI)
    files = fake_hub.standard_repos[repos.MULTI]["files"]
    # A crashed run left the first shard complete and half of the second.
    first = fetch.local_path(dataset.pk, MULTI_TRAIN[0])
    first.parent.mkdir(parents=True)
    first.write_bytes(files[MULTI_TRAIN[0]])
    half = len(files[MULTI_TRAIN[1]]) // 2
    fetch.partial_path(fetch.local_path(dataset.pk, MULTI_TRAIN[1])).write_bytes(files[MULTI_TRAIN[1]][:half])
    dataset = run(dataset)
    assert dataset.status == S.READY, dataset.error_message
    assert fake_hub.bytes_served(repos.MULTI, MULTI_TRAIN[0]) == 0
    assert fake_hub.bytes_served(repos.MULTI, MULTI_TRAIN[1]) == len(files[MULTI_TRAIN[1]]) - half
    assert dataset.total_samples == repos.ROWS[repos.MULTI]["default"]["train"]


def test_dropped_connections_are_resumed_with_range_requests(fake_hub):
    fake_hub.fail(repos.MULTI, "data/train-*", drop_after=100_000, times=3)
    dataset = download(repos.MULTI)
    assert dataset.status == S.READY, dataset.error_message
    total = split_size(fake_hub, repos.MULTI, MULTI_TRAIN)
    # Each drop costs nothing: the transfer resumes where it stopped.
    assert data_bytes_served(fake_hub, repos.MULTI) == total
    ranges = [r for method, path, r in fake_hub.requests if method == "GET" and r]
    assert len(ranges) >= 3
    assert datasets.load_from_disk(dataset.local_path)["id"] == list(range(dataset.total_samples))


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_statuses_are_retried(fake_hub, status):
    fake_hub.fail(repos.MULTI, MULTI_TRAIN[0], status=status, times=2)
    dataset = download(repos.MULTI)
    assert dataset.status == S.READY, dataset.error_message
    assert len([f for f in fake_hub.faults_triggered if f[0] != "drop"]) == 2


def test_transient_failures_give_up_after_bounded_retries(fake_hub):
    fake_hub.fail(repos.MULTI, MULTI_TRAIN[0], status=500, times=50)
    dataset = download(repos.MULTI)
    assert dataset.status == S.FAILED
    assert "HTTP 500" in dataset.error_message
    assert "4 attempts" in dataset.error_message
    assert len(fake_hub.faults_triggered) == 4
    assert not storage.arrow_dir(dataset.pk).exists()
    assert dataset.local_path == ""


def test_a_stalled_server_times_out_and_a_retry_resumes(fake_hub, settings):
    settings.HFD_HTTP_TIMEOUT = 0.5
    settings.HFD_MAX_FAULT_RETRIES = 2
    repo_id, size = big_line_repo(fake_hub, "jsonl", rows=500)
    # Sends 1 KiB, then nothing for 20 s: each attempt times out after a little progress.
    fake_hub.throttle(repo_id, bytes_per_second=50)
    dataset = download(repo_id)
    assert dataset.status == S.FAILED
    assert "ReadTimeout" in dataset.error_message
    assert "2 attempts" in dataset.error_message
    assert dataset.downloaded_bytes == 2048
    fake_hub.unthrottle()
    services.retry(dataset)
    dataset = run(dataset)
    assert dataset.status == S.READY, dataset.error_message
    assert dataset.total_samples == 500


# --- Permanent errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "repo_id, options, message",
    [
        (repos.MISSING, {}, "was not found"),
        (repos.PRIVATE, {}, "was not found"),
        (repos.JSONL, {"revision": "no-such-branch"}, "Revision 'no-such-branch' does not exist"),
        (repos.MULTI, {"subset": "nope"}, "Subset 'nope' does not exist in 'acme/multi'. Available: default, extra"),
        (
            repos.MULTI,
            {"split": "validation"},
            "Split 'validation' does not exist in 'acme/multi'. Available: train, test",
        ),
    ],
)
def test_permanent_errors_fail_at_once_with_a_clear_message(fake_hub, repo_id, options, message):
    dataset = download(repo_id, **options)
    assert dataset.status == S.FAILED
    assert message in dataset.error_message
    assert data_bytes_served(fake_hub, repo_id) == 0


def test_private_repo_with_token(fake_hub, settings):
    settings.HF_TOKEN = repos.TOKEN
    dataset = download(repos.PRIVATE)
    assert dataset.status == S.READY, dataset.error_message
    assert dataset.total_samples == repos.ROWS[repos.PRIVATE]["default"]["train"]


def test_private_repo_with_wrong_token(fake_hub, settings):
    settings.HF_TOKEN = "hf_wrong"
    dataset = download(repos.PRIVATE)
    assert dataset.status == S.FAILED
    assert "HF_TOKEN" in dataset.error_message


# --- Cancel, retry, delete, no double work ------------------------------------------------------


@pytest.fixture
def slow_download(fake_hub):
    """acme/multi downloading in a thread, slowly, with some progress already made."""
    fake_hub.throttle(repos.MULTI, bytes_per_second=300_000)
    dataset = start(repos.MULTI)
    thread = in_thread(pipeline.run_download, dataset.pk)
    wait_until(lambda: Dataset.objects.get(pk=dataset.pk).downloaded_bytes > 100_000, timeout=20, message="progress")
    return Dataset.objects.get(pk=dataset.pk), thread


def test_cancel_stops_a_running_download_within_two_seconds_and_retry_resumes(fake_hub, slow_download):
    dataset, thread = slow_download
    services.cancel(dataset)
    cancelled_at = time.monotonic()
    wait_until(lambda: not thread.is_alive(), timeout=2.0, message="the download to stop")
    assert time.monotonic() - cancelled_at < 2.0
    dataset.refresh_from_db()
    assert dataset.status == S.CANCELLED
    assert fetch.bytes_on_disk(dataset.pk, [fetch_plan_file(fake_hub, p) for p in MULTI_TRAIN]) > 0

    fake_hub.unthrottle()
    services.retry(dataset)
    dataset = run(dataset)
    assert dataset.status == S.READY, dataset.error_message
    total = split_size(fake_hub, repos.MULTI, MULTI_TRAIN)
    # Resumed: the bytes fetched before the cancel are not fetched again (a few in-flight chunks at most).
    assert data_bytes_served(fake_hub, repos.MULTI) <= total + 4 * 300_000


def fetch_plan_file(hub, path):
    from catalog.hub import PlannedFile

    return PlannedFile(path=path, size=len(hub.standard_repos[repos.MULTI]["files"][path]))


def test_delete_while_downloading_leaves_no_files(slow_download):
    dataset, thread = slow_download
    services.delete(dataset)
    wait_until(lambda: not thread.is_alive(), timeout=5, message="the download to stop")
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not storage.dataset_dir(dataset.pk).exists()


def test_a_dataset_is_never_run_twice_at_once(fake_hub):
    dataset = start(repos.JSONL)
    assert services.claim(dataset.pk) is not None
    # A second delivery of the same task finds it taken and does nothing.
    assert pipeline.run_download(dataset.pk) is None
    assert data_bytes_served(fake_hub, repos.JSONL) == 0


def test_a_stale_run_is_taken_over(fake_hub, settings):
    settings.HFD_HEARTBEAT_STALE_SECONDS = 1
    dataset = start(repos.JSONL)
    old = services.claim(dataset.pk)
    Dataset.objects.filter(pk=dataset.pk).update(heartbeat_at=old.heartbeat_at.replace(year=2000))
    assert pipeline.run_download(dataset.pk) == S.READY
    # The old run lost the record: it can no longer write to it.
    with pytest.raises(progress.DownloadStopped):
        services.save_run_fields(old, old.run_id, downloaded_bytes=1)
