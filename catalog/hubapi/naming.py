"""The repository id a ready dataset has on the /hub endpoint, and the way back from it.

`<namespace>/<name>-<uuid hex>`: the namespace of the Hub repository it came from (`local` for an
import), a readable name, and the dataset's id, so two downloads of the same repository (another
split, revision or cap) never share an id. Hub ids allow letters, digits, '-', '_' and '.', at
most 96 characters, and no '--' or '..'.
"""

import re
import uuid

NAME_CHARS = 40


def slug(text, limit):
    cleaned = re.sub(r"[^A-Za-z0-9_.]+", "-", text)
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", cleaned)).strip("-.")
    return cleaned[:limit].strip("-.") or "dataset"


def hub_repo_id(dataset):
    namespace, _, name = (dataset.repo_id or "").rpartition("/")
    if not dataset.repo_id:
        namespace, name = "local", dataset.name
    parts = [name or dataset.name]
    if dataset.subset and dataset.subset != "default":
        parts.append(dataset.subset)
    if dataset.split:
        parts.append(dataset.split)
    return f"{slug(namespace or 'hub', 20)}/{slug('-'.join(parts), NAME_CHARS)}-{uuid.UUID(str(dataset.pk)).hex}"


def dataset_id_of(repo_id):
    """The dataset UUID a hub repo id names, or None if it cannot be one of ours."""
    _, _, name = repo_id.rpartition("/")
    hex_part = name.rpartition("-")[2]
    if not re.fullmatch(r"[0-9a-f]{32}", hex_part):
        return None
    return uuid.UUID(hex_part)
