"""Inspection: a handful of Hub requests, cached per commit; script-only repos; splits we cannot build."""

import datasets
import pytest

from catalog import pipeline, services
from catalog.models import Dataset
from tests.fakehub import layouts


def test_a_hundred_yaml_configs_take_a_handful_of_requests_and_are_cached_per_commit(api_client, fake_hub, hf_cache):
    fake_hub.add_repo("layouts/many", layouts.many_configs(100))
    fake_hub.reset_counters()
    response = api_client.get("/api/v1/hub/layouts/many/")
    assert response.status_code == 200
    body = response.json()
    assert len(body["configs"]) == 100
    assert body["configs"][7]["splits"] == [
        {
            "name": "train",
            "num_files": 1,
            "num_bytes": len(layouts.many_configs(100)["c007/train-0.parquet"]),
            "buildable": True,
        },
        {
            "name": "test",
            "num_files": 1,
            "num_bytes": len(layouts.many_configs(100)["c007/test-0.parquet"]),
            "buildable": True,
        },
    ]
    assert len(fake_hub.requests) <= 12, fake_hub.requests
    # Asked again: only the revision is looked up (and access checked); the rest is the cached answer.
    fake_hub.reset_counters()
    assert api_client.get("/api/v1/hub/layouts/many/").json() == body
    assert [method for method, _, _ in fake_hub.requests] == ["GET"]


def test_a_card_that_does_not_parse_is_a_message_and_is_not_cached(api_client, fake_hub, hf_cache):
    fake_hub.add_repo("layouts/broken", {"README.md": b"---\nconfigs: [unclosed\n---\n", "data.csv": b"a\n1\n"})
    for _ in range(2):
        fake_hub.reset_counters()
        response = api_client.get("/api/v1/hub/layouts/broken/")
        assert response.status_code == 400
        assert "could not be read" in response.json()["detail"]
        assert len(fake_hub.requests) > 1  # read again, not answered from a cache


def test_a_layout_datasets_cannot_load_is_a_message_not_a_server_error(api_client, fake_hub, hf_cache):
    fake_hub.add_repo("layouts/mixed", {"train.csv": b"a\n1\n", "test.jsonl": b'{"a": 1}\n'})
    response = api_client.get("/api/v1/hub/layouts/mixed/")
    assert response.status_code == 400
    assert "`datasets` cannot load 'layouts/mixed'" in response.json()["detail"]


def test_splits_that_cannot_be_built_are_marked(api_client, fake_hub, hf_cache):
    fake_hub.add_repo("layouts/xml", {"data/train.xml": b"<rows><row>1</row></rows>\n"})
    split = api_client.get("/api/v1/hub/layouts/xml/").json()["configs"][0]["splits"][0]
    assert split["buildable"] is False
    assert "stored as 'xml', which hfdatasets cannot download yet" in split["reason"]


def test_a_script_only_repo_offers_the_parquet_export(api_client, fake_hub, hf_cache):
    main, export = layouts.add_script_repo(fake_hub)
    body = api_client.get(f"/api/v1/hub/{layouts.SCRIPT_REPO}/").json()
    assert body["sha"] == main and body["script_only"] is True and body["configs"] == []
    assert "loading script (old-style.py)" in body["message"]
    offer = body["parquet_export"]
    assert (offer["revision"], offer["sha"]) == ("refs/convert/parquet", export)
    assert {c["name"]: [s["name"] for s in c["splits"]] for c in offer["configs"]} == {
        "fancy": ["train"],
        "plain": ["train", "test"],
    }
    # Inspecting the export itself lists its configs.
    exported = api_client.get(f"/api/v1/hub/{layouts.SCRIPT_REPO}/?revision=refs/convert/parquet").json()
    assert exported["sha"] == export and [c["name"] for c in exported["configs"]] == ["fancy", "plain"]


def test_a_script_only_repo_without_export_says_so(api_client, fake_hub, hf_cache):
    layouts.add_script_repo(fake_hub, with_export=False)
    response = api_client.get(f"/api/v1/hub/{layouts.SCRIPT_REPO}/")
    assert response.status_code == 200
    assert response.json()["parquet_export"] is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("subset, split", [("plain", "train"), ("plain", "test"), ("fancy", "train")])
def test_a_download_of_an_export_config_takes_only_its_folder(fake_hub, hf_cache, tmp_path, subset, split):
    _, export = layouts.add_script_repo(fake_hub)
    # As datasets loads a parquet export: one data_files entry per split folder of the config.
    folders = {"plain": {"train": "plain/train", "test": "plain/test"}, "fancy": {"train": "fancy/partial-train"}}
    data_files = {name: f"{folder}/*.parquet" for name, folder in folders[subset].items()}
    expected = datasets.load_dataset(layouts.SCRIPT_REPO, data_files=data_files, split=split, revision=export)
    fake_hub.reset_counters()
    dataset, _ = services.request_download(
        layouts.SCRIPT_REPO, subset=subset, split=split, revision="refs/convert/parquet"
    )
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY, dataset.error_message
    assert (dataset.resolved_subset, dataset.resolved_revision) == (subset, export)
    ours = datasets.load_from_disk(dataset.local_path)
    assert ours.features == expected.features
    assert ours.with_format("arrow")[:].to_pylist() == expected.with_format("arrow")[:].to_pylist()
    served = {path for (repo, path), n in fake_hub._served.items() if n}
    assert served and all(path.startswith(f"{subset}/") for path in served)


@pytest.mark.django_db(transaction=True)
def test_a_script_only_repo_is_refused_with_the_reason(fake_hub, hf_cache, client, user):
    layouts.add_script_repo(fake_hub)
    client.force_login(user)
    response = client.post("/datasets/new/", {"repo_id": layouts.SCRIPT_REPO, "split": "train"})
    assert response.status_code == 200
    assert "loading script (old-style.py)" in response.content.decode()
    dataset, _ = services.request_download(layouts.SCRIPT_REPO, split="train")
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.FAILED
    assert "refs/convert/parquet" in dataset.error_message


@pytest.mark.django_db(transaction=True)
def test_the_api_refuses_a_script_only_repo_and_accepts_its_export(api_client, fake_hub, hf_cache):
    _, export = layouts.add_script_repo(fake_hub)
    response = api_client.post("/api/v1/datasets/download/", {"repo_id": layouts.SCRIPT_REPO, "split": "train"})
    assert response.status_code == 400
    assert "loading script (old-style.py)" in response.json()["repo_id"][0]
    response = api_client.post(
        "/api/v1/datasets/download/",
        {"repo_id": layouts.SCRIPT_REPO, "subset": "plain", "split": "test", "revision": "refs/convert/parquet"},
    )
    assert response.status_code == 202, response.content
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert (dataset.resolved_subset, dataset.resolved_revision) == ("plain", export)
    assert fake_hub.bytes_served(layouts.SCRIPT_REPO, "plain/test/0000.parquet") == 0  # nothing fetched yet
