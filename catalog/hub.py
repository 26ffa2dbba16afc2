"""All access to the Hugging Face Hub: inspection, planning and the byte transfer of one file.

The rest of the app never imports huggingface_hub or talks to the Hub directly. Errors leave
this module as HubError subclasses whose message a person can act on; `permanent` tells the
download whether trying again could help.
"""

import copy
import dataclasses
import hashlib
import logging
import os
import posixpath
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx2
import yaml
from django.conf import settings

from catalog.progress import DownloadStopped

# Not in settings.py: these must be set before the HF libraries are first imported,
# and this module is the only one that imports them. No usage pings leave the server.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_UPDATE_DOWNLOAD_COUNTS", "0")

import datasets  # noqa: E402
import datasets.config  # noqa: E402
import datasets.data_files  # noqa: E402
import datasets.load  # noqa: E402
import huggingface_hub  # noqa: E402
from huggingface_hub import errors as hf_errors  # noqa: E402
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status  # noqa: E402

# Never ask the dataset viewer service (a separate host) for exported parquet metadata:
# we always pin a commit sha and read the repository itself.
datasets.config.USE_PARQUET_EXPORT = False
datasets.config.HF_UPDATE_DOWNLOAD_COUNTS = False
# Worker logs are files, not terminals: tqdm bars would only clutter them.
datasets.disable_progress_bars()

logger = logging.getLogger(__name__)

# The branch where the Hub keeps its parquet conversion of a dataset: <config>/<split>/*.parquet.
PARQUET_EXPORT = "refs/convert/parquet"
# Packaged `datasets` builders we build with (never code from the repository).
SUPPORTED_MODULES = {"parquet", "json", "csv", "arrow", "text", "imagefolder", "audiofolder", "webdataset"}
# Builders that look at every split's file names and metadata files to choose the features.
FOLDER_MODULES = {"imagefolder", "audiofolder"}
METADATA_FILENAMES = {"metadata.csv", "metadata.jsonl", "metadata.parquet"}
# BuilderConfig fields that are not reading options: where the files are, and the features
# (Plan.features carries those, from the card or the config).
_NOT_OPTIONS = {"name", "version", "data_dir", "data_files", "description", "features"}


class HubError(Exception):
    """A Hub problem with a message for people.

    `status` is the HTTP status the API answers with; `field` the request field at fault, if any.
    """

    permanent = True
    status = 502
    field = None

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class DatasetNotFound(HubError):
    status = 404
    field = "repo_id"


class AccessDenied(HubError):
    status = 403
    field = "repo_id"


class TokenRequired(AccessDenied):
    """A gated dataset asked for without a token (the Hub's 401)."""


class RevisionNotFound(HubError):
    status = 404
    field = "revision"


class SubsetNotFound(HubError):
    status = 400
    field = "subset"


class SplitNotFound(HubError):
    status = 400
    field = "split"


class UnsupportedDataset(HubError):
    status = 400
    field = "repo_id"


class CardUnreadable(UnsupportedDataset):
    """The dataset card's YAML (or the layout it describes) cannot be read by `datasets`."""


class ScriptOnlyDataset(UnsupportedDataset):
    """A repository built by a loading script, which `datasets` (4.0+) no longer runs."""

    def __init__(self, repo_id):
        super().__init__(
            f"'{repo_id}' is built by a loading script ({repo_id.rsplit('/', 1)[-1]}.py), which `datasets` no longer "
            f"runs and hfdatasets never runs. Download a subset of the Hub's parquet export instead: revision "
            f"'{PARQUET_EXPORT}', if the Hub made one."
        )


class HubUnavailable(HubError):
    """Connection dropped, timeout, 5xx or 429: worth trying again after a pause."""

    permanent = False
    status = 504


class ChecksumMismatch(HubUnavailable):
    """Retried like a transient fault: the partial file is deleted and fetched again."""


@dataclass
class PlannedFile:
    path: str  # path inside the repository
    size: int
    sha256: str | None = None  # given by the Hub for LFS files
    git_oid: str | None = None  # the git blob id, for files stored in git itself (not LFS)


