"""The work of one download or import run: plan, fetch, build Arrow, publish.

Called by catalog.tasks (django-q2) and the `download` management command. State changes go
through catalog.services; progress through catalog.progress; the Hub through catalog.hub.
"""

import logging
import shutil
import threading
from pathlib import Path

from catalog import fetch, hub, progress, services, storage
from catalog.models import Dataset
from catalog.progress import DownloadStopped

logger = logging.getLogger(__name__)

Status = Dataset.Status


class ProcessingError(Exception):
    """A failure of the build step with a message a person can act on."""


class Heartbeat(threading.Thread):
    """Stamps the record every second while a run works, so a dead worker is noticed.

    It also notices a cancel or delete: `stopped` is set and the run stops at its next check.
    """

    def __init__(self, dataset, run_id):
        super().__init__(daemon=True, name=f"heartbeat-{dataset.pk}")
        self.dataset = dataset
        self.run_id = run_id
        self.stopped = threading.Event()
        self._finish = threading.Event()

    def run(self):
        from django.db import connection

        try:
            while not self._finish.wait(1.0):
                try:
                    services.save_run_fields(self.dataset, self.run_id)
                except DownloadStopped:
                    self.stopped.set()
                    return
                except Exception:  # A database hiccup must not kill the run; the next beat retries.
                    logger.exception("Heartbeat of %s failed", self.dataset.pk)
        finally:
            connection.close()

    def check(self):
        if self.stopped.is_set():
            raise DownloadStopped()

    def finish(self):
        self._finish.set()
        self.join(timeout=5)


def run_download(dataset_id, reporter_factory=progress.ProgressReporter):
    """Run (or resume) the download of one Hub dataset. Returns the final status."""
    dataset = services.claim(dataset_id)
    if dataset is None:
        logger.info("Dataset %s is not waiting for a download (done, cancelled or running elsewhere).", dataset_id)
        return None
    return _run(dataset, lambda beat: _download_and_build(dataset, beat, reporter_factory))


def run_local_import(dataset_id):
    """Process one local file into Arrow. Returns the final status."""
    dataset = services.claim(dataset_id, start_status=Status.PROCESSING)
    if dataset is None:
        return None
    return _run(dataset, lambda beat: _build_local(dataset, beat))


def _run(dataset, work):
    run_id = dataset.run_id
    beat = Heartbeat(dataset, run_id)
    beat.start()
    try:
        work(beat)
    except DownloadStopped:
        _stopped(dataset)
    except (hub.HubError, ProcessingError) as exc:
        services.fail(dataset, str(exc), run_id=run_id)
    except Exception as exc:
        logger.exception("Dataset %s failed", dataset.pk)
        services.fail(dataset, f"Unexpected error while processing: {exc.__class__.__name__}: {exc}", run_id=run_id)
    finally:
        beat.finish()
    status = Dataset.objects.filter(pk=dataset.pk).values_list("status", flat=True).first()
    return status


def _stopped(dataset):
    """The run lost its record: cancelled (keep partial files for a retry) or deleted (remove all)."""
    if not Dataset.objects.filter(pk=dataset.pk).exists():
        storage.remove_dataset_files(dataset.pk)
    logger.info("Download of %s stopped: cancelled, deleted or taken over.", dataset.pk)


def _download_and_build(dataset, beat, reporter_factory):
    run_id = dataset.run_id
    # A resumed run keeps the commit it started with, so the files on disk still belong to it.
    sha = dataset.resolved_revision or hub.resolve_revision(dataset.repo_id, dataset.revision)[0]
    beat.check()
    plan = hub.with_retries(lambda: hub.plan(dataset.repo_id, sha, dataset.subset, dataset.split), what="planning")
    services.save_run_fields(dataset, run_id, resolved_revision=sha, total_bytes=plan.total_bytes)
    reporter = reporter_factory(dataset, run_id, already_done=fetch.bytes_on_disk(dataset.pk, plan.files))
    if dataset.max_samples:
        from catalog import sampling

        files = sampling.fetch_first_rows(dataset, plan, dataset.max_samples, reporter)
    else:
        files = fetch.fetch_files(dataset.pk, dataset.repo_id, sha, plan.files, reporter)
    reporter.flush()
    beat.check()
    services.transition(dataset, Status.PROCESSING, only_run=run_id, downloaded_bytes=reporter.done)
    _build_and_publish(dataset, plan.module, files, dataset.max_samples, plan.builder_kwargs, beat)


def _build_local(dataset, beat):
    source = Path(dataset.config["source_path"])
    if not source.is_file():
        raise ProcessingError(f"The file {source} is gone; import it again.")
    _build_and_publish(dataset, dataset.config["format"], [source], None, {}, beat)


def _build_and_publish(dataset, module, files, max_samples, builder_kwargs, beat):
    """Build the split with `datasets`, write it to a temporary folder, then move it into place.

    The dataset becomes ready only after the complete Arrow folder is in place.
    """
    import datasets

    from catalog import browse

    final = storage.arrow_dir(dataset.pk)
    storage.remove_temp_dirs(final)
    temp = storage.new_temp_dir(final)
    cache = storage.dataset_dir(dataset.pk) / "build-cache"
    try:
        built = datasets.load_dataset(
            module,
            data_files={"train": [str(p) for p in files]},
            split="train",
            cache_dir=str(cache),
            **builder_kwargs,
        )
        if max_samples and len(built) > max_samples:
            built = built.select(range(max_samples))
        beat.check()
        built.save_to_disk(str(temp))
        del built
        stats = browse.compute_column_stats(temp)
        beat.check()
        storage.publish_dir(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    opened = datasets.load_from_disk(str(final))
    features = [{"name": name, "type": describe_feature(feature)} for name, feature in opened.features.items()]
    try:
        services.transition(
            dataset,
            Status.READY,
            only_run=dataset.run_id,
            local_path=str(final),
            total_samples=len(opened),
            features=features,
            column_stats=stats,
            size_on_disk=storage.folder_size(final),
            heartbeat_at=None,
        )
    except services.TransitionNotAllowed:
        raise DownloadStopped() from None
    # The Arrow copy is the product; the downloaded or uploaded source files would only double the disk used.
    shutil.rmtree(storage.downloads_dir(dataset.pk), ignore_errors=True)
    shutil.rmtree(storage.upload_dir(dataset.pk), ignore_errors=True)


def describe_feature(feature):
    """A short, readable type name for a `datasets` feature (e.g. int64, string, list<string>)."""
    import datasets

    if isinstance(feature, datasets.Value):
        return feature.dtype
    if isinstance(feature, datasets.ClassLabel):
        return f"class_label({', '.join(feature.names[:10])}{', …' if len(feature.names) > 10 else ''})"
    if isinstance(feature, (datasets.List, datasets.LargeList)):
        return f"list<{describe_feature(feature.feature)}>"
    if isinstance(feature, dict):
        return "struct<" + ", ".join(f"{k}: {describe_feature(v)}" for k, v in feature.items()) + ">"
    return type(feature).__name__.lower()
