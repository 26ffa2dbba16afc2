"""Memory of showing one page of rows: our memory-mapped reader against loading the dataset.

    python bench/rows_memory.py [--rows 200000] [--text-bytes 1000]

Each measurement runs in a fresh process and reports its peak RSS growth; the ratio is
ours / baseline (below 1 means the page costs less memory than loading everything).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = r"""
import json, sys
sys.path.insert(0, {root!r})
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hfdatasets.settings")
import django; django.setup()
import datasets
from catalog import browse
def rss_kib():
    # Resident memory now: mapped file pages that were read count too, which is what we want to see.
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss_kib()
if {mode!r} == "ours":
    arrow = browse.open_arrow({path!r})
    rows = browse.slice_rows(arrow, {offset}, {offset} + 50)
else:
    loaded = datasets.load_from_disk({path!r}, keep_in_memory=True)
    rows = loaded.select(range({offset}, {offset} + 50)).to_list()
after = rss_kib()
print(json.dumps({{"kib": after - before, "rows": len(rows)}}))
"""


def measure(mode, path, offset, root):
    code = MEASURE.format(root=str(root), mode=mode, path=str(path), offset=offset)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--text-bytes", type=int, default=1000)
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    import datasets

    work = Path(tempfile.mkdtemp(prefix="hfd-bench-rows-"))
    text = "x" * args.text_bytes
    built = datasets.Dataset.from_dict({"id": list(range(args.rows)), "text": [text] * args.rows})
    built.save_to_disk(str(work / "arrow"))
    offset = args.rows // 2
    ours = measure("ours", work / "arrow", offset, root)
    baseline = measure("baseline", work / "arrow", offset, root)
    assert ours["rows"] == baseline["rows"] == 50
    print(f"dataset: {args.rows:,} rows x {args.text_bytes} bytes of text")
    print(f"baseline load_from_disk(keep_in_memory=True) + page: {baseline['kib'] / 1024:.1f} MiB RSS growth")
    print(f"hfdatasets browse (memory-mapped page):              {ours['kib'] / 1024:.1f} MiB RSS growth")
    print(f"ratio ours/baseline: {ours['kib'] / max(baseline['kib'], 1):.3f}")


if __name__ == "__main__":
    main()
