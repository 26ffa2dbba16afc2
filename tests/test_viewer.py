"""catalog.viewer: filtered, searched and sorted pages read in place by DuckDB; column statistics; the API and page."""

import datetime
import html
import re

import datasets
import pytest

from catalog import storage
from catalog.models import Dataset
from catalog.viewer import params, query, source, stats

pytestmark = pytest.mark.django_db

N = 60
FEATURES = datasets.Features(
    {
        "id": datasets.Value("int64"),
        "score": datasets.Value("float64"),
        "text": datasets.Value("string"),
        "label": datasets.ClassLabel(names=["neg", "pos", "neutral"]),
        "flag": datasets.Value("bool"),
        "when": datasets.Value("timestamp[s]"),
        "meta": {"tag": datasets.Value("string")},
        'odd "name": here': datasets.Value("int32"),
    }
)


def data():
    return {
        "id": list(range(N)),
        "score": [None if i % 5 == 0 else i * 0.5 for i in range(N)],
        "text": [None if i % 7 == 0 else ("Apple pie" if i % 3 == 0 else f"row {i} 100%_done") for i in range(N)],
        "label": [i % 3 for i in range(N)],
        "flag": [i % 2 == 0 for i in range(N)],
        "when": [datetime.datetime(2024, 1, 1) + datetime.timedelta(days=i) for i in range(N)],
        "meta": [{"tag": f"t{i}"} for i in range(N)],
        'odd "name": here': [i % 4 for i in range(N)],
    }


EXPECTED = [dict(zip(data(), values)) for values in zip(*data().values())]


