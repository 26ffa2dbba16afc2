"""One FilterSet (catalog.filters) for the datasets page and the API: filters, ordering, page size."""

import re

import pytest

from catalog import filters
from catalog.models import Dataset

S = Dataset.Status


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def catalog(make_dataset):
    """Five datasets with different names, sizes, statuses and sources (created in this order)."""
    return [
        make_dataset(name="delta", repo_id="acme/d", status=S.READY, total_bytes=40, request_key="1"),
        make_dataset(name="alpha", repo_id="acme/a", status=S.FAILED, total_bytes=10, request_key="2"),
        make_dataset(name="movie reviews", repo_id="stanfordnlp/imdb", status=S.READY, total_bytes=30, request_key="3"),
        make_dataset(name="charlie", repo_id="", source=Dataset.Source.LOCAL, status=S.READY, total_bytes=20),
        make_dataset(name="bravo", repo_id="acme/b", status=S.PENDING, total_bytes=50, request_key="5"),
    ]


def page_ids(client, query):
    content = client.get("/" + query).content.decode()
    content = re.sub(r"<template\b.*?</template>", "", content, flags=re.S)
    return re.findall(r'<article class="card dataset-card" data-dataset-id="([0-9a-f-]+)"', content)


def api_ids(client, query):
    response = client.get("/api/v1/datasets/" + query)
    assert response.status_code == 200, response.content
    return [d["id"] for d in response.json()["results"]]


@pytest.mark.parametrize(
    "query, names",
    [
        ("", ["bravo", "charlie", "movie reviews", "alpha", "delta"]),
        ("?ordering=name", ["alpha", "bravo", "charlie", "delta", "movie reviews"]),
        ("?ordering=-total_bytes", ["bravo", "delta", "movie reviews", "charlie", "alpha"]),
        ("?ordering=created_at", ["delta", "alpha", "movie reviews", "charlie", "bravo"]),
        ("?status=ready&ordering=total_bytes", ["charlie", "movie reviews", "delta"]),
        ("?source=local", ["charlie"]),
        ("?search=IMDB", ["movie reviews"]),
        ("?search=acme&status=ready", ["delta"]),
        ("?page_size=2", ["bravo", "charlie"]),
        ("?page_size=2&page=2", ["movie reviews", "alpha"]),
        ("?page_size=2&ordering=name&status=ready", ["charlie", "delta"]),
    ],
)
def test_page_and_api_list_the_same_datasets(logged_in, api_client, catalog, query, names):
    by_name = {d.name: str(d.pk) for d in catalog}
    expected = [by_name[name] for name in names]
    assert api_ids(api_client, query) == expected
    assert page_ids(logged_in, query) == expected


@pytest.mark.parametrize(
    "query, field", [("?status=done", "status"), ("?source=ftp", "source"), ("?ordering=secret_field", "ordering")]
)
def test_page_and_api_refuse_the_same_bad_values_naming_the_parameter(logged_in, api_client, catalog, query, field):
    api = api_client.get("/api/v1/datasets/" + query)
    assert api.status_code == 400
    message = api.json()[field][0]
    page = logged_in.get("/" + query)
    assert page.status_code == 400
    assert f"{field}: {message}" in re.sub(r"\s+", " ", page.content.decode())


@pytest.mark.parametrize("value, size", [("", 25), ("7", 7), ("100", 100), ("1000", 100), ("0", 25), ("x", 25)])
def test_page_size_is_bounded(value, size):
    assert filters.page_size({"page_size": value}) == size


def test_api_page_size_is_bounded_like_the_page(api_client, make_dataset):
    for i in range(filters.MAX_PAGE_SIZE + 5):
        make_dataset(name=f"set {i}", request_key=str(i))
    assert len(api_client.get("/api/v1/datasets/?page_size=1000").json()["results"]) == filters.MAX_PAGE_SIZE
    assert len(api_client.get("/api/v1/datasets/").json()["results"]) == filters.DEFAULT_PAGE_SIZE


def test_list_filters_do_not_hide_a_dataset_from_its_own_url(api_client, make_dataset):
    dataset = make_dataset(status=S.READY)
    assert api_client.get(f"/api/v1/datasets/{dataset.pk}/?status=failed").status_code == 200
