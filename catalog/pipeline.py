"""The work of one download or import run: plan, fetch, build Arrow, publish.

Called by catalog.tasks (django-q2) and the `download` management command. The run object
(catalog.runs.Run) owns the record while this works: every write and status change goes through
it, and through it to catalog.services. Progress goes through catalog.progress; the Hub through
catalog.hub.
"""

import logging
import shutil
import time
from pathlib import Path

from django.db import IntegrityError

from catalog import building, fetch, hub, progress, sampling, services, storage
from catalog.accounts import hub_tokens
from catalog.models import Dataset
from catalog.progress import DownloadStopped
from catalog.runs import Run, with_database
from catalog.viewer import card as viewer_card

logger = logging.getLogger(__name__)

Status = Dataset.Status


class ProcessingError(Exception):
    """A failure of the build step with a message a person can act on."""


def run_download(dataset_id, reporter_factory=progress.ProgressReporter, task_token=None):
    """Run (or resume) the download of one Hub dataset. Returns the final status."""
    run = Run.claim(dataset_id, task_token=task_token)
    if run is None:
        logger.info("Dataset %s is not waiting for a download (done, cancelled or running elsewhere).", dataset_id)
        return None
    return _run(run, lambda: _download_and_build(run, reporter_factory))


def run_local_import(dataset_id, task_token=None):
    """Process one local file into Arrow. Returns the final status."""
    run = Run.claim(dataset_id, start_status=Status.PROCESSING, task_token=task_token)
    if run is None:
        return None
    return _run(run, lambda: _build_local(run))


def _run(run, work):
    dataset = run.dataset
    started = time.monotonic()
    what = "download" if dataset.source == Dataset.Source.HUGGINGFACE else "import"
    logger.info("Dataset %s (%s): %s started.", dataset.pk, dataset.name, what)
    with run, run.interruptible():
        try:
            work()
        except DownloadStopped:
            _stopped(run)
        except (hub.HubError, ProcessingError, storage.NotEnoughSpace) as exc:
            run.fail(str(exc))
        except Exception as exc:
            if storage.is_disk_full(exc):
                _disk_full(run)
            else:
                logger.exception("Dataset %s failed", dataset.pk)
                run.fail(f"Unexpected error while processing: {exc.__class__.__name__}: {exc}")
    final_row = Dataset.objects.filter(pk=dataset.pk).values("status", "downloaded_bytes", "total_samples")
    final = with_database(final_row.first, f"reading the status of {dataset.pk}")
    if final and final["status"] == Status.READY:
        logger.info(
            "Dataset %s (%s): %s finished: %s bytes downloaded, %s rows, %.1f s.",
            dataset.pk,
            dataset.name,
            what,
            f"{final['downloaded_bytes']:,}",
            f"{final['total_samples']:,}",
            time.monotonic() - started,
        )
    return final["status"] if final else None


def _stopped(run):
    """The run lost its record: cancelled (keep partial files for a retry), deleted (remove all),
    or the worker is stopping (hand the record back so the next worker resumes it)."""
    dataset = run.dataset
    if run.interrupted:
        run.hand_back()
        logger.info("Download of %s interrupted by the worker stopping; it resumes on the next start.", dataset.pk)
        return
    if not Dataset.objects.filter(pk=dataset.pk).exists():
        storage.remove_dataset_files(dataset.pk)
    logger.info("Download of %s stopped: cancelled, deleted or taken over.", dataset.pk)


def _disk_full(run):
    """The disk filled up during some step: keep the partial downloads (a retry resumes them),
    remove what cannot be resumed, and say how much space the rest needs."""
    storage.remove_unresumable(run.dataset.pk)
    run.fail(str(storage.NotEnoughSpace(run.space_needed, storage.free_space())))


def _check_space(run, source_bytes, already_on_disk=0):
    """Before fetching or building: refuse at once if the disk cannot hold what this run will write."""
    run.space_needed = storage.space_needed(source_bytes, already_on_disk)
    storage.ensure_space(run.space_needed)


def _download_and_build(run, reporter_factory):
    # The owner's personal Hub token for a personal dataset, read here in the worker (never queued); else HF_TOKEN.
    try:
        token = hub_tokens.token_for_dataset(run.dataset)
    except hub_tokens.HubTokenUnavailable as exc:
        raise ProcessingError(str(exc)) from None
    try:
        _fetch_and_build(run, reporter_factory, token)
    except Exception as exc:
        # Whatever an error message quotes (it becomes the dataset's error_message), the token is not part of it.
        if token:
            exc.args = tuple(hub_tokens.redact(arg, token) if isinstance(arg, str) else arg for arg in exc.args)
            if isinstance(exc, hub.HubError):
                exc.message = hub_tokens.redact(exc.message, token)
        raise


