"""A small Hub-compatible HTTP server for tests (see README.md in this folder).

The real ``huggingface_hub`` / ``datasets`` libraries talk to it over HTTP through ``HF_ENDPOINT``.
Only dataset repositories are served. Every request is recorded in ``hub.requests``; anything the
server does not know is answered 404 and recorded in ``hub.unhandled``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import yaml

log = logging.getLogger("fakehub")

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_API_OPS = {"revision", "tree", "paths-info", "refs", "commits"}
_NOT_LFS = {"README.md", ".gitattributes"}
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


def _flag(query: dict, name: str) -> bool:
    return (query.get(name) or ["false"])[0].lower() in ("true", "1")


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _File:
    data: bytes
    oid: str  # git blob id (of the LFS pointer for LFS files)
    sha256: str | None = None  # set for LFS files
    pointer_size: int | None = None

    @classmethod
    def make(cls, path: str, data: bytes, in_git: bool = False) -> _File:
        if in_git or path.rsplit("/", 1)[-1] in _NOT_LFS:
            return cls(data, _git_oid(data))
        sha = hashlib.sha256(data).hexdigest()
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n".encode()
        return cls(data, _git_oid(pointer), sha, len(pointer))


@dataclass
class _Commit:
    sha: str
    files: dict[str, _File]
    title: str
    date: str
    parent: str | None


@dataclass
class _Repo:
    repo_id: str
    private: bool
    token: str | None
    gated: bool
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    repo_id: str
    path_glob: str
    remaining: int
    status: int | None = None  # answer this status ...
    drop_after: int | None = None  # ... or cut the connection after this many body bytes
    retry_after: int | None = None
    method: str | None = None  # None = any method


class HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real Hub: every response carries Content-Length
    # Headers and body are two writes: with Nagle's algorithm the second waits for the client's
    # delayed ACK (about 40 ms a response on loopback), which no real Hub server makes anyone wait.
    disable_nagle_algorithm = True

    def handle(self):
        hub = self.server.hub
        with hub._lock:
            hub._conns.add(self.connection)
        try:
            super().handle()
        except _DISCONNECTS:
            pass  # client went away (or the test dropped the connection on purpose)
        finally:
            with hub._lock:
                hub._conns.discard(self.connection)

    def do_GET(self):
        self.server.hub._dispatch(self)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        log.debug("fakehub: connection error from %s", client_address, exc_info=True)


class FakeHub:
    """In-memory Hub. ``FakeHub(port=0).start()`` then point ``HF_ENDPOINT`` at ``hub.url``."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", page_size: int = 1000):
        self.host, self.port, self.page_size = host, port, page_size
        self._lock = threading.RLock()
        self._repos: dict[str, _Repo] = {}
        self._faults: list[Fault] = []
        self._throttles: dict[str, tuple[str, float]] = {}  # repo_id -> (path_glob, bytes/s)
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.standard_repos: dict = {}  # filled by repos.register_standard_repos via the pytest plugin
        self.reset_counters()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeHub:
        if self._server is None:
            self._server = _Server((self.host, self.port), _Handler)
            self._server.hub = self
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="fakehub", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in list(self._conns):  # close idle keep-alive connections too
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ repositories
    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes],
        private: bool = False,
        token: str | None = None,
        *,
        gated: bool = False,
        branch: str = "main",
        message: str | None = None,
        git_files: tuple[str, ...] = (),
    ) -> str:
        """Create the repo, or add a commit (a full snapshot of ``files``) on ``branch``. Returns the commit sha.

        ``private``/``token``/``gated`` are only used when the repo is created. A new branch forks from main.
        Files are LFS files (with a sha256) except README.md, .gitattributes and ``git_files``.
        A branch named ``refs/convert/parquet`` is listed as the Hub lists its parquet conversion.
        """
        with self._lock:
            repo = self._repos.get(repo_id)
            if repo is None:
                repo = self._repos[repo_id] = _Repo(repo_id, private, token, gated)
            parent = repo.branches.get(branch) or repo.branches.get("main")
            entries = {path: _File.make(path, data, path in git_files) for path, data in sorted(files.items())}
            title = message or f"Commit {len(repo.commits) + 1} on {branch}"
            seed = json.dumps([repo_id, parent, title, [(p, f.oid) for p, f in entries.items()]])
            sha = hashlib.sha1(seed.encode()).hexdigest()
            date = (_EPOCH + timedelta(minutes=len(repo.commits))).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            repo.commits[sha] = _Commit(sha, entries, title, date, parent)
            repo.branches[branch] = sha
            return sha

    def set_ref(self, repo_id: str, name: str, revision: str, tag: bool = False) -> str:
        """Point branch (or tag) ``name`` at ``revision``; returns the commit sha."""
        with self._lock:
            repo = self._repos[repo_id]
            sha = self._resolve_rev(repo, revision)
            (repo.tags if tag else repo.branches)[name] = sha
            return sha

    def remove_repo(self, repo_id: str) -> None:
        with self._lock:
            self._repos.pop(repo_id, None)

    def resolve(self, repo_id: str, revision: str = "main") -> str:
        with self._lock:
            return self._resolve_rev(self._repos[repo_id], revision)

    # ------------------------------------------------------------------ counters
    def reset_counters(self) -> None:
        with self._lock:
            # Bodies still being sent from before the reset (a slow, abandoned transfer of an earlier
            # test) must not touch the new counters: _count ignores an older generation.
            self._generation = getattr(self, "_generation", 0) + 1
            self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
            self.unhandled: list[tuple[str, str]] = []
            self.faults_triggered: list[tuple[str, str, str]] = []  # (kind, method, path)
            self.throttled_bytes = 0
            self._served: dict[tuple[str, str], int] = {}

    def bytes_served(self, repo_id: str | None = None, path: str | None = None) -> int:
        """File-body bytes sent, optionally only for one repo and/or one file path."""
        with self._lock:
            return sum(n for (r, p), n in self._served.items() if repo_id in (None, r) and path in (None, p))

    def request_count(self, method: str | None = None, contains: str = "") -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if method in (None, m) and contains in p)

    # ------------------------------------------------------------------ faults
    def fail(
        self,
        repo_id: str,
        path_glob: str = "*",
        *,
        status: int | None = None,
        drop_after: int | None = None,
        times: int = 1,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> Fault:
        """Next ``times`` matching requests answer ``status`` or are cut after ``drop_after`` body bytes.

        API requests (info, tree, ...) have path "" (matched only by "*"); drops only apply to file GETs.
        """
        if (status is None) == (drop_after is None):
            raise ValueError("pass exactly one of status= or drop_after=")
        if status == 429 and retry_after is None:
            retry_after = 0
        fault = Fault(repo_id, path_glob, times, status, drop_after, retry_after, method and method.upper())
        with self._lock:
            self._faults.append(fault)
        return fault

    def throttle(self, repo_id: str, bytes_per_second: float, path_glob: str = "*") -> None:
        with self._lock:
            self._throttles[repo_id] = (path_glob, float(bytes_per_second))

    def unthrottle(self, repo_id: str | None = None) -> None:
        with self._lock:
            if repo_id is None:
                self._throttles.clear()
            else:
                self._throttles.pop(repo_id, None)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._throttles.clear()

    def _take_fault(self, repo_id: str, path: str, method: str, file_get: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if (
                    fault.remaining > 0
                    and fault.repo_id == repo_id
                    and fnmatch.fnmatchcase(path, fault.path_glob)
                    and fault.method in (None, method)
                    and (fault.status is not None or file_get)
                ):
                    fault.remaining -= 1
                    kind = f"status {fault.status}" if fault.status else f"drop after {fault.drop_after}"
                    self.faults_triggered.append((kind, method, path))
                    return fault
        return None

    # ------------------------------------------------------------------ HTTP plumbing
    def _dispatch(self, h: _Handler) -> None:
        method, url = h.command, urlsplit(h.path)
        segs = [s for s in url.path.split("/") if s]
        query = parse_qs(url.query)
        with self._lock:
            self.requests.append((method, unquote(url.path), h.headers.get("Range")))
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        try:
            if h.headers.get("Host", "").startswith("datasets-server."):
                # `datasets` probes <scheme>://datasets-server.<HF_ENDPOINT host>/info (parquet export).
                raise HubError(404, "ResourceNotFound", "fakehub: no dataset viewer")
            if method in ("GET", "POST") and segs[:2] == ["api", "datasets"] and len(segs) > 2:
                return self._api(h, method, segs[2:], query, body)
            if method in ("GET", "HEAD") and segs[:1] == ["datasets"] and "resolve" in segs[2:4]:
                return self._resolve(h, method, segs[1:])
            if method == "GET" and segs == ["api", "whoami-v2"]:
                return self._whoami(h)
            self._unhandled(h)
        except HubError as e:
            self._send(
                h,
                e.status,
                json.dumps({"error": e.message}).encode(),
                {
                    "Content-Type": "application/json; charset=utf-8",
                    **e.headers,
                    **({"X-Error-Code": e.code} if e.code else {}),
                    "X-Error-Message": e.message,
                },
            )
        except _DISCONNECTS:
            raise
        except Exception:  # a bug in the fake hub: make it loud, and visible to `hub.unhandled` checks
            log.exception("fakehub: internal error on %s %s", method, h.path)
            with self._lock:
                self.unhandled.append((method, h.path))
            self._send(h, 500, b'{"error": "fakehub internal error"}', {"Content-Type": "application/json"})

    def _unhandled(self, h: _Handler) -> None:
        with self._lock:
            self.unhandled.append((h.command, h.path))
        log.warning("fakehub: unhandled request %s %s", h.command, h.path)
        raise HubError(404, None, f"fakehub: unhandled {h.command} {h.path}")

    def _send(self, h: _Handler, status: int, body: bytes, headers: dict, write_body: bool = True) -> None:
        h.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **headers}.items():
            h.send_header(key, str(value))
        h.end_headers()
        if write_body and h.command != "HEAD":
            h.wfile.write(body)

    def _json(self, h: _Handler, data, headers: dict | None = None) -> None:
        self._send(
            h, 200, json.dumps(data).encode(), {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        )

    @staticmethod
    def _token(h: _Handler) -> str | None:
        auth = h.headers.get("Authorization") or ""
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def _split_repo(self, segs: list[str], ops: set[str]) -> tuple[str, list[str]]:
        two = len(segs) >= 2 and (unquote("/".join(segs[:2])) in self._repos or segs[1] not in ops)
        n = 2 if two else 1
        return unquote("/".join(segs[:n])), segs[n:]

    def _access(self, h: _Handler, repo_id: str, path: str, files: bool = False) -> tuple[_Repo, Fault | None]:
        """Fault injection, then the Hub's auth rules: private repos are hidden, gated repos hide files."""
        fault = self._take_fault(repo_id, path, h.command, file_get=files and h.command == "GET")
        if fault and fault.status:
            headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
            raise HubError(fault.status, None, f"fakehub: injected {fault.status}", headers)
        token = self._token(h)
        with self._lock:
            repo = self._repos.get(repo_id)
        if repo is None or (repo.private and token != repo.token):
            raise HubError(401 if token is None else 404, "RepoNotFound", "Repository not found")
        if files and repo.gated and token != repo.token:
            raise HubError(
                401 if token is None else 403,
                "GatedRepo",
                f"Access to dataset {repo_id} is restricted. You must have access to it.",
            )
        return repo, fault

    def _count(self, repo_id: str, path: str, nbytes: int, throttled: float, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._served[(repo_id, path)] = self._served.get((repo_id, path), 0) + nbytes
            self.throttled_bytes += nbytes if throttled else 0

    def _resolve_rev(self, repo: _Repo, rev: str) -> str:
        sha = repo.branches.get(rev) or repo.tags.get(rev) or (rev if rev in repo.commits else None)
        if sha is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return sha

    # ------------------------------------------------------------------ /api/datasets/...
    def _api(self, h: _Handler, method: str, segs: list[str], query: dict, body: bytes) -> None:
        repo_id, rest = self._split_repo(segs, _API_OPS)
        op = rest[0] if rest else ""
        # (method, op) -> number of path segments after the repo id (tree takes an optional path after that)
        nsegs = {
            ("GET", ""): 0,
            ("GET", "revision"): 2,
            ("GET", "tree"): 2,
            ("GET", "refs"): 1,
            ("GET", "commits"): 2,
            ("POST", "paths-info"): 2,
        }.get((method, op))
        if nsegs is None or len(rest) < nsegs or (op != "tree" and len(rest) > nsegs):
            self._unhandled(h)
        repo, _ = self._access(h, repo_id, "")
        if op == "refs":

            def refs(kind: str, names: dict) -> list:
                return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": sha} for n, sha in names.items()]

            branches = {n: sha for n, sha in repo.branches.items() if not n.startswith("refs/convert/")}
            converts = [
                {"name": n.rsplit("/", 1)[-1], "ref": n, "targetCommit": sha}
                for n, sha in repo.branches.items()
                if n.startswith("refs/convert/")
            ]
            data = {"branches": refs("heads", branches), "converts": converts, "tags": refs("tags", repo.tags)}
            if query.get("include_prs"):
                data["pullRequests"] = []
            return self._json(h, data)
        with self._lock:
            commit = repo.commits[self._resolve_rev(repo, unquote(rest[1]) if len(rest) > 1 else "main")]
        if op in ("", "revision"):
            return self._json(h, self._info(repo, commit, query))
        if op == "commits":
            history, sha = [], commit.sha
            while sha:
                c = repo.commits[sha]
                history.append(
                    {"id": c.sha, "title": c.title, "message": "", "date": c.date, "authors": [{"user": "fakehub"}]}
                )
                sha = c.parent
            return self._json(h, history)
        if op == "tree":
            base = unquote("/".join(rest[2:])).strip("/")
            return self._tree(h, commit, base, _flag(query, "recursive"), _flag(query, "expand"), query)
        # paths-info: form-encoded by huggingface_hub (paths=a&paths=b&expand=false), JSON also accepted
        if body.startswith(b"{"):
            form = json.loads(body)
        else:
            form = {k: v if k == "paths" else v[0] for k, v in parse_qs(body.decode()).items()}
        paths = form.get("paths") or []
        paths = [paths] if isinstance(paths, str) else paths
        expand = str(form.get("expand", "false")).lower() == "true"
        dirs = self._dirs(commit)
        entries = [
            self._entry(commit, p.strip("/"), expand, dirs)
            for p in paths
            if p.strip("/") in commit.files or p.strip("/") in dirs
        ]
        return self._json(h, entries)

    @staticmethod
    def _dirs(commit: _Commit) -> set[str]:
        return {path.rsplit("/", i)[0] for path in commit.files for i in range(1, path.count("/") + 1)}

    def _entry(self, commit: _Commit, path: str, expand: bool, dirs: set[str]) -> dict:
        if path in dirs:
            oid = hashlib.sha1(f"tree {commit.sha} {path}".encode()).hexdigest()
            entry = {"type": "directory", "oid": oid, "size": 0, "path": path}
        else:
            f = commit.files[path]
            entry = {"type": "file", "oid": f.oid, "size": len(f.data), "path": path}
            if f.sha256:
                entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": f.pointer_size}
            if expand:
                entry["securityFileStatus"] = {
                    "status": "safe",
                    "avScan": {"virusFound": False},
                    "pickleImportScan": None,
                }
        if expand:
            entry["lastCommit"] = {"id": commit.sha, "title": commit.title, "date": commit.date}
        return entry

    def _tree(self, h: _Handler, commit: _Commit, base: str, recursive: bool, expand: bool, query: dict) -> None:
        dirs = self._dirs(commit)
        if base and base not in dirs:
            raise HubError(
                404, "EntryNotFound", f"{base} does not exist on {commit.sha}", {"X-Repo-Commit": commit.sha}
            )
        prefix = base + "/" if base else ""
        paths = sorted(
            p for p in dirs | set(commit.files) if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :])
        )
        start = int((query.get("cursor") or ["0"])[0])
        page = paths[start : start + self.page_size]
        headers = {}
        if start + self.page_size < len(paths):
            params = {k: v[0] for k, v in query.items()} | {"cursor": start + self.page_size}
            headers["Link"] = f'<{self.url}{urlsplit(h.path).path}?{urlencode(params)}>; rel="next"'
        self._json(h, [self._entry(commit, p, expand, dirs) for p in page], headers)

    def _info(self, repo: _Repo, commit: _Commit, query: dict) -> dict:
        siblings = [{"rfilename": path} for path in commit.files]
        if _flag(query, "blobs"):  # files_metadata=True
            for sib, f in zip(siblings, commit.files.values()):
                sib.update(size=len(f.data), blobId=f.oid)
                if f.sha256:
                    sib["lfs"] = {"sha256": f.sha256, "size": len(f.data), "pointerSize": f.pointer_size}
        info = {
            "_id": commit.sha[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0] if "/" in repo.repo_id else None,
            "sha": commit.sha,
            "lastModified": commit.date,
            "createdAt": _EPOCH.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "private": repo.private,
            "gated": "auto" if repo.gated else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "description": None,
            "citation": None,
            "siblings": siblings,
            "usedStorage": sum(len(f.data) for f in commit.files.values()),
        }
        readme = commit.files.get("README.md")
        match = readme and re.match(rb"---\r?\n(.*?)\r?\n---\r?\n", readme.data, re.S)
        if match:
            try:
                info["cardData"] = yaml.safe_load(match[1].decode()) or {}
            except yaml.YAMLError:
                pass  # the Hub leaves out the card data of a card whose YAML does not parse
        expand = query.get("expand") or query.get("expand[]")
        return {k: v for k, v in info.items() if k in ("_id", "id", *expand)} if expand else info

    def _whoami(self, h: _Handler) -> None:
        """Any token of a registered repo is a valid user token."""
        with self._lock:
            if self._token(h) not in {r.token for r in self._repos.values() if r.token}:
                raise HubError(401, None, "Invalid credentials in Authorization header")
        self._json(
            h,
            {
                "type": "user",
                "id": "fakehub",
                "name": "fakehub-user",
                "fullname": "Fake Hub User",
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"role": "read"}},
            },
        )

    # ------------------------------------------------------------------ /datasets/{repo}/resolve/{rev}/{path}
    def _resolve(self, h: _Handler, method: str, segs: list[str]) -> None:
        repo_id, rest = self._split_repo(segs, {"resolve"})
        if len(rest) < 3 or rest[0] != "resolve":
            raise HubError(400, None, "fakehub: bad resolve url")
        rev, path = unquote(rest[1]), unquote("/".join(rest[2:]))
        repo, fault = self._access(h, repo_id, path, files=True)
        with self._lock:
            commit = repo.commits[self._resolve_rev(repo, rev)]
        f = commit.files.get(path)
        if f is None:
            raise HubError(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit.sha})
        size, status, start, end = len(f.data), 200, 0, len(f.data)
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{f.sha256 or f.oid}"',
        }
        if f.sha256:
            headers.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": size})
        m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", h.headers.get("Range") or "")
        if m and (m[1] or m[2]):
            if m[1]:
                start, end = int(m[1]), min(int(m[2]) + 1 if m[2] else size, size)
            else:
                start, end = max(size - int(m[2]), 0), size
            if start >= size or end <= start:
                raise HubError(416, None, "Range Not Satisfiable", {"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        body = f.data[start:end]
        self._send(h, status, body, headers, write_body=False)
        if method == "HEAD":
            return
        with self._lock:
            glob, bps = self._throttles.get(repo_id, ("", 0.0))
        bps = bps if bps and fnmatch.fnmatchcase(path, glob) else 0.0
        limit = len(body) if fault is None else min(fault.drop_after, len(body))
        chunk = max(1024, int(bps / 20)) if bps else 64 * 1024
        sent = 0
        with self._lock:
            generation = self._generation
        while sent < limit:
            piece = body[sent : min(sent + chunk, limit)]
            self._count(
                repo_id, path, len(piece), bps, generation
            )  # before the write: a client that got it sees it counted
            try:
                h.wfile.write(piece)
            except OSError:
                self._count(repo_id, path, -len(piece), bps, generation)
                raise
            sent += len(piece)
            if bps:
                time.sleep(len(piece) / bps)
        if fault is not None:  # cut the connection mid-body: the client sees an incomplete response
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
