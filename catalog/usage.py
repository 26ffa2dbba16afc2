"""Disk space per dataset, for the storage panel and the delete confirmation."""

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
    """Set `disk_used` on each dataset (for templates) and return the list."""
    datasets = list(datasets)
    for dataset in datasets:
        dataset.disk_used = disk_used(dataset)
    return datasets


def summary(datasets):
    """{"datasets": [...] biggest first, "total": bytes, "free": bytes on the data volume}."""
    datasets = sorted(annotate(datasets), key=lambda d: d.disk_used, reverse=True)
    return {
        "datasets": datasets,
        "total": sum(d.disk_used for d in datasets),
        "free": storage.free_space(),
    }


def total_used(queryset):
    """Bytes used by all datasets in queryset: recorded sizes summed, the others measured."""
    from django.db.models import Sum

    recorded = queryset.filter(size_on_disk__isnull=False).aggregate(total=Sum("size_on_disk"))["total"] or 0
    return recorded + sum(disk_used(d) for d in queryset.filter(size_on_disk__isnull=True).only("pk", "size_on_disk"))
