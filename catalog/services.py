"""The one place that changes a dataset's state.

Views, the API, the admin, tasks and consumers call these functions and hold no business
rules of their own. Every status change is a conditional UPDATE on the current status, so
two processes racing (a worker finishing while a person cancels) cannot both win.
"""

import logging
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
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


def statuses_in_words(statuses):
    """("pending", "downloading", "processing") -> "pending, downloading or processing"."""
    words = [str(status) for status in statuses]
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


def request_key(repo_id, subset, split, revision, max_samples):
    """The request's identity. With the Hub's answer (plan.subset, plan.sha) it is the resolved one."""
    return "\n".join([repo_id, subset or "", split or "", revision or "", str(max_samples or "")])


def resolved_request_key(repo_id, plan, max_samples):
    return request_key(repo_id, plan.subset, plan.split, plan.sha, max_samples)


def already_there(key):
    """A message for a download that would duplicate a live or ready one."""
    existing = find_reusable(key)
    where = f": {existing.name} ({existing.pk})" if existing else ""
    return f"The same dataset (same subset, split, commit and cap) is already in the catalog{where}."


def owned_key(key, dataset):
    """The request key of this dataset: a personal one (fetched with its owner's Hub token) is its owner's alone."""
    if dataset.personal:
        return f"{key}\nowner:{dataset.owner_id}"
    return key


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


def request_download(
    repo_id, *, split, subset="", revision="", max_samples=None, name="", owner=None, queue=True, plan=None
):
    """Create a pending Hub dataset and queue its download, or return the identical live one.

    plan is the Hub's answer (catalog.hub.plan) when the caller checked the request: then the
    subset and commit it resolved to make the request's identity, and are recorded. Without it
    the worker records them and refuses a duplicate before fetching anything.
    queue=False is for running it in the foreground (manage.py download --now). Returns (dataset, created).
    """
    from catalog.accounts import hub_tokens

    config = {"subset": subset or "", "split": split, "revision": revision or "", "max_samples": max_samples}
    resolved = {}
    if plan is not None:
        key = resolved_request_key(repo_id, plan, max_samples)
        resolved = {"resolved_revision": plan.sha, "resolved_subset": plan.subset}
    else:
        key = request_key(repo_id, subset, split, revision, max_samples)
    existing = find_reusable(key)
    if existing is None and plan is not None:
        # The same words asked before, by a path that did not ask the Hub, and not yet resolved by its worker.
        raw = request_key(repo_id, subset, split, revision, max_samples)
        existing = find_reusable(raw) if raw != key else None
    if existing:
        return existing, False
    # Fetched with the owner's personal Hub token: theirs alone (with staff), so "the same request" is per owner.
    personal = hub_tokens.has_token(owner)
    if personal:
        key = owned_key(key, Dataset(owner=owner, personal=True))
        existing = find_reusable(key)
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                name=(name or default_name(repo_id, subset, split, max_samples))[:255],
                source=Dataset.Source.HUGGINGFACE,
                repo_id=repo_id,
                config=config,
                request_key=key,
                owner=owner,
                **resolved,
                personal=personal,
            )
            if queue:
                queue_task(dataset)
    except IntegrityError:
        # Another request for the same thing committed first: reuse it.
        existing = find_reusable(key)
        if existing is None:
            raise
        return existing, False
    progress.announce_created(dataset)
    return dataset, True


def queue_task(dataset):
    """Queue the dataset's work once the surrounding transaction commits.

    The record gets a new task token first: only the task carrying it may run the record, so a
    task that was re-queued after being lost can never run next to the original (see catalog.taskqueue).
    Queueing before the commit would let a fast worker look for a row it cannot see yet.
    """
    token = uuid.uuid4().hex
    now = timezone.now()
    Dataset.objects.filter(pk=dataset.pk).update(task_token=token, task_holder="", queued_at=now)
    dataset.task_token, dataset.task_holder, dataset.queued_at = token, "", now
    func = DOWNLOAD_TASK if dataset.source == Dataset.Source.HUGGINGFACE else PROCESS_LOCAL_TASK
    dataset_id = str(dataset.pk)
    transaction.on_commit(lambda: send_task(func, dataset_id, token))


