"""The web pages: login, datasets list, download and import forms, detail with rows, storage, errors."""

import html
import re
import uuid

import datasets
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog import browse, storage
from catalog.models import Dataset
from catalog.templatetags import catalog_tags
from tests import test_api
from tests.fixtures import add_datasets

pytestmark = pytest.mark.django_db

# The API's bad values (tests/test_api.py), so the form and the API refuse the same things.
API_BAD_VALUES = test_api.test_download_rejects_bad_input_naming_the_field.pytestmark[0].args[1]

FEATURES = datasets.Features(
    {
        "id": datasets.Value("int64"),
        "text": datasets.Value("string"),
        "blob": datasets.Value("binary"),
        "meta": {"tag": datasets.Value("string"), "values": datasets.Sequence(datasets.Value("int32"))},
    }
)
LONG_TEXT = "Once upon a time " * 100  # 1,700 characters
HTML_TEXT = "<script>alert('x')</script><b>bold</b>"


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def ready_dataset(make_dataset, user):
    """A ready dataset with 60 real rows on disk: long text, HTML, binary and nested values."""
    dataset = make_dataset(
        name="acme/multi train",
        owner=user,
        status=Dataset.Status.READY,
        config={"subset": "extra", "split": "train", "revision": "main", "max_samples": 60},
        resolved_revision="0123456789abcdef0123456789abcdef01234567",
        total_bytes=123_456,
        downloaded_bytes=123_456,
        total_samples=60,
        size_on_disk=98_765,
    )
    texts = [f"row {i}" for i in range(60)]
    texts[1] = LONG_TEXT
    texts[2] = HTML_TEXT
    path = storage.arrow_dir(dataset.pk)
    datasets.Dataset.from_dict(
        {
            "id": list(range(60)),
            "text": texts,
            "blob": [bytes(1500) if i == 3 else None for i in range(60)],
            "meta": [{"tag": f"<i>t{i}</i>", "values": [i, i + 1]} for i in range(60)],
        },
        features=FEATURES,
    ).save_to_disk(str(path))
    dataset.features = [
        {"name": "id", "type": "Value('int64')"},
        {"name": "text", "type": "Value('string')"},
        {"name": "blob", "type": "Value('binary')"},
        {"name": "meta", "type": "{'tag': Value('string'), 'values': List(Value('int32'))}"},
    ]
    dataset.column_stats = browse.compute_column_stats(path)
    dataset.local_path = str(path)
    dataset.save()
    return dataset


