"""O(page): every list page, the storage page, the API list and the list socket's snapshot make
the same number of queries with 10,000 datasets as with 100 (counts, never times; the times are
bench/'s business).
"""

from contextlib import contextmanager

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from catalog import consumers
from catalog.models import Dataset
from tests.fixtures import add_datasets

URLS = [
    "/",
    "/?page=2",
    "/?status=ready",
    "/?search=acme&ordering=name",
    "/?page_size=100",
    "/storage/",
    "/storage/?page=2",
    "/api/v1/datasets/",
    "/api/v1/datasets/?status=failed&ordering=-total_bytes&page=2&page_size=5",
]


@contextmanager
def datasets_built():
    """Counts the Dataset objects built meanwhile: per-row work shows up here even in one query."""
    built = []

    def count(sender, instance, **kwargs):
        built.append(1)

    post_init.connect(count, sender=Dataset)
    try:
        yield built
    finally:
        post_init.disconnect(count, sender=Dataset)


def query_counts(client):
    counts = {}
    for url in URLS:
        with CaptureQueriesContext(connection) as queries, datasets_built() as built:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        # One page (at most 100, the largest page size) plus the page's own placeholder card.
        assert len(built) <= 101, (url, len(built))
        counts[url] = len(queries)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=client.session["_auth_user_id"])
    with CaptureQueriesContext(connection) as queries, datasets_built() as built:
        states = consumers.page_states("status=ready&page=2", user)
    assert len(states) == 25 and {s["status"] for s in states} == {"ready"}
    assert len(built) == 25
    counts["socket snapshot"] = len(queries)
    return counts


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def test_pages_api_and_snapshot_make_the_same_queries_with_10000_datasets_as_with_100(logged_in):
    add_datasets(100)
    with_100 = query_counts(logged_in)
    add_datasets(9_900)
    assert Dataset.objects.count() == 10_000
    with_10000 = query_counts(logged_in)
    assert with_10000 == with_100
    # And the pages still count everything: totals come from aggregate queries, not from the page.
    storage_page = logged_in.get("/storage/").content.decode()
    assert 'data-storage-count="10000"' in storage_page
    sizes = Dataset.objects.values_list("size_on_disk", "downloaded_bytes")
    total = sum(recorded if recorded is not None else downloaded for recorded, downloaded in sizes)
    assert f'data-storage-total="{total}"' in storage_page
    assert logged_in.get("/api/v1/datasets/").json()["count"] == 10_000


def test_the_storage_page_measures_only_its_own_page_on_disk(logged_in, monkeypatch):
    from catalog import storage

    add_datasets(120)
    Dataset.objects.update(size_on_disk=None)  # nothing recorded: every row would need its folder measured
    measured = []
    monkeypatch.setattr(storage, "dataset_dir", lambda pk: measured.append(pk) or storage.datasets_root() / str(pk))
    page = logged_in.get("/storage/?page=3").content.decode()
    assert len(measured) == 20  # the last page's 20 rows, not 120
    assert 'data-storage-count="120"' in page


def test_the_snapshot_follows_the_pages_filters_and_falls_back_to_the_first_page(user):
    add_datasets(60)
    newest_first = list(Dataset.objects.order_by("-created_at").values_list("pk", flat=True))
    assert [s["id"] for s in consumers.page_states("", user)] == [str(pk) for pk in newest_first[:25]]
    assert [s["id"] for s in consumers.page_states("page=3", user)] == [str(pk) for pk in newest_first[50:]]
    failed = consumers.page_states("status=failed&ordering=name&page_size=5", user)
    assert [s["name"] for s in failed] == sorted(s["name"] for s in failed) and len(failed) == 5
    assert {s["status"] for s in failed} == {"failed"}
    # A query the page would refuse (400) gets the first page of everything rather than nothing.
    assert len(consumers.page_states("status=bogus", user)) == 25
    # Page numbers as the page reads them: past the end or below 1, the last page; not a number, the first.
    for page, expected in (("9", newest_first[50:]), ("0", newest_first[50:]), ("two", newest_first[:25])):
        assert [s["id"] for s in consumers.page_states(f"page={page}", user)] == [str(pk) for pk in expected]


def test_a_snapshot_of_a_page_that_exists_is_one_query(user, django_assert_num_queries):
    # Hundreds of sockets may open at once: no COUNT before the page when the page is there.
    add_datasets(60)
    with django_assert_num_queries(1):
        assert len(consumers.page_states("page=3", user)) == 10
