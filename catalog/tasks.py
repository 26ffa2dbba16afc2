"""django-q2 task entry points. Thin: the work is in catalog.pipeline, the rules in catalog.services."""

from catalog import pipeline


def download_dataset(dataset_id, task_token=None):
    return pipeline.run_download(dataset_id, task_token=task_token)


def process_local_dataset(dataset_id, task_token=None):
    return pipeline.run_local_import(dataset_id, task_token=task_token)


def recover_stale_datasets():
    """Kept for tasks scheduled by an older version; each worker's monitor does this now."""
    return []