@pytest.fixture
def ready(make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    path = storage.arrow_dir(dataset.pk)
    datasets.Dataset.from_dict(data(), features=FEATURES).save_to_disk(str(path), num_shards=3)
    dataset.features = [{"name": name, "type": str(feature)} for name, feature in FEATURES.items()]
    dataset.column_stats = stats.compute_column_stats(path)
    dataset.local_path = str(path)
    dataset.save()
    return dataset


def view_of(ready, **request):
    path = storage.arrow_dir(ready.pk)
    table = source.open_table(path)
    given = {k: v if isinstance(v, list) else [v] for k, v in request.items()}
    return table, params.parse(given, table.schema, source.features(path))


def ids(ready, offset=0, limit=100, **request):
    table, view = view_of(ready, **request)
    result = query.run(table, view, offset, limit)
    assert result.indices == [row["id"] for row in result.rows]
    return result.matched, result.indices


def expected_ids(keep, key=None, reverse=False):
    rows = [r for r in EXPECTED if keep(r)]
    if key:
        present = sorted((r for r in rows if key(r) is not None), key=key, reverse=reverse)
        rows = present + [r for r in rows if key(r) is None]  # nulls last, both ways
    return len(rows), [r["id"] for r in rows]


# ------------------------------------------------------------------------------------- queries


def test_the_table_is_memory_mapped_not_copied(ready):
    table = source.open_table(storage.arrow_dir(ready.pk))
    assert table.num_rows == N
    # The buffers live in the file mapping: pyarrow's allocator holds none of them.
    import pyarrow as pa

    before = pa.total_allocated_bytes()
    source.forget(storage.arrow_dir(ready.pk))
    source.open_table(storage.arrow_dir(ready.pk))
    assert pa.total_allocated_bytes() - before < 10_000


def test_rows_api_opens_the_files_once_per_process_and_a_delete_forgets_them(api_client, ready):
    from catalog import services

    path = storage.arrow_dir(ready.pk)
    url = f"/api/v1/datasets/{ready.pk}/rows/"
    assert api_client.get(url, {"limit": 2}).json()["total"] == N
    opened = source._cache[str(path)][1]
    assert api_client.get(url, {"offset": 10, "limit": 2, "sort": "score"}).status_code == 200
    assert source._cache[str(path)][1] is opened  # the same memory-mapped table, not opened again
    services.delete(Dataset.objects.get(pk=ready.pk))
    assert str(path) not in source._cache and not path.exists()


def test_a_rebuilt_dataset_is_opened_again_and_the_cache_is_bounded(make_dataset, ready, monkeypatch):
    path = storage.arrow_dir(ready.pk)
    first = source.open_table(path)
    # A retry publishes a new folder in place of the old one (storage.publish_dir).
    rebuilt = storage.new_temp_dir(path)
    datasets.Dataset.from_dict({"id": [1, 2]}).save_to_disk(str(rebuilt))
    storage.publish_dir(rebuilt, path)
    second = source.open_table(path)
    assert second is not first and second.num_rows == 2

    monkeypatch.setattr(source, "CACHE_SIZE", 2)
    others = []
    for _ in range(2):
        other = make_dataset(status=Dataset.Status.READY)
        datasets.Dataset.from_dict({"id": [0]}).save_to_disk(str(storage.arrow_dir(other.pk)))
        others.append(source.open_table(storage.arrow_dir(other.pk)))
    # The least recently used one went; the other two stay.
    assert str(path) not in source._cache and len(source._cache) == 2


def test_plain_view_is_the_stored_order(ready):
    assert ids(ready, 10, 5) == (N, [10, 11, 12, 13, 14])
    assert ids(ready, 58, 10) == (N, [58, 59])
    assert ids(ready, 100, 10) == (N, [])


@pytest.mark.parametrize(
    "request_params, keep",
    [
        ({"filter": "label:eq:pos"}, lambda r: r["label"] == 1),
        ({"filter": "label:eq:2"}, lambda r: r["label"] == 2),
        ({"filter": "label:ne:neg"}, lambda r: r["label"] != 0),
        ({"filter": ["score:gte:10", "score:lt:20"]}, lambda r: r["score"] is not None and 10 <= r["score"] < 20),
        ({"filter": "score:null"}, lambda r: r["score"] is None),
        ({"filter": "text:notnull"}, lambda r: r["text"] is not None),
        ({"filter": "flag:eq:false"}, lambda r: r["flag"] is False),
        ({"filter": "text:eq:Apple pie"}, lambda r: r["text"] == "Apple pie"),
        ({"filter": "when:gte:2024-02-15"}, lambda r: r["when"] >= datetime.datetime(2024, 2, 15)),
        ({"filter": 'odd "name": here:eq:3'}, lambda r: r['odd "name": here'] == 3),
        ({"filter": "meta:notnull"}, lambda r: True),
        ({"q": "APPLE"}, lambda r: r["text"] is not None and "apple" in r["text"].lower()),
        # % and _ are plain characters in a search, not LIKE wildcards.
        ({"q": "100%_d"}, lambda r: r["text"] is not None and "100%_d" in r["text"]),
        ({"q": "%"}, lambda r: r["text"] is not None and "%" in r["text"]),
        ({"q": "no such text"}, lambda r: False),
    ],
)
def test_filters_and_search_select_exactly_the_right_rows(ready, request_params, keep):
    assert ids(ready, **request_params) == expected_ids(keep)


@pytest.mark.parametrize("column", ["id", "score", "text", "when", 'odd "name": here'])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_by_any_column_nulls_last_ties_in_stored_order(ready, column, order):
    matched, got = ids(ready, sort=column, order=order)
    values = {r["id"]: r[column] for r in EXPECTED}
    present = [i for i in got if values[i] is not None]
    assert got[len(present) :] == sorted(i for i in got if values[i] is None)
    keyed = [(values[i], i) for i in present]
    if order == "asc":
        assert keyed == sorted(keyed)
    else:
        assert [v for v, _ in keyed] == sorted((v for v, _ in keyed), reverse=True)
    assert matched == N and sorted(got) == list(range(N))


def test_sort_filter_search_and_paging_together(ready):
    request = {"filter": "label:eq:pos", "q": "row", "sort": "score", "order": "desc"}
    total, everything = expected_ids(
        lambda r: r["label"] == 1 and r["text"] is not None and "row" in r["text"],
        key=lambda r: r["score"],
        reverse=True,
    )
    assert ids(ready, **request) == (total, everything)
    assert ids(ready, offset=3, limit=4, **request) == (total, everything[3:7])


@pytest.mark.parametrize(
    "request_params, field, words",
    [
        ({"sort": "nope"}, "sort", "Unknown column 'nope'"),
        ({"order": "sideways"}, "order", "asc or desc"),
        ({"filter": "nope:eq:1"}, "filter", "unknown column"),
        ({"filter": "score:like:1"}, "filter", "Unknown operator 'like'"),
        ({"filter": "score:gt:abc"}, "filter", "not a number"),
        ({"filter": "label:eq:maybe"}, "filter", "a whole number or a label name"),
        ({"filter": "id:eq:1.5"}, "filter", "whole number"),
        ({"filter": "flag:gt:true"}, "filter", "use eq or ne"),
        ({"filter": "flag:eq:perhaps"}, "filter", "true or false"),
        ({"filter": "when:gt:yesterday"}, "filter", "date and time"),
        ({"filter": "meta:eq:x"}, "filter", "only be filtered with null or notnull"),
        ({"filter": "id:eq:1; DROP TABLE t"}, "filter", "whole number"),
        ({"q": "x" * 201}, "q", "at most 200"),
    ],
)
def test_bad_parameters_name_the_field(ready, request_params, field, words):
    with pytest.raises(params.BadQuery) as caught:
        view_of(ready, **request_params)
    assert caught.value.field == field and words in caught.value.message


def test_a_quote_in_a_value_is_data_not_sql(ready):
    assert ids(ready, filter="text:eq:x' OR '1'='1") == (0, [])
    assert ids(ready, q="' OR 1=1 --") == (0, [])


def test_view_round_trips_through_its_url_parameters(ready):
    request = {"filter": ["label:eq:pos", "score:null"], "q": "row", "sort": "text", "order": "desc"}
    table, view = view_of(ready, **request)
    again = {}
    for key, value in view.params():
        again.setdefault(key, []).append(value)
    assert again == {k: v if isinstance(v, list) else [v] for k, v in request.items()}


# ------------------------------------------------------------------------------------- statistics


def test_statistics_have_histograms_and_value_counts(ready):
    column_stats = ready.column_stats
    ids_hist = column_stats["id"]["histogram"]
    assert sum(ids_hist["counts"]) == N and len(ids_hist["counts"]) == stats.BINS
    assert ids_hist["edges"][0] == 0 and ids_hist["edges"][-1] == 59
    score = column_stats["score"]
    assert score["nulls"] == 12 and sum(score["histogram"]["counts"]) == N - 12
    # Few distinct whole numbers: one bar per value.
    odd = column_stats['odd "name": here']["histogram"]
    assert odd == {"edges": [0, 1, 2, 3, 4], "counts": [15, 15, 15, 15]}
    assert column_stats["label"]["values"] == [
        {"value": 0, "label": "neg", "count": 20},
        {"value": 1, "label": "pos", "count": 20},
        {"value": 2, "label": "neutral", "count": 20},
    ]
    assert column_stats["flag"]["values"] == [{"value": True, "count": 30}, {"value": False, "count": 30}]
    text = column_stats["text"]
    lengths = [len(r["text"]) for r in EXPECTED if r["text"] is not None]
    assert sum(text["histogram"]["counts"]) == len(lengths)
    assert text["histogram"]["edges"][0] == min(lengths)
    # Many distinct strings: no value counts.
    assert "values" not in text


def test_low_cardinality_strings_get_value_counts(make_dataset):
    path = storage.arrow_dir(make_dataset().pk)
    datasets.Dataset.from_dict({"colour": ["red", "blue", None, "red", "red", "green"]}).save_to_disk(str(path))
    colour = stats.compute_column_stats(path)["colour"]
    assert colour["values"] == [
        {"value": "red", "count": 3},
        {"value": "blue", "count": 1},
        {"value": "green", "count": 1},
    ]
    assert colour["nulls"] == 1 and colour["distinct"] == 3


def test_statistics_of_odd_columns(make_dataset):
    path = storage.arrow_dir(make_dataset().pk)
    datasets.Dataset.from_dict(
        {"f": [1.0, float("nan"), float("inf"), None], "empty": [None] * 4, "same": [7, 7, 7, 7]}
    ).save_to_disk(str(path))
    result = stats.compute_column_stats(path)
    assert result["f"]["histogram"] is None  # an infinite max has no equal-width bins
    assert result["empty"] == {"kind": "other", "rows": 4, "nulls": 4}
    assert result["same"]["histogram"] == {"edges": [7, 8], "counts": [4]}


def test_statistics_of_an_empty_dataset(make_dataset):
    path = storage.arrow_dir(make_dataset().pk)
    datasets.Dataset.from_dict({"a": []}, features=datasets.Features({"a": datasets.Value("int64")})).save_to_disk(
        str(path)
    )
    assert stats.compute_column_stats(path)["a"]["rows"] == 0


# ------------------------------------------------------------------------------------- the API


def test_rows_api_filters_sorts_and_searches(api_client, ready):
    url = f"/api/v1/datasets/{ready.pk}/rows/"
    body = api_client.get(url, {"filter": ["label:eq:pos", "score:notnull"], "sort": "score", "order": "desc"}).json()
    total, expected = expected_ids(lambda r: r["label"] == 1 and r["score"] is not None, key=lambda r: r["score"])
    assert body["count"] == total and body["total"] == N
    assert body["indices"] == expected[::-1][:50]
    assert [r["id"] for r in body["rows"]] == body["indices"]
    assert body["rows"][0] == {
        **{k: v for k, v in EXPECTED[expected[-1]].items()},
        "when": EXPECTED[expected[-1]]["when"].isoformat(),
    }
    body = api_client.get(url, {"q": "apple", "offset": 2, "limit": 3}).json()
    assert body["indices"] == expected_ids(lambda r: r["text"] == "Apple pie")[1][2:5]


@pytest.mark.parametrize(
    "query_string, field",
    [("sort=nope", "sort"), ("filter=score:gt:x", "filter"), ("order=up", "order"), ("limit=0", "limit")],
)
def test_rows_api_bad_view_is_a_400_naming_the_field(api_client, ready, query_string, field):
    response = api_client.get(f"/api/v1/datasets/{ready.pk}/rows/?{query_string}")
    assert response.status_code == 400 and list(response.json()) == [field]


# ------------------------------------------------------------------------------------- the page


def rows_of_page(response):
    table = re.search(r'<table class="table rows-table">(.*?)</table>', response.content.decode(), re.S).group(1)
    return [int(n) for n in re.findall(r'<th scope="row" class="num muted">(\d+)</th>', table)]


def test_page_shows_the_view_in_the_url(client, user, ready):
    client.force_login(user)
    page = client.get(f"/datasets/{ready.pk}/", {"filter": "label:eq:pos", "sort": "id", "order": "desc", "size": 5})
    assert page.status_code == 200
    assert rows_of_page(page) == [58, 55, 52, 49, 46]
    content = html.unescape(page.content.decode())
    assert "Rows 0–4 of 20 matching (of 60)" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content))
    # Pages keep the view; the header links sort; the chip removes its filter.
    assert "page=2" in content and "filter=label%3Aeq%3Apos" in page.content.decode()
    assert 'data-sorted="desc"' in content
    # Class labels are shown with their names.
    assert '<span class="v-number">1</span><span class="v-label">pos</span>' in content
    assert 'href="?sort=id&amp;order=desc&amp;size=5#rows" aria-label="Remove filter label = pos"' in (
        page.content.decode()
    )


