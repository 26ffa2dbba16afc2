"""Checks for user-supplied names that end up in URLs and on disk.

Each function raises django.core.exceptions.ValidationError with a message a person can act on.
"""

import re

from django.core.exceptions import ValidationError

# The Hub's rule: letters, digits, "-", "_", "."; at most 96 characters per part;
# "--" and ".." are forbidden; "-" and "." may not start or end a part.
_HUB_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_]$|^[A-Za-z0-9_]$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,199}$")


def validate_repo_id(value):
    if not value or value != value.strip() or any(ch.isspace() for ch in value):
        raise ValidationError("Enter a Hub dataset id like 'namespace/name' or 'name', without spaces.")
    parts = value.split("/")
    if len(parts) > 2:
        raise ValidationError("A Hub dataset id has at most one '/', as in 'namespace/name'.")
    for part in parts:
        if ".." in part or "--" in part:
            raise ValidationError("A Hub dataset id may not contain '..' or '--'.")
        if not _HUB_NAME.match(part):
            raise ValidationError(
                "Use letters, digits, '-', '_' and '.' (not first or last), "
                "at most 96 characters per part, as in 'namespace/name'."
            )


def validate_safe_name(value, what="name"):
    """Subset (config) and split names: a conservative character set, never a path."""
    if not _SAFE_NAME.match(value or "") or ".." in value:
        raise ValidationError(
            f"The {what} may use letters, digits, '-', '_' and '.', must not start with '.' or '-', "
            "and is at most 128 characters."
        )


def validate_subset(value):
    validate_safe_name(value, "subset")


def validate_split(value):
    validate_safe_name(value, "split")


def validate_revision(value):
    """A branch, tag or commit sha. Branches may contain '/', but never '..' or '//'."""
    if not _REVISION.match(value or "") or ".." in value or "//" in value or value.endswith("/"):
        raise ValidationError(
            "A revision is a branch, tag or commit sha: letters, digits, '-', '_', '.', and '/' "
            "between parts, at most 200 characters."
        )