@dataclass
class Plan:
    """What `datasets` resolved on the Hub for one subset and split, and the files to fetch.

    `builder_kwargs` are the subset's reading options (separator, field, chunk size, ...) and
    `features` the card's declared features (None when `datasets` infers them). When the card
    declares none, `datasets` infers every split's features from the start of one file, the
    `inference_file` of the `inference_split` (the subset's first split; for webdataset its
    last): see catalog.building.
    """

    repo_id: str
    sha: str
    subset: str
    split: str
    module: str  # the `datasets` packaged builder: parquet, json, csv, ...
    files: list[PlannedFile] = field(default_factory=list)
    builder_kwargs: dict = field(default_factory=dict)
    features: object = None  # datasets.Features or None
    inference_split: str = ""
    inference_file: PlannedFile | None = None
    # Every split's files (repo paths) in the subset's order: folder builders need them all.
    split_files: dict = field(default_factory=dict)
    # The row count the card declares for the split: `datasets` refuses a split that differs.
    expected_rows: int | None = None

    @property
    def total_bytes(self):
        return sum(f.size for f in self.files)

    @property
    def infers_from_another_split(self):
        return self.features is None and self.inference_split != self.split


def token_for(token=None):
    """The token to send: an explicit one, else HF_TOKEN from settings, else none at all."""
    return token or settings.HF_TOKEN or False


def api(token=None):
    return huggingface_hub.HfApi(endpoint=settings.HF_ENDPOINT, token=token_for(token))


def describe(repo_id, revision=None):
    return f"'{repo_id}'" + (f" at revision '{revision}'" if revision else "")


@contextmanager
def translated_errors(repo_id, revision=None, token=None):
    """Turn HF library and network exceptions into HubError with a message a person can act on."""
    what = describe(repo_id, revision)
    try:
        yield
    except HubError:
        raise
    except datasets.exceptions.DatasetNotFoundError:
        # `datasets` reports a gated repo's 401/403 as "not found" (and drops the cause): ask the Hub.
        probe_access(repo_id, revision, token)
        raise DatasetNotFound(
            f"Dataset {what} was not found on the Hub, or it is private and needs a token (HF_TOKEN)."
        ) from None
    except (hf_errors.HfHubHTTPError, hf_errors.RevisionNotFoundError) as exc:
        raise access_error(exc, repo_id, revision) from None
    except (httpx2.TransportError, ConnectionError, TimeoutError) as exc:
        raise HubUnavailable(
            f"The Hub at {settings.HF_ENDPOINT} could not be reached ({exc.__class__.__name__})."
        ) from None


def probe_access(repo_id, revision=None, token=None):
    """Raise the HubError the Hub gives for reading the card (401, 403, 404), if it gives one."""
    url = huggingface_hub.hf_hub_url(
        repo_id, "README.md", repo_type="dataset", revision=revision or None, endpoint=settings.HF_ENDPOINT
    )
    try:
        huggingface_hub.get_hf_file_metadata(url, token=token_for(token))
    except hf_errors.EntryNotFoundError:
        pass  # The repository is readable; it only has no card.
    except (hf_errors.HfHubHTTPError, hf_errors.RevisionNotFoundError) as exc:
        raise access_error(exc, repo_id, revision) from None