def test_page_add_filter_form_redirects_to_the_shareable_url(client, user, ready):
    client.force_login(user)
    response = client.get(
        f"/datasets/{ready.pk}/",
        {"q": "row", "filter": "flag:eq:true", "filter_column": "score", "filter_op": "gt", "filter_value": "5"},
    )
    assert response.status_code == 302
    assert response["Location"] == (f"/datasets/{ready.pk}/?q=row&filter=flag%3Aeq%3Atrue&filter=score%3Agt%3A5#rows")
    response = client.get(f"/datasets/{ready.pk}/", {"filter_column": "score", "filter_op": "null", "filter_value": ""})
    assert response["Location"].endswith("?filter=score%3Anull#rows")


def test_page_bad_view_is_a_400_that_names_the_field(client, user, ready):
    client.force_login(user)
    for query_string, field in (("filter=score:gt:x", "filter"), ("size=500", "size"), ("sort=nope", "sort")):
        page = client.get(f"/datasets/{ready.pk}/?{query_string}")
        assert page.status_code == 400
        assert f"Bad <code>{field}</code>" in page.content.decode()


def test_page_shows_charts_with_filter_links(client, user, ready):
    client.force_login(user)
    content = client.get(f"/datasets/{ready.pk}/").content.decode()
    assert content.count('data-chart="histogram"') >= 3  # id, score, text lengths, ...
    assert 'href="?filter=label%3Aeq%3A1#rows" title="pos: 20"' in content
    assert 'href="?filter=flag%3Aeq%3Atrue#rows" title="true: 30"' in content


