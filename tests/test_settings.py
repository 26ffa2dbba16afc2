import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from hfdatasets import env

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


# --- Strict reading of the environment -------------------------------------------------------


def test_a_misspelt_boolean_stops_the_start_naming_the_variable(tmp_path):
    result = run_manage("check", env={"HFD_HTTPS": "ture", "HFD_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "Configuration error: HFD_HTTPS must be 1 or 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_number_stops_the_start_naming_the_variable(tmp_path):
    result = run_manage("check", env={"HFD_HTTP_TIMEOUT": "fast", "HFD_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "HFD_HTTP_TIMEOUT must be a number" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "reader, value, message",
    [
        (lambda: env.env_bool("HFD_X"), "ture", "HFD_X must be 1 or 0"),
        (lambda: env.env_bool("HFD_X"), "2", "HFD_X must be 1 or 0"),
        (lambda: env.env_int("HFD_X", 1), "1.5", "HFD_X must be a whole number"),
        (lambda: env.env_int("HFD_X", 1, minimum=1), "0", "HFD_X must be at least 1"),
        (lambda: env.env_float("HFD_X", 1.0), "1,5", "HFD_X must be a number"),
        (lambda: env.env_float("HFD_X", 1.0), "nan", "HFD_X must be a finite number"),
        (lambda: env.env_float("HFD_X", 1.0, minimum=0), "-1", "HFD_X must be at least 0"),
        (lambda: env.env_choice("HFD_X", "INFO", ["INFO", "DEBUG"]), "LOUD", "HFD_X must be one of INFO, DEBUG"),
    ],
)
def test_unreadable_values_raise_improperly_configured(monkeypatch, reader, value, message):
    monkeypatch.setenv("HFD_X", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        reader()


@pytest.mark.parametrize(
    "value, expected", [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False), ("Off", False)]
)
def test_boolean_words(monkeypatch, value, expected):
    monkeypatch.setenv("HFD_X", value)
    assert env.env_bool("HFD_X", default=not expected) is expected


def test_unset_or_empty_means_the_default(monkeypatch):
    monkeypatch.setenv("HFD_X", "  ")
    assert env.env_bool("HFD_X", True) is True
    assert env.env_int("HFD_X", 7) == 7
    assert env.env_float("HFD_X", 0.5) == 0.5
    assert env.env_list("HFD_X", "a, b,") == ["a", "b"]
    monkeypatch.delenv("HFD_X")
    assert env.env_str("HFD_X", "d") == "d"


def variables_read_by_settings():
    """Names settings.py reads: first arguments of the env_* helpers and of os.environ/os.getenv calls."""
    tree = ast.parse((ROOT / "hfdatasets" / "settings.py").read_text())
    names, raw_reads = set(), []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        func = ast.unparse(node.func)
        if re.fullmatch(r"env_\w+|os\.environ\.\w+|os\.getenv", func):
            names.add(node.args[0].value)
        if func in ("os.environ.get", "os.getenv"):
            raw_reads.append(node.args[0].value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            raw_reads.append(ast.unparse(node.slice))
    return names, raw_reads


def readme_variables():
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_variable_settings_reads_is_in_the_readme_table():
    read, _ = variables_read_by_settings()
    assert len(read) > 20  # The scan found the reads (it would pass vacuously otherwise).
    missing = read - readme_variables()
    assert not missing, f"Add these to the Configuration table in README.md: {sorted(missing)}"


def test_settings_read_the_environment_only_through_the_strict_helpers():
    _, raw_reads = variables_read_by_settings()
    assert raw_reads == [], "Read these with hfdatasets.env helpers, so bad values are reported: " + str(raw_reads)


def test_every_documented_variable_is_used_somewhere():
    sources = "".join(
        path.read_text()
        for folder in ("hfdatasets", "catalog", "scripts")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".sh")
    )
    unused = {name for name in readme_variables() if name not in sources}
    assert not unused, f"README.md documents variables nothing reads: {sorted(unused)}"


def test_the_suite_hashes_passwords_fast(db, user):
    # Full-strength hashing made up most of the fast suite's time (tests/hashers.py).
    assert user.password.startswith("pbkdf2_sha256$1$")
    assert user.check_password("wonderland-42")
