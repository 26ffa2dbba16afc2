"""Rows API: pages of a large ready dataset, against opening it with `datasets` for every request."""

import random
import time

from bench.harness import Figure, Sample, value_below


def _rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def rows_api(rows, requests):
    import datasets
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from catalog import storage
    from catalog.models import Dataset

    dataset = Dataset.objects.create(name="bench rows", repo_id="bench/rows", status=Dataset.Status.READY)
    path = storage.arrow_dir(dataset.pk)
    text = "lorem ipsum dolor sit amet " * 4
    datasets.Dataset.from_dict({"id": list(range(rows)), "text": [text] * rows}).save_to_disk(str(path))
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("bench-rows"))
    url = f"/api/v1/datasets/{dataset.pk}/rows/"
    offsets = [random.Random(i).randrange(0, rows - 50) for i in range(requests)]

    def ours(offset):
        response = client.get(url, {"offset": offset, "limit": 50})
        assert response.status_code == 200 and response.json()["rows"][0]["id"] == offset

    def baseline(offset):
        loaded = datasets.load_from_disk(str(path))
        assert loaded.select(range(offset, offset + 50)).to_list()[0]["id"] == offset

    ours(0)  # the first request opens the files; the figure is about the requests after it
    baseline(0)
    times = {"ours": [], "baseline": []}
    growth = {"ours": 0, "baseline": 0}  # RSS added during each one's requests, interleaved
    calls = (("ours", ours), ("baseline", baseline))
    for i, offset in enumerate(offsets):
        for name, call in calls if i % 2 == 0 else reversed(calls):
            before = _rss()
            started = time.perf_counter()
            call(offset)
            times[name].append(time.perf_counter() - started)
            growth[name] += _rss() - before
    p95 = {name: sorted(values)[int(0.95 * len(values)) - 1] for name, values in times.items()}
    label, check = value_below(0.1, "s")
    mem_label, mem_check = value_below(64 * 2**20, "B")
    return [
        Figure(
            f"rows API p95, {rows:,} rows",
            Sample([p95["ours"]]),
            Sample([p95["baseline"]]),
            label,
            check,
            [f"{requests} pages of 50 at random offsets; baseline: load_from_disk + select per request"],
        ),
        Figure(
            f"rows API RSS growth over {requests} pages",
            Sample([growth["ours"]], "B"),
            Sample([growth["baseline"]], "B"),
            mem_label,
            mem_check,
        ),
    ]
