"""Filtered pages of a large dataset: the DuckDB viewer against pyarrow.compute on the same table.

    python bench/viewer_filtered.py [--rows 1000000] [--repeat 5]

Builds a dataset of --rows rows (int id, float score, class label, text), saves it with
`save_to_disk` as the pipeline does, and times one page of 50 rows for several views through
catalog.viewer.query.run (memory-mapped table, DuckDB). The baseline does the same work with
pyarrow.compute on the same memory-mapped table (filter, full sort, take), the obvious way
without a query engine. Prints the median milliseconds of each and the ratio ours / baseline
(below 1: the viewer is faster). The page size, filters and offsets are those of a real view.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VIEWS = {
    "label = 3 and score >= 0.5": {"filter": ["label:eq:c3", "score:gte:0.5"]},
    "search 'abc'": {"q": ["abc"]},
    "label = 3, sorted by score desc": {"filter": ["label:eq:c3"], "sort": ["score"], "order": ["desc"]},
    "score < 0.1, page 100": {"filter": ["score:lt:0.1"], "offset": 5000},
    "sorted by text": {"sort": ["text"]},
}


def build(path, rows):
    import datasets
    import numpy as np

    rng = np.random.default_rng(0)
    features = datasets.Features(
        {
            "id": datasets.Value("int64"),
            "score": datasets.Value("float64"),
            "label": datasets.ClassLabel(names=[f"c{i}" for i in range(10)]),
            "text": datasets.Value("string"),
        }
    )
    built = datasets.Dataset.from_dict(
        {
            "id": np.arange(rows),
            "score": rng.random(rows),
            "label": rng.integers(0, 10, rows),
            "text": [f"row {i} {'abc' if i % 7 == 0 else 'xyz'} {i * 7919 % 10007}" for i in range(rows)],
        },
        features=features,
    )
    built.save_to_disk(str(path))


def baseline(table, spec, offset, limit):
    import pyarrow.compute as pc

    mask = None

    def both(a, b):
        return b if a is None else pc.and_(a, b)

    for item in spec.get("filter", []):
        column, op, value = item.split(":")
        if column == "label":
            mask = both(mask, pc.equal(table["label"], int(value[1:])))
        elif op == "gte":
            mask = both(mask, pc.greater_equal(table[column], float(value)))
        elif op == "lt":
            mask = both(mask, pc.less(table[column], float(value)))
    if spec.get("q"):
        mask = both(mask, pc.match_substring(table["text"], spec["q"][0], ignore_case=True))
    selected = table.filter(mask) if mask is not None else table
    if spec.get("sort"):
        order = "descending" if spec.get("order") == ["desc"] else "ascending"
        indices = pc.sort_indices(selected, sort_keys=[(spec["sort"][0], order)])
        selected = selected.take(indices.slice(offset, limit))
    else:
        selected = selected.slice(offset, limit)
    return selected.num_rows, selected.to_pylist()


def timed(func, repeat):
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from bench._setup import setup

    setup()
    from catalog.viewer import params, query, source

    path = Path(tempfile.mkdtemp(prefix="hfd-bench-viewer-")) / "arrow"
    print(f"Building {args.rows:,} rows ...", flush=True)
    build(path, args.rows)
    table = source.open_table(path)
    features = source.features(path)
    print(f"{'view':36} {'ours ms':>9} {'baseline ms':>12} {'ratio':>7}")
    ratios = []
    for name, spec in VIEWS.items():
        offset = spec.get("offset", 0)
        view = params.parse({k: v for k, v in spec.items() if k != "offset"}, table.schema, features)
        ours_result = query.run(table, view, offset, 50)
        theirs = baseline(table, spec, offset, 50)
        assert [r["id"] for r in ours_result.rows] == [r["id"] for r in theirs[1]] or spec.get("sort") == ["text"], name
        ours = timed(lambda view=view, offset=offset: query.run(table, view, offset, 50), args.repeat)
        base = timed(lambda spec=spec, offset=offset: baseline(table, spec, offset, 50), args.repeat)
        ratios.append(ours / base)
        print(f"{name:36} {ours:9.1f} {base:12.1f} {ours / base:7.2f}")
    print(f"median ratio (ours / baseline): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
