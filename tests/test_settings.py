import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
    "ALLOWED_HOSTS": "datasets.example.org",
    "HFD_HTTPS": "1",
}


def run_manage(*args, env):
    full_env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "HFD_HTTPS")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_deploy_check_passes_with_documented_production_variables(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "HFD_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_warns_without_them(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "1", "HFD_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode != 0
    assert "DEBUG" in result.stdout + result.stderr


def test_embedded_default_is_sqlite_under_data_dir(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['NAME'])"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"HFD_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "hfdatasets.settings"})
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == str(tmp_path / "db.sqlite3"), result.stderr
