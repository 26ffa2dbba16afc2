"""GET /api/v1/hub/{repo_id}/: what a Hub dataset offers, from the test Hub over real HTTP."""

import pytest

from tests.fakehub import repos


def test_inspect_lists_subsets_splits_and_sizes(api_client, fake_hub):
    response = api_client.get("/api/v1/hub/acme/multi/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sha"] == fake_hub.standard_repos[repos.MULTI]["sha"]
    assert body["private"] is False
    configs = {c["name"]: {s["name"]: s for s in c["splits"]} for c in body["configs"]}
    assert set(configs) == {"default", "extra"}
    assert set(configs["default"]) == {"train", "test"}
    train = configs["default"]["train"]
    files = fake_hub.standard_repos[repos.MULTI]["files"]
    assert train["num_files"] == repos.MULTI_TRAIN_SHARDS
    assert train["num_bytes"] == sum(len(files[p]) for p in repos.MULTI_FILES["default"]["train"])
    # Nothing but metadata was read: no data file was downloaded.
    assert fake_hub.bytes_served() == fake_hub.bytes_served(path="README.md")


def test_inspect_at_a_revision(api_client, fake_hub):
    body = api_client.get("/api/v1/hub/acme/jsonl/?revision=v1").json()
    assert body["sha"] == fake_hub.standard_repos[repos.JSONL]["v1_sha"]
    assert body["revision"] == "v1"


@pytest.mark.parametrize(
    "url, status, message",
    [
        ("/api/v1/hub/acme/missing/", 404, "was not found"),
        ("/api/v1/hub/acme/private/", 404, "token"),
        ("/api/v1/hub/acme/jsonl/?revision=nope", 404, "Revision 'nope' does not exist"),
    ],
)
def test_inspect_errors_are_messages_a_person_can_act_on(api_client, fake_hub, url, status, message):
    response = api_client.get(url)
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_inspect_private_with_token(api_client, fake_hub, settings):
    settings.HF_TOKEN = repos.TOKEN
    body = api_client.get("/api/v1/hub/acme/private/").json()
    assert body["private"] is True
    assert body["configs"][0]["splits"][0]["name"] == "train"


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/hub/a/b/c/", "repo_id"),
        ("/api/v1/hub/acme/x$y/", "repo_id"),
        ("/api/v1/hub/acme/jsonl/?revision=../x", "revision"),
    ],
)
def test_inspect_bad_input_is_400_naming_the_field(api_client, fake_hub, url, field):
    response = api_client.get(url)
    assert response.status_code == 400
    assert field in response.json()
    assert fake_hub.requests == []


def test_inspect_when_the_hub_is_down(api_client, fake_hub, settings):
    settings.HFD_MAX_FAULT_RETRIES = 2
    settings.HFD_RETRY_BACKOFF = 0.01
    fake_hub.fail(repos.JSONL, status=503, times=10)
    response = api_client.get("/api/v1/hub/acme/jsonl/")
    assert response.status_code == 504
    assert "HTTP 503" in response.json()["detail"]