def text_of(response):
    """The page's visible text, roughly: tags dropped, entities decoded, whitespace collapsed."""
    body = re.sub(r"<(script|style|template)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def cards(response):
    """Ids of the dataset cards on a page, in order (not the blank one inside <template>)."""
    content = re.sub(r"<template\b.*?</template>", "", response.content.decode(), flags=re.S)
    return re.findall(r'<article class="card dataset-card" data-dataset-id="([0-9a-f-]+)"', content)


# ------------------------------------------------------------------------------------ login


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/datasets/new/",
        "/datasets/import/",
        "/storage/",
        f"/datasets/{uuid.uuid4()}/",
        f"/datasets/{uuid.uuid4()}/delete/",
    ],
)
def test_pages_need_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("action", ["cancel", "retry", "delete"])
def test_actions_need_login(client, make_dataset, action):
    dataset = make_dataset(status=Dataset.Status.DOWNLOADING)
    response = client.post(f"/datasets/{dataset.pk}/{action}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Dataset.objects.get(pk=dataset.pk).status == Dataset.Status.DOWNLOADING


def test_login_page_and_logging_in(client, user):
    page = client.get("/accounts/login/?next=/storage/")
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content
    assert b'name="next" value="/storage/"' in page.content
    bad = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert bad.status_code == 200
    assert "Please enter a correct username and password" in text_of(bad)
    good = client.post("/accounts/login/", {"username": "alice", "password": "wonderland-42", "next": "/storage/"})
    assert good.status_code == 302 and good["Location"] == "/storage/"


def test_logout_is_a_post_form(logged_in):
    page = logged_in.get("/")
    assert re.search(r'<form method="post" action="/accounts/logout/"', page.content.decode())
    assert logged_in.get("/accounts/logout/").status_code == 405
    response = logged_in.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert logged_in.get("/").status_code == 302


def test_base_layout_has_navigation_and_static_files(logged_in):
    page = logged_in.get("/")
    content = page.content.decode()
    for url in ("/datasets/new/", "/datasets/import/", "/storage/"):
        assert f'href="{url}"' in content
    assert "/static/css/app.css" in content and "/static/js/app.js" in content
    assert 'aria-current="page">Datasets<' in content
    # No CDN: every script and stylesheet is served from /static/.
    assert not re.search(r'(src|href)="https?://', content)


# ------------------------------------------------------------------------------- datasets list


def test_list_renders_a_card_per_dataset(logged_in, make_dataset):
    downloading = make_dataset(
        name="Movie reviews",
        repo_id="stanfordnlp/imdb",
        status=Dataset.Status.DOWNLOADING,
        config={"subset": "plain_text", "split": "test", "revision": "", "max_samples": None},
        downloaded_bytes=512 * 1024,
        total_bytes=2 * 1024 * 1024,
    )
    failed = make_dataset(name="Broken", status=Dataset.Status.FAILED, error_message="The Hub said no.")
    page = logged_in.get("/")
    assert page.status_code == 200
    assert set(cards(page)) == {str(downloading.pk), str(failed.pk)}
    text = text_of(page)
    assert "Movie reviews" in text and "stanfordnlp/imdb" in text and "plain_text" in text and "test" in text
    assert "512.0 KB of 2.0 MB" in text and "25.0%" in text
    assert "The Hub said no." in text
    content = page.content.decode()
    assert 'data-status="downloading">Downloading</span>' in content
    assert '<progress max="100" data-field="progress"' in content and 'value="25.0"' in content
    # Cancel shows for the active one, Retry for the failed one; Delete for both.
    cancel = re.search(rf'action="/datasets/{downloading.pk}/cancel/" data-action="cancel"( hidden)?>', content)
    retry = re.search(rf'action="/datasets/{downloading.pk}/retry/" data-action="retry"( hidden)?>', content)
    assert cancel.group(1) is None and retry.group(1) == " hidden"
    retry = re.search(rf'action="/datasets/{failed.pk}/retry/" data-action="retry"( hidden)?>', content)
    assert retry.group(1) is None
    assert re.sub(r"<template\b.*?</template>", "", content, flags=re.S).count('data-action="delete"') == 2
    # The WebSocket path and a card template for datasets created later.
    assert 'data-live-path="/ws/datasets/"' in content
    assert '<template id="dataset-card-template">' in content and "/static/js/live.js" in content


def test_list_escapes_html_in_names(logged_in, make_dataset):
    make_dataset(name="<img src=x onerror=alert(1)>")
    content = logged_in.get("/").content.decode()
    assert "<img src=x" not in content
    assert "&lt;img src=x onerror=alert(1)&gt;" in content


def test_list_filters_by_status_and_search(logged_in, make_dataset):
    ready = make_dataset(name="Ready one", repo_id="acme/ready", status=Dataset.Status.READY)
    failed = make_dataset(name="Failed one", repo_id="acme/failed", status=Dataset.Status.FAILED)
    imdb = make_dataset(name="Movie reviews", repo_id="stanfordnlp/imdb", status=Dataset.Status.READY)
    assert set(cards(logged_in.get("/?status=ready"))) == {str(ready.pk), str(imdb.pk)}
    assert cards(logged_in.get("/?status=failed")) == [str(failed.pk)]
    assert cards(logged_in.get("/?search=IMDB")) == [str(imdb.pk)]
    assert cards(logged_in.get("/?search=movie&status=ready")) == [str(imdb.pk)]
    assert cards(logged_in.get("/?search=movie&status=failed")) == []
    # An unknown status is refused as the API refuses it: a 400 naming the parameter.
    bogus = logged_in.get("/?status=bogus")
    assert bogus.status_code == 400 and cards(bogus) == []
    assert "status: Select a valid choice. bogus is not one of the available choices." in text_of(bogus)
    tabs = text_of(logged_in.get("/"))
    assert "All 3" in tabs and "Ready 2" in tabs and "Failed 1" in tabs and "Pending 0" in tabs


def test_list_is_paginated(logged_in, make_dataset):
    made = [make_dataset(name=f"set {i:02d}", request_key=str(i)) for i in range(30)]
    first = logged_in.get("/")
    assert cards(first) == [str(d.pk) for d in reversed(made)][:25]
    assert 'href="?page=2"' in first.content.decode()
    second = logged_in.get("/?page=2")
    assert cards(second) == [str(d.pk) for d in reversed(made)][25:]
    # A page past the end is a 404, as ListView does.
    assert logged_in.get("/?page=9").status_code == 404
    # Filters are kept in the page links.
    filtered = logged_in.get("/?status=pending").content.decode()
    assert 'href="?status=pending&amp;page=2"' in filtered


@pytest.mark.parametrize("query", ["", "status=ready", "status=failed", "status=failed&search=set-1", "source=local"])
def test_list_page_count_is_that_of_the_filter(logged_in, query):
    from django.http import QueryDict

    from catalog import filters

    add_datasets(60, prefix="count/")  # mixed statuses
    page = logged_in.get("/?" + query)
    assert page.status_code == 200
    expected = filters.DatasetFilter(QueryDict(query), queryset=Dataset.objects.all()).qs.count()
    assert page.context["page_obj"].paginator.count == expected
    assert expected > 0 or "source" in query


def test_list_empty_state(logged_in):
    page = logged_in.get("/")
    assert cards(page) == []
    text = text_of(page)
    assert "No datasets yet" in text
    assert re.search(r'<div class="empty-state" data-empty>', page.content.decode())


def test_list_empty_state_for_a_filter(logged_in, make_dataset):
    make_dataset(status=Dataset.Status.READY)
    text = text_of(logged_in.get("/?status=failed&search=zzz"))
    assert "Nothing matches" in text and "is failed" in text and "zzz" in text and "Show all datasets" in text


def test_list_shows_free_space_and_delete_sizes(logged_in, make_dataset, monkeypatch):
    monkeypatch.setattr(storage, "free_space", lambda: 5 * 1024**3)
    dataset = make_dataset(status=Dataset.Status.READY, size_on_disk=3 * 1024 * 1024)
    page = logged_in.get("/")
    assert "5.0 GB free on the data volume" in text_of(page)
    assert f'data-disk-used="{3 * 1024 * 1024}"' in page.content.decode()
    assert cards(page) == [str(dataset.pk)]


# --------------------------------------------------------------------------------- download form


def test_download_form_renders_text_inputs(logged_in):
    page = logged_in.get("/datasets/new/")
    assert page.status_code == 200
    content = page.content.decode()
    for name in ("repo_id", "revision", "subset", "split", "max_samples", "name"):
        assert f'name="{name}"' in content
    # Subset and split are text inputs without JavaScript; download.js upgrades them.
    assert re.search(r'<input type="text" name="subset"', content)
    assert re.search(r'<input type="text" name="split" value="train"', content)
    assert 'data-hub-url="/api/v1/hub/"' in content and "/static/js/download.js" in content


@pytest.mark.parametrize("field, value", API_BAD_VALUES)
def test_download_form_names_the_field_of_each_bad_value(logged_in, field, value):
    data = {"repo_id": "acme/multi", "split": "train", field: value}
    response = logged_in.post("/datasets/new/", data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field], errors
    # The message is shown next to its field.
    content = response.content.decode()
    box = re.search(rf'data-errors-for="{field}" role="alert">(.*?)</div>', content, re.S).group(1)
    assert html.escape(errors[field][0], quote=True) in box
    assert Dataset.objects.count() == 0


def test_download_starts_and_redirects_to_the_detail_page(logged_in, user, fake_hub):
    response = logged_in.post(
        "/datasets/new/", {"repo_id": " acme/multi ", "subset": "extra", "split": "test", "max_samples": "5"}
    )
    dataset = Dataset.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/datasets/{dataset.pk}/"
    assert dataset.repo_id == "acme/multi" and dataset.owner == user
    assert dataset.config == {"subset": "extra", "split": "test", "revision": "", "max_samples": 5}
    page = logged_in.get(response["Location"])
    assert "Queued acme/multi [extra] test (first 5)" in text_of(page)


def test_download_of_an_existing_dataset_says_so_and_links_to_it(logged_in, fake_hub, make_dataset):
    from catalog import services

    existing, _ = services.request_download("acme/multi", split="train")
    response = logged_in.post("/datasets/new/", {"repo_id": "acme/multi", "split": "train"}, follow=True)
    assert Dataset.objects.count() == 1
    assert response.redirect_chain[-1][0] == f"/datasets/{existing.pk}/"
    content = response.content.decode()
    assert "already in the catalog (pending)" in text_of(response)
    assert f'<a href="/datasets/{existing.pk}/">acme/multi train</a>' in content


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"repo_id": "acme/missing"}, "repo_id", "not found"),
        ({"repo_id": "acme/private"}, "repo_id", "token"),
        ({"repo_id": "acme/multi", "revision": "no-such-branch"}, "revision", "no-such-branch"),
        ({"repo_id": "acme/multi", "subset": "nope"}, "subset", "Available: default, extra"),
        ({"repo_id": "acme/multi", "split": "validation"}, "split", "Available: train, test"),
    ],
)
def test_download_form_reports_hub_refusals_next_to_the_field(logged_in, fake_hub, data, field, words):
    response = logged_in.post("/datasets/new/", {"split": "train", **data})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field], errors
    assert words in errors[field][0]
    assert Dataset.objects.count() == 0


