"""A ready dataset seen as a Hub dataset repository (files, commit, card), for the /hub endpoint.

The repository has two kinds of files:
- `data/<split>-NNNNN-of-NNNNN.arrow`: the dataset's own Arrow files, served as they are on disk
  (the `arrow` builder of `datasets` reads the stream files `save_to_disk` writes);
- `README.md`: YAML with `configs` (which files are the split) and `dataset_info` (the exact
  features and row count), followed by the original card's text. `load_dataset` takes its
  features from there, so class labels, images and nested types come back exactly.
Its one commit is the sha the dataset was fetched at (a stable made-up sha for local imports).
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import yaml

from catalog import browse, storage
from catalog.hubapi.naming import hub_repo_id
from catalog.viewer import card as viewer_card
from catalog.viewer import source

README = "README.md"
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass
class RepoFile:
    path: str  # inside the repository
    size: int
    etag: str
    disk_path: Path | None = None  # None for generated content
    content: bytes | None = None

    @property
    def oid(self):
        return self.etag[:40]


def commit_sha(dataset):
    if _SHA.fullmatch(dataset.resolved_revision or ""):
        return dataset.resolved_revision
    return hashlib.sha1(f"hfdatasets:{dataset.pk}".encode()).hexdigest()


def revisions(dataset):
    """Names a client may use for the one commit: its sha, `main`, and the revision asked for."""
    names = {commit_sha(dataset), "main"}
    if dataset.revision:
        names.add(dataset.revision)
    return names


def split_name(dataset):
    return dataset.split or "train"


def data_files(dataset):
    folder = source.data_folder(storage.arrow_dir(dataset.pk))
    files = browse.arrow_files(folder)
    split = split_name(dataset)
    out = []
    for index, file in enumerate(files):
        stat = file.stat()
        etag = hashlib.sha256(f"{dataset.pk}:{file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
        name = f"data/{split}-{index:05d}-of-{len(files):05d}.arrow"
        out.append(RepoFile(name, stat.st_size, etag, disk_path=file))
    return out


def readme(dataset):
    """The generated card: YAML that makes `load_dataset` read exactly this split and these features."""
    import datasets

    folder = source.data_folder(storage.arrow_dir(dataset.pk))
    features = datasets.Features.from_dict(source.features(folder)) if source.features(folder) else None
    if features is None:
        features = datasets.Features.from_arrow_schema(source.open_table(storage.arrow_dir(dataset.pk)).schema)
    split = split_name(dataset)
    info = datasets.DatasetInfo(
        features=features,
        splits=datasets.SplitDict({split: datasets.SplitInfo(name=split, num_examples=dataset.total_samples or 0)}),
    )
    metadata = {
        "configs": [{"config_name": "default", "data_files": [{"split": split, "path": f"data/{split}-*.arrow"}]}],
        "dataset_info": {k: v for k, v in info._to_yaml_dict().items() if k in ("features", "splits")},
    }
    original = viewer_card.read_card(dataset)
    body_text = ""
    if original is not None:
        for key in ("license", "license_name", "license_link", "pretty_name", "language", "task_categories"):
            if key in original.metadata:
                metadata[key] = original.metadata[key]
        body_text = original_body(dataset)
    origin = f"`{dataset.repo_id}`" + (f" at `{dataset.resolved_revision}`" if dataset.resolved_revision else "")
    header = (
        f"\n# {dataset.name}\n\nServed by hfdatasets from "
        + (origin if dataset.repo_id else "a local file")
        + f", split `{split}`, {dataset.total_samples or 0} rows.\n\n"
    )
    text = "---\n" + yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True) + "---\n" + header + body_text
    return text.encode("utf-8")


def original_body(dataset):
    text = storage.card_file(dataset.pk).read_text(encoding="utf-8", errors="replace")
    return viewer_card.split_front_matter(text)[1]


def files(dataset):
    """Every file of the repository, README first."""
    content = readme(dataset)
    card = RepoFile(README, len(content), hashlib.sha256(content).hexdigest(), content=content)
    return [card, *data_files(dataset)]


def last_modified(dataset):
    stamp = dataset.finished_at or dataset.updated_at
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def info(dataset, request_files, with_sizes=False):
    siblings = []
    for item in request_files:
        sibling = {"rfilename": item.path}
        if with_sizes:
            sibling.update(size=item.size, blobId=item.oid)
        siblings.append(sibling)
    return {
        "_id": commit_sha(dataset)[:24],
        "id": hub_repo_id(dataset),
        "author": hub_repo_id(dataset).split("/")[0],
        "sha": commit_sha(dataset),
        "lastModified": last_modified(dataset),
        "createdAt": dataset.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "private": False,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "description": None,
        "citation": None,
        "cardData": viewer_card.split_front_matter(request_files[0].content.decode())[0],
        "siblings": siblings,
        "usedStorage": sum(item.size for item in request_files),
    }


def entry(dataset, path, request_files, expand=False):
    """A tree / paths-info entry for a file or a folder (None if the repository has no such path)."""
    by_path = {item.path: item for item in request_files}
    if path in by_path:
        item = by_path[path]
        found = {"type": "file", "oid": item.oid, "size": item.size, "path": item.path}
    elif any(item.path.startswith(path + "/") for item in request_files) and path:
        oid = hashlib.sha1(f"tree {commit_sha(dataset)} {path}".encode()).hexdigest()
        found = {"type": "directory", "oid": oid, "size": 0, "path": path}
    else:
        return None
    if expand:
        found["lastCommit"] = {"id": commit_sha(dataset), "title": "hfdatasets", "date": last_modified(dataset)}
    return found


def tree(dataset, base, recursive, request_files, expand=False):
    """Entries under base ("" for the root), folders included, sorted by path."""
    prefix = base + "/" if base else ""
    paths = set()
    for item in request_files:
        if not item.path.startswith(prefix):
            continue
        rest = item.path[len(prefix) :].split("/")
        if recursive:
            paths.update(prefix + "/".join(rest[: i + 1]) for i in range(len(rest)))
        else:
            paths.add(prefix + rest[0])
    return [entry(dataset, path, request_files, expand) for path in sorted(paths)]
