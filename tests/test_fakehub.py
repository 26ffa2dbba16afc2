"""Self-test of tests/fakehub: the REAL huggingface_hub and datasets libraries, over real HTTP."""

import hashlib
import itertools
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.fakehub.plugin import start_session_hub

start_session_hub()  # no-op when tests/conftest.py did it; lets this file also run with --noconftest

import datasets  # noqa: E402
import httpx2  # noqa: E402
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url  # noqa: E402
from huggingface_hub.errors import (  # noqa: E402
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.fakehub import CSV, JSONL, MISSING, MULTI, PRIVATE, ROWS, TOKEN, FakeHub  # noqa: E402
from tests.fakehub.plugin import NetworkBlockedError, fake_hub, hf_cache, network_guard  # noqa: E402,F401
from tests.fakehub.repos import MULTI_FILES  # noqa: E402

TEST_FILE = "data/test-00000-of-00001.parquet"


def api() -> HfApi:
    return HfApi(token=False)  # never pick up a token from the environment


def raw_get(hub: FakeHub, path: str, headers: dict | None = None):
    """(status, headers, body) of a plain urllib GET on the hub, errors included."""
    request = urllib.request.Request(hub.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ---------------------------------------------------------------------------------------------- HfApi
def test_dataset_info(fake_hub):
    files = fake_hub.standard_repos[MULTI]["files"]
    info = api().dataset_info(MULTI)
    assert info.sha == fake_hub.standard_repos[MULTI]["sha"] == fake_hub.resolve(MULTI)
    assert info.private is False and info.gated is False
    assert sorted(s.rfilename for s in info.siblings) == sorted(files)
    assert [c["config_name"] for c in info.card_data.configs] == ["default", "extra"]
    assert info.card_data.license == "mit"
    detailed = api().dataset_info(MULTI, files_metadata=True)
    sizes = {s.rfilename: s.size for s in detailed.siblings}
    assert sizes == {path: len(data) for path, data in files.items()}
    lfs = {s.rfilename: s.lfs for s in detailed.siblings}
    assert lfs["README.md"] is None
    assert lfs[TEST_FILE]["sha256"] == hashlib.sha256(files[TEST_FILE]).hexdigest()
    assert not fake_hub.unhandled


def test_list_repo_tree_and_paths_info(fake_hub):
    files = fake_hub.standard_repos[MULTI]["files"]
    top = list(api().list_repo_tree(MULTI, repo_type="dataset"))
    assert [(e.path, type(e).__name__) for e in top] == [
        ("README.md", "RepoFile"),
        ("data", "RepoFolder"),
        ("extra", "RepoFolder"),
    ]
    everything = list(api().list_repo_tree(MULTI, repo_type="dataset", recursive=True, expand=True))
    sizes = {e.path: e.size for e in everything if hasattr(e, "size")}
    assert sizes == {path: len(data) for path, data in files.items()}
    assert all(e.last_commit.oid == fake_hub.resolve(MULTI) for e in everything)
    sub = [e.path for e in api().list_repo_tree(MULTI, "extra", repo_type="dataset")]
    assert sub == ["extra/test-00000-of-00001.parquet", "extra/train-00000-of-00001.parquet"]
    with pytest.raises(EntryNotFoundError):
        list(api().list_repo_tree(MULTI, "nope", repo_type="dataset"))

    fake_hub.page_size = 3  # pagination through the Link header
    try:
        paged = list(api().list_repo_tree(MULTI, repo_type="dataset", recursive=True))
    finally:
        fake_hub.page_size = 1000
    assert [e.path for e in paged] == [e.path for e in everything]

    infos = api().get_paths_info(MULTI, ["README.md", "data", TEST_FILE, "missing.txt"], repo_type="dataset")
    assert [(i.path, type(i).__name__) for i in infos] == [
        ("README.md", "RepoFile"),
        ("data", "RepoFolder"),
        (TEST_FILE, "RepoFile"),
    ]
    assert infos[0].lfs is None and infos[2].lfs.sha256 == hashlib.sha256(files[TEST_FILE]).hexdigest()
    assert infos[2].size == len(files[TEST_FILE])
    assert not fake_hub.unhandled


def test_refs_revisions_and_new_commits(fake_hub):
    jsonl = fake_hub.standard_repos[JSONL]
    refs = api().list_repo_refs(JSONL, repo_type="dataset")
    assert {b.name: b.target_commit for b in refs.branches} == {"main": jsonl["sha"], "v1": jsonl["v1_sha"]}
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1.0", jsonl["v1_sha"])]
    for revision, sha in [
        ("main", jsonl["sha"]),
        ("v1", jsonl["v1_sha"]),
        ("v1.0", jsonl["v1_sha"]),
        (jsonl["v1_sha"], jsonl["v1_sha"]),
    ]:
        assert api().dataset_info(JSONL, revision=revision).sha == sha
    commits = api().list_repo_commits(JSONL, repo_type="dataset")
    assert [c.commit_id for c in commits] == [jsonl["sha"], jsonl["v1_sha"]]

    first = fake_hub.add_repo("acme/scratch", {"a.txt": b"one"})
    second = fake_hub.add_repo("acme/scratch", {"a.txt": b"two", "b.txt": b"new"})
    dev = fake_hub.add_repo("acme/scratch", {"a.txt": b"dev"}, branch="dev")
    assert len({first, second, dev}) == 3 and all(len(s) == 40 for s in (first, second, dev))
    assert fake_hub.add_repo("acme/other", {"a.txt": b"one"}) != first  # the sha depends on the repo too
    assert api().dataset_info("acme/scratch").sha == second
    assert len(api().dataset_info("acme/scratch", revision=first).siblings) == 1
    assert api().dataset_info("acme/scratch", revision="dev").sha == dev
    fake_hub.add_repo("solo", {"x.txt": b"x"})  # a repo id without a namespace
    assert api().dataset_info("solo").id == "solo"
    assert not fake_hub.unhandled


def test_hf_hub_download_and_metadata(fake_hub, tmp_path):
    sha, data = fake_hub.standard_repos[MULTI]["sha"], fake_hub.standard_repos[MULTI]["files"][TEST_FILE]
    path = hf_hub_download(MULTI, TEST_FILE, repo_type="dataset", revision="main", cache_dir=tmp_path)
    assert open(path, "rb").read() == data
    assert f"/snapshots/{sha}/" in path
    assert fake_hub.bytes_served(MULTI, TEST_FILE) == fake_hub.bytes_served() == len(data)
    meta = get_hf_file_metadata(hf_hub_url(MULTI, TEST_FILE, repo_type="dataset", revision=sha))
    assert (meta.commit_hash, meta.etag, meta.size) == (sha, hashlib.sha256(data).hexdigest(), len(data))
    readme = get_hf_file_metadata(hf_hub_url(MULTI, "README.md", repo_type="dataset"))
    assert readme.etag == api().list_repo_tree(MULTI, repo_type="dataset").__next__().blob_id  # git oid
    assert ("GET", f"/datasets/{MULTI}/resolve/main/{TEST_FILE}", None) in fake_hub.requests
    assert not fake_hub.unhandled


def test_range_requests(fake_hub):
    data = fake_hub.standard_repos[MULTI]["files"][TEST_FILE]
    url = f"/datasets/{MULTI}/resolve/main/{TEST_FILE}"
    status, headers, body = raw_get(fake_hub, url, {"Range": "bytes=100-199"})
    assert (status, body, headers["Content-Range"]) == (206, data[100:200], f"bytes 100-199/{len(data)}")
    assert headers["Accept-Ranges"] == "bytes" and headers["X-Repo-Commit"] == fake_hub.resolve(MULTI)
    status, _, body = raw_get(fake_hub, url, {"Range": "bytes=-10"})
    assert (status, body) == (206, data[-10:])
    status, _, body = raw_get(fake_hub, url, {"Range": f"bytes={len(data) - 5}-"})
    assert (status, body) == (206, data[-5:])
    status, headers, _ = raw_get(fake_hub, url, {"Range": f"bytes={len(data)}-"})
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(data)}")
    assert fake_hub.bytes_served(MULTI, TEST_FILE) == 115
    assert [r[2] for r in fake_hub.requests] == [
        "bytes=100-199",
        "bytes=-10",
        f"bytes={len(data) - 5}-",
        f"bytes={len(data)}-",
    ]


# ---------------------------------------------------------------------------------------------- errors
def test_private_and_gated_repos(fake_hub, tmp_path):
    for token in (False, "hf_wrong_token"):
        with pytest.raises(RepositoryNotFoundError):
            HfApi(token=token).dataset_info(PRIVATE)
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(PRIVATE, "README.md", repo_type="dataset", token=token, cache_dir=tmp_path)
    assert HfApi(token=TOKEN).dataset_info(PRIVATE).private is True
    path = hf_hub_download(PRIVATE, "README.md", repo_type="dataset", token=TOKEN, cache_dir=tmp_path)
    assert open(path, "rb").read() == fake_hub.standard_repos[PRIVATE]["files"]["README.md"]
    assert api().whoami(token=TOKEN)["name"] == "fakehub-user"

    fake_hub.add_repo("acme/gated", {"README.md": b"# gated\n"}, gated=True, token="hf_gated")
    assert api().dataset_info("acme/gated").gated == "auto"  # metadata stays public, like on the Hub
    with pytest.raises(GatedRepoError):
        hf_hub_download("acme/gated", "README.md", repo_type="dataset", token=False, cache_dir=tmp_path)
    hf_hub_download("acme/gated", "README.md", repo_type="dataset", token="hf_gated", cache_dir=tmp_path)
    assert not fake_hub.unhandled


def test_missing_repo_revision_and_file(fake_hub, tmp_path):
    with pytest.raises(RepositoryNotFoundError):
        api().dataset_info(MISSING)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(MISSING, "README.md", repo_type="dataset", cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        api().dataset_info(MULTI, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(MULTI, "README.md", repo_type="dataset", revision="0" * 40, cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(MULTI, "nope.txt", repo_type="dataset", cache_dir=tmp_path)
    with pytest.raises(datasets.exceptions.DatasetNotFoundError):
        datasets.load_dataset(MISSING, split="train")
    assert not fake_hub.unhandled


def test_unexpected_requests_are_recorded(fake_hub):
    status, headers, _ = raw_get(fake_hub, "/api/models/acme/multi")
    assert status == 404 and "X-Error-Code" not in headers
    assert fake_hub.unhandled == [("GET", "/api/models/acme/multi")]
    fake_hub.unhandled.clear()  # (otherwise the fake_hub fixture fails this test)


# ---------------------------------------------------------------------------------------------- datasets
def test_load_dataset_config_split_at_sha(fake_hub, hf_cache):
    sha = fake_hub.standard_repos[MULTI]["sha"]
    ds = datasets.load_dataset(MULTI, name="extra", split="test", revision=sha)
    assert ds.num_rows == ROWS[MULTI]["extra"]["test"]
    assert ds.column_names == ["id", "score", "text", "meta", "blob"]
    first_id = ROWS[MULTI]["default"]["train"] + ROWS[MULTI]["default"]["test"] + ROWS[MULTI]["extra"]["train"]
    assert ds["id"][:2] == [first_id, first_id + 1]
    assert None in ds["score"] and None in ds["text"] and None in ds["blob"] and None in ds["meta"]
    assert isinstance(ds[1]["blob"], bytes) and ds[1]["meta"]["tag"].startswith("t")
    assert fake_hub.bytes_served(MULTI, "data/train-00000-of-00004.parquet") == 0  # other config untouched
    assert not fake_hub.unhandled


def test_config_and_split_names(fake_hub, hf_cache, network_guard, monkeypatch):
    # catalog.hub switches this lookup off for the app; here we check the hub and guard handle it.
    monkeypatch.setattr(datasets.config, "USE_PARQUET_EXPORT", True)
    assert datasets.get_dataset_config_names(MULTI) == ["default", "extra"]
    assert datasets.get_dataset_split_names(MULTI, "default") == ["train", "test"]
    assert datasets.get_dataset_split_names(MULTI, "extra") == ["train", "test"]
    assert datasets.get_dataset_config_names(JSONL) == ["default"]
    assert datasets.get_dataset_split_names(JSONL) == ["train", "test"]
    assert datasets.get_dataset_split_names(CSV) == ["train", "test"]
    # Without a pinned revision datasets asks the dataset viewer (datasets-server.<HF_ENDPOINT host>) first.
    assert ("GET", "/info", None) in fake_hub.requests
    assert any(r.startswith("datasets-server.127.0.0.1") for r in network_guard.rerouted)
    assert not fake_hub.unhandled


def test_load_jsonl_csv_and_private(fake_hub, hf_cache):
    assert datasets.load_dataset(JSONL, split="train").num_rows == ROWS[JSONL]["default"]["train"]
    assert datasets.load_dataset(JSONL, split="train", revision="v1").num_rows == 100
    csv_test = datasets.load_dataset(CSV, split="test")
    assert csv_test.num_rows == ROWS[CSV]["default"]["test"] and csv_test.column_names == ["id", "name", "value"]
    with pytest.raises(datasets.exceptions.DatasetNotFoundError):  # (before it is in the datasets cache)
        datasets.load_dataset(PRIVATE, split="train", token=False)
    assert datasets.load_dataset(PRIVATE, split="train", token=TOKEN).num_rows == ROWS[PRIVATE]["default"]["train"]
    assert not fake_hub.unhandled


def test_streaming_reads_only_what_it_needs(fake_hub, hf_cache):
    sha = fake_hub.standard_repos[MULTI]["sha"]
    files = fake_hub.standard_repos[MULTI]["files"]
    stream = datasets.load_dataset(MULTI, split="train", streaming=True, revision=sha)
    rows = list(itertools.islice(stream, 100))
    assert [r["id"] for r in rows] == list(range(100))
    train_total = sum(len(files[p]) for p in MULTI_FILES["default"]["train"])
    served = fake_hub.bytes_served(MULTI)
    assert 0 < served < train_total / 2, (served, train_total)
    assert all(fake_hub.bytes_served(MULTI, p) == 0 for p in MULTI_FILES["default"]["train"][1:])
    assert any(rng for method, path, rng in fake_hub.requests if method == "GET" and path.endswith(".parquet"))
    assert not fake_hub.unhandled


# ---------------------------------------------------------------------------------------------- faults
def test_fault_drop_connection(fake_hub, tmp_path):
    data = fake_hub.standard_repos[MULTI]["files"][TEST_FILE]
    url = hf_hub_url(MULTI, TEST_FILE, repo_type="dataset")
    fake_hub.fail(MULTI, "data/test-*", drop_after=1000)
    with pytest.raises(httpx2.RemoteProtocolError):  # the body stops short of Content-Length
        httpx2.get(url)
    assert fake_hub.bytes_served(MULTI, TEST_FILE) == 1000
    assert fake_hub.faults_triggered == [("drop after 1000", "GET", TEST_FILE)]

    # huggingface_hub retries the interrupted download. It reads in 10 MB chunks, so the 5000 bytes
    # of a smaller file are lost and the retry starts again from 0 (no Range header).
    fake_hub.fail(MULTI, "data/test-*", drop_after=5000, method="GET")
    path = hf_hub_download(MULTI, TEST_FILE, repo_type="dataset", cache_dir=tmp_path)
    assert open(path, "rb").read() == data
    assert fake_hub.bytes_served(MULTI, TEST_FILE) == 1000 + 5000 + len(data)
    assert fake_hub.request_count("GET", TEST_FILE) == 3
    assert not fake_hub.unhandled


def test_fault_status_then_ok(fake_hub, tmp_path):
    fake_hub.fail(MULTI, status=503)  # "*" also matches API calls (their path is "")
    with pytest.raises(HfHubHTTPError) as err:
        api().dataset_info(MULTI)
    assert err.value.response.status_code == 503
    assert api().dataset_info(MULTI).sha  # the fault was used up

    fake_hub.fail(MULTI, "README.md", status=500, times=2)
    path = hf_hub_download(MULTI, "README.md", repo_type="dataset", cache_dir=tmp_path)  # retried (~1 s)
    assert open(path, "rb").read() == fake_hub.standard_repos[MULTI]["files"]["README.md"]
    assert [f[0] for f in fake_hub.faults_triggered] == ["status 503", "status 500", "status 500"]
    assert not fake_hub.unhandled


def test_fault_429(fake_hub, tmp_path):
    fake_hub.fail(MULTI, "README.md", status=429, times=1)
    status, headers, _ = raw_get(fake_hub, f"/datasets/{MULTI}/resolve/main/README.md")
    assert (status, headers["Retry-After"]) == (429, "0")
    fake_hub.fail(MULTI, "README.md", status=429, times=1, method="GET")
    path = hf_hub_download(MULTI, "README.md", repo_type="dataset", cache_dir=tmp_path)  # http_get retries 429
    assert open(path, "rb").read() == fake_hub.standard_repos[MULTI]["files"]["README.md"]
    assert fake_hub.request_count("GET", "/README.md") == 3  # raw 429, library 429, library 200
    assert not fake_hub.unhandled


def test_throttle(fake_hub):
    url = f"/datasets/{MULTI}/resolve/main/{MULTI_FILES['default']['train'][0]}"
    fake_hub.throttle(MULTI, bytes_per_second=800_000)
    start = time.monotonic()
    status, _, body = raw_get(fake_hub, url, {"Range": "bytes=0-199999"})
    elapsed = time.monotonic() - start
    assert (status, len(body)) == (206, 200_000)
    assert fake_hub.throttled_bytes == 200_000 and elapsed > 0.1
    fake_hub.unthrottle(MULTI)
    raw_get(fake_hub, url, {"Range": "bytes=0-199999"})
    assert fake_hub.throttled_bytes == 200_000


# ---------------------------------------------------------------------------------------------- guard & lifecycle
def test_network_guard(network_guard, tmp_path):
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 80)
    with pytest.raises(OSError):
        socket.create_connection(("10.0.0.1", 80), timeout=1)
    for method in ("connect", "connect_ex"):
        with socket.socket() as sock, pytest.raises(NetworkBlockedError):
            getattr(sock, method)(("10.0.0.1", 80))
    assert len(network_guard.attempts) == 4
    with pytest.raises(AssertionError, match="example.com"):
        network_guard.check()  # what the autouse fixture does after each test: a leak fails the test
    assert network_guard.attempts == []

    with FakeHub() as hub:  # loopback and unix sockets still work
        socket.create_connection(("127.0.0.1", hub.port), timeout=5).close()
        socket.create_connection(("localhost", hub.port), timeout=5).close()
    assert socket.getaddrinfo("datasets-server.127.0.0.1", 80)[0][4][0] == "127.0.0.1"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "s.sock"))
    server.listen()
    with server, socket.socket(socket.AF_UNIX) as client:
        client.connect(str(tmp_path / "s.sock"))
    assert network_guard.attempts == []


def test_lifecycle():
    hub = FakeHub(port=0)
    with hub:
        assert hub.url.startswith("http://127.0.0.1:") and hub.port
        hub.add_repo("x/y", {"f.txt": b"hello"})
        status, _, body = raw_get(hub, "/datasets/x/y/resolve/main/f.txt")
        assert (status, body) == (200, b"hello")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", hub.port), timeout=2)
