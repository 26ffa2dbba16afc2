"""Real django-q2 worker processes: a download survives its worker being SIGKILLed."""

import io

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from catalog import services
from catalog.models import Dataset
from tests.fakehub import repos
from tests.processes import start_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MULTI_TRAIN = repos.MULTI_FILES["default"]["train"]
WORKER_ENV = {"HFD_WORKERS": 1, "HFD_HEARTBEAT_STALE_SECONDS": 2, "HFD_PROGRESS_INTERVAL": 0.1}


def expected_rows(hub):
    files = hub.standard_repos[repos.MULTI]["files"]
    tables = [pq.read_table(io.BytesIO(files[path])) for path in MULTI_TRAIN]
    return pa.concat_tables(tables).select(repos.MULTI_COLUMNS).to_pylist()


def data_bytes(hub):
    return sum(hub.bytes_served(repos.MULTI, path) for path in MULTI_TRAIN)


def test_killed_worker_is_resumed_by_another_from_the_bytes_on_disk(fake_hub, tmp_path):
    total = sum(len(fake_hub.standard_repos[repos.MULTI]["files"][p]) for p in MULTI_TRAIN)
    fake_hub.throttle(repos.MULTI, bytes_per_second=120_000, path_glob="data/train-*")
    first = start_worker(tmp_path, "worker-1", **WORKER_ENV)
    second = None
    try:
        dataset, _ = services.request_download(repos.MULTI, split="train")
        wait_until(
            lambda: Dataset.objects.get(pk=dataset.pk).downloaded_bytes > total * 0.3,
            timeout=90,
            message=f"the first worker to download 30% (log: {first.log_path})",
        )
        first.kill()
        served_before_kill = data_bytes(fake_hub)
        assert served_before_kill < total * 0.8

        # The record still says downloading; once its heartbeat is stale a new worker takes over.
        dataset.refresh_from_db()
        assert dataset.status == Dataset.Status.DOWNLOADING
        wait_until(
            lambda: (timezone.now() - Dataset.objects.get(pk=dataset.pk).heartbeat_at).total_seconds() > 2.5,
            timeout=10,
            message="the dead worker's heartbeat to go stale",
        )
        fake_hub.unthrottle()
        second = start_worker(tmp_path, "worker-2", **WORKER_ENV)
        wait_until(
            lambda: Dataset.objects.get(pk=dataset.pk).status in (Dataset.Status.READY, Dataset.Status.FAILED),
            timeout=90,
            message=f"the second worker to finish (log: {second.log_path})",
        )
        dataset.refresh_from_db()
        assert dataset.status == Dataset.Status.READY, dataset.error_message
    finally:
        first.stop()
        if second:
            second.stop()

    served = data_bytes(fake_hub)
    # Resumed, not restarted: the total stays close to the dataset's size (not twice it).
    assert served < total * 1.1, (served, total, served_before_kill)
    assert dataset.downloaded_bytes == dataset.total_bytes == total
    loaded = datasets.load_from_disk(dataset.local_path)
    assert loaded.data.table.select(repos.MULTI_COLUMNS).to_pylist() == expected_rows(fake_hub)
