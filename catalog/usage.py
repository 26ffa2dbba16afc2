"""Disk space per dataset, for the storage panel and the delete confirmation."""

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from catalog import storage


def disk_used(dataset):
    """Bytes a dataset takes on disk, which is also what deleting it frees.

    The pipeline records size_on_disk when a dataset is ready; until then (or for failed and
    cancelled downloads, whose partial files stay for a retry) the folder is measured.
    """
    if dataset.size_on_disk is not None:
        return dataset.size_on_disk
    folder = storage.dataset_dir(dataset.pk)
    return storage.folder_size(folder) if folder.exists() else 0


def annotate(datasets):
    """Set `disk_used` on each dataset (for templates) and return the list. Only ever a page of them."""
    datasets = list(datasets)
    for dataset in datasets:
        dataset.disk_used = disk_used(dataset)
    return datasets


def recorded_or_downloaded():
    """A dataset's size as the database knows it: size_on_disk once ready, else the bytes downloaded.

    The bytes downloaded are what a partial download's files hold, so this is what the storage
    page sorts and sums by without walking every folder (10,000 datasets, one query).
    """
    return Coalesce("size_on_disk", "downloaded_bytes")


def by_size(queryset):
    """queryset, biggest first by recorded_or_downloaded()."""
    return queryset.annotate(size_estimate=recorded_or_downloaded()).order_by("-size_estimate", "-created_at")


def totals(queryset):
    """{"count": datasets, "total": bytes} of queryset in one aggregate query."""
    result = queryset.order_by().aggregate(count=Count("pk"), total=Sum(recorded_or_downloaded()))
    return {"count": result["count"], "total": result["total"] or 0}
