"""Idle CPU of the real web (daphne) and worker (qcluster) processes, with 10,000 datasets.

Both are started as production runs them, on the benchmark's SQLite database: once on the
embedded default and once with REDIS_URL (if a Redis answers). Each process's CPU is its whole
process tree's (qcluster runs a sentinel, a queue reader, workers and a monitor as children),
read from /proc (the scheduler's nanoseconds of each thread) at the start and the end of one
window: first with nothing connected, then with one ws/datasets/ socket open on the web process
(on the embedded default the relay runs then).
"""

import base64
import os
import socket
import struct
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.harness import Figure, Sample, value_below
from tests.fixtures import add_datasets

TICKS = os.sysconf("SC_CLK_TCK")
# After start-up (imports, migrations checked, first requests): time for every loop to reach its steady state.
SETTLE_SECONDS = 3.0


def _parent(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _cpu_seconds(pid):
    """CPU time of a process so far: the scheduler's nanoseconds summed over its threads (exact),
    else utime + stime in clock ticks (1/100 s: too coarse for a few seconds at 1%)."""
    try:
        return (
            sum(int(Path(task, "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir())
            / 1e9
        )
    except (OSError, IndexError, ValueError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError):
        return None


def tree_cpu(root):
    """{pid: CPU seconds} of a process and all its descendants."""
    parents = {int(entry): _parent(entry) for entry in os.listdir("/proc") if entry.isdigit()}
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if (seconds := _cpu_seconds(pid)) is not None:
            found[pid] = seconds
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return found


def cpu_percent(roots, seconds):
    """{name: % of one core} each process tree in `roots` ({name: pid}) used over the same window."""
    before = {name: tree_cpu(pid) for name, pid in roots.items()}
    started = time.monotonic()
    time.sleep(seconds)
    after = {name: tree_cpu(pid) for name, pid in roots.items()}
    wall = time.monotonic() - started
    # A process started within the window counts from zero; one that ended is left out (none should).
    return {
        name: 100 * sum(cpu - before[name].get(pid, 0) for pid, cpu in after[name].items()) / wall for name in roots
    }


def open_socket(port, path, cookie):
    """A WebSocket handshake by hand (no client library needed): returns the open socket once the
    snapshot message has arrived, so the consumer (and on the embedded default, the relay) runs."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Cookie: sessionid={cookie}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, f"socket closed during the handshake: {head!r}"
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    # The first frame (server frames are not masked): the snapshot.
    rest += _recv_exactly(sock, 2 - len(rest)) if len(rest) < 2 else b""
    length = rest[1] & 0x7F
    header = 2 + {126: 2, 127: 8}.get(length, 0)
    rest += _recv_exactly(sock, header - len(rest)) if len(rest) < header else b""
    if length == 126:
        length = struct.unpack("!H", rest[2:4])[0]
    elif length == 127:
        length = struct.unpack("!Q", rest[2:10])[0]
    payload = rest[header:] + _recv_exactly(sock, header + length - len(rest))
    assert b'"snapshot"' in payload, payload[:200]
    return sock


def _recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "socket closed"
        data += chunk
    return data


def _measure_layer(work, name, env, seconds, cookie):
    """{(process, state): % of a core} for one configuration of web and worker processes."""
    from catalog.models import Worker
    from tests.processes import free_port, start_daphne, start_worker, wait_serving, wait_until

    port = free_port()
    logs = Path(work) / f"idle-{name}"
    logs.mkdir(exist_ok=True)
    Worker.objects.all().delete()
    web = start_daphne(logs, port, **env)
    worker = start_worker(logs, **env)
    try:
        wait_serving(web, f"http://127.0.0.1:{port}")
        # The queue reader's monitor registers the worker once the cluster is up.
        wait_until(Worker.objects.exists, timeout=60, interval=0.1, message=f"the worker (log: {worker.log_path})")
        time.sleep(SETTLE_SECONDS)
        roots = {"web": web.pid, "worker": worker.pid}
        usage = {(proc, "nothing connected"): cpu for proc, cpu in cpu_percent(roots, seconds).items()}
        sock = open_socket(port, "/ws/datasets/", cookie)
        try:
            time.sleep(1.0)  # the consumer's snapshot is sent; the relay's baseline read is done
            usage.update({(proc, "one socket open"): cpu for proc, cpu in cpu_percent(roots, seconds).items()})
        finally:
            sock.close()
    finally:
        web.stop()
        worker.stop()
    return usage


def idle_cpu(work, seconds, datasets=10_000):
    """[Figure]: % of a core of the web and the worker process trees while nothing happens."""
    import redis
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from bench import _setup
    from catalog.models import Dataset

    Dataset.objects.all().delete()
    add_datasets(datasets)
    # Idle: no work queued or running (the recovery pass would re-queue pending rows that have
    # no task, and the worker would run them), and nothing in the relay's window of late commits.
    Dataset.objects.filter(status__in=Dataset.ACTIVE_STATUSES).update(status=Dataset.Status.CANCELLED)
    Dataset.objects.update(updated_at=timezone.now() - timedelta(minutes=1))
    client = Client()
    client.force_login(get_user_model().objects.create_user(f"bench-idle-{uuid.uuid4().hex[:6]}"))
    cookie = client.cookies["sessionid"].value

    configs = {"embedded": {}}
    notes = [f"{datasets:,} datasets; CPU of each whole process tree over {seconds:g} s, after start-up settled"]
    try:
        redis.Redis.from_url(_setup.REDIS_URL, socket_connect_timeout=2).ping()
        prefix = f"hfd-bench-{uuid.uuid4().hex[:10]}"
        # A queue and a channel prefix of the run's own in that Redis.
        configs["Redis"] = {"REDIS_URL": _setup.REDIS_URL, "HFD_QUEUE_NAME": prefix, "HFD_CHANNEL_PREFIX": prefix}
    except redis.exceptions.RedisError as exc:
        notes.append(f"Redis at {_setup.REDIS_URL} not reachable ({type(exc).__name__}): Redis not measured")
    figures = []
    for name, env in configs.items():
        usage = _measure_layer(work, name, env, seconds, cookie)
        for (proc, state), cpu in usage.items():
            label, check = value_below(1.0, "%")
            process = "web process (daphne)" if proc == "web" else "worker process (qcluster)"
            figures.append(
                Figure(f"idle CPU, {process}, {name}, {state} (% of a core)", Sample([cpu], "%"), None, label, check)
            )
    Dataset.objects.all().delete()
    figures[0].notes.extend(notes)
    return figures
