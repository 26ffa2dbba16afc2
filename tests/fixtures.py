"""Fixtures used across the suite."""

import pytest
from rest_framework.test import APIClient

from catalog.models import Dataset


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """Each test gets its own empty data directory."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="wonderland-42")


@pytest.fixture
def api_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def make_dataset(db):
    """Create a Dataset row directly, bypassing the queue (for tests of reading and state)."""

    def make(**fields):
        fields.setdefault("name", "acme/multi train")
        fields.setdefault("repo_id", "acme/multi")
        fields.setdefault("config", {"subset": "", "split": "train", "revision": "", "max_samples": None})
        return Dataset.objects.create(**fields)

    return make
