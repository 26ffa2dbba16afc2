"""One owner per run: every write is the run's, and a lost record stops it fast, whatever it is doing."""

import threading
import time

import pytest

from catalog import browse, pipeline, runs, services, storage
from catalog.models import Dataset
from catalog.progress import DownloadStopped
from tests.fakehub import repos
from tests.processes import wait_until
from tests.test_pipeline import in_thread, start

pytestmark = pytest.mark.django_db(transaction=True)

S = Dataset.Status
MULTI_TRAIN = repos.MULTI_FILES["default"]["train"]


def stops_within(thread, seconds):
    """The run's thread ends within `seconds` (it does not wait for stuck helpers)."""
    begun = time.monotonic()
    thread.join(timeout=seconds)
    assert not thread.is_alive(), f"the run was still busy {seconds}s after losing its record"
    return time.monotonic() - begun


def test_a_heartbeat_racing_the_processing_transition_keeps_the_run(make_dataset):
    dataset = make_dataset()
    run = runs.Run.claim(dataset.pk)
    assert services.beat(dataset.pk, run.run_id)
    run.transition(S.PROCESSING)
    # The beat filters on "still running under this run", not on the status it saw last.
    assert services.beat(dataset.pk, run.run_id)
    run.save(total_bytes=5)
    assert Dataset.objects.get(pk=dataset.pk).total_bytes == 5


def test_every_write_of_a_run_that_lost_its_record_is_refused(make_dataset):
    dataset = make_dataset()
    old = runs.Run.claim(dataset.pk)
    Dataset.objects.filter(pk=dataset.pk).update(run_id="someone-else")
    assert not services.beat(dataset.pk, old.run_id)
    with pytest.raises(DownloadStopped):
        old.save(downloaded_bytes=1)
    with pytest.raises(DownloadStopped):
        old.transition(S.PROCESSING)
    assert old.is_stopped
    old.fail("too late")
    row = Dataset.objects.get(pk=dataset.pk)
    assert (row.status, row.downloaded_bytes, row.error_message) == (S.DOWNLOADING, 0, "")


def test_the_heartbeat_notices_a_cancel_and_stops_the_run(make_dataset):
    dataset = make_dataset()
    with runs.Run.claim(dataset.pk) as run:
        services.cancel(Dataset.objects.get(pk=dataset.pk))
        wait_until(lambda: run.is_stopped, timeout=3, message="the heartbeat to see the cancel")
        with pytest.raises(DownloadStopped):
            run.check()


def test_cancel_during_a_retry_backoff_frees_the_worker_within_two_seconds(fake_hub, settings):
    settings.HFD_RETRY_BACKOFF = 30
    settings.HFD_MAX_FAULT_RETRIES = 3
    fake_hub.fail(repos.MULTI, "data/train-*", status=503, times=100)
    dataset = start(repos.MULTI)
    thread = in_thread(pipeline.run_download, dataset.pk)
    wait_until(lambda: fake_hub.faults_triggered, timeout=20, message="a first 503")
    services.cancel(Dataset.objects.get(pk=dataset.pk))
    stops_within(thread, 2.0)
    assert Dataset.objects.get(pk=dataset.pk).status == S.CANCELLED


def test_cancel_during_a_stalled_read_frees_the_worker_within_two_seconds(fake_hub, settings):
    settings.HFD_HTTP_TIMEOUT = 60
    fake_hub.throttle(repos.MULTI, bytes_per_second=50, path_glob="data/train-*")
    dataset = start(repos.MULTI)
    thread = in_thread(pipeline.run_download, dataset.pk)
    wait_until(lambda: fake_hub.bytes_served(repos.MULTI, MULTI_TRAIN[0]), timeout=20, message="a first byte")
    services.cancel(Dataset.objects.get(pk=dataset.pk))
    stops_within(thread, 2.0)
    assert Dataset.objects.get(pk=dataset.pk).status == S.CANCELLED


@pytest.fixture
def blocked_build(monkeypatch):
    """The build step stops at its last part (our column statistics) until released."""
    reached, release = threading.Event(), threading.Event()
    real = browse.compute_column_stats

    def waiting(*args, **kwargs):
        reached.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(browse, "compute_column_stats", waiting)
    yield reached, release
    release.set()


def build_in_thread(blocked_build):
    reached, _release = blocked_build
    dataset = start(repos.JSONL, split="test")
    thread = in_thread(pipeline.run_download, dataset.pk)
    wait_until(reached.is_set, timeout=60, message="the build step")
    return Dataset.objects.get(pk=dataset.pk), thread


def test_the_build_writes_into_a_folder_named_after_its_run(fake_hub, blocked_build):
    dataset, thread = build_in_thread(blocked_build)
    assert dataset.status == S.PROCESSING
    temp = storage.arrow_dir(dataset.pk).with_name(f"arrow.tmp-{dataset.run_id}")
    assert temp.is_dir()
    blocked_build[1].set()
    thread.join(60)
    dataset.refresh_from_db()
    assert dataset.status == S.READY, dataset.error_message
    assert not temp.exists()


def test_cancel_during_the_build_frees_the_worker_within_two_seconds(fake_hub, blocked_build):
    dataset, thread = build_in_thread(blocked_build)
    services.cancel(dataset)
    stops_within(thread, 2.0)
    dataset.refresh_from_db()
    assert dataset.status == S.CANCELLED
    # The helper thread finishes on its own and leaves no half-built folder and no Arrow copy.
    blocked_build[1].set()
    temp = storage.arrow_dir(dataset.pk).with_name(f"arrow.tmp-{dataset.run_id}")
    wait_until(lambda: not temp.exists(), timeout=10, message="the abandoned build to clean up")
    assert not storage.arrow_dir(dataset.pk).exists()


def test_delete_during_the_build_leaves_no_files(fake_hub, blocked_build):
    dataset, thread = build_in_thread(blocked_build)
    services.delete(dataset)
    stops_within(thread, 2.0)
    blocked_build[1].set()
    wait_until(lambda: not storage.dataset_dir(dataset.pk).exists(), timeout=10, message="the files to go")


def test_shutdown_hands_a_running_download_back_to_the_queue(fake_hub, monkeypatch):
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    monkeypatch.setattr(runs, "shutting_down", threading.Event())
    fake_hub.throttle(repos.MULTI, bytes_per_second=200_000)
    dataset = start(repos.MULTI)
    broker.purge_queue()
    thread = in_thread(pipeline.run_download, dataset.pk)
    wait_until(lambda: Dataset.objects.get(pk=dataset.pk).downloaded_bytes > 0, timeout=20, message="progress")
    runs.shut_down()
    stops_within(thread, 2.0)
    dataset.refresh_from_db()
    assert dataset.status == S.PENDING
    assert broker.queue_size() == 1
    broker.purge_queue()
