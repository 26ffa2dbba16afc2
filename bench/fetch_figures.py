"""Download and build figures: against huggingface_hub / datasets doing the same by hand.

Everything is served by tests/fakehub on loopback; a throttle caps each connection (each
response) at BANDWIDTH bytes/s, as a distant server does.
"""

import hashlib
import io
import os
import shutil

from bench.harness import Figure, Sample, interleaved, ratio_at_most

BANDWIDTH = 2_000_000  # bytes/s per connection


def parquet_shard(first_id, rows, row_group_size=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = range(first_id, first_id + rows)
    table = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "text": pa.array([f"row {i} " + "lorem ipsum " * (i % 7) for i in ids]),
            # Random bytes: parquet cannot compress them, so a shard's size is about what we ask for.
            "blob": pa.array([os.urandom(200) for _ in ids], pa.binary()),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=row_group_size or rows)
    return out.getvalue()


def parquet_repo(hub, repo_id, shards, rows_per_shard):
    """A repository of `shards` parquet shards of one train split (and a card) on the test Hub: its sha and files."""
    files = {"README.md": b"---\nlicense: mit\n---\n# bench\n"}
    for i in range(shards):
        files[f"data/train-{i:05d}-of-{shards:05d}.parquet"] = parquet_shard(i * rows_per_shard, rows_per_shard)
    return hub.add_repo(repo_id, files), files


def random_files(count, size, prefix="data/part"):
    return {f"{prefix}-{i:05d}.bin": os.urandom(size) for i in range(count)}


class Fetcher:
    """Our fetch (catalog.fetch.fetch_files at the default number of files at once) and snapshot_download."""

    def __init__(self, hub, work, repo_id, files):
        from catalog import hub as hub_module
        from catalog.models import Dataset

        self.hub, self.work, self.repo_id = hub, work, repo_id
        self.sha = hub.add_repo(repo_id, files)
        self.planned = [
            hub_module.PlannedFile(path=p, size=len(b), sha256=hashlib.sha256(b).hexdigest()) for p, b in files.items()
        ]
        self.dataset = Dataset.objects.create(
            name=repo_id,
            repo_id=repo_id,
            status=Dataset.Status.DOWNLOADING,
            run_id="bench",
            total_bytes=sum(len(b) for b in files.values()),
        )

    def prepare(self, name):
        from catalog import storage

        shutil.rmtree(storage.downloads_dir(self.dataset.pk), ignore_errors=True)
        shutil.rmtree(self.work / "baseline", ignore_errors=True)

    def ours(self):
        from catalog import fetch, progress

        reporter = progress.ProgressReporter(self.dataset, "bench")
        fetch.fetch_files(self.dataset.pk, self.repo_id, self.sha, self.planned, reporter)

    def baseline(self):
        import huggingface_hub

        huggingface_hub.snapshot_download(
            self.repo_id,
            repo_type="dataset",
            revision=self.sha,
            local_dir=self.work / "baseline",
            allow_patterns=[p.path for p in self.planned],
        )


def throttled_fetch(hub, work, name, repo_id, files, repeat, target):
    fetcher = Fetcher(hub, work, repo_id, files)
    hub.throttle(repo_id, bytes_per_second=BANDWIDTH)
    try:
        times = interleaved({"ours": fetcher.ours, "baseline": fetcher.baseline}, repeat, fetcher.prepare)
    finally:
        hub.unthrottle(repo_id)
    label, check = ratio_at_most(target)
    from django.conf import settings

    return Figure(
        name,
        Sample(times["ours"]),
        Sample(times["baseline"]),
        label,
        check,
        [
            f"{len(files)} x {next(iter(files.values())).__len__() / 1e6:.1f} MB at {BANDWIDTH / 1e6:.0f} MB/s per connection; "
            f"ours {settings.HFD_PARALLEL_FILES} files at once, byte ranges of at least "
            f"{settings.HFD_SEGMENT_MIN_BYTES / 2**20:.0f} MiB, up to {settings.HFD_SEGMENTS_PER_FILE} per file; "
            "snapshot_download 8 files at once"
        ],
    )