def access_error(exc, repo_id, revision=None):
    """The HubError for an HTTP error of the HF libraries: not found, needs a token, no access, ..."""
    what = describe(repo_id, revision)
    status = exc.response.status_code if getattr(exc, "response", None) is not None else None
    page = f"{settings.HF_ENDPOINT}/datasets/{repo_id}"
    if isinstance(exc, hf_errors.GatedRepoError):
        if status != 403:
            return TokenRequired(
                f"Dataset '{repo_id}' is gated: it needs a token. Accept its conditions on {page} and set "
                "HF_TOKEN to a token of that account."
            )
        return AccessDenied(
            f"The token (HF_TOKEN) has no access to the gated dataset '{repo_id}': request access on the "
            f"dataset's Hub page, {page}, and try again once it is granted."
        )
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        # The Hub answers 401 without a token (missing or private alike), 404 with one.
        if status == 404:
            return DatasetNotFound(
                f"Dataset {what} was not found on the Hub, or it is private and the token (HF_TOKEN) cannot read it."
            )
        return DatasetNotFound(
            f"Dataset {what} was not found on the Hub. Check the id; if it is private, set a token (HF_TOKEN) "
            "that can read it."
        )
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return RevisionNotFound(f"Revision '{revision}' does not exist in dataset '{repo_id}'.")
    return error_for_status(status, what, exc)


def error_for_status(status, what, exc=None):
    if status == 401:
        return TokenRequired(f"Dataset {what} needs a token (HTTP 401): set HF_TOKEN to a token that can read it.")
    if status == 403:
        return AccessDenied(f"The token (HF_TOKEN) has no access to dataset {what} (HTTP 403).")
    if status == 404:
        return DatasetNotFound(f"Dataset {what} or one of its files was not found on the Hub.")
    if status == 429:
        return HubUnavailable("The Hub is rate-limiting requests (HTTP 429); the download will be retried.")
    if status is not None and status >= 500:
        return HubUnavailable(f"The Hub answered HTTP {status}; it may be having trouble.")
    return HubError(f"The Hub refused a request for {what}: {exc or status}.")


def with_retries(func, *, attempts=None, what="request"):
    """Call func, retrying HubUnavailable with exponential backoff; the last error is raised.

    A pause ends early with DownloadStopped when the thread's run is stopped (see interruptible_by).
    """
    attempts = attempts or settings.HFD_MAX_FAULT_RETRIES
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except HubUnavailable as exc:
            if attempt == attempts:
                raise HubUnavailable(f"{exc.message} Gave up on the {what} after {attempts} attempts.") from None
            delay = min(settings.HFD_RETRY_BACKOFF * 2 ** (attempt - 1), 30)
            logger.warning("%s failed (%s); attempt %d of %d, retrying in %.1fs", what, exc, attempt, attempts, delay)
            pause(delay)


_stop_events = threading.local()


@contextmanager
def interruptible_by(event):
    """While inside, backoff pauses of this thread end at once (DownloadStopped) when event is set."""
    previous = getattr(_stop_events, "event", None)
    _stop_events.event = event
    try:
        yield
    finally:
        _stop_events.event = previous


def pause(seconds):
    event = getattr(_stop_events, "event", None)
    if event is None:
        time.sleep(seconds)
    elif event.wait(seconds):
        raise DownloadStopped()


# --- Inspection ------------------------------------------------------------------------


# A person waiting on a page gets an answer after one quick retry, not after the worker's backoff.
INTERACTIVE_ATTEMPTS = 2


def resolve_revision(repo_id, revision="", token=None, attempts=None):
    """The commit sha that `revision` (branch, tag, sha; default branch if empty) points to now."""

    def call():
        with translated_errors(repo_id, revision):
            return api(token).dataset_info(repo_id, revision=revision or None, files_metadata=False)

    info = with_retries(call, attempts=attempts, what=f"lookup of {describe(repo_id, revision)}")
    return info.sha, bool(info.private)


def dataset_module(repo_id, sha, token=None):
    """What `datasets` resolves once per commit: the packaged builder, the subsets, the card.

    One module serves every subset (a repo with 100 YAML configs is read once), and one
    recursive listing of the repository warms the file-system cache that resolving each
    subset's file patterns reads from.
    """
    download_config = datasets.DownloadConfig(token=token_for(token))
    with translated_errors(repo_id, sha, token), card_errors(repo_id):
        try:
            module = datasets.load.dataset_module_factory(repo_id, revision=sha, download_config=download_config)
        except RuntimeError as exc:
            if "Dataset scripts are no longer supported" in str(exc):
                raise ScriptOnlyDataset(repo_id) from None
            raise
        base_path = module.builder_kwargs.get("base_path")
        if base_path:
            datasets.data_files.resolve_pattern("**", base_path, download_config=download_config)
    return module


