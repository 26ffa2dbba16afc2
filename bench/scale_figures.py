"""O(page) figures: pages and API with 10,000 datasets against the same with 100; the relay idle."""

import time

from bench.harness import Figure, Sample, ratio_at_most, value_below
from tests.fixtures import add_datasets

URLS = ["/", "/?status=ready&page=2", "/storage/", "/api/v1/datasets/"]
EXTRA_PREFIX = "bench-extra/"


def pages(repeat, small=100, large=10_000, requests_each=3):
    """Each page's time with `large` datasets vs with `small`, interleaved: the extra rows come and go."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Dataset

    Dataset.objects.all().delete()
    add_datasets(small)
    client = Client()
    client.force_login(get_user_model().objects.create_user("bench-pages"))
    times = {(url, size): [] for url in URLS for size in (small, large)}
    queries = {small: [], large: []}
    for rep in range(repeat):
        for size in (small, large) if rep % 2 == 0 else (large, small):
            Dataset.objects.filter(repo_id__startswith=EXTRA_PREFIX).delete()
            if size == large:
                add_datasets(large - small, EXTRA_PREFIX)
            assert Dataset.objects.count() == size
            total_queries = 0
            for url in URLS:
                client.get(url)  # warm
                started = time.perf_counter()
                for _ in range(requests_each):
                    with CaptureQueriesContext(connection) as captured:
                        response = client.get(url)
                    assert response.status_code == 200, (url, response.status_code)
                times[(url, size)].append((time.perf_counter() - started) / requests_each)
                total_queries += len(captured)
            queries[size].append(total_queries)
    Dataset.objects.filter(repo_id__startswith=EXTRA_PREFIX).delete()
    figures = []
    for url in URLS:
        label, check = ratio_at_most(1.5)
        figures.append(
            Figure(
                f"GET {url}, {large:,} vs {small} datasets",
                Sample(times[(url, large)]),
                Sample(times[(url, small)]),
                label,
                check,
            )
        )
    label, check = ratio_at_most(1.0)
    figures.append(
        Figure(
            f"queries of those {len(URLS)} pages, {large:,} vs {small}",
            Sample(queries[large], ""),
            Sample(queries[small], ""),
            "same count",
            lambda ours, baseline, ratio: ours == baseline,
        )
    )
    return figures


def relay_idle_cpu(repeat, datasets=10_000, seconds=2.0):
    """CPU of the embedded relay while nothing changes, against reading every row each poll (the old relay)."""
    from datetime import timedelta

    from django.utils import timezone

    from catalog import live
    from catalog.models import Dataset

    Dataset.objects.all().delete()
    add_datasets(datasets)
    Dataset.objects.update(updated_at=timezone.now() - timedelta(minutes=1))

    def cursor_relay():
        relay = live.DatabaseRelay(loop=None)
        relay.start()
        return lambda: relay.changes(), live.RELAY_INTERVAL

    def full_read():
        relay = live.DatabaseRelay(loop=None)
        known = relay.rows(Dataset.objects.all())

        def poll():
            seen = relay.rows(Dataset.objects.all())
            assert [pk for pk, row in seen.items() if known.get(pk) != row] == []

        return poll, 0.5

    usage = {"ours": [], "baseline": []}
    for rep in range(repeat):
        for name, make in (("ours", cursor_relay), ("baseline", full_read))[:: 1 if rep % 2 == 0 else -1]:
            poll, interval = make()
            cpu, wall = time.process_time(), time.monotonic()
            while time.monotonic() - wall < seconds:
                poll()
                time.sleep(interval)
            usage[name].append(100 * (time.process_time() - cpu) / (time.monotonic() - wall))
    Dataset.objects.all().delete()
    label, check = value_below(1.0, "%")
    return Figure(
        f"relay idle CPU, {datasets:,} datasets (% of a core)",
        Sample(usage["ours"], "%"),
        Sample(usage["baseline"], "%"),
        label,
        check,
        [
            f"ours polls every {live.RELAY_INTERVAL} s (indexed MAX(updated_at), a count each second); "
            "baseline: the previous relay, every row read every 0.5 s; the real processes: the idle group"
        ],
    )
