"""The run script and the compose file: fail clearly on a busy port; migrate once, restart, run unprivileged."""

import os
import socket
import subprocess

import yaml

from tests.processes import ROOT


def run_script_env(tmp_path, port):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "HFD_DATA_DIR")}
    env.update({"PORT": str(port), "HFD_DATA_DIR": str(tmp_path / "data")})
    return env


def test_run_script_fails_clearly_on_a_busy_port(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "run.sh")],
            env=run_script_env(tmp_path, port),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert "PORT=" in result.stderr  # says what to do
    assert "running" not in result.stdout
    # It stopped before doing anything: no database was made.
    assert not (tmp_path / "data" / "db.sqlite3").exists()


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_migrates_once_before_web_and_worker():
    services = compose()["services"]
    migrate = services["migrate"]
    assert "manage.py migrate" in migrate["command"]
    assert migrate["restart"] == "no"  # a one-shot job
    for name in ("web", "worker"):
        service = services[name]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
        assert "migrate" not in service["command"], f"{name} must not migrate itself"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_restarts_the_long_running_services():
    services = compose()["services"]
    for name in ("postgres", "redis", "web", "worker"):
        assert services[name].get("restart") in ("always", "unless-stopped", "on-failure"), name


def test_the_app_runs_as_an_unprivileged_user():
    services = compose()["services"]
    for name in ("migrate", "web", "worker"):
        assert services[name].get("user", "app") not in ("root", "0", "0:0"), name
    users = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), users