@contextmanager
def card_errors(repo_id):
    """A card or layout `datasets` cannot read becomes a message, never a server error."""
    try:
        yield
    except (datasets.exceptions.DataFilesNotFoundError, datasets.data_files.EmptyDatasetError) as exc:
        raise UnsupportedDataset(f"'{repo_id}' has no data files that `datasets` can load ({exc}).") from None
    except (yaml.YAMLError, ValueError, NotImplementedError) as exc:
        if isinstance(exc, yaml.YAMLError) or any(word in str(exc) for word in ("YAML", "yaml", "metadata", "card")):
            raise CardUnreadable(
                f"The dataset card (README.md) of '{repo_id}' could not be read: {exc}. Ask its authors to fix it, "
                "or pick a revision where it is valid."
            ) from None
        # `datasets` itself cannot load this layout (e.g. splits in different formats): so neither can we.
        raise UnsupportedDataset(f"`datasets` cannot load '{repo_id}' as it is laid out: {exc}") from None


def config_names(repo_id, sha, token=None, module=None):
    """The subsets (config names) of a dataset, as datasets.get_dataset_config_names gives them."""
    module = module or dataset_module(repo_id, sha, token)
    builder_cls = datasets.load.get_dataset_builder_class(module, dataset_name=repo_id.rsplit("/", 1)[-1])
    return list(builder_cls.builder_configs) or [
        module.builder_kwargs.get("config_name", builder_cls.DEFAULT_CONFIG_NAME or "default")
    ]


def builder_for(repo_id, sha, subset, token=None, module=None):
    """The builder load_dataset_builder(repo_id, subset, revision=sha) makes, from a module read once."""
    module = module or dataset_module(repo_id, sha, token)
    with translated_errors(repo_id, sha, token), card_errors(repo_id):
        try:
            return _builder_from_module(module, subset, token)
        except ValueError as exc:
            # `datasets` raises ValueError for an unknown config name; say which ones exist.
            if "BuilderConfig" in str(exc) or "Config name is missing" in str(exc):
                available = ", ".join(config_names(repo_id, sha, token, module))
                raise SubsetNotFound(
                    f"Subset '{subset}' does not exist in '{repo_id}'. Available: {available}."
                    if subset
                    else f"'{repo_id}' has several subsets; choose one of: {available}."
                ) from None
            raise


def _builder_from_module(module, subset, token):
    # The steps of datasets.load_dataset_builder after its dataset_module_factory call.
    builder_kwargs = dict(module.builder_kwargs)
    data_dir = builder_kwargs.pop("data_dir", None)
    data_files = builder_kwargs.pop("data_files", None)
    config_name = builder_kwargs.pop("config_name", subset or module.builder_configs_parameters.default_config_name)
    dataset_name = builder_kwargs.pop("dataset_name", None)
    info = None
    if module.dataset_infos and not data_dir and not data_files:
        # A copy: the builder writes into its info, and the module serves every subset.
        info = copy.deepcopy(module.dataset_infos.get(config_name))
    builder_cls = datasets.load.get_dataset_builder_class(module, dataset_name=dataset_name)
    return builder_cls(
        dataset_name=dataset_name,
        config_name=config_name,
        data_dir=data_dir,
        data_files=data_files,
        hash=module.hash,
        info=info,
        token=token_for(token),
        **builder_kwargs,
    )


def data_files_of(builder):
    """{split: [repo path, ...]} of a builder, from its resolved hf:// data file URLs."""
    result = {}
    for split, urls in (builder.config.data_files or {}).items():
        result[str(split)] = [repo_path_of(url) for url in urls]
    return result


def repo_path_of(url):
    # hf://datasets/<repo_id>@<sha>/<path inside the repo>
    rest = str(url).split("@", 1)[1]
    return rest.split("/", 1)[1]


