"""Status rules live on the model; a dataset's state has one wire format (REST and live messages)."""

import json
import re
from pathlib import Path

import pytest

from catalog import progress, services
from catalog.models import Dataset
from catalog.serializers import DatasetSerializer, DatasetStateSerializer

ROOT = Path(__file__).resolve().parent.parent
S = Dataset.Status


def test_status_sets_and_labels_are_on_the_model():
    rules = Dataset.status_rules()
    assert rules["active"] == ["pending", "downloading", "processing"]
    assert rules["retryable"] == ["failed", "cancelled"]
    assert rules["finished"] == ["ready", "failed", "cancelled"]
    assert Dataset.RUNNING_STATUSES == (S.DOWNLOADING, S.PROCESSING)
    assert rules["labels"] == dict(S.choices)
    assert Dataset(status=S.FAILED).is_retryable and not Dataset(status=S.READY).is_retryable
    assert Dataset(status=S.PROCESSING).is_active and Dataset(status=S.READY).is_ready


def test_services_follow_the_model_rules(make_dataset):
    for status in S.values:
        dataset = make_dataset(status=status, request_key=status)
        if status in Dataset.RETRYABLE_STATUSES:
            services.retry(dataset)
            assert dataset.status == S.PENDING
        else:
            with pytest.raises(services.TransitionNotAllowed, match="Only a failed or cancelled dataset"):
                services.retry(dataset)


def test_pages_hand_the_rules_to_javascript_with_json_script(client, user):
    client.force_login(user)
    content = client.get("/").content.decode()
    script = re.search(r'<script id="hfd-status-rules" type="application/json">(.*?)</script>', content, re.S)
    assert script, "base.html must render the status rules for app.js"
    assert json.loads(script.group(1)) == Dataset.status_rules()


def test_javascript_holds_no_status_rules_of_its_own():
    labels = [str(label) for label in S.labels]
    for path in (ROOT / "static" / "js").glob("*.js"):
        code = path.read_text()
        # A list of statuses or a status label is a rule the model owns.
        status_list = r"\[\s*\"(" + "|".join(S.values) + r")\""
        assert not re.search(status_list, code), path
        for label in labels:
            assert f'"{label}"' not in code, f"{path.name} spells the label {label!r}"
        assert "fromApi" not in code and not re.search(r"\.percent\b", code), f"{path.name} translates wire formats"


def test_templates_compare_no_status_names():
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"status\s*[!=]=\s*['\"]", text), (
            f"{path}: use dataset.is_active / is_retryable / is_ready"
        )


def test_rest_and_live_messages_share_one_wire_format(api_client, make_dataset):
    dataset = make_dataset(status=S.DOWNLOADING, downloaded_bytes=250, total_bytes=1000)
    rest = api_client.get(f"/api/v1/datasets/{dataset.pk}/").json()
    live = progress.dataset_state(Dataset.objects.get(pk=dataset.pk), bytes_per_second=100, eta_seconds=7.5)
    assert list(live) == DatasetStateSerializer.Meta.fields
    assert set(DatasetStateSerializer.Meta.fields) <= set(DatasetSerializer.Meta.fields)
    assert live["progress_percent"] == rest["progress_percent"] == 25.0
    assert (live["bytes_per_second"], live["eta_seconds"]) == (100, 7.5)
    assert (rest["bytes_per_second"], rest["eta_seconds"]) == (None, None)
    same = {key: rest[key] for key in live if key not in ("bytes_per_second", "eta_seconds")}
    assert same == {key: live[key] for key in same}
    # It crosses the channel layer as plain JSON.
    assert json.loads(json.dumps(live)) == live