def send_task(func, dataset_id, token):
    """Hand a task to the broker. If the broker is down the record stays pending with its token,
    and the recovery pass (catalog.taskqueue) sends it again once the broker is back."""
    from django_q.tasks import async_task

    try:
        async_task(func, dataset_id, token, task_name=f"dataset-{dataset_id}")
    except Exception as exc:
        logger.warning(
            "Task for dataset %s not queued (%s: %s); it is sent when the queue is back",
            dataset_id,
            type(exc).__name__,
            exc,
        )


def transition(dataset, new_status, only_run=None, **fields):
    """Move dataset to new_status if allowed and if nobody changed its status meanwhile.

    With only_run (a run id), only that download run may make the change (a run that lost its claim cannot).
    Extra fields are written in the same UPDATE. Raises TransitionNotAllowed otherwise.
    """
    current = dataset.status
    if new_status not in ALLOWED_TRANSITIONS[current]:
        raise TransitionNotAllowed(f"A {current} dataset cannot become {new_status}.")
    now = timezone.now()
    if new_status in Dataset.FINISHED_STATUSES:
        fields.setdefault("finished_at", now)
    matching = Dataset.objects.filter(pk=dataset.pk, status=current)
    if only_run is not None:
        matching = matching.filter(run_id=only_run)
    updated = matching.update(status=new_status, updated_at=now, **fields)
    if not updated:
        latest = Dataset.objects.filter(pk=dataset.pk).values_list("status", flat=True).first()
        raise TransitionNotAllowed(
            f"The dataset changed meanwhile (it is now {latest or 'deleted'}); nothing was done."
        )
    dataset.status = new_status
    dataset.updated_at = now
    for field, value in fields.items():
        setattr(dataset, field, value)
    progress.announce_status(dataset, previous_status=current)
    return dataset


def cancel(dataset):
    """Stop an active dataset. A running download notices within its progress interval."""
    if not dataset.is_active:
        raise TransitionNotAllowed(
            f"Only a {statuses_in_words(Dataset.ACTIVE_STATUSES)} dataset can be cancelled; this one is {dataset.status}."
        )
    return transition(dataset, Status.CANCELLED, error_message="Cancelled by request.", heartbeat_at=None)


