"""Build one split from local files exactly as `datasets.load_dataset` builds it from the Hub.

`load_dataset(repo, subset, split=split, revision=sha)` resolves the subset on the Hub to a
packaged builder (parquet, json, csv, imagefolder, ...), its reading options and the card's
features, then builds every split of the subset in order. We fetch only one split, so we make
the same builder class with the same options and hand it local copies of that split's files.

What a one-split build cannot see by itself is where `datasets` takes the features from when the
card declares none: the start of one file of another split (parquet, arrow: the subset's first
file's schema; JSON Lines: its first block of `chunksize` bytes; CSV: its first `chunksize`
records; WebDataset: the first 5 examples of the *last* split's first shard). `reference_features`
reads exactly that when the split we build is not that split (catalog.sampling does the same for
capped downloads), and the build is given those features, as `datasets` gives them to every
later split. imagefolder and audiofolder look at every split's file names and metadata files:
they get every split (see local_splits).
"""

from dataclasses import dataclass, field
from pathlib import Path

# Builders whose features `datasets` infers from the start of one split's first file.
INFERRED_FROM_ANOTHER_SPLIT = {"parquet", "arrow", "json", "csv", "webdataset"}


@dataclass
class BuildSpec:
    """How to build one split: the packaged builder, its options and (if known) the features."""

    module: str
    split: str = "train"
    options: dict = field(default_factory=dict)
    features: object = None  # datasets.Features, or None to let the builder infer them
    expected_rows: int | None = None  # what the card declares for the whole split

    @classmethod
    def for_plan(cls, plan, features=None, capped=False):
        expected = None if capped else plan.expected_rows
        return cls(plan.module, plan.split, dict(plan.builder_kwargs), features, expected)


def build(spec, files, cache_dir, all_splits=None):
    """The split built by the packaged builder from local files, as a datasets.Dataset.

    all_splits ({split: [local paths]}, in the subset's order) is for builders that look at every
    split (imagefolder, audiofolder: see local_splits); the split's own entry is `files`.
    """
    import datasets
    from datasets.data_files import DataFilesDict, DataFilesList
    from datasets.load import import_main_class
    from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES

    builder_cls = import_main_class(_PACKAGED_DATASETS_MODULES[spec.module][0])
    if spec.module == "audiofolder" and not datasets.config.TORCHCODEC_AVAILABLE:
        builder_cls = _undecoded_audio_folder(builder_cls)
    builder_cls = _releasing_freed_memory(builder_cls)
    splits = dict(all_splits or {spec.split: files})
    splits[spec.split] = files
    # A ready DataFilesDict is used as given: local names are never read as glob patterns.
    data_files = DataFilesDict(
        {name: DataFilesList([str(p) for p in paths], [("local",)] * len(paths)) for name, paths in splits.items()}
    )
    builder = builder_cls(
        cache_dir=str(cache_dir),
        dataset_name="hfdatasets",
        data_files=data_files,
        # As load_dataset_builder passes the card's dataset_info: features fixed before any file is read.
        info=datasets.DatasetInfo(features=spec.features) if spec.features is not None else None,
        **spec.options,
    )
    builder.download_and_prepare()
    built = builder.as_dataset(split=spec.split)
    if spec.expected_rows is not None and len(built) != spec.expected_rows:
        from catalog import hub

        # datasets.load_dataset fails here too (NonMatchingSplitsSizesError): never a silently different split.
        raise hub.UnsupportedDataset(
            f"The dataset card says split '{spec.split}' has {spec.expected_rows:,} rows, but its files hold "
            f"{len(built):,}: `datasets` refuses to load it, and so does hfdatasets. Ask its authors to fix the card."
        )
    return built


