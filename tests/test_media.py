"""Images and audio in the row browser: thumbnails and players served from the Arrow files."""

import pytest

from catalog import pipeline, services
from catalog.models import Dataset
from tests.fakehub import layouts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def ready(fake_hub, repo_id, split="train"):
    layouts.add_layout(fake_hub, repo_id)
    dataset, _ = services.request_download(repo_id, split=split)
    pipeline.run_download(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY, dataset.error_message
    return dataset


def test_images_are_thumbnails_served_from_the_arrow_files(fake_hub, logged_in):
    dataset = ready(fake_hub, "layouts/image-classes")
    page = logged_in.get(f"/datasets/{dataset.pk}/").content.decode()
    url = f"/datasets/{dataset.pk}/media/?row=0&amp;column=image"
    assert f'<img class="v-image" src="{url}"' in page
    response = logged_in.get(url.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    first = sorted(p for p in layouts.image_classes() if p.startswith("train/"))[0]
    assert response.content == layouts.image_classes()[first]
    # A class label shows its name next to its number.
    assert '<span class="v-number">0</span><span class="v-label">cat</span>' in page
    # Column statistics cope with media columns: counted, not summarised.
    assert dataset.column_stats["image"] == {"kind": "other", "rows": 8, "nulls": 0}
    assert dataset.column_stats["label"]["kind"] == "number"


def test_audio_is_a_player(fake_hub, logged_in):
    dataset = ready(fake_hub, "layouts/audio-metadata")
    page = logged_in.get(f"/datasets/{dataset.pk}/").content.decode()
    assert (
        f'<audio class="v-audio" controls preload="none" src="/datasets/{dataset.pk}/media/?row=1&amp;column=audio"'
        in page
    )
    response = logged_in.get(f"/datasets/{dataset.pk}/media/", {"row": 1, "column": "audio"})
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/x-wav"
    assert response.content == layouts.audio_metadata()["train/clip-1.wav"]


@pytest.mark.parametrize("query", [{"row": 99, "column": "image"}, {"row": 0, "column": "label"}, {"row": "x"}, {}])
def test_media_of_anything_else_is_404(fake_hub, logged_in, query):
    dataset = ready(fake_hub, "layouts/image-classes")
    assert logged_in.get(f"/datasets/{dataset.pk}/media/", query).status_code == 404


def test_media_needs_a_login(fake_hub, client):
    dataset = ready(fake_hub, "layouts/image-classes")
    response = client.get(f"/datasets/{dataset.pk}/media/", {"row": 0, "column": "image"})
    assert response.status_code == 302
