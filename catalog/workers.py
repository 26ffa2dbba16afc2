"""Which worker processes are alive: process identities, their heartbeats, and checks of both.

A process identity is "<host>|<boot id>|<pid>|<start time>". On the same machine a process is
checked directly (is that pid still the same process?), which is exact and instant: a SIGKILLed
worker is known dead the moment another process looks. A process on another machine is alive
while its heartbeat is fresh (HFD_WORKER_LOST_SECONDS).
"""

import functools
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from catalog.models import Worker


@functools.cache
def _boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _start_time(pid):
    """The kernel's start time of a process (ticks since boot), or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name (field 2) may hold spaces; the fields after it are plain.
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def identity(pid=None):
    """This process's identity (or another local process's)."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}|{_boot_id()}|{pid}|{_start_time(pid) or ''}"


def is_local(ident):
    host, boot, _pid, _start = _parts(ident)
    return host == socket.gethostname() and boot == _boot_id() and bool(boot)


def local_process_alive(ident):
    """For an identity on this machine: is that very process still running?"""
    _host, _boot, pid, start = _parts(ident)
    return pid.isdigit() and _start_time(int(pid)) == start


def _parts(ident):
    parts = ident.split("|")
    return (parts + ["", "", "", ""])[:4]


def lost_after():
    return timedelta(seconds=settings.HFD_WORKER_LOST_SECONDS)


def beat(ident):
    """Stamp (or register) a worker process."""
    host, _boot, pid, _start = _parts(ident)
    Worker.objects.update_or_create(
        identity=ident, defaults={"host": host, "pid": int(pid or 0), "beat_at": timezone.now()}
    )


def forget(ident):
    Worker.objects.filter(identity=ident).delete()


def alive_workers():
    """Workers whose heartbeat is fresh (and, on this machine, whose process is still there)."""
    fresh = Worker.objects.filter(beat_at__gte=timezone.now() - lost_after())
    return [w for w in fresh if not is_local(w.identity) or local_process_alive(w.identity)]


def is_dead(ident, last_sign_of_life, sure_of_the_clock):
    """True if the process `ident` is gone.

    On this machine that is checked directly. Elsewhere, by `last_sign_of_life` (its newest
    heartbeat) being older than HFD_WORKER_LOST_SECONDS; only when `sure_of_the_clock` (the
    caller itself has reached the database for that long, so a fresh beat would have been seen).
    """
    if not ident:
        return False
    if is_local(ident):
        return not local_process_alive(ident)
    if not sure_of_the_clock:
        return False
    return last_sign_of_life is None or last_sign_of_life < timezone.now() - lost_after()


def remove_dead_rows():
    """Forget workers that are gone (their rows only matter while they may hold a task)."""
    old = Worker.objects.filter(beat_at__lt=timezone.now() - 10 * lost_after())
    old.delete()
    for worker in Worker.objects.all():
        if is_local(worker.identity) and not local_process_alive(worker.identity):
            worker.delete()