def test_unreachable_hub_is_a_clear_message_not_a_stack_trace(logged_in, fake_hub, settings):
    settings.HFD_MAX_FAULT_RETRIES = 1
    fake_hub.fail("acme/multi", status=503, times=10)
    response = logged_in.post("/datasets/new/", {"repo_id": "acme/multi", "split": "train"})
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert errors and "HTTP 503" in errors[0]
    text = text_of(response)
    assert "HTTP 503" in text and "Traceback" not in text
    assert Dataset.objects.count() == 0


def test_unexpected_error_while_checking_the_hub_is_a_message(logged_in, monkeypatch):
    from catalog import hub

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(hub, "resolve_revision", broken)
    response = logged_in.post("/datasets/new/", {"repo_id": "acme/multi", "split": "train"})
    assert response.status_code == 200
    assert "could not be checked on the Hub" in response.context["form"].non_field_errors()[0]
    assert "internal detail" not in text_of(response)
    assert Dataset.objects.count() == 0


def test_a_stale_csrf_token_gets_a_page_that_says_what_to_do(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/datasets/new/", {"repo_id": "acme/multi", "split": "train"})
    assert response.status_code == 403
    assert "expired or missing security token" in text_of(response)


# ----------------------------------------------------------------------------------- import form


def test_import_form_renders(logged_in, settings, tmp_path):
    settings.HFD_IMPORT_ROOTS = [tmp_path]
    content = logged_in.get("/datasets/import/").content.decode()
    assert 'enctype="multipart/form-data"' in content
    assert 'accept=".csv,.json,.jsonl,.parquet"' in content
    assert f"Under {tmp_path}." in content


def test_import_by_path_is_off_without_roots(logged_in, settings):
    settings.HFD_IMPORT_ROOTS = []
    page = logged_in.get("/datasets/import/")
    assert "Switched off" in text_of(page)
    assert re.search(r'<input[^>]*name="path"[^>]*disabled', page.content.decode())


def test_import_needs_a_file_or_a_path(logged_in):
    response = logged_in.post("/datasets/import/", {"name": "x"})
    assert response.status_code == 200
    assert "Choose a file to upload or give a path" in response.context["form"].non_field_errors()[0]


def test_import_upload_redirects_to_the_new_dataset(logged_in, user):
    upload = SimpleUploadedFile("people.csv", b"name,age\nann,3\n", content_type="text/csv")
    response = logged_in.post("/datasets/import/", {"file": upload, "name": ""})
    dataset = Dataset.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/datasets/{dataset.pk}/"
    assert dataset.source == Dataset.Source.LOCAL and dataset.name == "people.csv" and dataset.owner == user


def test_import_refuses_a_bad_file_type_on_the_file_field(logged_in):
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = logged_in.post("/datasets/import/", {"file": upload})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["file"] and "not a supported file" in errors["file"][0]
    assert Dataset.objects.count() == 0


@pytest.mark.parametrize(
    "make_path, words",
    [
        (lambda root, outside: str(outside / "x.csv"), "outside the allowed import folders"),
        (lambda root, outside: str(root / "missing.csv"), "does not exist"),
        (lambda root, outside: str(root / "x.exe"), "not a supported file"),
    ],
)
def test_import_refuses_bad_paths_on_the_path_field(logged_in, settings, tmp_path, make_path, words):
    root, outside = tmp_path / "imports", tmp_path / "elsewhere"
    root.mkdir(), outside.mkdir()
    (outside / "x.csv").write_text("a\n1\n")
    settings.HFD_IMPORT_ROOTS = [root]
    response = logged_in.post("/datasets/import/", {"path": make_path(root, outside)})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["path"] and words in errors["path"][0]


def test_import_by_path_under_a_root(logged_in, settings, tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n')
    settings.HFD_IMPORT_ROOTS = [tmp_path]
    response = logged_in.post("/datasets/import/", {"path": str(tmp_path / "rows.jsonl"), "name": "My rows"})
    dataset = Dataset.objects.get()
    assert response["Location"] == f"/datasets/{dataset.pk}/"
    assert dataset.name == "My rows"


# ----------------------------------------------------------------------------------- detail page


def test_detail_shows_metadata_columns_and_stats(logged_in, ready_dataset):
    page = logged_in.get(f"/datasets/{ready_dataset.pk}/")
    assert page.status_code == 200
    text = text_of(page)
    for expected in (
        "acme/multi train",
        "Hugging Face Hub",
        "acme/multi",
        "extra",
        "train",
        "Revision asked main",
        "0123456789abcdef0123456789abcdef01234567",
        "Max samples 60",
        "Rows 60",
        "Download size 120.6 KB",
        "On disk 96.5 KB",
        "by alice",
    ):
        assert expected in text, expected
    content = page.content.decode()
    # Columns with their types, and statistics by kind.
    assert "Value('binary')" in text and "List(Value('int32'))" in text
    columns = re.search(r'<table class="table columns-table">(.*?)</table>', content, re.S).group(1)
    id_row = text_of_fragment(re.search(r">id</th>(.*?)</tr>", columns, re.S).group(1))
    assert id_row.split() == ["Value('int64')", "60", "0", "0", "59", "29.5"]
    text_row = text_of_fragment(re.search(r">text</th>(.*?)</tr>", columns, re.S).group(1))
    assert "1,700 ch" in text_row
    blob_row = text_of_fragment(re.search(r">blob</th>(.*?)</tr>", columns, re.S).group(1))
    assert blob_row.split() == ["Value('binary')", "60", "59", "—"]


def text_of_fragment(fragment):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def test_detail_row_browser_renders_values_safely(logged_in, ready_dataset):
    page = logged_in.get(f"/datasets/{ready_dataset.pk}/")
    content = page.content.decode()
    rows = re.search(r'<table class="table rows-table">(.*?)</table>', content, re.S).group(1)
    # Header and the first page of 25 rows.
    assert [text_of_fragment(h) for h in re.findall(r'<th scope="col" class="mono">(.*?)</th>', rows)] == [
        "id",
        "text",
        "blob",
        "meta",
    ]
    assert len(re.findall(r"<tr>", rows)) == 1 + 25
    assert "Rows 0–24 of 60" in text_of(page)
    # Long text: a preview and an expand control, the full text behind it.
    assert '<details class="v-long v-text">' in rows
    assert "show all 1,700 characters" in rows
    assert LONG_TEXT[: catalog_tags.PREVIEW_CHARS] + "…" in rows
    assert LONG_TEXT.strip() in rows
    # HTML in the data is escaped, never rendered.
    assert HTML_TEXT not in content and "<i>t0</i>" not in content
    assert html.escape(HTML_TEXT) in rows
    # Binary: its size, not its bytes.
    assert 'class="v-binary"' in rows and "binary · 1.5\xa0KB" in rows
    # Nested: as JSON text, escaped.
    assert html.escape('{"tag": "<i>t3</i>", "values": [3, 4]}') in rows
    # Nulls are shown as such.
    assert '<span class="v-null">null</span>' in rows


def test_detail_pages_through_rows(logged_in, ready_dataset):
    page = logged_in.get(f"/datasets/{ready_dataset.pk}/?page=3")
    rows = re.search(r'<table class="table rows-table">(.*?)</table>', page.content.decode(), re.S).group(1)
    numbers = re.findall(r'<th scope="row" class="num muted">(\d+)</th>', rows)
    assert numbers == [str(i) for i in range(50, 60)]
    assert "Rows 50–59 of 60" in text_of(page)
    assert 'href="?page=2#rows"' in page.content.decode()
    # A bad page number falls back to a real page instead of an error.
    assert logged_in.get(f"/datasets/{ready_dataset.pk}/?page=abc").status_code == 200
    assert "Rows 50–59" in text_of(logged_in.get(f"/datasets/{ready_dataset.pk}/?page=99"))


def test_detail_of_a_very_long_value_links_to_the_json(logged_in, make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    datasets.Dataset.from_dict({"text": ["y" * 25_000]}).save_to_disk(str(storage.arrow_dir(dataset.pk)))
    content = logged_in.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "15,000 more characters" in content
    assert f'href="/api/v1/datasets/{dataset.pk}/rows/?offset=0&amp;limit=1"' in content
    assert "y" * 10_001 not in content


def test_detail_of_an_active_dataset_shows_live_progress(logged_in, make_dataset):
    dataset = make_dataset(status=Dataset.Status.DOWNLOADING, downloaded_bytes=3 * 1024**2, total_bytes=4 * 1024**2)
    page = logged_in.get(f"/datasets/{dataset.pk}/")
    content = page.content.decode()
    assert f'data-live-path="/ws/datasets/{dataset.pk}/"' in content
    assert re.search(r'<div class="progress-area" data-part="progress">', content)
    assert "3.0 MB of 4.0 MB" in text_of(page)
    assert "Rows can be browsed once the dataset is ready." in text_of(page)
    assert "Columns are known once the dataset is ready." in text_of(page)


def test_detail_shows_error_and_timing(logged_in, make_dataset):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    dataset = make_dataset(
        status=Dataset.Status.FAILED,
        error_message="Split 'x' does not exist.",
        started_at=now - timedelta(minutes=3, seconds=5),
        finished_at=now,
    )
    text = text_of(logged_in.get(f"/datasets/{dataset.pk}/"))
    assert "Split 'x' does not exist." in text
    assert "Duration 3 min 05 s" in text


def test_detail_of_a_ready_dataset_with_missing_files(logged_in, make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    page = logged_in.get(f"/datasets/{dataset.pk}/")
    assert page.status_code == 200
    assert "files are missing on disk" in text_of(page)


def test_unknown_dataset_is_the_404_page(logged_in):
    response = logged_in.get(f"/datasets/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert "Not found" in text_of(response) and "Back to the datasets" in text_of(response)
    assert logged_in.get("/datasets/not-a-uuid/").status_code == 404
    assert logged_in.get("/no/such/page/").status_code == 404


def test_server_error_is_the_500_page_without_details(user, monkeypatch):
    from catalog import views

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.DatasetListView, "get_context_data", boom)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 500
    text = text_of(response)
    assert "Something went wrong" in text
    assert "secret internals" not in text and "Traceback" not in text


# ----------------------------------------------------------------------------------- rows API


def test_rows_api(api_client, ready_dataset):
    body = api_client.get(f"/api/v1/datasets/{ready_dataset.pk}/rows/?offset=2&limit=2").json()
    assert body["count"] == 60 and body["offset"] == 2 and body["limit"] == 2
    assert body["columns"] == ["id", "text", "blob", "meta"]
    assert body["rows"] == [
        {"id": 2, "text": HTML_TEXT, "blob": None, "meta": {"tag": "<i>t2</i>", "values": [2, 3]}},
        {
            "id": 3,
            "text": "row 3",
            "blob": {"binary": True, "size": 1500},
            "meta": {"tag": "<i>t3</i>", "values": [3, 4]},
        },
    ]
    # Defaults, the maximum limit, past the end, and long text in full.
    body = api_client.get(f"/api/v1/datasets/{ready_dataset.pk}/rows/").json()
    assert (body["offset"], body["limit"], len(body["rows"])) == (0, 50, 50)
    assert body["rows"][1]["text"] == LONG_TEXT
    assert len(api_client.get(f"/api/v1/datasets/{ready_dataset.pk}/rows/?limit=500").json()["rows"]) == 60
    assert api_client.get(f"/api/v1/datasets/{ready_dataset.pk}/rows/?offset=100").json()["rows"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("offset=1.5", "offset"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
    ],
)
def test_rows_api_rejects_bad_paging_naming_the_field(api_client, ready_dataset, query, field):
    response = api_client.get(f"/api/v1/datasets/{ready_dataset.pk}/rows/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [field] and response.json()[field][0]


def test_rows_api_conflict_when_not_ready_and_404_when_unknown(api_client, make_dataset):
    dataset = make_dataset(status=Dataset.Status.DOWNLOADING)
    response = api_client.get(f"/api/v1/datasets/{dataset.pk}/rows/")
    assert response.status_code == 409
    assert "downloading" in response.json()["detail"]
    assert api_client.get(f"/api/v1/datasets/{uuid.uuid4()}/rows/").status_code == 404


def test_rows_api_needs_login(client, ready_dataset):
    assert client.get(f"/api/v1/datasets/{ready_dataset.pk}/rows/").status_code == 401


# ------------------------------------------------------------------- actions without JavaScript


def test_cancel_and_retry_views(logged_in, make_dataset):
    dataset = make_dataset(status=Dataset.Status.DOWNLOADING)
    response = logged_in.post(f"/datasets/{dataset.pk}/cancel/", {"next": "/?status=downloading"})
    assert response.status_code == 302 and response["Location"] == "/?status=downloading"
    assert Dataset.objects.get(pk=dataset.pk).status == Dataset.Status.CANCELLED
    # Cancelling again is refused with a message, not an error page.
    page = logged_in.post(f"/datasets/{dataset.pk}/cancel/", follow=True)
    assert "Only a pending, downloading or processing dataset can be cancelled" in text_of(page)
    response = logged_in.post(f"/datasets/{dataset.pk}/retry/")
    assert response["Location"] == f"/datasets/{dataset.pk}/"
    assert Dataset.objects.get(pk=dataset.pk).status == Dataset.Status.PENDING
    assert logged_in.get(f"/datasets/{dataset.pk}/cancel/").status_code == 405


def test_actions_refuse_an_outside_next(logged_in, make_dataset):
    dataset = make_dataset(status=Dataset.Status.DOWNLOADING)
    response = logged_in.post(f"/datasets/{dataset.pk}/cancel/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/datasets/{dataset.pk}/"


def test_delete_confirmation_shows_the_space_freed(logged_in, make_dataset):
    dataset = make_dataset(status=Dataset.Status.FAILED)
    folder = storage.downloads_dir(dataset.pk)
    folder.mkdir(parents=True)
    (folder / "part.parquet.partial").write_bytes(b"x" * 3000)
    page = logged_in.get(f"/datasets/{dataset.pk}/delete/")
    assert "This frees 2.9 KB on disk" in text_of(page)
    response = logged_in.post(f"/datasets/{dataset.pk}/delete/", {"next": f"/datasets/{dataset.pk}/"})
    # Back to the list, not to the page of the dataset that is gone.
    assert response.status_code == 302 and response["Location"] == "/"
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not storage.dataset_dir(dataset.pk).exists()
    assert "Deleted acme/multi train." in text_of(logged_in.get("/"))
    assert logged_in.post(f"/datasets/{dataset.pk}/delete/").status_code == 404


# ------------------------------------------------------------------------------------- storage


def test_storage_page_numbers(logged_in, make_dataset, monkeypatch):
    monkeypatch.setattr(storage, "free_space", lambda: 10 * 1024**3)
    make_dataset(name="Big", status=Dataset.Status.READY, size_on_disk=3 * 1024**2)
    # A partial download's files hold what it downloaded: the totals count that (no folder walks).
    partial = make_dataset(name="Partial", status=Dataset.Status.CANCELLED, downloaded_bytes=1024**2)
    folder = storage.downloads_dir(partial.pk)
    folder.mkdir(parents=True)
    (folder / "a.partial").write_bytes(b"x" * 1024**2)
    page = logged_in.get("/storage/")
    assert page.status_code == 200
    text = text_of(page)
    assert "Used by datasets 4.0 MB" in text
    assert "Free on the data volume 10.0 GB" in text
    content = page.content.decode()
    table = re.search(r'<table class="table storage-table">(.*?)</table>', content, re.S).group(1)
    assert [text_of_fragment(n) for n in re.findall(r'<th scope="row"><a [^>]*>(.*?)</a>', table)] == ["Big", "Partial"]
    assert "3.0 MB 75%" in text_of_fragment(table) and "1.0 MB 25%" in text_of_fragment(table)
    # The delete buttons know what they free.
    assert f'data-disk-used="{3 * 1024**2}"' in content and f'data-disk-used="{1024**2}"' in content


def test_storage_page_is_paginated_biggest_first_with_totals_of_all(logged_in, make_dataset):
    for i in range(55):
        make_dataset(name=f"set-{i:02}", status=Dataset.Status.READY, size_on_disk=1000 + i)
    first, second = logged_in.get("/storage/"), logged_in.get("/storage/?page=2")

    def names(response):
        table = re.search(r'<table class="table storage-table">(.*?)</table>', response.content.decode(), re.S)
        return [text_of_fragment(n) for n in re.findall(r'<th scope="row"><a [^>]*>(.*?)</a>', table.group(1))]

    assert names(first) == [f"set-{i:02}" for i in range(54, 4, -1)]
    assert names(second) == [f"set-{i:02}" for i in range(4, -1, -1)]
    total = sum(1000 + i for i in range(55))
    for response in (first, second):
        assert f'data-storage-total="{total}"' in response.content.decode()
        assert "55 datasets" in text_of(response)
    assert 'rel="next"' in first.content.decode() and 'rel="prev"' in second.content.decode()


def test_storage_empty_state(logged_in):
    text = text_of(logged_in.get("/storage/"))
    assert "Nothing stored yet" in text and "Used by datasets 0 bytes" in text
