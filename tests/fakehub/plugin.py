"""Pytest plugin: the session-wide fake Hub, its fixtures, and a guard against non-loopback network access.

tests/conftest.py must call ``start_session_hub()`` at import time, before anything imports
huggingface_hub or datasets (both read HF_ENDPOINT once, at import), and list
``"tests.fakehub.plugin"`` in ``pytest_plugins``.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import re
import shutil
import socket
import sys
import tempfile
import threading

import pytest

from .repos import register_standard_repos
from .server import FakeHub

_session_hub: FakeHub | None = None
_guard: NetworkGuard | None = None

# Variables that would point the libraries elsewhere or leak a real token into the tests.
_UNSET = [
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_HUB_CACHE",
    "HF_XET_CACHE",
    "HF_ASSETS_CACHE",
    "HF_TOKEN_PATH",
    "HF_DATASETS_OFFLINE",
    "HF_OIDC_RESOURCE",
    "HUGGINGFACE_CO_STAGING",
    "HUGGINGFACE_HUB_CACHE",
]


def start_session_hub() -> FakeHub:
    """Start (once) the session hub with the standard repos, and point the HF libraries at it via os.environ."""
    global _session_hub
    if _session_hub is not None:
        return _session_hub
    install_network_guard()
    hub = FakeHub(port=0).start()
    home = tempfile.mkdtemp(prefix="fakehub-hf-home-")
    atexit.register(shutil.rmtree, home, True)
    atexit.register(hub.stop)
    for name in _UNSET:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "HF_ENDPOINT": hub.url,
            "HF_HOME": home,
            "HF_DATASETS_CACHE": os.path.join(home, "datasets"),
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_UPDATE_DOWNLOAD_COUNTS": "0",  # else datasets HEADs s3.amazonaws.com on every load
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_XET": "1",
        }
    )
    no_proxy = [h for h in os.environ.get("NO_PROXY", "").split(",") if h]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(no_proxy + ["127.0.0.1", "localhost"])
    for module, attr in (("huggingface_hub.constants", "ENDPOINT"), ("datasets.config", "HF_ENDPOINT")):
        if module in sys.modules and getattr(sys.modules[module], attr) != hub.url:
            raise RuntimeError(
                f"{module} was imported before start_session_hub(): it would talk to "
                f"{getattr(sys.modules[module], attr)}. Start the hub earlier in conftest.py."
            )
    hub.standard_repos = register_standard_repos(hub)
    _session_hub = hub
    return hub


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def fake_hub() -> FakeHub:
    """The session hub with fresh standard repos, no faults and zeroed counters; fails on unexpected requests."""
    hub = start_session_hub()
    hub.standard_repos = register_standard_repos(hub)  # undo commits made by earlier tests
    hub.clear_faults()
    hub.reset_counters()
    if "huggingface_hub" in sys.modules:  # HfFileSystem instances cache listings and "repo exists" answers
        sys.modules["huggingface_hub"].HfFileSystem.clear_instance_cache()
    yield hub
    hub.clear_faults()
    if hub.unhandled:
        pytest.fail(f"the fake Hub received unexpected requests: {hub.unhandled}", pytrace=False)


@pytest.fixture
def standard_repos(fake_hub: FakeHub) -> dict:
    """{repo_id: {"sha", "files", "rows", ...}} of the standard repos (see repos.register_standard_repos)."""
    return fake_hub.standard_repos


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """Empty huggingface_hub and datasets caches for this test (so earlier downloads are not reused)."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    monkeypatch.setattr(datasets.config, "DOWNLOADED_DATASETS_PATH", tmp_path / "datasets" / "downloads")
    monkeypatch.setattr(datasets.config, "EXTRACTED_DATASETS_PATH", tmp_path / "datasets" / "downloads" / "extracted")
    return tmp_path


