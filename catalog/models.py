import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce


class DatasetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DOWNLOADING = "downloading", "Downloading"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# The status rules, in one place (also as Dataset.ACTIVE_STATUSES etc.). Templates use the
# Dataset properties; JavaScript gets status_rules() through json_script (base.html).
# Work is queued or running: it can be cancelled, and the page follows its progress.
ACTIVE_STATUSES = (DatasetStatus.PENDING, DatasetStatus.DOWNLOADING, DatasetStatus.PROCESSING)
# A worker is on it: it stamps a heartbeat, and a stale one means the worker died.
RUNNING_STATUSES = (DatasetStatus.DOWNLOADING, DatasetStatus.PROCESSING)
# Stopped before ready: it can be retried, and its error message is shown.
RETRYABLE_STATUSES = (DatasetStatus.FAILED, DatasetStatus.CANCELLED)
# Nothing more happens on its own: finished_at is stamped.
FINISHED_STATUSES = (DatasetStatus.READY,) + RETRYABLE_STATUSES
# A request for the same thing in one of these states reuses the existing record.
REUSABLE_STATUSES = ACTIVE_STATUSES + (DatasetStatus.READY,)


class Dataset(models.Model):
    """One dataset in the catalog: a Hub download or a local import, and its Arrow copy on disk.

    Status changes go through catalog.services, never by assigning `status` directly.
    """

    Status = DatasetStatus

    class Source(models.TextChoices):
        HUGGINGFACE = "huggingface", "Hugging Face Hub"
        LOCAL = "local", "Local file"

    ACTIVE_STATUSES = ACTIVE_STATUSES
    RUNNING_STATUSES = RUNNING_STATUSES
    RETRYABLE_STATUSES = RETRYABLE_STATUSES
    FINISHED_STATUSES = FINISHED_STATUSES
    REUSABLE_STATUSES = REUSABLE_STATUSES

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    source = models.CharField(max_length=20, choices=Source, default=Source.HUGGINGFACE)
    repo_id = models.CharField(max_length=200, blank=True)
    local_path = models.CharField(max_length=1024, blank=True, help_text="Arrow folder, once ready.")
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    total_samples = models.PositiveBigIntegerField(null=True, blank=True)
    downloaded_bytes = models.PositiveBigIntegerField(default=0)
    total_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="subset, split, revision, max_samples")
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="datasets"
    )
    # Fetched with its owner's personal Hub token: only the owner and staff may see it.
    personal = models.BooleanField(default=False, editable=False)
    # Identifies "the same request" so it is never downloaded twice: repo, subset, split, revision
    # and cap, with the subset and revision as the Hub resolved them once known (""/"default" and
    # main/its sha are the same request).
    request_key = models.CharField(max_length=600, blank=True, editable=False)
    resolved_revision = models.CharField(max_length=64, blank=True, help_text="Commit sha the download pinned.")
    resolved_subset = models.CharField(
        max_length=128, blank=True, help_text="The subset (config name) the Hub resolved the request to."
    )
    features = models.JSONField(default=list, blank=True, help_text="[{name, type}] in column order")
    column_stats = models.JSONField(default=dict, blank=True)
    size_on_disk = models.PositiveBigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running download stamps this; a stale stamp means its worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Which run owns the record now; a run that lost it stops writing.
    run_id = models.CharField(max_length=64, blank=True, editable=False)
    # The one queued task allowed to run this record (see catalog.taskqueue): a task with another
    # token is dropped, so a record re-queued after its task was lost never runs twice.
    task_token = models.CharField(max_length=32, blank=True, editable=False)
    # The worker process holding that task ("" while it waits in the broker), or running the record.
    task_holder = models.CharField(max_length=200, blank=True, editable=False)
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        # Roles: add_dataset lets a user download and upload; this one also reads files on the server.
        permissions = [("import_server_path", "Can import a file from a path on the server")]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="dataset_status_created"),
            models.Index(fields=["source", "-created_at"], name="dataset_source_created"),
            models.Index(fields=["-created_at"], name="dataset_created"),
            # The embedded live relay's cursor (catalog.live.DatabaseRelay) and the "recently updated" order.
            models.Index(fields=["updated_at"], name="dataset_updated"),
            # Covers the counts every list page and API page makes (COUNT(*) per status of the
            # datasets a user may see): read from the index alone, not from the rows.
            models.Index(fields=["status", "personal", "owner"], name="dataset_status_visibility"),
            # The storage page's order, biggest first (catalog.usage.by_size): its page without a sort.
            models.Index(
                Coalesce("size_on_disk", "downloaded_bytes").desc(),
                F("created_at").desc(),
                name="dataset_size_estimate",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["request_key"],
                condition=Q(status__in=[str(status) for status in REUSABLE_STATUSES]) & ~Q(request_key=""),
                name="dataset_one_live_per_request",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def subset(self):
        return self.config.get("subset") or ""

    @property
    def split(self):
        return self.config.get("split") or ""

    @property
    def revision(self):
        return self.config.get("revision") or ""

    @property
    def max_samples(self):
        return self.config.get("max_samples")

    @classmethod
    def status_rules(cls):
        """The status sets and labels as plain data, for JavaScript (json_script) and API clients."""
        return {
            "active": [str(s) for s in cls.ACTIVE_STATUSES],
            "retryable": [str(s) for s in cls.RETRYABLE_STATUSES],
            "finished": [str(s) for s in cls.FINISHED_STATUSES],
            "labels": {value: str(label) for value, label in cls.Status.choices},
        }

    @property
    def is_active(self):
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_retryable(self):
        return self.status in self.RETRYABLE_STATUSES

    @property
    def is_ready(self):
        return self.status == self.Status.READY

    @property
    def progress_percent(self):
        if self.status == self.Status.READY:
            return 100.0
        if not self.total_bytes:
            return 0.0
        return round(min(100.0, 100.0 * self.downloaded_bytes / self.total_bytes), 1)


class Worker(models.Model):
    """A live worker process (a task cluster's queue reader), stamped every few seconds.

    The recovery pass tells a task lost with a dead worker from one still held by a live one;
    /healthz counts the workers whose heartbeat is fresh.
    """

    identity = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    beat_at = models.DateTimeField()

    def __str__(self):
        return self.identity


# Per-user credentials live with the rest of the accounts code; imported here so Django finds them.
from catalog.accounts.models import ApiToken, PersonalHubToken  # noqa: E402, F401
