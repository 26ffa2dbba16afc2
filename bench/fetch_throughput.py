"""Download throughput of our resumable fetch against huggingface_hub's own, same files, same run.

    python bench/fetch_throughput.py [--mb 64] [--files 4]

Prints seconds for each and the ratio (ours / baseline): below 1 is faster than the baseline.
Everything runs on loopback against the fake Hub, so the numbers measure client overhead.
"""

import argparse
import os
import time

from _setup import setup


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=64, help="total size of the files")
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()
    hub, work = setup()

    import huggingface_hub

    from catalog import fetch, progress
    from catalog import hub as hub_module
    from catalog.models import Dataset

    size = args.mb * 1024 * 1024 // args.files
    files = {f"data/part-{i}.bin": os.urandom(size) for i in range(args.files)}
    sha = hub.add_repo("bench/big", files)

    started = time.perf_counter()
    for path in files:
        huggingface_hub.hf_hub_download(
            "bench/big", path, repo_type="dataset", revision=sha, local_dir=work / "baseline"
        )
    baseline = time.perf_counter() - started

    planned = [hub_module.PlannedFile(path=p, size=len(b)) for p, b in files.items()]
    dataset = Dataset.objects.create(
        name="bench",
        repo_id="bench/big",
        status=Dataset.Status.DOWNLOADING,
        run_id="bench",
        total_bytes=sum(f.size for f in planned),
    )
    reporter = progress.ProgressReporter(dataset, "bench")
    started = time.perf_counter()
    fetch.fetch_files(dataset.pk, "bench/big", sha, planned, reporter, parallel=args.files)
    ours = time.perf_counter() - started

    print(f"files: {args.files} x {size / 2**20:.1f} MiB")
    print(f"baseline huggingface_hub.hf_hub_download (sequential): {baseline:.2f} s")
    print(f"hfdatasets fetch.fetch_files (parallel {args.files}):       {ours:.2f} s")
    print(f"ratio ours/baseline: {ours / baseline:.2f}")


if __name__ == "__main__":
    main()