def file_sizes(repo_id, sha, paths, token=None):
    """{path: (size, sha256 or None, git blob id)} from one paths-info call, without downloading anything."""
    if not paths:
        return {}
    with translated_errors(repo_id, sha, token):
        infos = api(token).get_paths_info(repo_id, paths, revision=sha, repo_type="dataset")
    return {info.path: (info.size, info.lfs.sha256 if info.lfs else None, info.blob_id) for info in infos}


def tree_sizes(repo_id, sha, token=None):
    """{path: size} of every file of the repository at sha, from one recursive listing."""
    with translated_errors(repo_id, sha, token):
        entries = api(token).list_repo_tree(repo_id, revision=sha, repo_type="dataset", recursive=True)
        return {entry.path: entry.size for entry in entries if hasattr(entry, "size")}


# Inspections are kept per commit: a commit never changes. Only successful ones are kept, so a
# card that failed to parse is read again next time.
INSPECTION_CACHE_SECONDS = 24 * 3600


def inspect(repo_id, revision="", token=None):
    """What a dataset offers: its pinned sha, subsets and their splits with file counts and sizes.

    Each split says whether hfdatasets can build it (`buildable`, and `reason` when not). A repo
    with only a loading script says so and offers the Hub's parquet export instead.
    """
    from django.core.cache import cache

    sha, private = resolve_revision(repo_id, revision, token, attempts=INTERACTIVE_ATTEMPTS)
    # The access check above runs for every request: a cached answer is only given to whoever may read it.
    key = "hfd-inspect-" + hashlib.sha256(f"{repo_id}@{sha}".encode()).hexdigest()
    body = cache.get(key)
    if body is None:
        body = _inspect_commit(repo_id, sha, token, exported=revision == PARQUET_EXPORT)
        cache.set(key, body, INSPECTION_CACHE_SECONDS)
    return {"repo_id": repo_id, "revision": revision or "", "sha": sha, "private": private, **body}


def _inspect_commit(repo_id, sha, token, exported=False):
    if exported:
        return {"script_only": False, "configs": _export_configs(tree_sizes(repo_id, sha, token))}
    try:
        module = dataset_module(repo_id, sha, token)
    except ScriptOnlyDataset as exc:
        return {
            "script_only": True,
            "message": exc.message,
            "configs": [],
            "parquet_export": parquet_export(repo_id, token),
        }
    sizes = tree_sizes(repo_id, sha, token)
    configs = []
    for name in config_names(repo_id, sha, token, module):
        builder = builder_for(repo_id, sha, name, token, module)
        refusal = unbuildable_reason(repo_id, builder.name)
        splits = [
            {
                "name": split,
                "num_files": len(paths),
                "num_bytes": sum(sizes.get(p, 0) for p in paths),
                "buildable": refusal is None,
                **({"reason": refusal} if refusal else {}),
            }
            for split, paths in data_files_of(builder).items()
        ]
        configs.append({"name": name, "builder": builder.name, "splits": splits})
    return {"script_only": False, "configs": configs}


def check_download(repo_id, revision, subset, split, token=None):
    """Whether the Hub offers this download, for a person waiting on an answer: the Plan, or a HubError.

    The one Hub check of a download request (catalog.validators.DownloadRequest calls it): an
    unknown repo, revision, subset or split raises a HubError whose `field` names the input;
    a Hub that cannot be reached raises HubUnavailable after one quick retry.
    """
    sha, _private = resolve_revision(repo_id, revision, token, attempts=INTERACTIVE_ATTEMPTS)
    return with_retries(
        lambda: plan(repo_id, sha, subset, split, token, revision=revision),
        attempts=INTERACTIVE_ATTEMPTS,
        what="dataset lookup",
    )