@pytest.fixture(autouse=True)
def network_guard() -> NetworkGuard:
    """Fails the test if anything tried to resolve or connect to a non-loopback host."""
    guard = install_network_guard()
    earlier = guard.take()
    yield guard
    leaked = [f"{a} (before this test)" for a in earlier] + guard.take()
    if leaked:
        pytest.fail("non-loopback network access was attempted:\n  " + "\n  ".join(leaked), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    if _guard is not None and _guard.attempts:
        print(f"\nfakehub network guard: non-loopback access attempted after the last test: {_guard.take()}")
        session.exitstatus = 1


# ---------------------------------------------------------------------------------------------- network guard
class NetworkBlockedError(OSError):
    """Raised instead of resolving or connecting to a non-loopback host (an OSError, as a network failure is)."""


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
# `datasets` builds its dataset-viewer URL as HF_ENDPOINT with "datasets-server." prepended to the host,
# i.e. "datasets-server.127.0.0.1": such names, and *.localhost (RFC 6761), are routed to the loopback address.
_LOOPBACK_ALIAS = re.compile(r"[^/]+\.(127(?:\.\d{1,3}){3}|localhost)")


def _loopback(host) -> tuple[bool, object]:
    """(allowed, host to really use). Empty/None hosts (wildcard binds) are allowed."""
    if host in (None, "", b""):
        return True, host
    name = (host.decode() if isinstance(host, bytes) else str(host)).strip("[]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES:
        return True, host
    try:
        ip = ipaddress.ip_address(name.split("%")[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        return bool(ip.is_loopback or (mapped and mapped.is_loopback)), host
    except ValueError:
        pass
    alias = _LOOPBACK_ALIAS.fullmatch(name)
    if alias:
        return True, "127.0.0.1" if alias[1] == "localhost" else alias[1]
    return False, host


class NetworkGuard:
    """Patches socket.getaddrinfo / create_connection / socket.connect / connect_ex (see install_network_guard)."""

    def __init__(self):
        self.attempts: list[str] = []  # blocked attempts, e.g. "getaddrinfo('example.com', 80)"
        self.rerouted: list[str] = []  # loopback aliases that were resolved to 127.x
        self._lock = threading.Lock()
        self._saved: dict | None = None

    def take(self) -> list[str]:
        """Return and forget the blocked attempts."""
        with self._lock:
            attempts, self.attempts = self.attempts, []
        return attempts

    def check(self) -> None:
        """Raise AssertionError if anything was blocked since the last take()/check()."""
        attempts = self.take()
        if attempts:
            raise AssertionError(f"non-loopback network access was attempted: {attempts}")

    def _allow(self, what: str, host, port):
        allowed, target = _loopback(host)
        if not allowed:
            with self._lock:
                self.attempts.append(f"{what}({host!r}, {port!r})")
            raise NetworkBlockedError(f"network guard: {what} to non-loopback host {host!r} port {port!r} blocked")
        if target != host:
            with self._lock:
                self.rerouted.append(f"{host} -> {target}")
        return target

    def install(self) -> NetworkGuard:
        if self._saved is not None:
            return self
        cls = socket.socket
        self._saved = {
            "getaddrinfo": socket.getaddrinfo,
            "create_connection": socket.create_connection,
            "connect": cls.__dict__.get("connect"),
            "connect_ex": cls.__dict__.get("connect_ex"),
        }
        real_getaddrinfo, real_create_connection = socket.getaddrinfo, socket.create_connection
        real_connect, real_connect_ex = cls.connect, cls.connect_ex
        guard = self

        def getaddrinfo(host, port, *args, **kwargs):
            return real_getaddrinfo(guard._allow("getaddrinfo", host, port), port, *args, **kwargs)

        def create_connection(address, *args, **kwargs):
            host = guard._allow("create_connection", address[0], address[1])
            return real_create_connection((host, *address[1:]), *args, **kwargs)

        def _address(sock, address, what):
            if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
                return (guard._allow(what, address[0], address[1]), *address[1:])
            return address  # AF_UNIX and friends

        def connect(sock, address):
            return real_connect(sock, _address(sock, address, "connect"))

        def connect_ex(sock, address):
            return real_connect_ex(sock, _address(sock, address, "connect_ex"))

        socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection
        cls.connect, cls.connect_ex = connect, connect_ex
        return self

    def uninstall(self) -> None:
        if self._saved is None:
            return
        socket.getaddrinfo = self._saved["getaddrinfo"]
        socket.create_connection = self._saved["create_connection"]
        for name in ("connect", "connect_ex"):
            if self._saved[name] is None:
                delattr(socket.socket, name)
            else:
                setattr(socket.socket, name, self._saved[name])
        self._saved = None


def install_network_guard() -> NetworkGuard:
    """Install (once per process) and return the guard; blocked attempts raise NetworkBlockedError."""
    global _guard
    if _guard is None:
        _guard = NetworkGuard()
    return _guard.install()
