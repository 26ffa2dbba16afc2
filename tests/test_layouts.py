"""`datasets` is the oracle: for every layout, our Arrow output equals `datasets.load_dataset`.

Each case builds a repository in the test Hub (tests/fakehub/layouts.py), downloads one subset
and split through the real pipeline, full and capped, and compares rows and features with
`load_dataset(repo, subset, split=split, revision=sha)` (and its `.select(range(N))`).
"""

import datasets
import pytest

from catalog import pipeline, services
from catalog.models import Dataset
from tests.fakehub import layouts

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 3


def expected_split(repo_id, subset, split, sha, tmp_path):
    """load_dataset's split as save_to_disk stores it (media files embedded, as ours are)."""
    loaded = datasets.load_dataset(repo_id, subset or None, split=split, revision=sha)
    loaded.save_to_disk(str(tmp_path / "expected"))
    return datasets.load_from_disk(str(tmp_path / "expected"))


def download(repo_id, subset, split, max_samples=None):
    dataset, created = services.request_download(repo_id, subset=subset, split=split, max_samples=max_samples)
    assert created
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    return dataset


def rows_of(ds):
    """Rows as stored (no decoding: images and audio stay bytes and paths).

    A WebDataset row's `__url__` is the path of the shard where it was read, a local cache path
    in `datasets` too: only its file name is compared.
    """
    rows = ds.with_format("arrow")[:].to_pylist()
    for row in rows:
        if "__url__" in row:
            row["__url__"] = row["__url__"].rsplit("/", 1)[-1]
    return rows


def assert_same(ours, expected):
    assert ours.features == expected.features
    assert len(ours) == len(expected)
    assert rows_of(ours) == rows_of(expected)


@pytest.mark.parametrize("repo_id, subset, split", layouts.CASES, ids=["-".join(c).strip("-") for c in layouts.CASES])
def test_layout_matches_load_dataset_full_and_capped(fake_hub, hf_cache, tmp_path, repo_id, subset, split):
    sha = layouts.add_layout(fake_hub, repo_id)
    expected = expected_split(repo_id, subset, split, sha, tmp_path)

    full = download(repo_id, subset, split)
    assert full.status == Dataset.Status.READY, full.error_message
    assert full.resolved_revision == sha
    assert_same(datasets.load_from_disk(full.local_path), expected)

    capped = download(repo_id, subset, split, max_samples=CAP)
    assert capped.status == Dataset.Status.READY, capped.error_message
    assert_same(datasets.load_from_disk(capped.local_path), expected.select(range(min(CAP, len(expected)))))


def test_card_features_are_kept_not_reinferred(fake_hub, hf_cache):
    """The card says zip is a string, score float32, label a ClassLabel: pandas alone would say otherwise."""
    layouts.add_layout(fake_hub, "layouts/card-csv")
    dataset = download("layouts/card-csv", "", "train", max_samples=2)
    loaded = datasets.load_from_disk(dataset.local_path)
    assert loaded.features["zip"] == datasets.Value("string")
    assert loaded.features["score"] == datasets.Value("float32")
    assert loaded.features["label"] == datasets.ClassLabel(names=["neg", "pos"])
    assert {f["name"]: f["type"] for f in dataset.features}["label"] == "class_label(neg, pos)"


def test_capped_types_are_those_of_the_full_split(fake_hub, hf_cache):
    """The first 3 rows hold only integers; the full split's type is float64 (row 40 has 1.5)."""
    layouts.add_layout(fake_hub, "layouts/late-types-json")
    dataset = download("layouts/late-types-json", "", "train", max_samples=3)
    loaded = datasets.load_from_disk(dataset.local_path)
    assert loaded.features["value"] == datasets.Value("float64")
    assert loaded["value"] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("split, clips", [("train", 5), ("test", 2)])
def test_audiofolder_keeps_each_clip_as_its_file(fake_hub, hf_cache, split, clips):
    """datasets encodes audio with torchcodec (torch): without it, load_dataset cannot be the oracle
    here, so the expected rows are the clip files themselves, in the struct datasets stores."""
    repo_id = "layouts/audio-metadata"
    layouts.add_layout(fake_hub, repo_id)
    files = layouts.audio_metadata()
    expected = [
        {"audio": {"bytes": files[f"{split}/clip-{i}.wav"], "path": f"clip-{i}.wav"}, "transcript": f"{split} clip {i}"}
        for i in range(clips)
    ]
    features = datasets.Features({"audio": datasets.Audio(), "transcript": datasets.Value("string")})
    for cap in (1, None):
        dataset = download(repo_id, "", split, max_samples=cap)
        assert dataset.status == Dataset.Status.READY, dataset.error_message
        loaded = datasets.load_from_disk(dataset.local_path)
        assert loaded.features == features
        assert rows_of(loaded) == expected[:cap]
        if cap:  # only the first clip was fetched
            assert fake_hub.bytes_served(repo_id, f"{split}/clip-1.wav") == 0
    # The capped download fetched one clip of the split, and no clip of another split.
    other = "test" if split == "train" else "train"
    assert fake_hub.bytes_served(repo_id, f"{other}/clip-0.wav") == 0


def test_a_card_whose_row_counts_are_wrong_is_refused_as_datasets_refuses_it(fake_hub, hf_cache):
    sha = layouts.add_layout(fake_hub, "layouts/card-splits-wrong")
    with pytest.raises(datasets.exceptions.NonMatchingSplitsSizesError):
        datasets.load_dataset("layouts/card-splits-wrong", split="test", revision=sha)
    dataset = download("layouts/card-splits-wrong", "", "test")
    assert dataset.status == Dataset.Status.FAILED
    assert "says split 'test' has 6 rows, but its files hold 5" in dataset.error_message
    assert not dataset.local_path
