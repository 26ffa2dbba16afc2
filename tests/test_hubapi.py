"""The /hub endpoint: the real `datasets` and `huggingface_hub` clients load a ready dataset from it over HTTP."""

import hashlib
import json
import os
import pickle
import subprocess
import sys

import datasets
import pytest

from catalog import browse, storage
from catalog.hubapi import naming, repo
from catalog.models import Dataset
from tests.processes import ROOT

SHA = "0123456789abcdef0123456789abcdef01234567"
FEATURES = datasets.Features(
    {
        "id": datasets.Value("int64"),
        "text": datasets.Value("string"),
        "label": datasets.ClassLabel(names=["neg", "pos"]),
        "score": datasets.Value("float32"),
        "blob": datasets.Value("binary"),
        "meta": {"tag": datasets.Value("string"), "values": datasets.List(datasets.Value("int32"))},
    }
)
N = 250


def data():
    return {
        "id": list(range(N)),
        "text": [None if i % 9 == 0 else f"text {i} ünï" for i in range(N)],
        "label": [i % 2 for i in range(N)],
        "score": [i / 8 for i in range(N)],
        "blob": [bytes([i % 256]) * (i % 4) for i in range(N)],
        "meta": [{"tag": f"t{i}", "values": list(range(i % 3))} for i in range(N)],
    }


@pytest.fixture
def bearer(user):
    """A personal API token of alice: the HF clients send it as HF_TOKEN (Authorization: Bearer)."""
    from catalog.accounts.models import ApiToken

    _, key = ApiToken.objects.create(user=user, expiry=None, name="hub endpoint")
    return key


def make_ready(make_dataset, **fields):
    fields.setdefault("repo_id", "acme/multi")
    fields.setdefault("config", {"subset": "", "split": "train", "revision": "main", "max_samples": None})
    dataset = make_dataset(status=Dataset.Status.READY, resolved_revision=SHA, total_samples=N, **fields)
    path = storage.arrow_dir(dataset.pk)
    datasets.Dataset.from_dict(data(), features=FEATURES).save_to_disk(str(path), num_shards=2)
    storage.card_file(dataset.pk).write_text(
        "---\nlicense: mit\nconfigs: [{config_name: x, data_files: nope}]\n---\n# Multi\n\nThe original card.\n"
    )
    dataset.local_path = str(path)
    dataset.save()
    return dataset


@pytest.fixture
def ready(make_dataset, user):
    return make_ready(make_dataset)


