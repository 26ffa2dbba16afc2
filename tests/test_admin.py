import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Dataset


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-long-enough-1")
    client.force_login(admin)
    return client


def test_changelist_with_1000_datasets_uses_few_queries(admin_client_logged_in, django_user_model):
    owner = django_user_model.objects.create_user("bob")
    Dataset.objects.bulk_create(
        Dataset(
            name=f"set {i}",
            repo_id=f"acme/set{i}",
            owner=owner,
            total_bytes=10_000 * i,
            downloaded_bytes=5_000 * i,
            size_on_disk=123_456 if i % 2 else None,
            status=Dataset.Status.READY if i % 3 else Dataset.Status.FAILED,
        )
        for i in range(1000)
    )
    with CaptureQueriesContext(connection) as queries:
        response = admin_client_logged_in.get("/admin/catalog/dataset/?all=")
    assert response.status_code == 200
    assert b"set 999" in response.content
    assert b"120.6\xc2\xa0KB" in response.content  # human-readable size
    # Session, user, counts, the page, the filters: a constant, not one per row.
    assert len(queries) <= 12, [q["sql"] for q in queries]


def test_changelist_filters_and_search(admin_client_logged_in, make_dataset):
    make_dataset(name="alpha", repo_id="acme/alpha", status=Dataset.Status.READY)
    make_dataset(name="beta", repo_id="acme/beta", status=Dataset.Status.FAILED)
    body = admin_client_logged_in.get("/admin/catalog/dataset/?status__exact=failed").content
    assert b"beta" in body and b"alpha</a>" not in body
    body = admin_client_logged_in.get("/admin/catalog/dataset/?q=alpha").content
    assert b"alpha" in body and b"beta</a>" not in body


def test_change_page_shows_read_only_timestamps(admin_client_logged_in, make_dataset):
    dataset = make_dataset()
    response = admin_client_logged_in.get(f"/admin/catalog/dataset/{dataset.pk}/change/")
    assert response.status_code == 200
    assert b'name="created_at"' not in response.content
    assert b"Created at" in response.content


def test_admin_delete_removes_files(admin_client_logged_in, make_dataset):
    from catalog import storage

    dataset = make_dataset(status=Dataset.Status.READY)
    storage.arrow_dir(dataset.pk).mkdir(parents=True)
    response = admin_client_logged_in.post(f"/admin/catalog/dataset/{dataset.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not storage.dataset_dir(dataset.pk).exists()


def test_admin_lists_api_tokens_without_keys_and_has_no_knox_table(admin_client_logged_in, user):
    from catalog.accounts.models import ApiToken

    token, key = ApiToken.objects.create(user=user, expiry=None, name="laptop")
    index = admin_client_logged_in.get("/admin/")
    assert index.status_code == 200 and b"/admin/knox/" not in index.content
    listing = admin_client_logged_in.get("/admin/catalog/apitoken/")
    assert listing.status_code == 200 and b"laptop" in listing.content
    assert key.encode() not in listing.content and token.digest.encode() not in listing.content
    response = admin_client_logged_in.post(f"/admin/catalog/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not ApiToken.objects.exists()
