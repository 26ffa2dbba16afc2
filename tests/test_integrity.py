"""Files kept in git itself (no LFS sha256) are checked against the git blob id the Hub gives."""

import hashlib

import pytest

from catalog import fetch, hub, pipeline, services
from catalog.models import Dataset

DATA = b"id,text\n1,one\n2,two\n"


def git_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_a_file_stored_in_git_is_planned_with_its_blob_id_and_downloads(fake_hub):
    fake_hub.add_repo("acme/in-git", {"train.csv": DATA}, git_files=("train.csv",))
    plan = hub.plan("acme/in-git", fake_hub.resolve("acme/in-git"), "", "train")
    assert [(f.path, f.sha256, f.git_oid) for f in plan.files] == [("train.csv", None, git_oid(DATA))]
    dataset, _ = services.request_download("acme/in-git", split="train")
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY, dataset.error_message
    assert dataset.total_samples == 2


def test_a_wrong_blob_is_refetched(tmp_path):
    partial = tmp_path / "train.csv.partial"
    partial.write_bytes(DATA)
    fetch.verify(hub.PlannedFile("train.csv", len(DATA), git_oid=git_oid(DATA)), partial)  # passes
    tampered = DATA.replace(b"one", b"eno")
    partial.write_bytes(tampered)
    with pytest.raises(hub.ChecksumMismatch, match="git blob id"):
        fetch.verify(hub.PlannedFile("train.csv", len(DATA), git_oid=git_oid(DATA)), partial)
    assert not partial.exists()  # fetched again from zero on the retry