def run_clients(live_server, repo_id, split, tmp_path, token):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(
        {
            "HF_ENDPOINT": f"{live_server.url}/hub",
            "HF_HOME": str(tmp_path / "client-hf-home"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_UPDATE_DOWNLOAD_COUNTS": "0",
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    if token:
        env["HF_TOKEN"] = token
    output = tmp_path / "client.pickle"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "hub_client.py"), repo_id, split, str(output)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return done, (pickle.loads(output.read_bytes()) if output.exists() else None)


@pytest.mark.django_db(transaction=True)
def test_load_dataset_and_snapshot_download_from_the_hub_endpoint(live_server, ready, bearer, tmp_path):
    repo_id = naming.hub_repo_id(ready)
    done, result = run_clients(live_server, repo_id, "train", tmp_path, bearer)
    assert done.returncode == 0, done.stderr[-4000:]
    assert result["blocked"] == []
    # Exactly the rows and the features of the dataset on disk.
    original = datasets.load_from_disk(str(storage.arrow_dir(ready.pk)))
    assert result["features"] == original.features.to_dict() == FEATURES.to_dict()
    assert result["rows"] == original.with_format("arrow")[:].to_pylist()
    assert result["split"] == "train"
    assert result["streamed_rows"] == result["plain_rows"] == original.to_list()
    # The revision is the commit the dataset was fetched at.
    assert result["info_sha"] == SHA and result["snapshot_commit"] == SHA
    # snapshot_download got the Arrow files byte for byte, and the generated card.
    files = browse.arrow_files(storage.arrow_dir(ready.pk))
    expected = {
        f"data/train-{i:05d}-of-{len(files):05d}.arrow": hashlib.sha256(f.read_bytes()).hexdigest()
        for i, f in enumerate(files)
    }
    assert {k: v for k, v in result["snapshot"].items() if k != "README.md"} == expected
    assert "README.md" in result["snapshot"]


@pytest.mark.django_db(transaction=True)
def test_the_clients_without_a_token_get_repository_not_found(live_server, ready, bearer, tmp_path):
    done, result = run_clients(live_server, naming.hub_repo_id(ready), "train", tmp_path, token=None)
    assert done.returncode != 0 and result is None
    assert "DatasetNotFoundError" in done.stderr or "RepositoryNotFoundError" in done.stderr


# --------------------------------------------------------------------------- the routes, with Django's client


@pytest.fixture
def hub_client(client, user):
    client.force_login(user)
    return client


def hub_url(dataset, rest):
    return f"/hub/{rest.format(repo=naming.hub_repo_id(dataset))}"


def test_repo_info_lists_the_files_at_the_fetched_commit(hub_client, ready):
    body = hub_client.get(hub_url(ready, "api/datasets/{repo}"), {"blobs": "true"}).json()
    assert body["id"] == naming.hub_repo_id(ready) and body["sha"] == SHA
    names = [s["rfilename"] for s in body["siblings"]]
    assert names == ["README.md", "data/train-00000-of-00002.arrow", "data/train-00001-of-00002.arrow"]
    sizes = [f.stat().st_size for f in browse.arrow_files(storage.arrow_dir(ready.pk))]
    assert [s["size"] for s in body["siblings"][1:]] == sizes
    assert body["cardData"]["license"] == "mit"
    # The original card's own configs would point elsewhere: ours say which files are the split.
    assert body["cardData"]["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*.arrow"}]}
    ]
    (split,) = body["cardData"]["dataset_info"]["splits"]
    assert split["name"] == "train" and split["num_examples"] == N
    for revision in ("main", SHA):
        assert hub_client.get(hub_url(ready, f"api/datasets/{{repo}}/revision/{revision}")).json()["sha"] == SHA
    missing = hub_client.get(hub_url(ready, "api/datasets/{repo}/revision/v2"))
    assert missing.status_code == 404 and missing["X-Error-Code"] == "RevisionNotFound"


def test_tree_and_paths_info(hub_client, ready):
    root = hub_client.get(hub_url(ready, f"api/datasets/{{repo}}/tree/{SHA}")).json()
    assert [(e["type"], e["path"]) for e in root] == [("file", "README.md"), ("directory", "data")]
    deep = hub_client.get(hub_url(ready, "api/datasets/{repo}/tree/main"), {"recursive": "true", "expand": "true"})
    assert [e["path"] for e in deep.json()] == [
        "README.md",
        "data",
        "data/train-00000-of-00002.arrow",
        "data/train-00001-of-00002.arrow",
    ]
    assert deep.json()[0]["lastCommit"]["id"] == SHA
    sub = hub_client.get(hub_url(ready, "api/datasets/{repo}/tree/main/data")).json()
    assert [e["path"] for e in sub] == ["data/train-00000-of-00002.arrow", "data/train-00001-of-00002.arrow"]
    nothing = hub_client.get(hub_url(ready, "api/datasets/{repo}/tree/main/nope"))
    assert nothing.status_code == 404 and nothing["X-Error-Code"] == "EntryNotFound"
    info = hub_client.post(
        hub_url(ready, "api/datasets/{repo}/paths-info/main"),
        "paths=README.md&paths=data&paths=nope&expand=false",
        content_type="application/x-www-form-urlencoded",
    ).json()
    assert [(e["type"], e["path"]) for e in info] == [("file", "README.md"), ("directory", "data")]
    refs = hub_client.get(hub_url(ready, "api/datasets/{repo}/refs")).json()
    assert refs["branches"] == [{"name": "main", "ref": "refs/heads/main", "targetCommit": SHA}]


