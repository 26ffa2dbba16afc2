"""Build one split from local files exactly as `datasets.load_dataset` builds it from the Hub.

`load_dataset(repo, subset, split=split, revision=sha)` resolves the subset on the Hub to a
packaged builder (parquet, json, csv, ...), its reading options and the card's features, then
builds every split of the subset in order. We fetch only one split, so we make the same builder
class with the same options and hand it local copies of that split's files. What the local
build cannot see by itself is where `datasets` takes the features from when the card declares
none: the subset's *first* split, read from the start of its first file (parquet: that file's
schema; JSON Lines: its first block of `chunksize` bytes; CSV: its first `chunksize` records).
`reference_features` reads exactly that when the split we build is not the first one (and
catalog.sampling does for capped downloads), and the build is then given those features, as
`datasets` gives the features of the first split to every later one.
"""

from dataclasses import dataclass, field

# Builders whose features `datasets` infers from the start of the subset's first split.
INFERRED_FROM_FIRST_SPLIT = {"parquet", "json", "csv"}


@dataclass
class BuildSpec:
    """How to build one split: the packaged builder, its options and (if known) the features."""

    module: str
    split: str = "train"
    options: dict = field(default_factory=dict)
    features: object = None  # datasets.Features, or None to let the builder infer them

    @classmethod
    def for_plan(cls, plan, features=None):
        return cls(plan.module, plan.split, dict(plan.builder_kwargs), features)


def build(spec, files, cache_dir):
    """The split built by the packaged builder from local files, as a datasets.Dataset."""
    import datasets
    from datasets.data_files import DataFilesDict, DataFilesList
    from datasets.load import import_main_class
    from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES

    builder_cls = import_main_class(_PACKAGED_DATASETS_MODULES[spec.module][0])
    paths = [str(p) for p in files]
    # A ready DataFilesDict is used as given: local names are never read as glob patterns.
    data_files = DataFilesDict({spec.split: DataFilesList(paths, [("local",)] * len(paths))})
    builder = builder_cls(
        cache_dir=str(cache_dir),
        dataset_name="hfdatasets",
        data_files=data_files,
        # As load_dataset_builder passes the card's dataset_info: features fixed before any file is read.
        info=datasets.DatasetInfo(features=spec.features) if spec.features is not None else None,
        **spec.options,
    )
    builder.download_and_prepare()
    return builder.as_dataset(split=spec.split)


def reference_features(plan, fetch_head, work_dir):
    """The features `datasets` gives the planned split, when they come from another split's file.

    None when the card declares them (the plan carries them) or when the split is the subset's
    first one (the local build infers them the same way). `fetch_head(planned, target)` writes
    the start of a remote file that `datasets` reads to infer (see catalog.sampling.fetch_head)
    and returns its local path, or the parquet schema.
    """
    if plan.features is not None:
        return plan.features
    if not plan.infers_from_another_split or plan.module not in INFERRED_FROM_FIRST_SPLIT or plan.first_file is None:
        return None
    import datasets

    head = fetch_head(plan, plan.first_file, work_dir)
    if plan.module == "parquet":
        return datasets.Features.from_arrow_schema(head)
    spec = BuildSpec(plan.module, plan.first_split, dict(plan.builder_kwargs))
    return build(spec, [head], work_dir / "cache").features
