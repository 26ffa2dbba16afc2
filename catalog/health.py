"""Health of the service: database, task broker, live workers, free disk, stalled downloads.

`GET /healthz` (no login) answers report() as JSON, 200 when everything is fine and 503 when not;
the Docker healthchecks call it. It holds counts and yes/no answers only, never a host name,
a path or a setting. The pages show `problems()` as a banner.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from catalog import storage
from catalog.models import Dataset

# A running download whose heartbeat (stamped every second) is older than this has stalled.
STALLED_AFTER_SECONDS = 10


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def check_broker():
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.ping()
    return {"ok": True, "queued": broker.queue_size()}


def check_workers():
    from catalog import workers

    alive = len(workers.alive_workers())
    return {"ok": alive > 0, "alive": alive}


def check_disk():
    free = storage.free_space()
    return {"ok": free >= settings.HFD_MIN_FREE_BYTES, "free_bytes": free}


def stalled_downloads():
    """Running downloads whose run stopped stamping its heartbeat (its worker hangs or is gone)."""
    before = timezone.now() - timedelta(seconds=STALLED_AFTER_SECONDS)
    return Dataset.objects.filter(status__in=Dataset.RUNNING_STATUSES).filter(heartbeat_at__lt=before)


def check_downloads():
    stalled = stalled_downloads().count()
    return {"ok": stalled == 0, "stalled": stalled}


CHECKS = {
    "database": check_database,
    "broker": check_broker,
    "workers": check_workers,
    "disk": check_disk,
    "downloads": check_downloads,
}
# These need the database; without it they are reported as unknown, not as failing twice.
NEEDS_DATABASE = {"workers", "downloads"}


def report():
    """(healthy, {"status": "ok"|"unhealthy", "checks": {name: {"ok": bool, ...}}})."""
    checks = {}
    for name, check in CHECKS.items():
        if name in NEEDS_DATABASE and not checks["database"]["ok"]:
            checks[name] = {"ok": False, "error": "database unreachable"}
            continue
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = {"ok": False, "error": type(exc).__name__}
    healthy = all(c["ok"] for c in checks.values())
    return healthy, {"status": "ok" if healthy else "unhealthy", "checks": checks, "problems": problems(checks)}


def problems(checks=None):
    """What the pages' banner says: no live worker, stalled downloads (empty when all is well)."""
    if checks is None:
        checks = {}
        for name in ("database", *NEEDS_DATABASE):
            try:
                checks[name] = CHECKS[name]()
            except Exception:
                checks[name] = {"ok": False}
                break
    if not checks.get("database", {}).get("ok"):
        return ["The database is unreachable: what you see may be out of date."]
    messages = []
    if not checks["workers"]["ok"]:
        messages.append("No worker is running: downloads wait until one starts (python manage.py qcluster).")
    stalled = checks["downloads"].get("stalled", 0)
    if stalled:
        messages.append(
            f"{stalled} download{'s have' if stalled > 1 else ' has'} stalled: its worker stopped answering. "
            "It continues once the worker is back, or another worker takes it over."
        )
    return messages
