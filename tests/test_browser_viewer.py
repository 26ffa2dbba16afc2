"""Browser tests of the dataset viewer: search, filters, sort, page size and charts, in headless Chromium.

The page is served by daphne as in production (tests/test_browser.py has the set-up); the
dataset is written to disk by the test, as the pipeline would have left it.
"""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import datasets
import pytest

from catalog import storage
from catalog.models import Dataset
from catalog.viewer import stats
from tests.processes import free_port, start_daphne, wait_serving, wait_until
from tests.test_browser import (  # noqa: F401  (fixtures)
    Browsing,
    browser,
    chromium_installed,
    log_in,
    orm,
    row_ids,
    screenshot,
    static_root,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

N = 120
LABELS = ["neg", "pos", "neutral"]
FEATURES = datasets.Features(
    {
        "id": datasets.Value("int64"),
        "text": datasets.Value("string"),
        "label": datasets.ClassLabel(names=LABELS),
        "score": datasets.Value("float64"),
    }
)
ROWS = [
    {
        "id": i,
        "text": f"{'apple' if i % 4 == 0 else 'pear'} number {i}",
        "label": i % 3,
        "score": None if i % 10 == 0 else (i * 37 % 101) / 10,
    }
    for i in range(N)
]


def make_ready(user):
    dataset = Dataset.objects.create(
        name="acme/fruit train",
        repo_id="acme/fruit",
        status=Dataset.Status.READY,
        owner=user,
        total_samples=N,
        config={"subset": "", "split": "train", "revision": "", "max_samples": None},
    )
    path = storage.arrow_dir(dataset.pk)
    columns = {name: [row[name] for row in ROWS] for name in FEATURES}
    datasets.Dataset.from_dict(columns, features=FEATURES).save_to_disk(str(path), num_shards=2)
    dataset.features = [{"name": n, "type": str(f)} for n, f in FEATURES.items()]
    dataset.column_stats = stats.compute_column_stats(path)
    dataset.local_path = str(path)
    dataset.save()
    return dataset


@pytest.fixture
def web(transactional_db, tmp_path, static_root):  # noqa: F811
    port = free_port()
    process = start_daphne(tmp_path, port, HFD_STATIC_ROOT=static_root)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(process, url)
        yield url
    finally:
        process.stop()
        print(f"--- daphne log\n{process.output()[-6000:]}")


@pytest.fixture
def page(browser, web, request):  # noqa: F811
    session = Browsing(browser, web)
    opened = session.new_page()
    yield opened
    screenshot(opened, f"{request.node.name}-end")
    # The 400 of a bad URL is logged by Chromium as a failed resource: that one is expected.
    errors = [e for e in session.errors if "status of 400" not in e]
    assert errors == [], errors
    session.context.close()


def query_of(page):
    return parse_qs(urlsplit(page.url).query)


def expected(keep=lambda r: True, key=None, reverse=False, limit=25):
    rows = [r for r in ROWS if keep(r)]
    if key:
        present = sorted((r for r in rows if key(r) is not None), key=key, reverse=reverse)
        rows = present + [r for r in rows if key(r) is None]
    return [r["id"] for r in rows][:limit]


def count_text(page):
    return " ".join(page.locator('[data-part="rows-count"]').inner_text().split())


def test_search_filter_sort_and_page_size_live_in_the_url(page, orm, user):
    dataset = orm(make_ready, user)
    log_in(page, user.username)
    page.goto(f"/datasets/{dataset.pk}/")
    assert row_ids(page) == expected()
    assert count_text(page).startswith(f"Rows 0–24 of {N}.")

    # Search the text columns.
    page.locator("[data-viewer-q]").fill("APPLE")
    page.locator("[data-viewer-q]").press("Enter")
    page.wait_for_url(re.compile(r"q=APPLE"))
    apples = lambda r: "apple" in r["text"]  # noqa: E731
    assert row_ids(page) == expected(apples)
    assert count_text(page).startswith(f"Rows 0–24 of {len(expected(apples, limit=N))} matching (of {N})")

    # Add a filter with the form: the URL gets one filter=column:op:value.
    page.locator("[data-filter-column]").select_option("label")
    page.locator("[data-filter-op]").select_option("eq")
    page.locator("[data-filter-value]").fill("pos")
    page.get_by_role("button", name="Add filter").click()
    page.wait_for_url(re.compile(r"filter=label%3Aeq%3Apos"))
    assert query_of(page) == {"q": ["APPLE"], "filter": ["label:eq:pos"]}
    apples_pos = lambda r: apples(r) and r["label"] == 1  # noqa: E731
    assert row_ids(page) == expected(apples_pos)
    assert page.locator("[data-filter-chip]").inner_text().startswith("label = pos")
    screenshot(page, "viewer-1-search-and-filter")

    # Sort by a column from its header: ascending, then descending; nulls stay last.
    page.locator('a[data-sort-column="score"]').click()
    page.wait_for_url(re.compile(r"sort=score&order=asc"))
    assert row_ids(page) == expected(apples_pos, key=lambda r: r["score"])
    page.locator('a[data-sort-column="score"]').click()
    page.wait_for_url(re.compile(r"order=desc"))
    assert row_ids(page) == expected(apples_pos, key=lambda r: r["score"], reverse=True)
    assert page.locator('a[data-sort-column="score"]').get_attribute("aria-sort") == "descending"

    # The view is shareable: the same URL in a fresh page shows the same rows.
    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    assert row_ids(other) == row_ids(page)
    other.close()

    # Remove the filter with its chip; search and sort stay.
    page.locator("[data-filter-chip] a").click()
    page.wait_for_url(lambda url: "filter=" not in url)
    assert query_of(page) == {"q": ["APPLE"], "sort": ["score"], "order": ["desc"]}
    assert row_ids(page) == expected(apples, key=lambda r: r["score"], reverse=True)

    # Clear everything, then a page size of 10 applies as soon as it is chosen.
    page.locator("[data-clear-view]").click()
    page.wait_for_url(lambda url: "q=" not in url)
    page.locator("[data-viewer-size]").select_option("10")
    page.wait_for_url(re.compile(r"size=10"))
    assert row_ids(page) == expected(limit=10)
    page.get_by_role("link", name="Next →").first.click()
    page.wait_for_url(re.compile(r"page=2"))
    assert row_ids(page) == expected(limit=20)[10:]

    # A null test takes no value; a bad value in the URL is a clear error.
    page.goto(f"/datasets/{dataset.pk}/")
    page.locator("[data-filter-column]").select_option("score")
    page.locator("[data-filter-op]").select_option("null")
    assert page.locator("[data-filter-value]").is_disabled()
    page.get_by_role("button", name="Add filter").click()
    page.wait_for_url(re.compile(r"filter=score%3Anull"))
    assert row_ids(page) == expected(lambda r: r["score"] is None)
    response = page.goto(f"/datasets/{dataset.pk}/?filter=score:gt:lots")
    assert response.status == 400
    assert "'lots' is not a number (column 'score')" in page.locator('[data-part="view-error"]').inner_text()


def test_column_charts_and_filtering_by_a_bar(page, orm, user):
    dataset = orm(make_ready, user)
    log_in(page, user.username)
    page.goto(f"/datasets/{dataset.pk}/")
    labels = page.locator('figure[data-chart="values"]').first
    bars = labels.locator(".chart-bar")
    assert bars.count() == 3
    assert [b.get_attribute("data-bar-label") for b in bars.all()] == LABELS
    assert [int(b.get_attribute("data-count")) for b in bars.all()] == [40, 40, 40]
    # Drawn: every bar of the histograms and value counts has a height on the screen.
    histograms = page.locator('figure[data-chart="histogram"]')
    assert histograms.count() >= 3  # id, score, text length
    for figure in (labels, histograms.first):
        heights = [bar.locator("span").bounding_box()["height"] for bar in figure.locator(".chart-bar").all()]
        assert all(h > 0 for h in heights) and max(heights) >= 20
    screenshot(page, "viewer-2-charts", full_page=True)
    # A value count's bar is a filter.
    bars.nth(2).click()
    page.wait_for_url(re.compile(r"filter=label%3Aeq%3A2"))
    assert row_ids(page) == expected(lambda r: r["label"] == 2)


def test_download_buttons_stream_the_exports(page, orm, user):
    import csv
    import io
    import json

    import pyarrow.parquet as pq

    dataset = orm(make_ready, user)
    log_in(page, user.username)
    page.goto(f"/datasets/{dataset.pk}/")
    got = {}
    for fmt in ("csv", "jsonl", "parquet"):
        with page.expect_download() as info:
            page.locator(f'a[data-export="{fmt}"]').click()
        got[fmt] = Path(info.value.path()).read_bytes()
        assert info.value.suggested_filename == f"acme-fruit-train-train.{fmt}"
    header, *rows = list(csv.reader(io.StringIO(got["csv"].decode(), newline="")))
    assert header == list(FEATURES) and [int(r[0]) for r in rows] == [r["id"] for r in ROWS]
    assert [json.loads(line) for line in got["jsonl"].decode().splitlines()] == ROWS
    assert pq.read_table(io.BytesIO(got["parquet"])).to_pylist() == ROWS


def download(fake_hub, repo_id):
    from catalog import pipeline, services
    from tests.fakehub import layouts

    layouts.add_layout(fake_hub, repo_id)
    dataset, _ = services.request_download(repo_id, split="train")
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.is_ready, dataset.error_message
    return dataset


def test_images_and_audio_in_a_filtered_sorted_view(page, orm, user, fake_hub):
    images = orm(download, fake_hub, "layouts/image-classes")
    log_in(page, user.username)
    # The dogs only, last first: the thumbnails are of the rows shown, loaded from the Arrow files.
    page.goto(f"/datasets/{images.pk}/?filter=label:eq:dog&sort=label&order=desc")
    thumbnails = page.locator("table.rows-table img.v-image")
    assert thumbnails.count() == 4
    wait_until(
        lambda: page.evaluate(
            "() => [...document.querySelectorAll('img.v-image')].every(i => i.complete && i.naturalWidth > 0)"
        ),
        timeout=10,
        message="thumbnails to load",
    )
    assert page.locator("table.rows-table tbody tr td:nth-child(3) .v-label").all_inner_texts() == ["dog"] * 4
    sources = [thumbnails.nth(i).get_attribute("src") for i in range(4)]
    assert sources == [f"/datasets/{images.pk}/media/?row={i}&column=image" for i in range(4, 8)]
    screenshot(page, "viewer-3-images")

    clips = orm(download, fake_hub, "layouts/audio-metadata")
    page.goto(f"/datasets/{clips.pk}/?q=clip+3")
    players = page.locator("table.rows-table audio.v-audio")
    assert players.count() == 1
    assert players.get_attribute("src") == f"/datasets/{clips.pk}/media/?row=3&column=audio"
    duration = page.evaluate(
        """() => new Promise(done => {
          const a = document.querySelector('audio.v-audio');
          a.addEventListener('loadedmetadata', () => done(a.duration));
          a.addEventListener('error', () => done(-1));
          a.load();
        })"""
    )
    assert duration > 0
