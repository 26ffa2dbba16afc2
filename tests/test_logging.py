"""Logging a person can follow: one INFO line per download start, finish and failure; a quiet recovery pass."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog import pipeline, services
from catalog.models import Dataset
from tests.fakehub import repos

pytestmark = pytest.mark.django_db(transaction=True)


def catalog_lines(caplog):
    return [r for r in caplog.records if r.name.startswith("catalog") and r.levelno >= logging.INFO]


def download_logging(caplog, repo_id, split):
    """Run one download here; return the dataset and the catalog's log lines while it ran."""
    dataset, _ = services.request_download(repo_id, split=split)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    return dataset, [r.getMessage() for r in catalog_lines(caplog)]


def test_a_download_logs_one_line_when_it_starts_and_one_when_it_finishes(fake_hub, caplog):
    dataset, lines = download_logging(caplog, repos.JSONL, "test")
    assert dataset.status == Dataset.Status.READY
    assert len(lines) == 2, lines
    assert lines[0] == f"Dataset {dataset.pk} (acme/jsonl test): download started."
    finished = lines[1]
    assert finished.startswith(f"Dataset {dataset.pk} (acme/jsonl test): download finished: ")
    assert f"{dataset.downloaded_bytes:,} bytes downloaded" in finished and dataset.downloaded_bytes > 0
    assert f"{repos.ROWS[repos.JSONL]['default']['test']} rows" in finished
    assert finished.endswith(" s.")


def test_a_failed_download_logs_its_message(fake_hub, caplog):
    dataset, lines = download_logging(caplog, repos.MISSING, "train")
    assert dataset.status == Dataset.Status.FAILED
    assert len(lines) == 2, lines
    assert lines[1] == f"Dataset {dataset.pk} ({dataset.name}) failed: {dataset.error_message}"
    assert "was not found" in lines[1]


def test_the_recovery_pass_logs_only_when_it_does_something(make_dataset, caplog):
    with caplog.at_level(logging.INFO):
        assert services.recover_lost(set(), True) == []
    assert catalog_lines(caplog) == []
    stale = make_dataset(status=Dataset.Status.DOWNLOADING, heartbeat_at=timezone.now() - timedelta(hours=1))
    with caplog.at_level(logging.INFO):
        assert services.recover_lost(set(), True) == [stale.pk]
    assert [r.getMessage() for r in catalog_lines(caplog)] == [
        f"Re-queued 1 dataset(s) whose worker or task was lost: [{stale.pk!r}]"
    ]


def django_q_record(message, level=logging.INFO):
    return logging.LogRecord("django-q", level, __file__, 1, message, None, None)


@pytest.mark.parametrize(
    "message, level, shown",
    [
        # django-q2's own wording (monitor.py, scheduler.py, worker.py, tasks.py).
        ("Processed 'catalog.tasks.recover_stale_datasets' (alpha-bravo)", logging.INFO, False),
        ("Process-1 created task alpha-bravo from schedule [Recover stale downloads]", logging.INFO, False),
        ("Process-1:1 processing [alpha-bravo] 'catalog.tasks.recover_stale_datasets'", logging.INFO, False),
        ("Enqueued [hfdatasets] 12", logging.INFO, False),
        ("Processed 'catalog.tasks.download_dataset' (alpha-bravo)", logging.INFO, True),
        ("Q Cluster alpha-bravo starting.", logging.INFO, True),
        ("Failed 'catalog.tasks.recover_stale_datasets' (alpha-bravo) - boom", logging.ERROR, True),
    ],
)
def test_django_q_routine_lines_about_the_recovery_pass_are_dropped(message, level, shown):
    # The filter that settings.LOGGING puts on django-q2's logger.
    assert bool(logging.getLogger("django-q").filter(django_q_record(message, level))) is shown