def end_to_end(hub, work, shards, rows_per_shard, repeat):
    """POST /api/v1/datasets/download/ to ready (the worker's code run in this process), vs by hand."""
    import datasets
    import huggingface_hub
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core.cache import cache
    from rest_framework.test import APIClient

    from catalog import pipeline, services
    from catalog.models import Dataset

    repo_id = "bench/e2e"
    sha, files = parquet_repo(hub, repo_id, shards, rows_per_shard)
    user = get_user_model().objects.create_user("bench-e2e")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="catalog", codename="add_dataset"))
    client = APIClient()
    client.force_authenticate(user)

    def prepare(name):
        for dataset in Dataset.objects.filter(repo_id=repo_id):
            services.delete(dataset)
        cache.clear()  # the Hub inspection is cached per commit: ask the Hub each time, as the baseline does
        shutil.rmtree(work / "e2e-baseline", ignore_errors=True)

    def ours():
        response = client.post("/api/v1/datasets/download/", {"repo_id": repo_id, "split": "train"}, format="json")
        assert response.status_code == 202, response.content
        pipeline.run_download(response.json()["id"])
        assert Dataset.objects.get(pk=response.json()["id"]).status == Dataset.Status.READY

    def baseline():
        folder = work / "e2e-baseline"
        huggingface_hub.snapshot_download(repo_id, repo_type="dataset", revision=sha, local_dir=folder / "files")
        loaded = datasets.load_dataset(str(folder / "files"), split="train", cache_dir=str(folder / "cache"))
        loaded.save_to_disk(str(folder / "arrow"))

    # Under a second a run: five repetitions at least, after one untimed run of each.
    times = interleaved({"ours": ours, "baseline": baseline}, max(repeat, 5), prepare, warmup=True)
    label, check = ratio_at_most(1.0)
    size = sum(len(b) for b in files.values())
    return Figure(
        "end to end, loopback (POST to ready)",
        Sample(times["ours"]),
        Sample(times["baseline"]),
        label,
        check,
        [
            f"{shards} parquet shards, {shards * rows_per_shard:,} rows, {size / 1e6:.1f} MB; baseline: "
            "snapshot_download + load_dataset + save_to_disk; the queue pickup (< 0.25 s) is not included"
        ],
    )


def capped_bytes(hub, work, rows, row_group_size, cap):
    """Bytes a max_samples download fetches of a parquet file, against the row groups it needs plus the footer."""
    import pyarrow.parquet as pq

    from catalog import pipeline, services
    from catalog.models import Dataset

    repo_id = "bench/capped"
    path = "data/train-00000-of-00001.parquet"
    data = parquet_shard(0, rows, row_group_size)
    hub.add_repo(repo_id, {"README.md": b"# capped\n", path: data})
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    needed, covered = 0, 0
    for index in range(meta.num_row_groups):
        if covered >= cap:
            break
        group = meta.row_group(index)
        needed += sum(group.column(c).total_compressed_size for c in range(group.num_columns))
        covered += group.num_rows
    minimal = needed + meta.serialized_size + 8  # the footer: metadata, its length, the magic
    hub.reset_counters()
    dataset, _ = services.request_download(repo_id, split="train", max_samples=cap, queue=False)
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY and dataset.total_samples == cap, dataset.error_message
    fetched = hub.bytes_served(repo_id, path)
    label, check = ratio_at_most(1.05)
    return Figure(
        "max_samples bytes vs row groups + footer",
        Sample([fetched], "B"),
        Sample([minimal], "B"),
        label,
        check,
        [f"{cap:,} of {rows:,} rows, row groups of {row_group_size:,}; {len(data) / 1e6:.1f} MB file"],
    )


def arrow_build(hub, work, shards, rows_per_shard, repeat):
    """The worker's build step (build, building.save, column statistics) on downloaded files, vs by hand."""
    import datasets
    import huggingface_hub

    from catalog import building, sampling
    from catalog import hub as hub_module
    from catalog.viewer import stats as viewer_stats

    repo_id = "bench/build"
    sha, _files = parquet_repo(hub, repo_id, shards, rows_per_shard)
    source = work / "build-source"
    huggingface_hub.snapshot_download(repo_id, repo_type="dataset", revision=sha, local_dir=source)
    plan = hub_module.plan(repo_id, sha, "", "train")
    features = building.reference_features(plan, sampling.fetch_head, work / "build-inference")
    spec = building.BuildSpec.for_plan(plan, features)
    local = [source / planned.path for planned in plan.files]
    out = work / "build-out"

    def prepare(name):
        shutil.rmtree(out, ignore_errors=True)

    def ours():
        built = building.build(spec, local, out / "cache")
        building.save(built, out / "arrow")
        viewer_stats.compute_column_stats(out / "arrow")

    def baseline():
        loaded = datasets.load_dataset(str(source), split="train", cache_dir=str(out / "cache"))
        loaded.save_to_disk(str(out / "arrow"))

    times = interleaved({"ours": ours, "baseline": baseline}, max(repeat, 5), prepare, warmup=True)
    label, check = ratio_at_most(1.1)
    return Figure(
        "Arrow build vs load_dataset + save_to_disk",
        Sample(times["ours"]),
        Sample(times["baseline"]),
        label,
        check,
        [
            f"{shards} parquet shards, {shards * rows_per_shard:,} rows already on disk; ours includes the column statistics"
        ],
    )
