"""Shared set-up for benchmarks: a temporary data dir, the fake Hub on loopback, Django."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The Redis a benchmark may use for the Redis channel layer (with a prefix of its own), taken
# before REDIS_URL is cleared below.
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def setup():
    """Fake Hub on loopback, Django on a fresh embedded SQLite database in a temporary folder.

    DATABASE_URL and REDIS_URL are ignored: a benchmark never writes into a real deployment's
    database or task queue.
    """
    work = tempfile.mkdtemp(prefix="hfd-bench-")
    atexit.register(shutil.rmtree, work, True)  # the database, the datasets and the downloads of the run
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ["HFD_DATA_DIR"] = os.path.join(work, "data")
    os.environ["HFD_MANIFEST_STATIC"] = "0"  # static files by their plain names, no collectstatic
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hfdatasets.settings")
    from tests.fakehub.plugin import start_session_hub

    hub = start_session_hub()  # sets HF_ENDPOINT before the HF libraries are imported
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host is allowed
    call_command("migrate", verbosity=0)
    return hub, Path(work)
