"""Disk space: refused up front with both numbers; a full disk at any step fails cleanly and resumes.

The data folder is a size-limited tmpfs (mounting one needs root, as in CI; skipped otherwise).
"""

import os
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog import fetch, hub, pipeline, services, storage
from catalog.models import Dataset
from tests.fakehub import repos
from tests.processes import wait_until
from tests.test_pipeline import data_bytes_served, in_thread, split_size, start

pytestmark = pytest.mark.django_db(transaction=True)

S = Dataset.Status
MULTI_TRAIN = repos.MULTI_FILES["default"]["train"]
IMPORT_URL = "/api/v1/datasets/import/"


@pytest.fixture
def small_disk(tmp_path, settings):
    """small_disk(megabytes): the data folder on a tmpfs of that size."""
    mounted = []

    def mount(megabytes):
        folder = tmp_path / f"disk-{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)])
        if done.returncode:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(folder)
        settings.DATA_DIR = folder / "data"
        settings.DATA_DIR.mkdir()
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)])


def fill(folder, leave=0):
    """Fill the filesystem of folder up to `leave` free bytes with a ballast file; returns its path."""
    ballast = folder / "ballast"
    block = b"\0" * 65536
    with open(ballast, "wb") as out:
        try:
            while storage.free_space() > leave + len(block):
                out.write(block)
                out.flush()
        except OSError:
            pass
    return ballast


def assert_disk_message(message):
    assert message.startswith("Not enough disk space: "), message
    needed, free = (int(part.split()[0].replace(",", "")) for part in message[23:].split(", ")[:2])
    assert needed > free >= 0, message
    assert "bytes needed" in message and "bytes free" in message


def leftovers(dataset):
    """What is left in the dataset's folder, but the dataset card (kept beside the Arrow folder)."""
    folder = storage.dataset_dir(dataset.pk)
    return sorted(p.name for p in folder.iterdir() if p.name != "README.md") if folder.exists() else []


def test_a_download_larger_than_the_free_space_is_refused_before_fetching(fake_hub, small_disk):
    small_disk(6)
    dataset = start(repos.MULTI)
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == S.FAILED
    assert_disk_message(dataset.error_message)
    needed = split_size(fake_hub, repos.MULTI, MULTI_TRAIN) * storage.BUILD_SPACE_FACTOR
    assert f"{needed:,} bytes needed" in dataset.error_message
    assert data_bytes_served(fake_hub, repos.MULTI) == 0


def test_a_disk_filling_up_while_fetching_fails_keeps_the_partial_files_and_a_retry_resumes(fake_hub, small_disk):
    disk = small_disk(14)
    fake_hub.throttle(repos.MULTI, bytes_per_second=400_000, path_glob="data/train-*")
    dataset = start(repos.MULTI)
    thread = in_thread(pipeline.run_download, dataset.pk)
    wait_until(lambda: Dataset.objects.get(pk=dataset.pk).downloaded_bytes > 300_000, timeout=30, message="progress")
    ballast = fill(disk)
    thread.join(30)
    dataset.refresh_from_db()
    assert dataset.status == S.FAILED
    assert_disk_message(dataset.error_message)
    planned = [hub.PlannedFile(p, len(fake_hub.standard_repos[repos.MULTI]["files"][p])) for p in MULTI_TRAIN]
    kept = fetch.bytes_on_disk(dataset.pk, planned)
    assert kept > 300_000
    assert leftovers(dataset) == ["downloads"]

    os.unlink(ballast)
    fake_hub.unthrottle()
    services.retry(dataset)
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == S.READY, dataset.error_message
    total = split_size(fake_hub, repos.MULTI, MULTI_TRAIN)
    # Resumed from the partial files: what was on disk is not fetched again.
    assert data_bytes_served(fake_hub, repos.MULTI) < total * 1.1


def test_a_disk_filling_up_during_the_build_fails_and_keeps_the_downloaded_files(fake_hub, small_disk, monkeypatch):
    folder = small_disk(64)
    # Room for the download and half of it again: the build's Arrow files (about 1.3 times the
    # parquet bytes) do not fit. The up-front check is let through: the build is what fills the disk.
    fill(folder, leave=int(split_size(fake_hub, repos.MULTI, MULTI_TRAIN) * 1.5))
    monkeypatch.setattr(storage, "BUILD_SPACE_FACTOR", 1)
    dataset = start(repos.MULTI)
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == S.FAILED
    assert_disk_message(dataset.error_message)
    assert "Unexpected error" not in dataset.error_message
    # The downloaded files stay for a retry; the half-built Arrow folders and the build cache are gone.
    assert leftovers(dataset) == ["downloads"]
    assert sorted(p.name for p in storage.downloads_dir(dataset.pk).rglob("*.parquet")) == sorted(
        p.rsplit("/", 1)[1] for p in MULTI_TRAIN
    )


def test_an_upload_larger_than_the_free_space_is_refused_with_both_numbers(api_client, small_disk):
    small_disk(1)
    response = api_client.post(IMPORT_URL, {"file": SimpleUploadedFile("big.csv", b"a\n" + b"1\n" * 300_000)})
    assert response.status_code == 400
    assert_disk_message(response.json()["file"][0])
    assert not list(storage.datasets_root().glob("*/upload/*"))
    assert not Dataset.objects.exists()


def test_an_upload_that_fills_the_disk_leaves_no_file(api_client, small_disk, monkeypatch):
    small_disk(1)
    monkeypatch.setattr(storage, "BUILD_SPACE_FACTOR", 0)  # The up-front check passes; the write fails.
    response = api_client.post(IMPORT_URL, {"file": SimpleUploadedFile("big.csv", b"a\n" + b"1\n" * 800_000)})
    assert response.status_code == 400
    assert_disk_message(response.json()["file"][0])
    assert not list(storage.datasets_root().glob("*"))
    assert not Dataset.objects.exists()
