"""Private and gated repos: "not found", "needs a token" and "no access" are told apart."""

import pytest

from catalog import pipeline, services
from catalog.models import Dataset
from tests.fakehub import repos

GATED, GATED_TOKEN = "acme/gated", "hf_gated_token"


@pytest.fixture
def gated(fake_hub):
    files = {"README.md": b"# Gated\n", "data/train-00000-of-00001.jsonl": b'{"a": 1}\n{"a": 2}\n'}
    fake_hub.add_repo(GATED, files, gated=True, token=GATED_TOKEN)
    yield GATED
    fake_hub.remove_repo(GATED)


@pytest.mark.parametrize(
    "repo_id, token, status, message",
    [
        (GATED, None, 403, "is gated: it needs a token"),
        (GATED, "hf_someone_else", 403, "has no access to the gated dataset 'acme/gated': request access on"),
        (repos.PRIVATE, None, 404, "if it is private, set a token (HF_TOKEN)"),
        (repos.PRIVATE, "hf_someone_else", 404, "or it is private and the token (HF_TOKEN) cannot read it"),
        (repos.MISSING, None, 404, "was not found on the Hub"),
    ],
)
def test_inspection_tells_the_access_problems_apart(api_client, gated, settings, repo_id, token, status, message):
    settings.HF_TOKEN = token
    response = api_client.get(f"/api/v1/hub/{repo_id}/")
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_gated_with_a_token_that_has_access(api_client, gated, settings):
    settings.HF_TOKEN = GATED_TOKEN
    response = api_client.get(f"/api/v1/hub/{GATED}/")
    assert response.status_code == 200
    assert response.json()["configs"][0]["splits"][0]["name"] == "train"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "token, message", [(None, "needs a token"), ("hf_someone_else", "request access"), (GATED_TOKEN, "")]
)
def test_download_of_a_gated_repo(fake_hub, gated, settings, token, message):
    settings.HF_TOKEN = token
    dataset, _ = services.request_download(GATED, split="train")
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    if message:
        assert dataset.status == Dataset.Status.FAILED
        assert message in dataset.error_message
        assert fake_hub.bytes_served(GATED, "data/train-00000-of-00001.jsonl") == 0
    else:
        assert dataset.status == Dataset.Status.READY, dataset.error_message
        assert dataset.total_samples == 2
