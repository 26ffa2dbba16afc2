"""Outages of PostgreSQL and Redis with real worker and web processes. Slow.

Each test starts its own throwaway server (a PostgreSQL cluster made with initdb, a
redis-server on a free port) and stops it to make the outage; the machine's shared PostgreSQL
and Redis are never touched.
"""

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request

import datasets
import psycopg
import pytest

from catalog.models import Dataset
from tests.fixtures import member
from tests.processes import (
    ROOT,
    ThrowawayPostgres,
    answers_ok,
    free_port,
    start_daphne,
    start_redis,
    start_worker,
    subprocess_env,
    wait_until,
)
from tests.test_faults_e2e import ENV, make_repo, rows_of, served

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

S = Dataset.Status


def manage(*args, **env):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=subprocess_env(**env), check=True)


def test_a_postgres_restart_pauses_running_downloads_and_they_continue(fake_hub, tmp_path):
    postgres = ThrowawayPostgres()
    worker = None
    try:
        postgres.create_database("hfd")
        env = dict(ENV, DATABASE_URL=postgres.url("hfd"), HFD_WORKERS=2)
        manage("migrate", "--no-input", "-v", "0", **env)
        downloads = [make_repo(fake_hub, f"outage-{index}", rows=3000) for index in range(2)]
        for repo_id, _shards in downloads:
            fake_hub.throttle(repo_id, bytes_per_second=25_000, path_glob="data/*")
        requests = "; ".join(f"request_download({repo_id!r}, split='train')" for repo_id, _shards in downloads)
        manage("shell", "-c", f"from catalog.services import request_download; {requests}", **env)

        def rows():
            with psycopg.connect(postgres.url("hfd"), autocommit=True) as conn:
                return conn.execute(
                    "SELECT repo_id, status, downloaded_bytes, run_id, error_message, local_path FROM catalog_dataset"
                ).fetchall()

        def total_served():
            return sum(served(fake_hub, repo_id, shards) for repo_id, shards in downloads)

        worker = start_worker(tmp_path, "worker", **env)
        wait_until(
            lambda: all(r[1] == S.DOWNLOADING and r[2] > 30_000 for r in rows()) and len(rows()) == 2,
            timeout=90,
            message=f"both downloading (log: {worker.log_path})",
        )
        runs_before = {r[0]: r[3] for r in rows()}
        before = total_served()
        postgres.stop()
        # About 12 s away: the transfers go on meanwhile; the runs' writes wait for the database.
        wait_until(lambda: total_served() > before + 1_200_000, timeout=60, message="transfers during the outage")
        postgres.start()
        fake_hub.unthrottle()
        wait_until(
            lambda: {r[1] for r in rows()} <= {S.READY, S.FAILED},
            timeout=120,
            message=f"both to finish (log: {worker.log_path})",
        )
        final = {r[0]: r for r in rows()}
        for repo_id, shards in downloads:
            repo, status, done, run_id, error, local_path = final[repo_id]
            assert status == S.READY, error
            # Not abandoned and not taken over: the same run went on, and nothing was fetched twice.
            assert run_id == runs_before[repo_id]
            total = sum(len(b) for b in shards.values())
            assert done == total
            assert served(fake_hub, repo_id, shards) < total * 1.1
            assert datasets.load_from_disk(local_path).data.table.to_pylist() == rows_of(shards)
    finally:
        if worker:
            worker.stop()
        postgres.destroy()


class Api:
    def __init__(self, base, username, password):
        self.base = base
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def call(self, path, data=None):
        request = urllib.request.Request(self.base + path, data=json.dumps(data).encode() if data else None)
        request.add_header("Authorization", self.auth)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


def test_with_redis_away_requests_are_accepted_and_queued_once_it_is_back(fake_hub, tmp_path, django_user_model):
    member(django_user_model, "ops", "add_dataset")
    redis = start_redis(tmp_path)
    env = dict(ENV, REDIS_URL=f"redis://127.0.0.1:{redis.port}/0", HFD_WORKERS=2)
    port = free_port()
    worker = start_worker(tmp_path, "worker", **env)
    web = start_daphne(tmp_path, port, **env)
    api = Api(f"http://127.0.0.1:{port}", "ops", "wonderland-42")
    first_repo, first_shards = make_repo(fake_hub, "redis-first")
    second_repo, second_shards = make_repo(fake_hub, "redis-second")
    try:
        wait_until(lambda: answers_ok(f"{api.base}/healthz"), timeout=90, message=f"a healthy start ({web.log_path})")
        fake_hub.throttle(first_repo, bytes_per_second=25_000, path_glob="data/*")
        status, first = api.call("/api/v1/datasets/download/", {"repo_id": first_repo, "split": "train"})
        assert status == 202, first
        wait_until(
            lambda: Dataset.objects.get(pk=first["id"]).downloaded_bytes > 30_000,
            timeout=60,
            message=f"the first download to run ({worker.log_path})",
        )

        redis.stop()
        status, second = api.call("/api/v1/datasets/download/", {"repo_id": second_repo, "split": "train"})
        assert status == 202, second
        status, health = api.call("/healthz")
        assert status == 503 and health["checks"]["broker"]["ok"] is False
        # The running download does not need Redis to finish.
        fake_hub.unthrottle()
        wait_until(
            lambda: Dataset.objects.get(pk=first["id"]).status == S.READY,
            timeout=60,
            message=f"the running download to finish without Redis ({worker.log_path})",
        )
        assert Dataset.objects.get(pk=second["id"]).status == S.PENDING

        redis = start_redis(tmp_path, port=redis.port)
        wait_until(
            lambda: Dataset.objects.get(pk=second["id"]).status == S.READY,
            timeout=60,
            message=f"the request made while Redis was away to run once it is back ({worker.log_path})",
        )
        assert served(fake_hub, second_repo, second_shards) == sum(len(b) for b in second_shards.values())
        wait_until(lambda: answers_ok(f"{api.base}/healthz"), timeout=30, message="healthy again")
    finally:
        worker.stop()
        web.stop()
        redis.stop()
    assert first_shards
