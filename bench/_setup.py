"""Shared set-up for benchmarks: a temporary data dir, the fake Hub on loopback, Django."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup():
    work = tempfile.mkdtemp(prefix="hfd-bench-")
    os.environ["HFD_DATA_DIR"] = os.path.join(work, "data")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hfdatasets.settings")
    from tests.fakehub.plugin import start_session_hub

    hub = start_session_hub()  # sets HF_ENDPOINT before the HF libraries are imported
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return hub, Path(work)
