"""Test set-up shared by every test.

Order matters: the test Hub must be listening and HF_ENDPOINT set before huggingface_hub,
datasets or the Django settings are imported, because all of them read it once at import.
"""

import os
import tempfile
import uuid

_run_dir = tempfile.mkdtemp(prefix="hfd-tests-")
os.environ.setdefault("HFD_DATA_DIR", os.path.join(_run_dir, "data"))
# A queue and channel prefix of our own, so parallel runs on one Redis do not see each other's tasks.
os.environ["HFD_QUEUE_NAME"] = f"hfd-test-{uuid.uuid4().hex[:8]}"
os.environ["HFD_CHANNEL_PREFIX"] = os.environ["HFD_QUEUE_NAME"]
# Tests do not run collectstatic, so the hashed-name manifest does not exist.
os.environ["HFD_MANIFEST_STATIC"] = "0"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hfdatasets.settings")

import pytest  # noqa: E402

pytest.register_assert_rewrite("tests.fakehub")

from tests.fakehub.plugin import start_session_hub  # noqa: E402

SESSION_HUB = start_session_hub()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.PASSWORD_HASHERS = ["tests.hashers.FastPBKDF2PasswordHasher"]

pytest_plugins = ["tests.fakehub.plugin", "tests.fixtures"]
