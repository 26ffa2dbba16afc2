"""The same request is the same dataset: ""/"default" and main/its sha do not make two copies."""

import pytest

from catalog import pipeline, services
from catalog.models import Dataset
from tests.fakehub import repos

pytestmark = pytest.mark.django_db(transaction=True)


def run(dataset):
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    return dataset


def test_the_worker_records_the_resolved_subset_and_commit(fake_hub):
    dataset, _ = services.request_download(repos.JSONL, split="test")
    dataset = run(dataset)
    sha = fake_hub.standard_repos[repos.JSONL]["sha"]
    assert (dataset.resolved_subset, dataset.resolved_revision) == ("default", sha)
    assert dataset.request_key == services.request_key(repos.JSONL, "default", "test", sha, None)
    # Asked again as "default" at the commit sha: the same dataset.
    again, created = services.request_download(repos.JSONL, split="test", subset="default", revision=sha)
    assert not created
    assert again.pk == dataset.pk


def test_a_duplicate_is_refused_before_any_data_byte(fake_hub):
    first, _ = services.request_download(repos.JSONL, split="test")
    second, created = services.request_download(repos.JSONL, split="test", subset="default", revision="main")
    assert created and second.pk != first.pk  # not resolved yet: two records
    assert run(first).status == Dataset.Status.READY
    fake_hub.reset_counters()
    second = run(second)
    assert second.status == Dataset.Status.FAILED
    assert "already in the catalog: " + first.name in second.error_message
    assert fake_hub.bytes_served(repos.JSONL, "data/test-00000-of-00001.jsonl") == 0


def test_the_download_form_resolves_before_creating(fake_hub, client, user):
    client.force_login(user)
    for subset, revision in [("", ""), ("default", "main"), ("default", fake_hub.standard_repos[repos.CSV]["sha"])]:
        response = client.post(
            "/datasets/new/", {"repo_id": repos.CSV, "subset": subset, "split": "train", "revision": revision}
        )
        assert response.status_code == 302
    dataset = Dataset.objects.get()
    assert dataset.resolved_subset == "default"
    assert dataset.resolved_revision == fake_hub.standard_repos[repos.CSV]["sha"]
