"""django-q2 task entry points. Thin: the work is in catalog.pipeline, the rules in catalog.services."""

from catalog import pipeline, services


def download_dataset(dataset_id):
    return pipeline.run_download(dataset_id)


def process_local_dataset(dataset_id):
    return pipeline.run_local_import(dataset_id)


def recover_stale_datasets():
    return [str(pk) for pk in services.recover_stale()]
