"""The README's run command: web and worker together on embedded defaults, a download end to end."""

import base64
import json
import os
import signal
import socket
import urllib.request

import pytest

from tests.fakehub import repos
from tests.processes import ROOT, ManagedProcess, answers_ok, free_port, wait_until

pytestmark = pytest.mark.slow


def call(url, password, data=None):
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{password}".encode()).decode())
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_run_script_serves_the_app_and_a_download_completes(fake_hub, tmp_path):
    port = free_port()
    password = "run-script-pass-1"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "HFD_DATA_DIR")}
    env.update({"PORT": str(port), "HFD_DATA_DIR": str(tmp_path / "data"), "HFD_ADMIN_PASSWORD": password})
    app = ManagedProcess(["bash", str(ROOT / "scripts" / "run.sh")], env, tmp_path / "run.log")
    base = f"http://127.0.0.1:{port}"
    try:
        # "running" is printed only once the port answers.
        wait_until(lambda: "is running at" in app.output(), timeout=120, message=f"the app ({app.log_path})")
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        assert answers_ok(f"{base}/accounts/login/")
        status, body = call(f"{base}/api/v1/datasets/download/", password, {"repo_id": repos.JSONL, "split": "test"})
        assert status == 202
        dataset_url = f"{base}/api/v1/datasets/{body['id']}/"
        final = wait_until(
            lambda: (lambda d: d if d["status"] in ("ready", "failed") else None)(call(dataset_url, password)[1]),
            timeout=60,
            message="the download to finish",
        )
        assert final["status"] == "ready", final["error_message"]
        assert final["total_samples"] == repos.ROWS[repos.JSONL]["default"]["test"]
        assert (tmp_path / "data" / "db.sqlite3").exists()
        # SIGTERM to run.sh (what a terminal's Ctrl-C, systemd or a supervisor sends) stops web and worker.
        app.popen.send_signal(signal.SIGTERM)
        try:
            wait_until(app.group_gone, timeout=10, message="run.sh and everything it started to exit")
        except AssertionError:
            raise AssertionError(f"Still running 10 s after SIGTERM: {app.survivors()}") from None
    finally:
        app.stop()
    assert app.popen.returncode is not None