def parquet_export(repo_id, token=None):
    """The Hub's parquet conversion of a dataset, laid out <config>/<split>/*.parquet, or None.

    {"revision": "refs/convert/parquet", "sha", "configs": [...]} in the shape of inspect()'s.
    """
    with translated_errors(repo_id, PARQUET_EXPORT, token):
        refs = api(token).list_repo_refs(repo_id, repo_type="dataset")
    export = next((ref for ref in refs.converts if ref.ref == PARQUET_EXPORT), None)
    if export is None:
        return None
    configs = _export_configs(tree_sizes(repo_id, export.target_commit, token))
    return {"revision": PARQUET_EXPORT, "sha": export.target_commit, "configs": configs}


def _export_configs(sizes):
    return [
        {
            "name": name,
            "builder": "parquet",
            "splits": [
                {"name": split, "num_files": len(paths), "num_bytes": sum(sizes[p] for p in paths), "buildable": True}
                for split, paths in splits.items()
            ],
        }
        for name, splits in export_layout(sizes).items()
    ]


def export_layout(paths):
    """{config: {split: [paths]}} of a parquet export; a "partial-train" folder is the train split."""
    order = {"train": 0, "validation": 1, "test": 2}

    def split_first(path):
        config, split = path.split("/")[:2]
        return config, order.get(split.removeprefix("partial-"), 3), path

    layout = {}
    for path in sorted((p for p in paths if p.count("/") == 2 and p.endswith(".parquet")), key=split_first):
        config, folder, _ = path.split("/")
        layout.setdefault(config, {}).setdefault(folder.removeprefix("partial-"), []).append(path)
    return layout


def export_builder(repo_id, sha, subset, token=None):
    """The builder of one config of a parquet export: load_dataset(repo, data_files=<its folders>)."""
    layout = export_layout(tree_sizes(repo_id, sha, token))
    if subset not in layout:
        raise SubsetNotFound(
            f"Subset '{subset}' is not in the parquet export of '{repo_id}'. Available: {', '.join(layout) or 'none'}."
        )
    data_files = {split: [f"{posixpath.dirname(paths[0])}/*.parquet"] for split, paths in layout[subset].items()}
    with translated_errors(repo_id, sha, token), card_errors(repo_id):
        return datasets.load_dataset_builder(repo_id, revision=sha, data_files=data_files, token=token_for(token))


def unbuildable_reason(repo_id, module):
    """Why hfdatasets cannot build a subset stored with this `datasets` builder, or None."""
    if module in SUPPORTED_MODULES:
        return None
    return (
        f"'{repo_id}' is stored as '{module}', which hfdatasets cannot download yet "
        f"(supported: {', '.join(sorted(SUPPORTED_MODULES))})."
    )


def plan(repo_id, sha, subset, split, token=None, revision=""):
    """The files (with sizes) that one subset and split needs, without downloading them.

    `datasets` itself resolves the layout (YAML `configs:`, data_dir, split names, the no-YAML
    file patterns, the card's features), so the plan names exactly the files it would read.
    `revision` is the one asked for: the parquet export's subsets are its folders.
    """
    exported = revision == PARQUET_EXPORT
    builder = export_builder(repo_id, sha, subset, token) if exported else builder_for(repo_id, sha, subset, token)
    module = builder.name
    refusal = unbuildable_reason(repo_id, module)
    if refusal:
        raise UnsupportedDataset(refusal)
    files = data_files_of(builder)
    if split not in files:
        raise SplitNotFound(
            f"Split '{split}' does not exist in '{repo_id}'"
            + (f" subset '{subset}'" if subset else "")
            + f". Available: {', '.join(files) or 'none'}."
        )
    declared = builder.info.splits
    if declared and set(declared) != set(files):
        # datasets.load_dataset fails the same way (ExpectedMoreSplitsError / UnexpectedSplitsError).
        raise UnsupportedDataset(
            f"The card of '{repo_id}' declares the splits {', '.join(declared)} but its files give "
            f"{', '.join(files)}: `datasets` refuses to load it, and so does hfdatasets. Ask its authors to fix the card."
        )
    inference_split = next(reversed(files)) if module == "webdataset" else next(iter(files))
    first_path = files[inference_split][0] if files[inference_split] else None
    wanted = list(files[split])
    if module in FOLDER_MODULES:
        # Their features come from every split's folders and metadata files: fetch the other
        # splits' metadata files too (small), their media files never.
        wanted += [p for other, paths in files.items() if other != split for p in paths if is_metadata_file(p)]
    sizes = file_sizes(repo_id, sha, list(dict.fromkeys(wanted + ([first_path] if first_path else []))), token)

    def planned(path):
        size, sha256, blob_id = sizes.get(path, (None, None, None))
        if size is None:
            raise DatasetNotFound(f"File '{path}' of '{repo_id}' is listed but not on the Hub.")
        return PlannedFile(path=path, size=size, sha256=sha256, git_oid=None if sha256 else blob_id)

    return Plan(
        repo_id=repo_id,
        sha=sha,
        subset=subset if exported else builder.config.name,
        split=split,
        module=module,
        files=[planned(path) for path in wanted],
        builder_kwargs=builder_options(builder.config),
        features=builder.info.features,
        inference_split=inference_split,
        inference_file=planned(first_path) if first_path else None,
        split_files=files,
        expected_rows=declared[split].num_examples if declared else None,
    )


