"""Start real worker (django-q2 qcluster) and web (daphne) processes for end-to-end tests.

The processes use the test database and the test's data directory, so tests that use them
must use `transactional_db` (rows must be committed to be seen by another process).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll predicate until it returns something truthy; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def answers_ok(url):
    """True once a server answers url with 200 (for waiting until a started process serves)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_database_url():
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def subprocess_env(**extra):
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "HFD_DATA_DIR": str(settings.DATA_DIR),
            # Queued tasks are signed with it: the worker must share the test process's key.
            "SECRET_KEY": settings.SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ManagedProcess:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, args, env, log_path):
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self):
        return self.popen.pid

    def output(self):
        return self.log_path.read_text(errors="replace")

    def kill(self):
        """SIGKILL the whole group, as a crash or the OOM killer would."""
        self._signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout=15):
        if self.popen.poll() is None:
            # The main process only: it stops its own children (qcluster hangs if they all get it).
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def terminate_group(self):
        """SIGTERM to every process of the group, as `docker stop` of a shell, systemd or run.sh's trap do."""
        self._signal(signal.SIGTERM)

    def group_gone(self):
        """True once no process of this child's process group is left (zombies reaped)."""
        self.popen.poll()
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return True
        return False

    def survivors(self):
        """'pid state command' of each process still in this child's group (for failure messages)."""
        found = []
        for entry in os.listdir("/proc"):
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                if entry.isdigit() and int(fields[2]) == self.popen.pid:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
                    found.append(f"{entry} {fields[0]} {cmdline}")
            except (OSError, ValueError, IndexError):
                continue
        return found

    def _signal(self, sig):
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass


def start_worker(tmp_path, name="worker", **env):
    return ManagedProcess(
        [sys.executable, "manage.py", "qcluster"], subprocess_env(**env), Path(tmp_path) / f"{name}.log"
    )


def start_daphne(tmp_path, port, **env):
    return ManagedProcess(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "hfdatasets.asgi:application"],
        subprocess_env(**env),
        Path(tmp_path) / "daphne.log",
    )


def wait_serving(web, url, timeout=60):
    """Wait until a started daphne answers url's login page; fail at once, with its log, if it exits."""
    wait_until(
        lambda: answers_ok(url + "/accounts/login/") or web.popen.poll() is not None,
        timeout=timeout,
        interval=0.1,
        message=f"daphne to serve (log: {web.log_path})",
    )
    assert web.popen.poll() is None, f"daphne exited:\n{web.output()}"


def start_redis(tmp_path, port=None):
    """A throwaway redis-server on a free loopback port (never the machine's shared one)."""
    port = port or free_port()
    server = ManagedProcess(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        dict(os.environ),
        Path(tmp_path) / f"redis-{port}.log",
    )
    server.port = port
    wait_until(lambda: _answers_ping(port), timeout=20, message="the throwaway redis-server")
    return server


def _answers_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temp folder, pg_ctl on a free port).

    It can be stopped and started again to test an outage; the machine's shared server is never touched.
    """

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self):
        import shutil
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="hfd-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        shutil.chown(self.root, "postgres")
        self._as_postgres(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres"])
        self.start()

    def _as_postgres(self, args):
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.BIN / args[0]), *args[1:]],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def url(self, name):
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self):
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(["pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"])

    def stop(self):
        self._as_postgres(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def create_database(self, name):
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def destroy(self):
        import shutil

        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
