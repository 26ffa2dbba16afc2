"""The dataset card: the README.md of the pinned commit, kept beside the Arrow folder, shown safely.

The card is fetched once, while the dataset is built (keep_card), so the page never asks the Hub.
Markdown is rendered by markdown-it-py with raw HTML off: any HTML in the card (a <script>, an
<img onerror=...>) comes out as visible, escaped text, and javascript: links are not links.
"""

import logging
import os
import re
from dataclasses import dataclass, field

import yaml
from markdown_it import MarkdownIt

from catalog import hub, storage

logger = logging.getLogger(__name__)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


@dataclass
class Card:
    html: str  # safe to mark safe: produced by markdown-it with HTML disabled
    metadata: dict = field(default_factory=dict)

    @property
    def licenses(self):
        value = self.metadata.get("license")
        names = value if isinstance(value, list) else [value] if value else []
        names = [str(n) for n in names]
        if self.metadata.get("license_name"):
            names = [str(self.metadata["license_name"]) if n == "other" else n for n in names] or [
                str(self.metadata["license_name"])
            ]
        return names


def keep_card(dataset, sha):
    """Fetch the card of the pinned commit and keep it in the dataset's folder (a missing card is fine)."""
    try:
        text = hub.with_retries(lambda: hub.fetch_card(dataset.repo_id, sha), what="dataset card download")
    except hub.HubError as exc:
        # The rows are what was asked for; a card that cannot be fetched must not fail the download.
        logger.warning("No dataset card for %s: %s", dataset.pk, exc)
        return None
    if text is None:
        return None
    path = storage.card_file(dataset.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
    return path


def split_front_matter(text):
    """(metadata dict, markdown body) of a card; bad or missing YAML is an empty dict."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        metadata = yaml.safe_load(match[1]) or {}
    except yaml.YAMLError:
        metadata = {}
    return (metadata if isinstance(metadata, dict) else {}), text[match.end() :]


def markdown():
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render(text):
    metadata, body = split_front_matter(text)
    return Card(html=markdown().render(body), metadata=metadata)


def read_card(dataset):
    """The dataset's Card, or None if it has none on disk."""
    try:
        text = storage.card_file(dataset.pk).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    return render(text)
