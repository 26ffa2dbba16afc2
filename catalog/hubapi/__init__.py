"""A Hugging-Face-Hub-compatible endpoint at /hub: the team loads ready datasets from this server.

With HF_ENDPOINT=<this server>/hub, `datasets.load_dataset(hub_repo_id, split=...)` and
`huggingface_hub.snapshot_download(hub_repo_id, repo_type="dataset")` read a ready dataset's
Arrow files from here, as if it were a repository on the Hub (see views.py).
"""