def is_metadata_file(path):
    return path.rsplit("/", 1)[-1] in METADATA_FILENAMES


def builder_options(config):
    """The options a subset's config sets for its packaged builder, as keyword arguments.

    Everything that differs from the builder's defaults: from the YAML (`sep`, `field`, ...) or
    from the file extension (`.tsv` gives `sep="\t"`).
    """
    defaults = type(config)()
    options = {}
    for spec in dataclasses.fields(config):
        if spec.name in _NOT_OPTIONS:
            continue
        value = getattr(config, spec.name)
        try:
            differs = bool(value != getattr(defaults, spec.name))
        except Exception:  # values without a plain truth value (pyarrow expressions)
            differs = True
        if differs:
            options[spec.name] = value
    return options


# --- Transfer --------------------------------------------------------------------------


def file_url(repo_id, sha, path):
    return huggingface_hub.hf_hub_url(repo_id, path, repo_type="dataset", revision=sha, endpoint=settings.HF_ENDPOINT)


def stream_file(repo_id, sha, path, *, start=0, end=None, token=None):
    """Open a streamed GET of one file from byte `start` to `end` inclusive (a Range request).

    A context manager yielding (response, offset): offset is where the body starts (0 if
    the server ignored the Range). URL, headers and redirects are huggingface_hub's own.
    """
    # identity: byte offsets must be offsets in the file itself, not in a compressed body.
    headers = build_hf_headers(token=token_for(token), headers={"Accept-Encoding": "identity"})
    if start or end is not None:
        headers["Range"] = f"bytes={start}-{'' if end is None else end}"
    return _open_stream(file_url(repo_id, sha, path), headers, start, repo_id, sha)


@contextmanager
def _open_stream(url, headers, start, repo_id, sha):
    timeout = httpx2.Timeout(settings.HFD_HTTP_TIMEOUT, connect=settings.HFD_HTTP_TIMEOUT)
    with translated_errors(repo_id, sha):
        with get_session().stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code == 416:
                raise HubError(f"The Hub refused the byte range of {url} (HTTP 416).")
            hf_raise_for_status(response)
            offset = start if response.status_code == 206 else 0
            yield response, offset


CARD_MAX_BYTES = 1024 * 1024


def fetch_card(repo_id, sha, token=None):
    """The README.md (dataset card) of the commit as text, or None if the repository has none."""
    try:
        with stream_file(repo_id, sha, "README.md", token=token) as (response, _offset):
            data = b""
            for chunk in iter_body(response, repo_id):
                data += chunk
                if len(data) > CARD_MAX_BYTES:
                    break
    except DatasetNotFound:
        return None
    return data[:CARD_MAX_BYTES].decode("utf-8", errors="replace")


def iter_body(response, repo_id):
    """Body chunks as they arrive (not buffered to a fixed size), with network errors translated."""
    with translated_errors(repo_id):
        yield from response.iter_bytes()
