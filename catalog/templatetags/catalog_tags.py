"""Template helpers for the pages: sizes, durations and safe rendering of dataset values.

Nothing here marks data as safe: cells are described as plain strings and numbers, and the
_cell.html template autoescapes them.
"""

import datetime
import json

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.html import json_script

from catalog.accounts import permissions
from catalog.browse import LabelCell, MediaCell, is_binary_marker
from catalog.models import Dataset

register = template.Library()

# A value longer than LONG_CHARS shows its first PREVIEW_CHARS; the rest is behind an expand control.
# (The gap keeps a value only a little too long from being folded to save a few characters.)
LONG_CHARS = 240
PREVIEW_CHARS = 160
# At most this many characters of one value go into the page (the API has the whole value).
FULL_CHARS = 10_000


STATUS_RULES_ID = "hfd-status-rules"


@register.simple_tag
def status_rules_script():
    """Dataset.status_rules() as a JSON <script> that app.js reads: the JavaScript holds no status rules."""
    return json_script(Dataset.status_rules(), STATUS_RULES_ID)


@register.filter
def manageable_by(dataset, user):
    """{% if dataset|manageable_by:user %}: may this user cancel, retry or delete it."""
    return permissions.can_manage(user, dataset)


@register.filter
def paths_hidden_for(text, user):
    """Text with server paths replaced unless this user may see them."""
    return permissions.hide_paths(user, text)


@register.filter
def bytesize(value):
    """filesizeformat, but a dash for an unknown size (None) instead of '0 bytes'."""
    if value is None or value == "":
        return "—"
    return filesizeformat(value)


@register.filter
def duration(value):
    """Seconds or a timedelta as '1 h 02 min', '3 min 05 s' or '12 s'."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@register.filter
def number(value):
    """A statistic: integers with thousands separators, floats to 4 significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4g}" if abs(value) < 1e15 else f"{value:.4g}"


@register.filter
def feature_type(value):
    """A feature's type as text (the pipeline stores a string; anything else is shown as JSON)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def describe(value):
    """What _cell.html needs to show one value: its kind and plain-text pieces."""
    if value is None:
        return {"kind": "null"}
    if isinstance(value, MediaCell):
        return {"kind": value.kind, "url": value.url, "name": value.name, "size": value.size}
    if isinstance(value, LabelCell):
        return {"kind": "label", "text": str(value.value), "name": value.name}
    if isinstance(value, bool):
        return {"kind": "number", "text": "true" if value else "false"}
    if isinstance(value, (int, float)):
        return {"kind": "number", "text": str(value)}
    if is_binary_marker(value):
        return {"kind": "binary", "size": value["size"]}
    if isinstance(value, (dict, list)):
        shown = without_binary(value)
        return dict(
            kind="nested",
            **texts(json.dumps(shown, ensure_ascii=False), json.dumps(shown, ensure_ascii=False, indent=2)),
        )
    return dict(kind="text", **texts(str(value), str(value)))


def texts(short_form, long_form):
    """A preview and, when the value is long, the (capped) full text behind an expand control."""
    length = len(short_form)
    if length <= LONG_CHARS:
        return {"long": False, "text": short_form}
    return {
        "long": True,
        "preview": short_form[:PREVIEW_CHARS],
        "full": long_form[:FULL_CHARS],
        "cut": max(0, len(long_form) - FULL_CHARS),
        "length": length,
    }


def without_binary(value):
    """Nested values with binary markers replaced by a short description."""
    if is_binary_marker(value):
        return f"<binary, {filesizeformat(value['size'])}>"
    if isinstance(value, dict):
        return {k: without_binary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_binary(v) for v in value]
    return value


@register.inclusion_tag("catalog/_cell.html")
def cell(value, row_url=""):
    return {"cell": describe(value), "row_url": row_url}
