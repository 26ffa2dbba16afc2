import pytest

from catalog import services
from catalog.models import Dataset

S = Dataset.Status


def test_model_defaults(make_dataset):
    dataset = make_dataset()
    assert dataset.status == S.PENDING
    assert dataset.source == Dataset.Source.HUGGINGFACE
    assert dataset.downloaded_bytes == 0
    assert dataset.total_bytes is None
    assert dataset.total_samples is None
    assert dataset.error_message == ""
    assert dataset.created_at and dataset.updated_at
    assert dataset.progress_percent == 0.0
    assert dataset.id.version == 4


def test_progress_percent_is_capped():
    assert Dataset(downloaded_bytes=50, total_bytes=200).progress_percent == 25.0
    assert Dataset(downloaded_bytes=300, total_bytes=200).progress_percent == 100.0
    assert Dataset(status=S.READY).progress_percent == 100.0


@pytest.mark.parametrize(
    "start, target",
    [
        (S.READY, S.DOWNLOADING),
        (S.READY, S.PENDING),
        (S.READY, S.FAILED),
        (S.FAILED, S.READY),
        (S.CANCELLED, S.DOWNLOADING),
        (S.PENDING, S.READY),
        (S.DOWNLOADING, S.READY),
    ],
)
def test_refused_transitions(make_dataset, start, target):
    dataset = make_dataset(status=start)
    with pytest.raises(services.TransitionNotAllowed):
        services.transition(dataset, target)
    dataset.refresh_from_db()
    assert dataset.status == start


def test_allowed_path_to_ready(make_dataset):
    dataset = make_dataset()
    for status in (S.DOWNLOADING, S.PROCESSING, S.READY):
        services.transition(dataset, status)
    dataset.refresh_from_db()
    assert dataset.status == S.READY
    assert dataset.finished_at is not None


def test_transition_loses_to_a_concurrent_change(make_dataset):
    dataset = make_dataset(status=S.DOWNLOADING)
    stale = Dataset.objects.get(pk=dataset.pk)
    services.cancel(dataset)
    with pytest.raises(services.TransitionNotAllowed, match="cancelled"):
        services.transition(stale, S.PROCESSING)
    assert Dataset.objects.get(pk=dataset.pk).status == S.CANCELLED


def test_retry_refused_while_identical_dataset_is_live(db):
    first, _ = services.request_download("acme/multi", split="train")
    services.cancel(first)
    second, created = services.request_download("acme/multi", split="train")
    assert created and second.pk != first.pk
    with pytest.raises(services.AlreadyExists) as info:
        services.retry(first)
    assert info.value.existing.pk == second.pk
    first.refresh_from_db()
    assert first.status == S.CANCELLED


def test_delete_of_active_dataset_cancels_and_removes(make_dataset, data_dir):
    from catalog import storage

    dataset = make_dataset(status=S.DOWNLOADING)
    partial = storage.downloads_dir(dataset.pk) / "data" / "x.parquet.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"123")
    services.delete(dataset)
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not storage.dataset_dir(dataset.pk).exists()
