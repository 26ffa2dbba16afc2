"""Faults with real worker processes: kill loops, a surviving cluster, SIGTERM. Slow.

Recovery targets are deadlines of the polls: after the cluster is SIGKILLed and started again,
every interrupted download runs again within 15 s; with a second cluster alive, within 30 s.
"""

import io
import os
import random
import signal

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog import services
from catalog.models import Dataset, Worker
from tests.processes import start_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

S = Dataset.Status
# HFD_MIN_FREE_BYTES 0: /healthz must not depend on the test machine's free disk.
ENV = {"HFD_PROGRESS_INTERVAL": 0.1, "HFD_RECOVERY_INTERVAL": 1, "HFD_RETRY_BACKOFF": 0.2, "HFD_MIN_FREE_BYTES": 0}


def make_repo(hub, name, files=2, rows=1500):
    """A repo of parquet shards of incompressible rows, about 450 KB each."""
    generator = random.Random(name)
    shards = {}
    for index in range(files):
        first = index * rows
        table = pa.table(
            {"id": list(range(first, first + rows)), "blob": [generator.randbytes(300) for _ in range(rows)]}
        )
        sink = io.BytesIO()
        pq.write_table(table, sink, row_group_size=250)
        shards[f"data/train-{index:05d}-of-{files:05d}.parquet"] = sink.getvalue()
    repo_id = f"acme/{name}"
    hub.add_repo(repo_id, shards)
    return repo_id, shards


def rows_of(shards):
    return pa.concat_tables([pq.read_table(io.BytesIO(shards[p])) for p in sorted(shards)]).to_pylist()


def served(hub, repo_id, shards):
    return sum(hub.bytes_served(repo_id, path) for path in shards)


def statuses(ids):
    return dict(Dataset.objects.filter(pk__in=ids).values_list("pk", "status"))


def runs_now(ids):
    return {
        pk: (run_id, status)
        for pk, run_id, status in Dataset.objects.filter(pk__in=ids).values_list("pk", "run_id", "status")
    }


def running_again(ids, runs_before, slots=None):
    """Every dataset is ready or running under a new run (one started after runs_before was
    taken); with fewer worker `slots` than datasets, every slot runs one and the rest wait."""
    datasets_now = list(Dataset.objects.filter(pk__in=ids))
    unfinished = [d for d in datasets_now if d.status != S.READY]
    running = [d for d in unfinished if d.status in (S.DOWNLOADING, S.PROCESSING)]
    if any(d.run_id == runs_before[d.pk] for d in running):
        return False
    waiting = [d for d in unfinished if d.status == S.PENDING]
    expected = len(unfinished) if slots is None else min(slots, len(unfinished))
    return len(running) == expected and len(running) + len(waiting) == len(unfinished)


def running_count(ids):
    return sum(status in (S.DOWNLOADING, S.PROCESSING) for status in statuses(ids).values())


def all_running(ids):
    return running_count(ids) == len(ids)


def finish_and_check(hub, downloads, ids):
    hub.unthrottle()
    wait_until(
        lambda: set(statuses(ids).values()) <= {S.READY, S.FAILED}, timeout=120, message="every download to finish"
    )
    for (repo_id, shards), dataset in zip(downloads, Dataset.objects.filter(pk__in=ids).order_by("created_at")):
        assert dataset.status == S.READY, dataset.error_message
        total = sum(len(b) for b in shards.values())
        assert dataset.downloaded_bytes == dataset.total_bytes == total
        # Fetched once: only the bytes in flight at each kill came twice.
        assert served(hub, repo_id, shards) < total * 1.1, (repo_id, served(hub, repo_id, shards), total)
        loaded = datasets.load_from_disk(dataset.local_path)
        assert loaded.data.table.to_pylist() == rows_of(shards)


def start_downloads(hub, count, bytes_per_second):
    downloads = [make_repo(hub, f"fault-{index}") for index in range(count)]
    ids = []
    for repo_id, _shards in downloads:
        hub.throttle(repo_id, bytes_per_second=bytes_per_second, path_glob="data/*")
        ids.append(services.request_download(repo_id, split="train")[0].pk)
    return downloads, ids


def progress(ids):
    return sum(Dataset.objects.filter(pk__in=ids).values_list("downloaded_bytes", flat=True))


def test_kill_loop_every_download_resumes_within_15_seconds_and_ends_identical(fake_hub, tmp_path):
    # Four downloads for three worker processes: one is always queued (in the broker or held by the cluster).
    downloads, ids = start_downloads(fake_hub, 4, bytes_per_second=12_000)
    env = dict(ENV, HFD_WORKERS=3)
    cluster = start_worker(tmp_path, "cluster-0", **env)
    try:
        for round_number in range(1, 4):
            seen = progress(ids)
            wait_until(
                lambda seen=seen: running_count(ids) == 3 and progress(ids) > seen + 20_000,
                timeout=60,
                message=f"three downloading (log: {cluster.log_path})",
            )
            before = runs_now(ids)
            cluster.kill()
            cluster = start_worker(tmp_path, f"cluster-{round_number}", **env)
            wait_until(
                lambda before=before: running_again(ids, before, slots=3),
                timeout=15,
                message=f"every download running again after kill {round_number} (log: {cluster.log_path})",
            )
        finish_and_check(fake_hub, downloads, ids)
    finally:
        cluster.stop()


def test_a_surviving_cluster_takes_over_within_30_seconds(fake_hub, tmp_path):
    downloads, ids = start_downloads(fake_hub, 2, bytes_per_second=12_000)
    first = start_worker(tmp_path, "first", HFD_WORKERS=2, **ENV)
    second = None
    try:
        wait_until(lambda: all_running(ids), timeout=60, message=f"both downloading (log: {first.log_path})")
        second = start_worker(tmp_path, "second", HFD_WORKERS=2, **ENV)
        wait_until(lambda: Worker.objects.count() >= 2, timeout=60, message=f"the second cluster ({second.log_path})")
        before = runs_now(ids)
        first.kill()
        wait_until(
            lambda: running_again(ids, before),
            timeout=30,
            message=f"the second cluster to run both (log: {second.log_path})",
        )
        finish_and_check(fake_hub, downloads, ids)
    finally:
        first.stop()
        if second:
            second.stop()


@pytest.mark.parametrize("whom", ["group", "main process"])
def test_sigterm_stops_the_cluster_within_10_seconds_and_the_download_resumes(fake_hub, tmp_path, whom):
    downloads, ids = start_downloads(fake_hub, 1, bytes_per_second=30_000)
    cluster = start_worker(tmp_path, "stopping", HFD_WORKERS=2, **ENV)
    restarted = None
    try:
        wait_until(lambda: progress(ids) > 50_000, timeout=60, message=f"progress (log: {cluster.log_path})")
        if whom == "group":
            cluster.terminate_group()
        else:
            cluster.popen.send_signal(signal.SIGTERM)
        try:
            wait_until(cluster.group_gone, timeout=10, message=f"the cluster to exit (log: {cluster.log_path})")
        except AssertionError:
            raise AssertionError(f"Still running 10 s after SIGTERM: {cluster.survivors()}") from None
        dataset = Dataset.objects.get(pk=ids[0])
        assert dataset.status == S.PENDING
        assert dataset.downloaded_bytes > 50_000
        restarted = start_worker(tmp_path, "restarted", HFD_WORKERS=1, **ENV)
        finish_and_check(fake_hub, downloads, ids)
    finally:
        cluster.stop()
        if restarted:
            restarted.stop()
    assert os.path.exists(cluster.log_path)
