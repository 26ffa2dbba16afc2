"""Fixtures used across the suite."""

import itertools
import os

import pytest
import redis
from rest_framework.test import APIClient

from catalog.models import Dataset


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """Each test gets its own empty data directory."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache (Hub inspections are cached per commit)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def member(django_user_model, username, *permissions):
    """A non-staff user with the given catalog permissions (codenames)."""
    from django.contrib.auth.models import Permission

    person = django_user_model.objects.create_user(username, password="wonderland-42")
    person.user_permissions.set(Permission.objects.filter(content_type__app_label="catalog", codename__in=permissions))
    return person


@pytest.fixture
def user(django_user_model):
    """A team member who may download, upload and import server paths, not staff."""
    return member(django_user_model, "alice", "add_dataset", "import_server_path")


@pytest.fixture
def other_user(django_user_model):
    """A second team member who may download and upload (not import server paths)."""
    return member(django_user_model, "bob", "add_dataset")


@pytest.fixture
def reader(django_user_model):
    """A user without any permission: may browse only."""
    return member(django_user_model, "carol")


@pytest.fixture
def staff_user(django_user_model):
    """Staff without superuser powers: sees everything, manages every dataset."""
    person = member(django_user_model, "steve", "add_dataset", "import_server_path")
    person.is_staff = True
    person.save()
    return person


@pytest.fixture
def api_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def make_dataset(db, user):
    """Create a Dataset row directly, bypassing the queue (for tests of reading and state); owned by `user`."""

    def make(**fields):
        fields.setdefault("owner", user)
        fields.setdefault("name", "acme/multi train")
        fields.setdefault("repo_id", "acme/multi")
        fields.setdefault("config", {"subset": "", "split": "train", "revision": "", "max_samples": None})
        return Dataset.objects.create(**fields)

    return make


# Redis-backed tests use REDIS_URL when it is set (each developer has a database index), else the local default.
TEST_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def require_redis(url=TEST_REDIS_URL):
    """Skip a test that needs Redis when none answers at url, with the reason; under CI (CI=true), fail it."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.exceptions.RedisError as exc:
        reason = f"Redis is not reachable at {url} ({exc.__class__.__name__}); this test needs it"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}, and CI (CI=true) must run it: start Redis.", pytrace=False)
        pytest.skip(f"{reason}. Start redis-server to run it (under CI=true this is a failure).")


@pytest.fixture
def redis_url():
    """The URL of a Redis that answers (else the test is skipped, or fails under CI)."""
    require_redis()
    return TEST_REDIS_URL


@pytest.fixture
def broker():
    """The task queue's broker, empty before and after the test."""
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


_dataset_numbers = itertools.count()
MANY_STATUSES = ["ready", "ready", "ready", "failed", "cancelled", "pending"]


def add_datasets(count, prefix="acme/"):
    """count Dataset rows in one bulk insert, mixed statuses and sizes, for scale tests and bench/.

    Numbered across calls (names stay unique); ready ones have size_on_disk recorded, the others
    only downloaded_bytes. Nothing is written on disk.
    """
    rows = []
    for _ in range(count):
        i = next(_dataset_numbers)
        status = MANY_STATUSES[i % len(MANY_STATUSES)]
        rows.append(
            Dataset(
                name=f"{prefix}set-{i} train",
                repo_id=f"{prefix}set-{i}",
                status=status,
                config={"subset": "", "split": "train", "revision": "", "max_samples": None},
                total_bytes=1000 + i,
                downloaded_bytes=500 + i,
                size_on_disk=2000 + i if status == "ready" else None,
            )
        )
    Dataset.objects.bulk_create(rows, batch_size=2000)


def signed_in(person, client_class=None):
    """A test client (Django's, or DRF's APIClient) with a session of this user."""
    from django.test import Client

    client = (client_class or Client)()
    client.force_login(person)
    return client


def api_signed_in(person):
    return signed_in(person, APIClient)


def api_with_authorization(value):
    """An API client that sends this Authorization header (a token, Basic credentials, junk)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client
