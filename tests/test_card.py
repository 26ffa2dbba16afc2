"""The dataset card (fetched with the download, rendered safely), the license, "Use this dataset" and hub ids."""

import uuid

import datasets
import pytest

from catalog import storage
from catalog.hubapi import naming
from catalog.models import Dataset
from catalog.viewer import card as viewer_card

pytestmark = pytest.mark.django_db

EVIL_CARD = """---
license: apache-2.0
pretty_name: Evil
---
# Evil card

Some *emphasis* and a [good link](https://example.org/page).

<script>alert('card')</script>
<img src="x" onerror="alert('img')">
[bad link](javascript:alert('link'))

| a | b |
|---|---|
| 1 | 2 |
"""


def test_markdown_is_rendered_without_any_raw_html():
    rendered = viewer_card.render(EVIL_CARD)
    assert rendered.metadata == {"license": "apache-2.0", "pretty_name": "Evil"}
    assert rendered.licenses == ["apache-2.0"]
    html = rendered.html
    assert "<h1>Evil card</h1>" in html and "<em>emphasis</em>" in html and "<table>" in html
    assert '<a href="https://example.org/page">good link</a>' in html
    # HTML in the card is text, and a javascript: link is not a link.
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "onerror=&quot;" in html
    assert 'href="javascript:' not in html
    # The YAML front matter is not shown as text.
    assert "pretty_name" not in html


@pytest.mark.parametrize(
    "front, expected",
    [
        ("license: [mit, cc-by-4.0]", ["mit", "cc-by-4.0"]),
        ("license: other\nlicense_name: my-license", ["my-license"]),
        ("", []),
        ("license: [unclosed", []),
    ],
)
def test_licenses(front, expected):
    assert viewer_card.render(f"---\n{front}\n---\nbody").licenses == expected


def test_the_card_of_the_pinned_commit_is_kept_with_the_download(fake_hub, standard_repos, make_dataset):
    repo = "acme/jsonl"
    sha = standard_repos[repo]["sha"]
    dataset = make_dataset(repo_id=repo)
    path = viewer_card.keep_card(dataset, sha)
    assert path == storage.card_file(dataset.pk)
    assert path.read_text() == "# JSONL\n\nNo YAML here: splits come from file names.\n"


def test_a_repository_without_a_card_is_fine(fake_hub, make_dataset):
    sha = fake_hub.add_repo("acme/nocard", {"data/train.jsonl": b'{"a": 1}\n'})
    dataset = make_dataset(repo_id="acme/nocard")
    assert viewer_card.keep_card(dataset, sha) is None
    assert not storage.card_file(dataset.pk).exists()
    fake_hub.remove_repo("acme/nocard")


def test_an_unreachable_card_does_not_fail_the_download(fake_hub, standard_repos, make_dataset, settings):
    settings.HFD_MAX_FAULT_RETRIES = 1
    fake_hub.fail("acme/jsonl", "README.md", status=503, times=5)
    dataset = make_dataset(repo_id="acme/jsonl")
    assert viewer_card.keep_card(dataset, standard_repos["acme/jsonl"]["sha"]) is None


def test_detail_page_shows_card_license_exports_and_snippets(client, user, make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY, repo_id="acme/multi", local_path="/data/x/arrow")
    datasets.Dataset.from_dict({"a": [1, 2]}).save_to_disk(str(storage.arrow_dir(dataset.pk)))
    storage.card_file(dataset.pk).write_text(EVIL_CARD)
    client.force_login(user)
    content = client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert '<p data-part="license">License: <span class="chip">apache-2.0</span></p>' in content
    assert "<h1>Evil card</h1>" in content
    assert "<script>alert" not in content and 'onerror="' not in content
    for fmt in ("parquet", "jsonl", "csv"):
        assert f'href="/api/v1/datasets/{dataset.pk}/export/?format={fmt}"' in content
    repo_id = naming.hub_repo_id(dataset)
    assert f"load_dataset(&quot;{repo_id}&quot;, split=&quot;train&quot;)" in content
    assert "HF_ENDPOINT=http://testserver/hub" in content
    # The Arrow folder is a server path: only staff get the load_from_disk snippet.
    assert 'data-snippet="disk"' not in content
    user.is_staff = True
    user.save()
    content = client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "load_from_disk(&quot;/data/x/arrow&quot;)" in content
    assert f"http://testserver/api/v1/datasets/{dataset.pk}/rows/?offset=0&amp;limit=10" in content


def test_hub_repo_ids_are_valid_unique_and_lead_back(make_dataset):
    from huggingface_hub.utils import validate_repo_id

    made = [
        make_dataset(repo_id="acme/multi", config={"subset": "extra", "split": "train"}),
        make_dataset(repo_id="acme/multi", config={"subset": "extra", "split": "train", "max_samples": 5}),
        make_dataset(repo_id="", name="my -- odd..file.csv", source=Dataset.Source.LOCAL, config={"split": "train"}),
        make_dataset(repo_id="squad", config={"split": "validation"}),
        make_dataset(repo_id="a" * 90 + "/" + "b" * 90, config={"split": "train"}),
    ]
    ids = [naming.hub_repo_id(d) for d in made]
    assert len(set(ids)) == len(ids)
    for dataset, repo_id in zip(made, ids):
        validate_repo_id(repo_id)
        assert len(repo_id) <= 96
        assert naming.dataset_id_of(repo_id) == dataset.pk
    assert ids[0].startswith("acme/multi-extra-train-")
    assert ids[2].startswith("local/my-odd.file.csv-train-")
    assert ids[3].startswith("hub/squad-validation-")
    assert naming.dataset_id_of("acme/not-ours") is None and naming.dataset_id_of(uuid.uuid4().hex) is not None
