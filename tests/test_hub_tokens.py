"""Personal Hugging Face tokens: write-only, encrypted at rest, used by their owner's downloads only."""

import logging

import pytest
from cryptography.fernet import Fernet
from django_q.brokers import get_broker
from rest_framework.test import APIClient

from catalog import pipeline, services
from catalog.accounts import hub_tokens
from catalog.accounts.models import PersonalHubToken
from catalog.models import Dataset
from tests.fakehub import repos
from tests.fixtures import signed_in

S = Dataset.Status
KEY = Fernet.generate_key().decode()


@pytest.fixture
def token_keys(settings):
    settings.HFD_HUB_TOKEN_KEYS = [KEY]
    settings.HF_TOKEN = None


def test_stored_encrypted_and_never_shown_again(user, token_keys):
    client = signed_in(user)
    response = client.post("/account/hub-token/", {"token": repos.TOKEN})
    assert response.status_code == 302
    stored = PersonalHubToken.objects.get(user=user)
    assert repos.TOKEN not in stored.encrypted
    assert Fernet(KEY).decrypt(stored.encrypted.encode()).decode() == repos.TOKEN
    page = client.get("/account/")
    assert b"A token is saved" in page.content
    assert repos.TOKEN.encode() not in page.content
    # Replacing and removing.
    client.post("/account/hub-token/", {"token": "hf_other"})
    assert hub_tokens.token_of(user.pk) == "hf_other"
    client.post("/account/hub-token/", {"remove": "1"})
    assert not PersonalHubToken.objects.exists()


def test_a_bad_token_is_refused_without_being_echoed(user, token_keys):
    response = signed_in(user).post("/account/hub-token/", {"token": "hf secret with spaces"})
    assert response.status_code == 400
    assert b"secret with spaces" not in response.content
    assert not PersonalHubToken.objects.exists()


def test_switched_off_without_keys(user, settings):
    settings.HFD_HUB_TOKEN_KEYS = []
    client = signed_in(user)
    assert b"switched off" in client.get("/account/").content
    response = client.post("/account/hub-token/", {"token": repos.TOKEN})
    assert response.status_code == 400
    assert not PersonalHubToken.objects.exists()


def test_key_rotation_keeps_old_tokens_readable(user, settings):
    settings.HFD_HUB_TOKEN_KEYS = [KEY]
    hub_tokens.store(user, "hf_rotated")
    settings.HFD_HUB_TOKEN_KEYS = [Fernet.generate_key().decode(), KEY]
    assert hub_tokens.token_of(user.pk) == "hf_rotated"
    settings.HFD_HUB_TOKEN_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(hub_tokens.HubTokenUnavailable, match="store it again"):
        hub_tokens.token_of(user.pk)


def test_bad_key_in_the_environment_names_the_variable(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from hfdatasets.env import env_fernet_keys as fernet_keys

    monkeypatch.setenv("HFD_HUB_TOKEN_KEYS", "not-a-key")
    with pytest.raises(ImproperlyConfigured, match="HFD_HUB_TOKEN_KEYS"):
        fernet_keys("HFD_HUB_TOKEN_KEYS")
    monkeypatch.setenv("HFD_HUB_TOKEN_KEYS", f"{KEY},{KEY}")
    assert fernet_keys("HFD_HUB_TOKEN_KEYS") == [KEY, KEY]


@pytest.mark.django_db(transaction=True)
def test_downloads_use_the_owners_token_and_stay_theirs(fake_hub, user, other_user, token_keys, caplog):
    caplog.set_level(logging.DEBUG)
    hub_tokens.store(user, repos.TOKEN)
    broker = get_broker()
    broker.purge_queue()
    mine = APIClient()
    mine.force_login(user)
    response = mine.post("/api/v1/datasets/download/", {"repo_id": repos.PRIVATE}, format="json")
    assert response.status_code == 202
    assert response.json()["personal"] is True
    assert repos.TOKEN not in response.content.decode()
    # The queue carries the dataset id only.
    queued = []
    while broker.queue_size():
        for ack_id, payload in broker.dequeue() or []:
            queued.append(payload)
            broker.acknowledge(ack_id)
    assert queued and all(repos.TOKEN not in str(payload) for payload in queued)

    dataset = Dataset.objects.get()
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == S.READY, dataset.error_message
    assert dataset.total_samples == repos.ROWS[repos.PRIVATE]["default"]["train"]
    # The key the worker records once the Hub resolved the request is still Alice's alone.
    assert dataset.request_key.endswith(f"\nowner:{user.pk}")

    # Bob has no token: Alice's copy is not his to see or reuse, and the Hub check refuses his request.
    theirs = APIClient()
    theirs.force_login(other_user)
    assert theirs.get(f"/api/v1/datasets/{dataset.pk}/").status_code == 404
    response = theirs.post("/api/v1/datasets/download/", {"repo_id": repos.PRIVATE}, format="json")
    assert response.status_code == 400 and "not found" in response.json()["repo_id"][0]
    assert Dataset.objects.count() == 1
    # Alice asking again gets her own copy back.
    again = mine.post("/api/v1/datasets/download/", {"repo_id": repos.PRIVATE}, format="json")
    assert again.status_code == 200 and again.json()["id"] == str(dataset.pk)
    assert repos.TOKEN not in caplog.text
    broker.purge_queue()


@pytest.mark.django_db(transaction=True)
def test_a_wrong_personal_token_fails_without_quoting_it(fake_hub, user, token_keys, caplog):
    caplog.set_level(logging.DEBUG)
    hub_tokens.store(user, "hf_wrong_personal_token")
    dataset, created = services.request_download(repos.PRIVATE, split="train", owner=user, queue=False)
    assert created and dataset.personal
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == S.FAILED
    assert "hf_wrong_personal_token" not in dataset.error_message
    assert "hf_wrong_personal_token" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_removed_token_fails_the_download_with_a_clear_message(fake_hub, user, token_keys):
    hub_tokens.store(user, repos.TOKEN)
    dataset, _ = services.request_download(repos.PRIVATE, split="train", owner=user, queue=False)
    hub_tokens.remove(user)
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == S.FAILED
    assert "personal Hub token" in dataset.error_message and "removed" in dataset.error_message


def test_a_shared_copy_serves_a_user_with_a_token(user, other_user, token_keys):
    shared, created = services.request_download(repos.MULTI, split="train", owner=other_user, queue=False)
    assert created and not shared.personal
    hub_tokens.store(user, repos.TOKEN)
    again, created = services.request_download(repos.MULTI, split="train", owner=user, queue=False)
    assert not created and again.pk == shared.pk