def save(built, folder):
    """Write the built split to folder as `Dataset.save_to_disk` does, by moving the build's files.

    The builder has already written the split as Arrow files in the save_to_disk format (one IPC
    stream each). When the dataset is exactly those files, whole and in order, they are moved
    into folder and only the two small JSON files are written: no second copy of the data. A
    dataset that is part of them (a max_samples cut), has none, or has media columns (whose
    files save_to_disk embeds) is saved by save_to_disk.
    """
    import json
    import os

    from datasets.features.features import require_storage_embed
    from datasets.utils.py_utils import asdict  # save_to_disk's own (it leaves out unset fields)

    files = [Path(entry["filename"]) for entry in built.cache_files]
    if (
        built._indices is not None
        or not files
        # The rows the builder wrote for the split, all of them: no cut, no selection.
        or built.data.num_rows != _rows_written(built)
        # Media columns (images, audio) that name local files: save_to_disk embeds the files' bytes.
        or require_storage_embed(built.features)
    ):
        built.save_to_disk(str(folder))
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data-{index:05d}-of-{len(files):05d}.arrow" for index in range(len(files))]
    for file, name in zip(files, names):
        os.replace(file, folder / name)  # the same disk (storage keeps the build cache beside the dataset)
    # The same two files, with the same keys and layout, that save_to_disk writes.
    state = {key: built.__dict__[key] for key in SAVED_STATE}
    state["_split"] = str(built.split) if built.split is not None else None
    state["_data_files"] = [{"filename": name} for name in names]
    (folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    info = asdict(built.info)
    info_text = json.dumps({key: info[key] for key in sorted(info)}, indent=2)
    (folder / "dataset_info.json").write_text(info_text, encoding="utf-8")


# The attributes of a Dataset that save_to_disk keeps in state.json (besides _split and _data_files).
SAVED_STATE = ("_fingerprint", "_format_columns", "_format_kwargs", "_format_type", "_output_all_columns")


def _rows_written(built):
    written = built.info.splits.get(str(built.split)) if built.info.splits and built.split is not None else None
    return written.num_examples if written else None


def reference_features(plan, fetch_head, work_dir):
    """The features `datasets` gives the planned split, when they come from another split's file.

    The card's features when it declares them; None when the split is the one `datasets` infers
    from (the local build infers them the same way). `fetch_head(plan, planned, work_dir)` reads
    what `datasets` reads of a remote file to infer (catalog.sampling.fetch_head): a local file,
    or for parquet the schema.
    """
    if plan.features is not None:
        return plan.features
    if (
        not plan.infers_from_another_split
        or plan.module not in INFERRED_FROM_ANOTHER_SPLIT
        or plan.inference_file is None
    ):
        return None
    import datasets

    head = fetch_head(plan, plan.inference_file, work_dir)
    if plan.module == "parquet":
        return datasets.Features.from_arrow_schema(head)
    spec = BuildSpec(plan.module, plan.inference_split, dict(plan.builder_kwargs))
    return build(spec, [head], work_dir / "cache").features


def local_splits(plan, local_path):
    """Every split's files as local paths in the repository's layout, for the folder builders.

    They choose the features from all splits (class names from the folder names, the metadata
    files' columns) and find media files next to the metadata files. Files we did not fetch
    (other splits' media, rows beyond a cap) are left as empty placeholders: the builder only
    records their paths, and their rows are never part of the result.
    """
    splits = {}
    for split, paths in plan.split_files.items():
        splits[split] = [local_path(path) for path in paths]
        for path in splits[split]:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
    return splits


def _releasing_freed_memory(builder_cls):
    """The builder, giving freed Arrow memory back to the system after every RELEASE_AFTER bytes of tables.

    A parquet build decodes one row group after another (a whole 50 MB shard at a time for a
    typical split) and frees each once it is written. Arrow's allocator (mimalloc) keeps freed
    pages for reuse for about a second, and over a long build they piled up: a worker's anonymous
    memory grew with the size of the split (1 GB peaked at 1.45x 100 MB, bench `--only memory`).
    Releasing after every table of a few MB would cost the build its reuse of warm pages (pages
    faulted in again); after every RELEASE_AFTER bytes (each table of a 50 MB shard) the memory
    stays that of a small split whatever the size, at no measurable cost. Builders that yield
    examples (imagefolder, webdataset, ...) are left as they are.
    """
    import datasets
    import pyarrow as pa

    if not issubclass(builder_cls, datasets.ArrowBasedBuilder):
        return builder_cls

    def _generate_tables(self, *args, **kwargs):
        pool = pa.default_memory_pool()
        since_release = 0
        for key_and_table in super(releasing, self)._generate_tables(*args, **kwargs):
            since_release += key_and_table[1].nbytes
            yield key_and_table
            del key_and_table
            if since_release >= RELEASE_AFTER:
                pool.release_unused()
                since_release = 0

    # Same name and module: the builder's name (and so the dataset's builder_name) is taken from them.
    attributes = {"_generate_tables": _generate_tables, "__module__": builder_cls.__module__}
    releasing = type(builder_cls.__name__, (builder_cls,), attributes)
    return releasing


# Bytes of tables a build writes between two releases of freed memory (see _releasing_freed_memory).
RELEASE_AFTER = 32 * 2**20


def _undecoded_audio_folder(audio_folder_cls):
    """AudioFolder storing each clip as its file (bytes and name), without torch.

    `datasets` encodes audio with torchcodec, which needs torch (about 1 GB) even to store a file
    path. The Arrow column is the same struct of bytes and path that `datasets` writes, with the
    Audio feature on it; only decoding the clips later needs torchcodec.
    """
    import datasets

    class UndecodedAudio(datasets.Audio):
        def encode_example(self, value):
            if isinstance(value, str):
                return {"bytes": None, "path": value}
            if isinstance(value, (bytes, bytearray)):
                return {"bytes": bytes(value), "path": None}
            if isinstance(value, dict) and ("bytes" in value or "path" in value):
                return {"bytes": value.get("bytes"), "path": value.get("path")}
            raise ValueError(f"Audio values are files here (path or bytes), not {type(value).__name__}.")

    # Same module name: the builder's name (and so the dataset's builder_name) is taken from it.
    attributes = {"BASE_FEATURE": UndecodedAudio, "__module__": audio_folder_cls.__module__}
    return type(audio_folder_cls.__name__, (audio_folder_cls,), attributes)
