"""The one place that changes a dataset's state.

Views, the API, the admin, tasks and consumers call these functions and hold no business
rules of their own. Every status change is a conditional UPDATE on the current status, so
two processes racing (a worker finishing while a person cancels) cannot both win.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog import progress, storage
from catalog.models import Dataset

logger = logging.getLogger(__name__)

Status = Dataset.Status

ALLOWED_TRANSITIONS = {
    Status.PENDING: {Status.DOWNLOADING, Status.PROCESSING, Status.FAILED, Status.CANCELLED},
    # Back to PENDING is the recovery pass re-queueing a run whose worker died.
    Status.DOWNLOADING: {Status.PROCESSING, Status.FAILED, Status.CANCELLED, Status.PENDING},
    Status.PROCESSING: {Status.READY, Status.FAILED, Status.CANCELLED, Status.PENDING},
    Status.READY: set(),
    Status.FAILED: {Status.PENDING},
    Status.CANCELLED: {Status.PENDING},
}

DOWNLOAD_TASK = "catalog.tasks.download_dataset"
PROCESS_LOCAL_TASK = "catalog.tasks.process_local_dataset"


class TransitionNotAllowed(Exception):
    """The dataset is not in a state that allows this change."""


class AlreadyExists(Exception):
    """An identical dataset is already active or ready."""

    def __init__(self, existing):
        super().__init__(f"The same dataset is already {existing.status}: {existing.name} ({existing.pk}).")
        self.existing = existing


def request_key(repo_id, subset, split, revision, max_samples):
    return "\n".join([repo_id, subset or "", split or "", revision or "", str(max_samples or "")])


def find_reusable(key):
    return Dataset.objects.filter(request_key=key, status__in=Dataset.REUSABLE_STATUSES).first()


def default_name(repo_id, subset, split, max_samples):
    name = repo_id
    if subset:
        name += f" [{subset}]"
    name += f" {split}"
    if max_samples:
        name += f" (first {max_samples:,})"
    return name


def request_download(repo_id, *, split, subset="", revision="", max_samples=None, name="", owner=None):
    """Create a pending Hub dataset and queue its download, or return the identical live one.

    Returns (dataset, created).
    """
    config = {"subset": subset or "", "split": split, "revision": revision or "", "max_samples": max_samples}
    key = request_key(repo_id, subset, split, revision, max_samples)
    existing = find_reusable(key)
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                name=name or default_name(repo_id, subset, split, max_samples),
                source=Dataset.Source.HUGGINGFACE,
                repo_id=repo_id,
                config=config,
                request_key=key,
                owner=owner,
            )
            queue_task(dataset)
    except IntegrityError:
        # Another request for the same thing committed first: reuse it.
        existing = find_reusable(key)
        if existing is None:
            raise
        return existing, False
    progress.announce_created(dataset)
    return dataset, True


def create_local(*, name, source_path, file_format, owner=None):
    """Create a pending local dataset whose file is already under the data directory, and queue it."""
    with transaction.atomic():
        dataset = Dataset.objects.create(
            name=name,
            source=Dataset.Source.LOCAL,
            config={"source_path": str(source_path), "format": file_format, "split": "train"},
            owner=owner,
        )
        queue_task(dataset)
    progress.announce_created(dataset)
    return dataset


def queue_task(dataset):
    """Queue the dataset's work once the surrounding transaction commits.

    Queueing before the commit would let a fast worker look for a row it cannot see yet.
    """
    from django_q.tasks import async_task

    func = DOWNLOAD_TASK if dataset.source == Dataset.Source.HUGGINGFACE else PROCESS_LOCAL_TASK
    dataset_id = str(dataset.pk)
    transaction.on_commit(lambda: async_task(func, dataset_id, task_name=f"dataset-{dataset_id}"))


def transition(dataset, new_status, **fields):
    """Move dataset to new_status if allowed and if nobody changed its status meanwhile.

    Extra fields are written in the same UPDATE. Raises TransitionNotAllowed otherwise.
    """
    current = dataset.status
    if new_status not in ALLOWED_TRANSITIONS[current]:
        raise TransitionNotAllowed(f"A {current} dataset cannot become {new_status}.")
    now = timezone.now()
    if new_status in (Status.READY, Status.FAILED, Status.CANCELLED):
        fields.setdefault("finished_at", now)
    updated = Dataset.objects.filter(pk=dataset.pk, status=current).update(
        status=new_status, updated_at=now, **fields
    )
    if not updated:
        latest = Dataset.objects.filter(pk=dataset.pk).values_list("status", flat=True).first()
        raise TransitionNotAllowed(
            f"The dataset changed meanwhile (it is now {latest or 'deleted'}); nothing was done."
        )
    dataset.status = new_status
    dataset.updated_at = now
    for field, value in fields.items():
        setattr(dataset, field, value)
    progress.announce_status(dataset)
    return dataset


def cancel(dataset):
    """Stop an active dataset. A running download notices within its progress interval."""
    if not dataset.is_active:
        raise TransitionNotAllowed(
            f"Only a pending, downloading or processing dataset can be cancelled; this one is {dataset.status}."
        )
    return transition(dataset, Status.CANCELLED, error_message="Cancelled by request.", heartbeat_at=None)


def retry(dataset):
    """Queue a failed or cancelled dataset again; it resumes from the files already on disk."""
    if dataset.status not in (Status.FAILED, Status.CANCELLED):
        raise TransitionNotAllowed(
            f"Only a failed or cancelled dataset can be retried; this one is {dataset.status}."
        )
    try:
        with transaction.atomic():
            transition(dataset, Status.PENDING, error_message="", finished_at=None, heartbeat_at=None, run_id="")
            queue_task(dataset)
    except IntegrityError:
        existing = find_reusable(dataset.request_key)
        raise AlreadyExists(existing) from None
    return dataset


def delete(dataset):
    """Delete the record and every file it owns. An active download is cancelled first."""
    if dataset.is_active:
        try:
            cancel(dataset)
        except TransitionNotAllowed:
            pass  # It finished or failed meanwhile; deleting is still what was asked.
    dataset_id = dataset.pk
    Dataset.objects.filter(pk=dataset_id).delete()
    # A worker still writing notices the record is gone and removes what it wrote after this.
    storage.remove_dataset_files(dataset_id)
    progress.announce_deleted(dataset_id)
