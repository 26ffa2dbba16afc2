"""python -m bench [--quick] [--only NAME ...]: the benchmark suite (see bench/README.md).

Prints one table (figure, ours, baseline, ratio, target) and exits 1 when a target is missed.
"""

import argparse
import sys
import time

from bench import _setup

# name: (quick, full) parameters
SIZES = {
    # Quick: files ten times smaller, and so the smallest byte range too (HFD_SEGMENT_MIN_BYTES).
    "fetch": (
        {"shards": 12, "shard_mb": 2.1, "big_mb": 8, "segment_min": 2**20},
        {"shards": 12, "shard_mb": 25.75, "big_mb": 200, "segment_min": None},
    ),
    "e2e": ({"shards": 4, "rows": 20_000}, {"shards": 12, "rows": 200_000}),
    # Quick: left out (fresh worker processes take too long); full: 1 GB against 100 MB.
    "memory": (None, {"small": 100, "large": 1000}),
    "build": ({"shards": 4, "rows": 40_000}, {"shards": 12, "rows": 600_000}),
    "capped": ({"rows": 200_000, "group": 20_000, "cap": 50_000}, {"rows": 1_000_000, "group": 50_000, "cap": 120_000}),
    "pages": ({"large": 10_000, "requests": 1}, {"large": 10_000, "requests": 5}),
    "relay": ({"seconds": 0.5}, {"seconds": 5.0}),
    # Seconds of each window in which the real web and worker processes' CPU is read.
    "idle": ({"seconds": 5.0}, {"seconds": 20.0}),
    "sockets": ({"count": 200}, {"count": 200}),
    "rows": ({"rows": 200_000, "requests": 40}, {"rows": 1_000_000, "requests": 200}),
    "viewer": ({"rows": 200_000}, {"rows": 1_000_000}),
}
GROUPS = list(SIZES)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repetitions: under two minutes")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each timed figure (at least 3)")
    parser.add_argument("--only", nargs="+", choices=GROUPS, help="run only these groups of figures")
    args = parser.parse_args(argv)
    if args.repeat < 3:
        parser.error("--repeat must be at least 3")
    hub, work = _setup.setup()

    from bench import (
        fetch_figures,
        idle_figures,
        live_figures,
        memory_figures,
        rows_figures,
        scale_figures,
        viewer_figures,
    )

    size = {name: quick if args.quick else full for name, (quick, full) in SIZES.items()}
    repeat = args.repeat
    mb = 1_000_000

    def fetch():
        from django.conf import settings

        s = size["fetch"]
        shard = int(s["shard_mb"] * mb)
        if s["segment_min"]:
            settings.HFD_SEGMENT_MIN_BYTES = s["segment_min"]
        return [
            fetch_figures.throttled_fetch(
                hub,
                work,
                f"{s['shards']}-shard split, 2 MB/s links, vs snapshot_download",
                "bench/shards",
                fetch_figures.random_files(s["shards"], shard),
                repeat,
                0.8,
            ),
            fetch_figures.throttled_fetch(
                hub,
                work,
                f"one {s['big_mb']} MB file, 2 MB/s links, vs snapshot_download",
                "bench/big",
                fetch_figures.random_files(1, int(s["big_mb"] * mb)),
                repeat,
                0.5,
            ),
        ]

    groups = {
        "fetch": fetch,
        "e2e": lambda: [
            fetch_figures.end_to_end(
                hub, work, size["e2e"]["shards"], size["e2e"]["rows"] // size["e2e"]["shards"], repeat
            )
        ],
        "memory": lambda: [
            memory_figures.worker_memory(hub, work, size["memory"]["small"], size["memory"]["large"], repeat)
        ],
        "build": lambda: [
            fetch_figures.arrow_build(
                hub, work, size["build"]["shards"], size["build"]["rows"] // size["build"]["shards"], repeat
            )
        ],
        "capped": lambda: [
            fetch_figures.capped_bytes(
                hub, work, size["capped"]["rows"], size["capped"]["group"], size["capped"]["cap"]
            )
        ],
        "pages": lambda: scale_figures.pages(
            repeat, large=size["pages"]["large"], requests_each=size["pages"]["requests"]
        ),
        "relay": lambda: [scale_figures.relay_idle_cpu(repeat, seconds=size["relay"]["seconds"])],
        "idle": lambda: idle_figures.idle_cpu(work, size["idle"]["seconds"]),
        "sockets": lambda: live_figures.sockets_at_once(size["sockets"]["count"], ["embedded", "redis"], repeat),
        "rows": lambda: rows_figures.rows_api(size["rows"]["rows"], size["rows"]["requests"]),
        "viewer": lambda: viewer_figures.filtered_pages(size["viewer"]["rows"], repeat),
    }
    figures = []
    started = time.monotonic()
    for name in args.only or GROUPS:
        if size[name] is None:
            print(f"[{name}: not in a quick run]", file=sys.stderr, flush=True)
            continue
        group_started = time.monotonic()
        figures.extend(groups[name]())
        print(f"[{name}: {time.monotonic() - group_started:.1f} s]", file=sys.stderr, flush=True)
    from bench.harness import table

    print(table(figures))
    missed = [f.name for f in figures if not f.met]
    print(
        f"\n{'quick' if args.quick else 'full'} run, {repeat} repetitions, {time.monotonic() - started:.0f} s; "
        f"{len(missed)} of {len(figures)} targets missed"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
