import uuid

import pytest
from django.core.management import call_command
from django_q.signing import SignedPackage
from rest_framework.test import APIClient

from catalog import storage, validators
from catalog.models import Dataset
from tests.fakehub import repos
from tests.processes import free_port

DOWNLOAD_URL = "/api/v1/datasets/download/"


def queued_tasks(broker):
    tasks = []
    while broker.queue_size():
        for ack_id, payload in broker.dequeue() or []:
            tasks.append(SignedPackage.loads(payload))
            broker.acknowledge(ack_id)
    return tasks


def test_download_creates_pending_record_and_queues_after_commit(
    api_client, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post(
            DOWNLOAD_URL,
            {"repo_id": "acme/multi", "subset": "extra", "split": "test", "revision": "main", "max_samples": 10},
            format="json",
        )
        # Nothing reaches the queue before the transaction commits.
        assert broker.queue_size() == 0
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["config"] == {"subset": "extra", "split": "test", "revision": "main", "max_samples": 10}
    assert body["owner"] == "alice"
    assert callbacks
    for callback in callbacks:
        callback()
    tasks = queued_tasks(broker)
    token = Dataset.objects.get(pk=body["id"]).task_token
    assert [(t["func"], t["args"]) for t in tasks] == [("catalog.tasks.download_dataset", (body["id"], token))]


def test_identical_request_returns_existing_record(api_client, broker, django_capture_on_commit_callbacks):
    payload = {"repo_id": "acme/multi", "split": "train"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post(DOWNLOAD_URL, payload, format="json")
        second = api_client.post(DOWNLOAD_URL, payload, format="json")
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert Dataset.objects.count() == 1
    assert len(queued_tasks(broker)) == 1


def test_different_cap_is_a_different_dataset(api_client):
    a = api_client.post(DOWNLOAD_URL, {"repo_id": "acme/multi", "split": "train"}, format="json")
    b = api_client.post(DOWNLOAD_URL, {"repo_id": "acme/multi", "split": "train", "max_samples": 5}, format="json")
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


def test_download_defaults(api_client):
    body = api_client.post(DOWNLOAD_URL, {"repo_id": repos.JSONL}, format="json").json()
    assert body["config"] == {"subset": "", "split": "train", "revision": "", "max_samples": None}
    assert body["name"] == "acme/jsonl train"
    assert body["source"] == "huggingface"


@pytest.mark.parametrize(
    "field, value",
    [
        ("repo_id", ""),
        ("repo_id", "a/b/c"),
        ("repo_id", "../etc"),
        ("repo_id", "acme/..x"),
        ("repo_id", "acme/na me"),
        ("repo_id", "acme/na\tme"),
        ("repo_id", "acme/-name"),
        ("repo_id", "acme/name."),
        ("repo_id", "acme/na--me"),
        ("repo_id", "acme/" + "x" * 97),
        ("repo_id", "acme/na$me"),
        ("subset", "../x"),
        ("subset", "a/b"),
        ("subset", "a b"),
        ("split", "train;rm"),
        ("split", ""),
        ("split", ".hidden"),
        ("revision", "../main"),
        ("revision", "a//b"),
        ("revision", "main branch"),
        ("revision", "/abs"),
        ("max_samples", 0),
        ("max_samples", -3),
        ("max_samples", "ten"),
        ("max_samples", 1.5),
        ("max_samples", 2**63),
        ("max_samples", "9" * 5000),
    ],
)
def test_download_rejects_bad_input_naming_the_field(api_client, field, value):
    payload = {"repo_id": "acme/multi", "split": "train", field: value}
    response = api_client.post(DOWNLOAD_URL, payload, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field], errors
    assert errors[field][0]
    assert Dataset.objects.count() == 0


@pytest.mark.parametrize("repo_id", ["squad", "acme/multi", "Org-1/data_set.v2", "a/b", "x" * 96, "user/" + "y" * 96])
def test_valid_repo_ids_pass_the_format_check(repo_id):
    validators.validate_repo_id(repo_id)


@pytest.mark.parametrize("revision", ["refs/convert/parquet", "a" * 40, "v1.0"])
def test_a_revision_may_be_a_branch_with_slashes_or_a_sha(revision):
    validators.validate_revision(revision)


def test_the_largest_int64_is_a_valid_cap(api_client, fake_hub):
    response = api_client.post(DOWNLOAD_URL, {"repo_id": repos.JSONL, "max_samples": 2**63 - 1}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["max_samples"] == 2**63 - 1


# The Hub's refusals, as the page (tests/test_views.py) and the command (tests/test_command.py) report them too.
HUB_REFUSALS = [
    ({"repo_id": "acme/missing"}, "repo_id", "not found"),
    ({"repo_id": "acme/private"}, "repo_id", "token"),
    ({"repo_id": "acme/multi", "revision": "no-such-branch"}, "revision", "no-such-branch"),
    ({"repo_id": "acme/multi", "subset": "nope"}, "subset", "Available: default, extra"),
    ({"repo_id": "acme/multi", "split": "validation"}, "split", "Available: train, test"),
]


@pytest.mark.parametrize("data, field, words", HUB_REFUSALS)
def test_download_checks_the_hub_and_answers_400_naming_the_field(api_client, fake_hub, data, field, words):
    response = api_client.post(DOWNLOAD_URL, {"split": "train", **data}, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == [field], errors
    assert words in errors[field][0]
    assert Dataset.objects.count() == 0


def test_download_answers_503_with_a_message_when_the_hub_cannot_be_reached(api_client, fake_hub, settings):
    settings.HFD_RETRY_BACKOFF = 0.01
    fake_hub.fail(repos.MULTI, status=503, times=10)
    response = api_client.post(DOWNLOAD_URL, {"repo_id": repos.MULTI}, format="json")
    assert response.status_code == 503, response.content
    assert "HTTP 503" in response.json()["detail"]
    assert Dataset.objects.count() == 0


def test_download_of_a_hub_that_does_not_answer_is_503(api_client, settings):
    closed = f"http://127.0.0.1:{free_port()}"
    settings.HF_ENDPOINT = closed
    settings.HFD_RETRY_BACKOFF = 0.01
    response = api_client.post(DOWNLOAD_URL, {"repo_id": repos.MULTI}, format="json")
    assert response.status_code == 503, response.content
    assert "could not be reached" in response.json()["detail"]


def test_surrounding_whitespace_is_trimmed(api_client):
    response = api_client.post(DOWNLOAD_URL, {"repo_id": "  acme/multi\n", "split": " train "}, format="json")
    assert response.status_code == 202
    assert response.json()["repo_id"] == "acme/multi"
    assert response.json()["split"] == "train"


def test_list_is_paginated_newest_first(api_client, make_dataset):
    made = [make_dataset(name=f"set {i}", request_key=str(i)) for i in range(30)]
    body = api_client.get("/api/v1/datasets/").json()
    assert body["count"] == 30
    assert len(body["results"]) == 25
    assert body["next"]
    assert [d["id"] for d in body["results"]] == [str(d.pk) for d in reversed(made)][:25]


def test_list_filters_by_status_and_source(api_client, make_dataset):
    ready = make_dataset(name="r", status=Dataset.Status.READY)
    make_dataset(name="f", status=Dataset.Status.FAILED)
    local = make_dataset(name="l", source=Dataset.Source.LOCAL, repo_id="", status=Dataset.Status.READY)
    by_status = api_client.get("/api/v1/datasets/?status=ready").json()["results"]
    assert {d["id"] for d in by_status} == {str(ready.pk), str(local.pk)}
    by_source = api_client.get("/api/v1/datasets/?source=local").json()["results"]
    assert [d["id"] for d in by_source] == [str(local.pk)]


def test_list_rejects_unknown_filter_values(api_client):
    response = api_client.get("/api/v1/datasets/?status=done")
    assert response.status_code == 400
    assert "status" in response.json()
    response = api_client.get("/api/v1/datasets/?source=ftp")
    assert response.status_code == 400
    assert "source" in response.json()


def test_list_search_matches_name_and_repo_id(api_client, make_dataset):
    a = make_dataset(name="Movie reviews", repo_id="stanfordnlp/imdb")
    b = make_dataset(name="questions", repo_id="rajpurkar/squad")
    make_dataset(name="other", repo_id="x/y")
    assert [d["id"] for d in api_client.get("/api/v1/datasets/?search=movie").json()["results"]] == [str(a.pk)]
    assert [d["id"] for d in api_client.get("/api/v1/datasets/?search=SQUAD").json()["results"]] == [str(b.pk)]


def test_detail_and_404(api_client, make_dataset):
    dataset = make_dataset()
    body = api_client.get(f"/api/v1/datasets/{dataset.pk}/").json()
    assert body["id"] == str(dataset.pk)
    assert body["status"] == "pending"
    assert body["progress_percent"] == 0.0
    assert api_client.get(f"/api/v1/datasets/{uuid.uuid4()}/").status_code == 404
    assert api_client.get("/api/v1/datasets/not-a-uuid/").status_code == 404


def test_delete_removes_record_and_files(api_client, make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    folder = storage.arrow_dir(dataset.pk)
    folder.mkdir(parents=True)
    (folder / "data-00000-of-00001.arrow").write_bytes(b"x" * 100)
    response = api_client.delete(f"/api/v1/datasets/{dataset.pk}/")
    assert response.status_code == 204
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not storage.dataset_dir(dataset.pk).exists()


def test_delete_unknown_is_404(api_client):
    assert api_client.delete(f"/api/v1/datasets/{uuid.uuid4()}/").status_code == 404


def test_cancel_and_retry_endpoints(api_client, make_dataset):
    dataset = make_dataset(status=Dataset.Status.DOWNLOADING)
    response = api_client.post(f"/api/v1/datasets/{dataset.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    # Cancelling twice is a conflict with a message, not a crash.
    again = api_client.post(f"/api/v1/datasets/{dataset.pk}/cancel/")
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]
    response = api_client.post(f"/api/v1/datasets/{dataset.pk}/retry/")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"


def test_retry_of_ready_dataset_is_refused(api_client, make_dataset):
    dataset = make_dataset(status=Dataset.Status.READY)
    response = api_client.post(f"/api/v1/datasets/{dataset.pk}/retry/")
    assert response.status_code == 409
    assert "ready" in response.json()["detail"]


def test_anonymous_requests_are_refused(db):
    client = APIClient()
    for response in (client.get("/api/v1/datasets/"), client.post(DOWNLOAD_URL, {"repo_id": "x"}, format="json")):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"]


def test_openapi_schema_is_served(api_client):
    response = api_client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/datasets/download/" in response.content


def test_browsable_api_renders(client, user):
    client.force_login(user)
    response = client.get("/api/v1/datasets/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Dataset List" in response.content


# --- Schema, docs and the browsable API ------------------------------------------------------

LIST_PARAMETERS = {"status", "source", "search", "ordering", "page", "page_size"}


def openapi_schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_is_exact_for_every_operation():
    schema = openapi_schema()
    operations = {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    for key, operation in operations.items():
        names = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
        assert len({name for _, name in names}) == len(names), f"{key} lists a parameter twice: {names}"
        query = {name for where, name in names if where == "query"}
        if key == ("GET", "/api/v1/datasets/"):
            assert query == LIST_PARAMETERS
        else:
            assert not query & LIST_PARAMETERS, f"{key} documents list filters: {query & LIST_PARAMETERS}"
    assert {p["name"] for p in operations[("GET", "/api/v1/hub/{repo_id}/")]["parameters"]} == {"repo_id", "revision"}
    for action in ("cancel", "retry"):
        assert "requestBody" not in operations[("POST", f"/api/v1/datasets/{{id}}/{action}/")]
    body = operations[("POST", "/api/v1/datasets/download/")]["requestBody"]["content"]["application/json"]["schema"]
    request = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert list(request["properties"]) == ["repo_id", "subset", "split", "revision", "max_samples", "name"]
    assert request["properties"]["max_samples"]["maximum"] == 2**63 - 1
    assert request["required"] == ["repo_id"]
    assert "503" in operations[("POST", "/api/v1/datasets/download/")]["responses"]


def test_schema_validates_without_warnings(tmp_path):
    # The same command as the schema step of .ci/run.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/datasets/download/" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.parametrize(
    "url, fields",
    [
        (DOWNLOAD_URL, ["repo_id", "subset", "split", "revision", "max_samples", "name"]),
        ("/api/v1/datasets/import/", ["file", "path", "name"]),
    ],
)
def test_browsable_api_forms_have_the_request_fields(client, user, url, fields):
    client.force_login(user)
    content = client.get(url, HTTP_ACCEPT="text/html").content.decode()
    for field in fields:
        assert f'name="{field}"' in content, field


def test_api_docs_page_is_served_locally_behind_the_api_authentication(client, user):
    for url in ("/api/v1/docs/", "/api/v1/schema/"):
        assert client.get(url).status_code in (401, 403), url
    client.force_login(user)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in content
    assert "cdn" not in content.lower()