def _fetch_and_build(run, reporter_factory, token):
    dataset = run.dataset
    # A resumed run keeps the commit it started with, so the files on disk still belong to it.
    sha = dataset.resolved_revision or hub.resolve_revision(dataset.repo_id, dataset.revision, token)[0]
    run.check()
    plan = hub.with_retries(
        lambda: hub.plan(dataset.repo_id, sha, dataset.subset, dataset.split, token, revision=dataset.revision),
        what="planning",
    )
    try:
        # From now on the request is known by what the Hub resolved it to: a second request for
        # the same subset and commit ("" or "default", main or its sha) finds this one.
        key = services.owned_key(services.resolved_request_key(dataset.repo_id, plan, dataset.max_samples), dataset)
        run.save(resolved_revision=sha, resolved_subset=plan.subset, request_key=key, total_bytes=plan.total_bytes)
    except IntegrityError:
        raise ProcessingError(services.already_there(key)) from None
    on_disk = fetch.bytes_on_disk(dataset.pk, plan.files)
    # A capped download's plan is the whole split, far more than it fetches: the build checks it.
    if not dataset.max_samples:
        _check_space(run, plan.total_bytes, on_disk)
    # Where the card declares no features, `datasets` may take them from another split's first file.
    features = building.reference_features(
        plan,
        lambda *args: sampling.fetch_head(*args, token=token),
        storage.downloads_dir(dataset.pk) / "inference",
    )
    run.check()
    reporter = reporter_factory(dataset, run.run_id, already_done=on_disk, run=run)
    if dataset.max_samples:
        files = sampling.fetch_first_rows(dataset, plan, dataset.max_samples, reporter, token)
    else:
        files = fetch.fetch_files(dataset.pk, dataset.repo_id, sha, plan.files, reporter, token)
    reporter.flush()
    run.check()
    # The card of the same commit, kept beside the Arrow folder for the dataset page. Fetched
    # after the data, so a stalled Hub is met (and reported) on the files that matter.
    viewer_card.keep_card(dataset, sha)
    run.transition(Status.PROCESSING, downloaded_bytes=reporter.done)
    all_splits = None
    if plan.module in hub.FOLDER_MODULES:
        all_splits = building.local_splits(plan, lambda path: fetch.local_path(dataset.pk, path))
        files = all_splits[plan.split]
    spec = building.BuildSpec.for_plan(plan, features, capped=bool(dataset.max_samples))
    _build_and_publish(run, spec, files, dataset.max_samples, all_splits)


def _build_local(run):
    source = Path(run.dataset.config["source_path"])
    if not source.is_file():
        raise ProcessingError(f"The file {source} is gone; import it again.")
    _build_and_publish(run, building.BuildSpec(run.dataset.config["format"]), [source], None)


def _build_and_publish(run, spec, files, max_samples, all_splits=None):
    """Build the split with `datasets` (catalog.building), write it to the run's temporary folder, then move it into place.

    The build runs in a helper thread (run.call_stoppably), so a cancel or a delete is seen
    between and during the build steps. The dataset becomes ready only after the complete Arrow
    folder is in place.
    """
    from catalog.viewer import stats as viewer_stats

    dataset = run.dataset
    if dataset.max_samples or dataset.source == Dataset.Source.LOCAL:
        # The source files are on disk now; only the build's own writes are still to come.
        source_bytes = sum(Path(p).stat().st_size for p in files)
        _check_space(run, source_bytes, already_on_disk=source_bytes)
    final = storage.arrow_dir(dataset.pk)
    temp = run.temp_dir(final)
    cache = storage.build_cache_dir(dataset.pk, run.run_id)

    def build():
        try:
            built = building.build(spec, files, cache, all_splits)
            if max_samples and len(built) > max_samples:
                built = built.select(range(max_samples))
            run.check()
            building.save(built, temp)
            features, rows = built.features, len(built)
            del built
            run.check()
            return viewer_stats.compute_column_stats(temp), features, rows
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(cache, ignore_errors=True)
            if run.is_stopped:
                # Whatever this helper wrote after its run stopped waiting belongs to nobody.
                shutil.rmtree(temp, ignore_errors=True)
                if not Dataset.objects.filter(pk=dataset.pk).exists():
                    storage.remove_dataset_files(dataset.pk)

    try:
        stats, features, rows = run.call_stoppably(build)
        run.check()
        storage.publish_dir(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    run.transition(
        Status.READY,
        local_path=str(final),
        total_samples=rows,
        features=[{"name": name, "type": describe_feature(feature)} for name, feature in features.items()],
        column_stats=stats,
        size_on_disk=storage.folder_size(final),
        heartbeat_at=None,
    )
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
