"""GET /healthz and the pages' health banner."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from catalog import workers
from catalog.models import Dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_worker():
    workers.beat(workers.identity())


@pytest.fixture(autouse=True)
def enough_disk(settings):
    settings.HFD_MIN_FREE_BYTES = 0


def healthz(client):
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthy_without_a_login(client, live_worker):
    status, body = healthz(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "workers", "disk", "downloads"}
    assert body["checks"]["workers"] == {"ok": True, "alive": 1}
    assert body["checks"]["disk"]["free_bytes"] > 0
    assert body["problems"] == []


def test_no_live_worker_is_unhealthy(client):
    status, body = healthz(client)
    assert status == 503
    assert body["checks"]["workers"] == {"ok": False, "alive": 0}
    assert body["problems"] == ["No worker is running: downloads wait until one starts (python manage.py qcluster)."]


def test_a_worker_with_an_old_heartbeat_is_not_alive(client, live_worker):
    from catalog.models import Worker

    Worker.objects.update(beat_at=timezone.now() - timedelta(minutes=5))
    assert healthz(client)[1]["checks"]["workers"]["alive"] == 0


def test_a_stalled_download_is_unhealthy(client, live_worker, make_dataset):
    make_dataset(status=Dataset.Status.DOWNLOADING, heartbeat_at=timezone.now() - timedelta(seconds=60))
    status, body = healthz(client)
    assert status == 503
    assert body["checks"]["downloads"] == {"ok": False, "stalled": 1}
    assert "1 download has stalled" in body["problems"][0]


def test_low_disk_is_unhealthy(client, live_worker, settings):
    settings.HFD_MIN_FREE_BYTES = 1 << 60
    status, body = healthz(client)
    assert status == 503
    assert body["checks"]["disk"]["ok"] is False


def test_it_tells_no_secrets(client, live_worker):
    text = client.get("/healthz").content.decode()
    for secret in (settings.SECRET_KEY, str(settings.DATA_DIR), settings.DATABASES["default"]["NAME"]):
        assert str(secret) not in text


def test_pages_show_a_banner_when_no_worker_runs(client, user, make_dataset):
    client.force_login(user)
    make_dataset(status=Dataset.Status.DOWNLOADING, heartbeat_at=timezone.now() - timedelta(seconds=60))
    page = client.get("/").content.decode()
    assert "No worker is running" in page
    assert "1 download has stalled" in page


def test_pages_show_no_banner_when_all_is_well(client, user, live_worker):
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "No worker is running" not in page
    assert "data-health-banner hidden" in page


def test_the_docker_healthchecks_ask_healthz():
    from tests.processes import ROOT

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and "127.0.0.1:8000/healthz" in dockerfile
    compose = (ROOT / "docker-compose.yml").read_text()
    web, worker = compose.split("\n  web:\n")[1].split("\n  worker:\n")
    assert "healthcheck:" in web and "/healthz" in web
    assert "healthcheck:" in worker and "http://web:8000/healthz" in worker
