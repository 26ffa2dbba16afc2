"""Fake Hugging Face Hub for tests: a real HTTP server the real huggingface_hub/datasets talk to."""

from .repos import CSV, JSONL, MISSING, MULTI, PRIVATE, ROWS, TOKEN, register_standard_repos
from .server import FakeHub, Fault, HubError

__all__ = [
    "CSV",
    "Fault",
    "FakeHub",
    "HubError",
    "JSONL",
    "MISSING",
    "MULTI",
    "PRIVATE",
    "ROWS",
    "TOKEN",
    "register_standard_repos",
]
