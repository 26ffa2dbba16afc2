"""Run the real `datasets` and `huggingface_hub` clients against an HF_ENDPOINT, in a fresh process.

    python tests/hub_client.py <repo_id> <split> <output.pickle>

A fresh process, so the clients read HF_ENDPOINT from its environment at import as they would on a
team member's machine (the test process points them at the fake Hub), and with the network guard
installed first, so any attempt to reach a non-loopback host is recorded. Writes a pickle with
what load_dataset returned (features, split, raw rows), what snapshot_download fetched (commit,
file bytes) and the blocked network attempts.
"""

import hashlib
import os
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakehub.plugin import install_network_guard  # noqa: E402

guard = install_network_guard()

import datasets  # noqa: E402
import huggingface_hub  # noqa: E402


def main(repo_id, split, output):
    result = {"endpoint": os.environ["HF_ENDPOINT"]}
    loaded = datasets.load_dataset(repo_id, split=split)
    result["split"] = str(loaded.split)
    result["features"] = loaded.features.to_dict()
    # Raw Arrow values (no decoding), to compare with the Arrow files byte for byte in meaning.
    result["rows"] = loaded.with_format("arrow")[:].to_pylist()
    # Streaming reads the Arrow files with Range requests instead of downloading them first.
    streamed = datasets.load_dataset(repo_id, split=split, streaming=True)
    result["streamed_rows"] = list(streamed)
    result["plain_rows"] = loaded.to_list()
    folder = Path(huggingface_hub.snapshot_download(repo_id, repo_type="dataset"))
    result["snapshot_commit"] = folder.name
    result["snapshot"] = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }
    info = huggingface_hub.HfApi().dataset_info(repo_id)
    result["info_sha"] = info.sha
    result["blocked"] = guard.take()
    with open(output, "wb") as file:
        pickle.dump(result, file)


if __name__ == "__main__":
    main(*sys.argv[1:4])