def retry(dataset):
    """Queue a failed or cancelled dataset again; it resumes from the files already on disk."""
    if not dataset.is_retryable:
        raise TransitionNotAllowed(
            f"Only a {statuses_in_words(Dataset.RETRYABLE_STATUSES)} dataset can be retried; this one is {dataset.status}."
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
    dataset_id, last_status = dataset.pk, dataset.status
    Dataset.objects.filter(pk=dataset_id).delete()
    # This process's open memory map of the files would keep their disk space in use.
    from catalog.viewer import source

    source.forget(storage.arrow_dir(dataset_id))
    # A worker still writing notices the record is gone and removes what it wrote after this.
    storage.remove_dataset_files(dataset_id)
    progress.announce_deleted(dataset, previous_status=last_status)


# --- Running downloads ------------------------------------------------------------------


def stale_before():
    return timezone.now() - timedelta(seconds=settings.HFD_HEARTBEAT_STALE_SECONDS)


RUNNING_STATUSES = Dataset.RUNNING_STATUSES


def claim(dataset_id, start_status=Status.DOWNLOADING, task_token=None):
    """Take a dataset for one run, or return None if it is not ours to run.

    With task_token (a queued task), only a pending record whose current token it is. Without
    one (a run in the foreground), a pending record or one whose run's heartbeat is stale.
    The conditional UPDATE makes the claim atomic: two workers never run the same dataset.
    """
    from catalog import workers

    run_id = uuid.uuid4().hex
    now = timezone.now()
    if task_token:
        claimable = Q(status=Status.PENDING, task_token=task_token)
    else:
        claimable = Q(status=Status.PENDING) | (
            Q(status__in=RUNNING_STATUSES) & (Q(heartbeat_at__lt=stale_before()) | Q(heartbeat_at__isnull=True))
        )
    updated = (
        Dataset.objects.filter(pk=dataset_id)
        .filter(claimable)
        .update(
            status=start_status,
            run_id=run_id,
            task_holder=workers.identity(),
            heartbeat_at=now,
            updated_at=now,
            started_at=Coalesce("started_at", now),
            error_message="",
        )
    )
    if not updated:
        return None
    dataset = Dataset.objects.get(pk=dataset_id)
    # A queued task claims a pending record; a foreground run may also take over a stale one.
    progress.announce_status(dataset, previous_status=Status.PENDING if task_token else None)
    return dataset


def owned_by_run(dataset_id, run_id):
    """The record, if that run still owns it and it is still running (the condition of every run write)."""
    return Dataset.objects.filter(pk=dataset_id, run_id=run_id, status__in=RUNNING_STATUSES)


def beat(dataset_id, run_id):
    """Stamp a running download's heartbeat. False if the run no longer owns the record.

    Filters on "still running", not on one status: the run moves from downloading to processing
    while its heartbeat thread beats, and a beat must not mistake that for a lost record.
    """
    return bool(owned_by_run(dataset_id, run_id).update(heartbeat_at=timezone.now()))


def save_run_fields(dataset, run_id, **fields):
    """Write fields of a running download (its plan, its progress) if the run still owns the record."""
    now = timezone.now()
    updated = owned_by_run(dataset.pk, run_id).update(heartbeat_at=now, updated_at=now, **fields)
    if not updated:
        raise progress.DownloadStopped()
    dataset.updated_at = now
    for field, value in fields.items():
        setattr(dataset, field, value)


def hand_back(dataset, run_id):
    """A worker that stops (SIGTERM) puts its running dataset back in the queue to be resumed."""
    with transaction.atomic():
        try:
            transition(dataset, Status.PENDING, only_run=run_id, heartbeat_at=None)
        except TransitionNotAllowed:
            return False  # Cancelled or deleted meanwhile: nothing to resume.
        queue_task(dataset)
    return True


def fail(dataset, message, run_id=None):
    """Mark a running dataset failed with a message a person can act on (no-op if it was cancelled)."""
    try:
        transition(dataset, Status.FAILED, only_run=run_id, error_message=message[:4000], heartbeat_at=None)
    except TransitionNotAllowed:
        logger.info("Dataset %s not marked failed: it changed meanwhile (%s)", dataset.pk, message)
        return
    logger.info("Dataset %s (%s) failed: %s", dataset.pk, dataset.name, message)


# --- Recovery: the database is the truth, the queue only transport ---------------------------

# A task is sent to the broker right after its record commits; give that this long before
# looking for it in the broker.
QUEUE_GRACE_SECONDS = 5


def accept_task(dataset_id, task_token, holder):
    """A worker took this task from the broker: note who holds it. False if the task is stale
    (the record was re-queued with another token, finished, or deleted) and must be dropped."""
    return bool(
        Dataset.objects.filter(pk=dataset_id, status=Status.PENDING, task_token=task_token).update(task_holder=holder)
    )


def recover_lost(broker_tokens, sure_of_the_clock):
    """Re-queue every active dataset whose task or run was lost. Returns their ids.

    Run every few seconds by each worker (catalog.taskqueue.Monitor). Lost means:
    - pending, held by a worker process that is gone (it took the task from the broker and died);
    - pending, held by nobody, not in the broker (`broker_tokens`, None if it could not be read)
      and queued more than a few seconds ago: the broker lost it or was down when it was sent;
    - downloading or processing, run by a process that is gone, or whose heartbeat is older than
      HFD_HEARTBEAT_STALE_SECONDS (a hung worker).
    Each is re-queued with a new token in one conditional UPDATE, so it is queued once, and
    the old task (should it still exist somewhere) is dropped when it is taken.
    """
    from catalog import workers
    from catalog.models import Worker

    beats = dict(Worker.objects.values_list("identity", "beat_at"))
    grace_before = timezone.now() - timedelta(seconds=QUEUE_GRACE_SECONDS)
    requeued = []
    for dataset in Dataset.objects.filter(status__in=Dataset.ACTIVE_STATUSES).defer("features", "column_stats"):
        if dataset.status == Status.PENDING:
            if dataset.task_holder:
                lost = workers.is_dead(dataset.task_holder, beats.get(dataset.task_holder), sure_of_the_clock)
            else:
                waiting_since = dataset.queued_at or dataset.updated_at
                lost = (
                    broker_tokens is not None
                    and dataset.task_token not in broker_tokens
                    and waiting_since < grace_before
                )
        else:
            lost = (
                dataset.heartbeat_at is None
                or dataset.heartbeat_at < stale_before()
                or workers.is_dead(dataset.task_holder, dataset.heartbeat_at, sure_of_the_clock)
            )
        if lost and requeue(dataset):
            requeued.append(dataset.pk)
    if requeued:
        logger.info("Re-queued %d dataset(s) whose worker or task was lost: %s", len(requeued), requeued)
    return requeued


def requeue(dataset):
    """Put a dataset whose task or run was lost back in the queue, unless it changed meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        unchanged = Dataset.objects.filter(
            pk=dataset.pk,
            status=dataset.status,
            task_token=dataset.task_token,
            task_holder=dataset.task_holder,
            run_id=dataset.run_id,
        )
        if not unchanged.update(status=Status.PENDING, heartbeat_at=None, updated_at=now):
            return False
        was = dataset.status
        dataset.status, dataset.heartbeat_at, dataset.updated_at = Status.PENDING, None, now
        queue_task(dataset)
    if was != Status.PENDING:
        progress.announce_status(dataset, previous_status=was)
    return True


# --- Local imports ------------------------------------------------------------------------

IMPORT_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


class ImportRefused(Exception):
    """A local import that cannot be accepted; `field` names the input at fault."""

    def __init__(self, message, field):
        super().__init__(message)
        self.message = message
        self.field = field


def import_format(filename, field):
    suffix = Path(filename).suffix.lower()
    if suffix not in IMPORT_FORMATS:
        raise ImportRefused(
            f"'{Path(filename).name}' is not a supported file; use .csv, .json, .jsonl or .parquet.", field
        )
    return IMPORT_FORMATS[suffix]


def save_upload(uploaded_file, target, dataset_id):
    """Write an uploaded file into the dataset's folder; on any failure leave no file behind."""
    try:
        storage.ensure_space(storage.space_needed(uploaded_file.size))
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for chunk in uploaded_file.chunks():
                out.write(chunk)
    except storage.NotEnoughSpace as exc:
        raise ImportRefused(str(exc), "file") from None
    except BaseException as exc:
        storage.remove_dataset_files(dataset_id)
        if storage.is_disk_full(exc):
            needed = max(storage.space_needed(uploaded_file.size), uploaded_file.size)
            raise ImportRefused(str(storage.NotEnoughSpace(needed, storage.free_space())), "file") from None
        raise


def import_local(*, name="", uploaded_file=None, path=None, owner=None):
    """Create a local dataset from an uploaded file or a file under HFD_IMPORT_ROOTS, and queue it."""
    if bool(uploaded_file) == bool(path):
        raise ImportRefused("Give either a file to upload or a path on the server, not both.", "file")
    if uploaded_file:
        file_format = import_format(uploaded_file.name, "file")
        if uploaded_file.size > settings.HFD_MAX_UPLOAD_BYTES:
            raise ImportRefused(f"The file is larger than the {settings.HFD_MAX_UPLOAD_BYTES:,} bytes allowed.", "file")
        filename = storage.upload_filename(uploaded_file.name)
        dataset_id = uuid.uuid4()
        target = storage.safe_join(storage.upload_dir(dataset_id), filename)
        save_upload(uploaded_file, target, dataset_id)
        source, label = target, filename
    else:
        file_format = import_format(path, "path")
        roots = settings.HFD_IMPORT_ROOTS
        if not roots:
            raise ImportRefused("Importing from server paths is switched off (HFD_IMPORT_ROOTS is empty).", "path")
        if not storage.is_within(path, roots):
            allowed = ", ".join(str(r) for r in roots)
            raise ImportRefused(f"'{path}' is outside the allowed import folders ({allowed}).", "path")
        source = Path(path).resolve()
        if not source.is_file():
            raise ImportRefused(f"'{path}' does not exist or is not a file.", "path")
        dataset_id, label = uuid.uuid4(), source.name
    with transaction.atomic():
        dataset = Dataset.objects.create(
            id=dataset_id,
            name=name or label[:255],
            source=Dataset.Source.LOCAL,
            config={"source_path": str(source), "format": file_format, "split": "train"},
            owner=owner,
        )
        queue_task(dataset)
    progress.announce_created(dataset)
    return dataset
