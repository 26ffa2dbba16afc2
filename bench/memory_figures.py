"""Worker memory: the anonymous memory (heap, not file pages) of one download of a large split
against the same download ten times smaller, each in a fresh worker process."""

import json
import os
import subprocess
import sys

from bench.fetch_figures import parquet_shard
from bench.harness import Figure, Sample, ratio_at_most

WORKER = r"""
import json, os, sys, threading, time
sys.path.insert(0, {root!r})
import django; django.setup()
from catalog import pipeline
from catalog.models import Dataset
peak = [0]
def anon():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0
def sample():
    while True:
        peak[0] = max(peak[0], anon())
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
pipeline.run_download({dataset_id!r})
peak[0] = max(peak[0], anon())
print(json.dumps({{"peak": peak[0], "status": Dataset.objects.get(pk={dataset_id!r}).status}}))
"""


def worker_memory(hub, work, small_mb, large_mb, repeat):
    from bench._setup import ROOT
    from catalog import services
    from catalog.models import Dataset

    rows_per_mb = 4000  # about 250 bytes a row (200 random bytes that parquet cannot compress)
    repos = {}
    for mb in (small_mb, large_mb):
        repo_id = f"bench/memory-{mb}"
        shards = max(1, mb // 50)
        files = {"README.md": b"# memory\n"}
        rows = mb * rows_per_mb // shards
        for i in range(shards):
            files[f"data/train-{i:05d}-of-{shards:05d}.parquet"] = parquet_shard(i * rows, rows)
        hub.add_repo(repo_id, files)
        repos[mb] = repo_id
    peaks = {small_mb: [], large_mb: []}
    for rep in range(repeat):
        for mb in (small_mb, large_mb) if rep % 2 == 0 else (large_mb, small_mb):
            for old in Dataset.objects.filter(repo_id=repos[mb]):
                services.delete(old)
            dataset, _ = services.request_download(repos[mb], split="train", queue=False)
            code = WORKER.format(root=str(ROOT), dataset_id=str(dataset.pk))
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=900
            )
            result = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {}
            assert result.get("status") == "ready", out.stderr[-2000:]
            peaks[mb].append(result["peak"])
    label, check = ratio_at_most(1.3)
    return Figure(
        f"worker anonymous memory, {large_mb} MB vs {small_mb} MB split",
        Sample(peaks[large_mb], "B"),
        Sample(peaks[small_mb], "B"),
        label,
        check,
        ["peak RssAnon of a fresh process running the download and build (catalog.pipeline.run_download)"],
    )
