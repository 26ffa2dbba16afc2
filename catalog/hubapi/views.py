"""The /hub endpoint: the few Hub API routes `huggingface_hub` and `datasets` use to load a dataset.

    GET  api/datasets/<ns>/<name>[/revision/<rev>]   repository info (siblings, sha, cardData)
    GET  api/datasets/<ns>/<name>/tree/<rev>[/<path>]  listing (recursive, expand)
    POST api/datasets/<ns>/<name>/paths-info/<rev>     entries of the given paths
    GET  api/datasets/<ns>/<name>/refs                 the one branch, main
    HEAD|GET datasets/<ns>/<name>/resolve/<rev>/<path> a file, with Range, ETag and X-Repo-Commit
    GET  api/whoami-v2                                 the signed-in user

Errors carry the Hub's X-Error-Code so the clients raise their usual exceptions: a dataset that
does not exist, is not ready, or is not visible to the caller is the same RepositoryNotFound
(401 without credentials, as on the Hub).
"""

import json
from urllib.parse import parse_qs

from django.http import HttpResponse, JsonResponse
from rest_framework.views import APIView

from catalog.exports import ranged
from catalog.exports.responses import AnyFormatNegotiation
from catalog.hubapi import access, naming, repo


class HubError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self):
        response = JsonResponse({"error": self.message}, status=self.status)
        if self.code:
            response["X-Error-Code"] = self.code
        response["X-Error-Message"] = self.message
        for key, value in self.headers.items():
            response[key] = value
        return response


def flag(value):
    return str(value or "").lower() in ("1", "true")


class HubView(APIView):
    """Authentication is the API's (DRF's configured classes); visibility is access.visible_datasets."""

    permission_classes = []  # checked per repository: an unknown and a hidden one look the same
    schema = None  # the Hub's API, not ours: left out of /api/v1/schema/
    content_negotiation_class = AnyFormatNegotiation

    def handle_exception(self, exc):
        if isinstance(exc, HubError):
            return exc.response()
        return super().handle_exception(exc)

    def dataset(self, namespace, name):
        repo_id = f"{namespace}/{name}"
        dataset_id = naming.dataset_id_of(repo_id)
        found = None
        if dataset_id is not None:
            found = access.visible_datasets(self.request.user).filter(pk=dataset_id).first()
        if found is None or naming.hub_repo_id(found) != repo_id:
            status = 401 if not self.request.user.is_authenticated else 404
            raise HubError(status, "RepoNotFound", f"Repository {repo_id} not found")
        return found

    def check_revision(self, dataset, revision):
        if revision not in repo.revisions(dataset):
            raise HubError(
                404,
                "RevisionNotFound",
                f"Invalid rev id: {revision}",
                {"X-Repo-Commit": repo.commit_sha(dataset)},
            )


class RepoInfo(HubView):
    def get(self, request, namespace, name, revision="main"):
        dataset = self.dataset(namespace, name)
        self.check_revision(dataset, revision)
        files = repo.files(dataset)
        data = repo.info(dataset, files, with_sizes=flag(request.query_params.get("blobs")))
        expand = request.query_params.getlist("expand") or request.query_params.getlist("expand[]")
        if expand:
            data = {k: v for k, v in data.items() if k in ("_id", "id", *expand)}
        return JsonResponse(data)


class Tree(HubView):
    def get(self, request, namespace, name, revision, path=""):
        dataset = self.dataset(namespace, name)
        self.check_revision(dataset, revision)
        files = repo.files(dataset)
        base = path.strip("/")
        if base:
            found = repo.entry(dataset, base, files)
            if found is None or found["type"] != "directory":
                raise HubError(
                    404,
                    "EntryNotFound",
                    f"{base} does not exist on {revision}",
                    {"X-Repo-Commit": repo.commit_sha(dataset)},
                )
        recursive = flag(request.query_params.get("recursive"))
        expand = flag(request.query_params.get("expand"))
        return JsonResponse(repo.tree(dataset, base, recursive, files, expand), safe=False)


class PathsInfo(HubView):
    def post(self, request, namespace, name, revision):
        dataset = self.dataset(namespace, name)
        self.check_revision(dataset, revision)
        body = request._request.body
        # huggingface_hub sends a form (paths=a&paths=b&expand=true); JSON is accepted too.
        if body.lstrip().startswith(b"{"):
            form = json.loads(body)
        else:
            form = {k: v if k == "paths" else v[0] for k, v in parse_qs(body.decode()).items()}
        paths = form.get("paths") or []
        paths = [paths] if isinstance(paths, str) else paths
        expand = flag(form.get("expand"))
        files = repo.files(dataset)
        entries = [repo.entry(dataset, str(p).strip("/"), files, expand) for p in paths]
        return JsonResponse([e for e in entries if e is not None], safe=False)


class Refs(HubView):
    def get(self, request, namespace, name):
        dataset = self.dataset(namespace, name)
        sha = repo.commit_sha(dataset)
        data = {
            "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": sha}],
            "converts": [],
            "tags": [],
        }
        if request.query_params.get("include_prs"):
            data["pullRequests"] = []
        return JsonResponse(data)


class Resolve(HubView):
    def get(self, request, namespace, name, revision, path):
        dataset = self.dataset(namespace, name)
        self.check_revision(dataset, revision)
        sha = repo.commit_sha(dataset)
        # The card is generated; a data file needs only a stat of the Arrow files.
        candidates = repo.files(dataset) if path == repo.README else repo.data_files(dataset)
        item = next((f for f in candidates if f.path == path), None)
        if item is None:
            raise HubError(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": sha})
        headers = {"X-Repo-Commit": sha}
        if item.disk_path is not None:
            return ranged.file_response(request, item.disk_path, etag=item.etag, headers=headers)
        response = HttpResponse(
            b"" if request.method == "HEAD" else item.content, content_type="text/markdown; charset=utf-8"
        )
        response["Content-Length"] = str(item.size)
        response["ETag"] = f'"{item.etag}"'
        for key, value in headers.items():
            response[key] = value
        return response


class WhoAmI(HubView):
    def get(self, request):
        if not request.user.is_authenticated:
            raise HubError(401, None, "Invalid credentials in Authorization header")
        name = request.user.get_username()
        return JsonResponse(
            {"type": "user", "id": str(request.user.pk), "name": name, "fullname": name, "orgs": [], "auth": {}}
        )