def content(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_resolve_serves_files_with_range_and_etag(hub_client, ready):
    first = browse.arrow_files(storage.arrow_dir(ready.pk))[0].read_bytes()
    url = hub_url(ready, "datasets/{repo}/resolve/main/data/train-00000-of-00002.arrow")
    head = hub_client.head(url)
    assert head.status_code == 200 and head["Content-Length"] == str(len(first))
    assert head["X-Repo-Commit"] == SHA and head["Accept-Ranges"] == "bytes"
    whole = hub_client.get(url)
    assert content(whole) == first and whole["ETag"] == head["ETag"]
    part = hub_client.get(url, HTTP_RANGE="bytes=10-99")
    assert part.status_code == 206 and content(part) == first[10:100]
    assert part["Content-Range"] == f"bytes 10-99/{len(first)}"
    assert hub_client.get(url, HTTP_RANGE=f"bytes={len(first)}-").status_code == 416
    card = hub_client.get(hub_url(ready, f"datasets/{{repo}}/resolve/{SHA}/README.md"))
    text = card.content.decode()
    assert card["X-Repo-Commit"] == SHA and int(card["Content-Length"]) == len(card.content)
    assert text.startswith("---\nconfigs:") and "The original card." in text
    assert hub_client.head(hub_url(ready, "datasets/{repo}/resolve/main/README.md"))["ETag"] == card["ETag"]
    gone = hub_client.get(hub_url(ready, "datasets/{repo}/resolve/main/data/other.arrow"))
    assert gone.status_code == 404 and gone["X-Error-Code"] == "EntryNotFound"


def test_unknown_hidden_and_unready_repositories_are_not_found(client, hub_client, ready, make_dataset):
    pending = make_dataset(status=Dataset.Status.DOWNLOADING)
    for dataset in (pending,):
        response = hub_client.get(hub_url(dataset, "api/datasets/{repo}"))
        assert response.status_code == 404 and response["X-Error-Code"] == "RepoNotFound"
    # The right id under another namespace or name is not the same repository.
    wrong = naming.hub_repo_id(ready).replace("acme/", "other/")
    assert hub_client.get(f"/hub/api/datasets/{wrong}").status_code == 404
    assert hub_client.get("/hub/api/datasets/acme/not-ours").status_code == 404
    client.logout()
    anonymous = client.get(hub_url(ready, "api/datasets/{repo}"))
    assert anonymous.status_code == 401 and anonymous["X-Error-Code"] == "RepoNotFound"
    assert client.get(hub_url(ready, "datasets/{repo}/resolve/main/README.md")).status_code == 401


def test_api_record_carries_the_hub_repo_id(api_client, ready, make_dataset):
    body = api_client.get(f"/api/v1/datasets/{ready.pk}/").json()
    assert body["hub_repo_id"] == naming.hub_repo_id(ready)
    pending = make_dataset(status=Dataset.Status.PENDING)
    assert api_client.get(f"/api/v1/datasets/{pending.pk}/").json()["hub_repo_id"] is None


def test_readme_features_round_trip(ready):
    text = repo.readme(ready).decode()
    front = text.split("---\n")[1]
    import yaml

    info = datasets.DatasetInfo._from_yaml_dict(yaml.safe_load(front)["dataset_info"])
    assert info.features == FEATURES
    assert json.dumps(info.features.to_dict())


@pytest.mark.django_db(transaction=True)
def test_images_and_class_labels_round_trip_through_the_hub_endpoint(live_server, fake_hub, user, bearer, tmp_path):
    from catalog import pipeline, services
    from tests.fakehub import layouts

    layouts.add_layout(fake_hub, "layouts/image-classes")
    dataset, _ = services.request_download("layouts/image-classes", split="train")
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.is_ready, dataset.error_message
    done, result = run_clients(live_server, naming.hub_repo_id(dataset), "train", tmp_path, bearer)
    assert done.returncode == 0, done.stderr[-4000:]
    assert result["blocked"] == []
    original = datasets.load_from_disk(str(storage.arrow_dir(dataset.pk)))
    assert result["features"] == original.features.to_dict()
    assert result["features"]["image"] == {"_type": "Image"} and result["features"]["label"]["_type"] == "ClassLabel"
    assert result["rows"] == original.with_format("arrow")[:].to_pylist()
    assert result["info_sha"] == dataset.resolved_revision