def test_page_with_no_matching_rows(client, user, ready):
    client.force_login(user)
    page = client.get(f"/datasets/{ready.pk}/", {"q": "nothing like this"})
    assert page.status_code == 200 and 'data-part="no-match"' in page.content.decode()


def test_the_table_cache_follows_the_folder_on_disk(make_dataset):
    first, second = make_dataset(), make_dataset()
    for dataset, n in ((first, 3), (second, 4)):
        datasets.Dataset.from_dict({"a": list(range(n))}).save_to_disk(str(storage.arrow_dir(dataset.pk)))
    assert source.open_table(storage.arrow_dir(first.pk)).num_rows == 3
    # A rebuilt folder (a new inode) is read again.
    import shutil

    shutil.rmtree(storage.arrow_dir(first.pk))
    datasets.Dataset.from_dict({"a": list(range(5))}).save_to_disk(str(storage.arrow_dir(first.pk)))
    assert source.open_table(storage.arrow_dir(first.pk)).num_rows == 5
    # A deleted one is dropped from the cache (its mapping would hold the disk space).
    shutil.rmtree(storage.arrow_dir(first.pk))
    source.open_table(storage.arrow_dir(second.pk))
    assert str(storage.arrow_dir(first.pk)) not in source._cache


def test_manage_py_column_stats_adds_charts_to_older_datasets(ready, make_dataset):
    from django.core.management import call_command

    from catalog import browse

    old = browse.compute_column_stats(storage.arrow_dir(ready.pk))  # what the pipeline stored before charts
    Dataset.objects.filter(pk=ready.pk).update(column_stats=old)
    assert stats.needs_pictures(old) and not stats.needs_pictures(ready.column_stats)
    missing = make_dataset(status=Dataset.Status.READY, column_stats=old)
    call_command("column_stats")
    ready.refresh_from_db()
    assert ready.column_stats == stats.compute_column_stats(storage.arrow_dir(ready.pk))
    missing.refresh_from_db()
    assert missing.column_stats == old  # no Arrow folder: left as it was
