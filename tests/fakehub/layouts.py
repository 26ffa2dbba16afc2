"""Repositories laid out the way popular Hub datasets are, one per layout `datasets` can load.

Each layout is a function returning the repository's files; `LAYOUTS` maps a repo id to it and
`CASES` lists the (repo id, subset, split) requests the oracle tests make of them
(tests/test_layouts.py compares our Arrow output with `datasets.load_dataset` on each).
Register one with `add_layout(hub, repo_id)`. Rows are few: the point is the layout.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import yaml


def readme(front_matter: dict | None = None, body: str = "A layout served by the fake Hub.\n") -> bytes:
    text = f"---\n{yaml.safe_dump(front_matter, sort_keys=False)}---\n\n" if front_matter else ""
    return (text + "# Layout\n\n" + body).encode()


def parquet(rows: list[dict], row_group_size: int | None = None) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf, row_group_size=row_group_size)
    return buf.getvalue()


def pandas_parquet(rows: list[dict]) -> bytes:
    """Parquet as pandas writes it (with its own schema metadata)."""
    import pandas as pd

    buf = io.BytesIO()
    pd.DataFrame(rows).to_parquet(buf)
    return buf.getvalue()


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def csv_bytes(rows: list[dict], sep: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=sep, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def rows(first: int, n: int, tag: str = "row") -> list[dict]:
    return [{"id": i, "text": f"{tag} {i}", "score": i * 0.5} for i in range(first, first + n)]


# --- Parquet with YAML configs ------------------------------------------------------------


def yaml_configs() -> dict[str, bytes]:
    """Several configs; the default one is not listed first; data_dir; custom split names."""
    card = {
        "configs": [
            {
                "config_name": "sft",
                "data_files": [
                    {"split": "train_sft", "path": "sft/train_sft-*.parquet"},
                    {"split": "test_sft", "path": "sft/test_sft-*.parquet"},
                ],
            },
            {"config_name": "main", "default": True, "data_files": "main/*.parquet"},
            {"config_name": "other", "data_dir": "other"},
        ],
        "license": "mit",
    }
    return {
        "README.md": readme(card),
        "sft/train_sft-00000-of-00001.parquet": parquet(rows(0, 12, "sft")),
        "sft/test_sft-00000-of-00001.parquet": parquet(rows(100, 5, "sft test")),
        "main/part-0.parquet": parquet(rows(200, 7, "main")),
        "main/part-1.parquet": parquet(rows(207, 6, "main")),
        "other/train-00000-of-00001.parquet": parquet(rows(300, 8, "other")),
        "other/test-00000-of-00001.parquet": parquet(rows(400, 4, "other test")),
    }


# --- Parquet without YAML: the file-name and folder conventions ---------------------------


def sharded() -> dict[str, bytes]:
    return {
        "README.md": readme(),
        "data/train-00000-of-00002.parquet": parquet(rows(0, 6)),
        "data/train-00001-of-00002.parquet": parquet(rows(6, 5)),
        "data/validation-00000-of-00001.parquet": parquet(rows(50, 4)),
    }


def split_dirs() -> dict[str, bytes]:
    return {
        "data/train/a.parquet": parquet(rows(0, 5)),
        "data/train/b.parquet": parquet(rows(5, 5)),
        "data/test/a.parquet": parquet(rows(90, 3)),
    }


def split_folders() -> dict[str, bytes]:
    """train/, dev/ and test/ folders at the top: dev is the validation split."""
    return {
        "README.md": readme(),
        "train/0.parquet": parquet(rows(0, 9)),
        "dev/0.parquet": parquet(rows(20, 4)),
        "test/0.parquet": parquet(rows(40, 3)),
    }


def split_in_names() -> dict[str, bytes]:
    return {
        "README.md": readme(),
        "name-train-00.parquet": parquet(rows(0, 7)),
        "name-train-01.parquet": parquet(rows(7, 2)),
        "name-test-00.parquet": parquet(rows(70, 3)),
    }


def parquet_schemas_differ() -> dict[str, bytes]:
    """The test split alone would be int64; datasets casts it to the first split's float64."""
    train = [{"id": i, "value": i + 0.25} for i in range(6)]
    test = [{"id": i, "value": i} for i in range(4)]
    return {
        "README.md": readme(),
        "data/train-00000-of-00001.parquet": parquet(train),
        "data/test-00000-of-00001.parquet": parquet(test),
    }


def arrow_stream(rows: list[dict]) -> bytes:
    table = pa.Table.from_pylist(rows)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=3)
    return sink.getvalue()


def arrow_files() -> dict[str, bytes]:
    """Arrow IPC streams; test alone would be int64, datasets casts it to train's float64."""
    return {
        "README.md": readme(),
        "data/train-00000-of-00001.arrow": arrow_stream([{"id": i, "value": i + 0.5} for i in range(7)]),
        "data/test-00000-of-00001.arrow": arrow_stream([{"id": i, "value": i} for i in range(4)]),
    }


# --- The card's dataset_info.features -----------------------------------------------------

CARD_FEATURES = [
    {"name": "zip", "dtype": "string"},
    {"name": "score", "dtype": "float32"},
    {"name": "label", "dtype": {"class_label": {"names": {"0": "neg", "1": "pos"}}}},
    {"name": "text", "dtype": "string"},
]


def _typed_rows(first: int, n: int) -> list[dict]:
    return [
        {"zip": f"{2100 + i:05d}", "score": i / 3, "label": i % 2, "text": f"review {i}"}
        for i in range(first, first + n)
    ]


def _card_with_features(data_files: list[dict], splits: dict | None = None) -> bytes:
    info = {"features": CARD_FEATURES}
    if splits:
        info["splits"] = [{"name": n, "num_bytes": 0, "num_examples": rows} for n, rows in splits.items()]
    return readme({"configs": [{"config_name": "default", "data_files": data_files}], "dataset_info": info})


def card_features(kind: str, splits: dict | None = None) -> dict[str, bytes]:
    """A zip code declared as string (pandas would read 02100 as 2100), float32, a ClassLabel.

    splits: the row counts the card declares ({"train": 12, "test": 5} is right).
    """
    encode = {"csv": csv_bytes, "json": jsonl, "parquet": pandas_parquet}[kind]
    ext = {"csv": "csv", "json": "jsonl", "parquet": "parquet"}[kind]
    return {
        "README.md": _card_with_features(
            [{"split": "train", "path": f"train.{ext}"}, {"split": "test", "path": f"test.{ext}"}], splits
        ),
        f"train.{ext}": encode(_typed_rows(0, 12)),
        f"test.{ext}": encode(_typed_rows(50, 5)),
    }


# --- JSON, CSV, text and their types ------------------------------------------------------


def late_types(kind: str) -> dict[str, bytes]:
    """Row 40 is the first to show the real type: a capped read must still infer it.

    test (the second split) would be int64 alone; datasets gives it train's float64, and a
    column that is null throughout test the type train has.
    """
    train = [{"id": i, "value": 1.5 if i == 40 else i, "note": f"n{i}"} for i in range(60)]
    test = [{"id": i, "value": i, "note": None} for i in range(5)]
    if kind == "json":
        return {"README.md": readme(), "data/train.jsonl": jsonl(train), "data/test.jsonl": jsonl(test)}
    return {"README.md": readme(), "data/train.csv": csv_bytes(train), "data/test.csv": csv_bytes(test)}


def json_variants() -> dict[str, bytes]:
    """JSON arrays and a `field:` JSON document, one config each.

    (`datasets` picks one builder per repository, from its first config's files: every config
    of a repository is in the same format.)
    """
    card = {
        "configs": [
            {"config_name": "array", "data_files": [{"split": "train", "path": "array/*.json"}]},
            {"config_name": "field", "data_files": [{"split": "train", "path": "field/*.json"}], "field": "data"},
        ]
    }
    return {
        "README.md": readme(card),
        "array/part-0.json": json.dumps(rows(0, 6)).encode(),
        "array/part-1.json": json.dumps(rows(6, 3)).encode(),
        "field/all.json": json.dumps({"version": 2, "data": rows(0, 7)}).encode(),
    }


def tsv() -> dict[str, bytes]:
    """No YAML: the .tsv extension makes datasets read it as CSV with a tab separator."""
    return {
        "train.tsv": csv_bytes([{"id": i, "text": f"a, b {i}"} for i in range(8)], sep="\t"),
        "test.tsv": csv_bytes([{"id": i, "text": f"c {i}"} for i in range(3)], sep="\t"),
    }


def text() -> dict[str, bytes]:
    return {
        "README.md": readme(),
        "data/train.txt": "".join(f"line {i} of the text\n" for i in range(9)).encode(),
        "data/test.txt": b"one\ntwo\n",
    }


def compressed() -> dict[str, bytes]:
    """.gz, .zst, .bz2, .xz and .zip shards."""
    import zstandard

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner-0.jsonl", jsonl(rows(0, 4)))
        zf.writestr("inner-1.jsonl", jsonl(rows(4, 3)))
    card = {
        "configs": [
            {"config_name": "gz", "data_files": [{"split": "train", "path": "gz/*.jsonl.gz"}]},
            {"config_name": "zst", "data_files": [{"split": "train", "path": "zst/*.jsonl.zst"}]},
            {"config_name": "bz2", "data_files": [{"split": "train", "path": "bz2/*.jsonl.bz2"}]},
            {"config_name": "zip", "data_files": [{"split": "train", "path": "zip/*.zip"}]},
            {"config_name": "xz", "data_files": [{"split": "train", "path": "xz/*.jsonl.xz"}]},
        ]
    }
    # Two gzip members in one file, as `cat a.gz b.gz` makes.
    gz = gzip.compress(jsonl(rows(0, 5))) + gzip.compress(jsonl(rows(5, 4)))
    return {
        "README.md": readme(card),
        "gz/part-0.jsonl.gz": gz,
        "gz/part-1.jsonl.gz": gzip.compress(jsonl(rows(9, 3))),
        "zst/all.jsonl.zst": zstandard.ZstdCompressor().compress(jsonl(rows(0, 10))),
        "bz2/all.jsonl.bz2": bz2.compress(jsonl(rows(0, 6))),
        "xz/all.jsonl.xz": lzma.compress(jsonl(rows(0, 5))),
        "zip/all.zip": archive.getvalue(),
    }


def csv_options() -> dict[str, bytes]:
    """Reading options in the card: two lines to skip before the header, ';' as the separator."""
    card = {"configs": [{"config_name": "default", "data_files": "data/*.csv", "skiprows": 2, "sep": ";"}]}
    body = b"exported by a tool\nversion 3\n" + csv_bytes(rows(0, 9), sep=";")
    return {"README.md": readme(card), "data/all.csv": body}


def compressed_csv() -> dict[str, bytes]:
    import zstandard

    return {
        "README.md": readme(),
        "data/train-00000-of-00002.csv.zst": zstandard.ZstdCompressor().compress(csv_bytes(rows(0, 10))),
        "data/train-00001-of-00002.csv.gz": gzip.compress(csv_bytes(rows(10, 4))),
    }


# --- Media: imagefolder, audiofolder, webdataset -------------------------------------------


def png(seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4 + seed % 3, 3), color=(seed * 40 % 256, 80, 160)).save(buf, format="PNG")
    return buf.getvalue()


def wav(seed: int) -> bytes:
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes((seed * 7 + i) % 256 for i in range(160)))
    return buf.getvalue()


def image_classes() -> dict[str, bytes]:
    """Class-name folders: the label is a ClassLabel of the folder names of every split."""
    files = {"README.md": readme()}
    for split, classes, n in (("train", ("cat", "dog"), 4), ("test", ("cat", "dog", "owl"), 2)):
        for label in classes:
            for i in range(n):
                files[f"{split}/{label}/{label}-{i}.png"] = png(i + len(label))
    return files


def image_metadata() -> dict[str, bytes]:
    """metadata.csv next to the images: its columns become features, file_name the image."""
    files = {"README.md": readme()}
    for split, n in (("train", 6), ("test", 3)):
        meta = [{"file_name": f"img-{i}.png", "caption": f"{split} picture {i}", "width": 4 + i % 3} for i in range(n)]
        files[f"data/{split}/metadata.csv"] = csv_bytes(meta)
        for i in range(n):
            files[f"data/{split}/img-{i}.png"] = png(i)
    return files


def audio_metadata() -> dict[str, bytes]:
    files = {"README.md": readme()}
    for split, n in (("train", 5), ("test", 2)):
        meta = [{"file_name": f"clip-{i}.wav", "transcript": f"{split} clip {i}"} for i in range(n)]
        files[f"{split}/metadata.jsonl"] = jsonl(meta)
        for i in range(n):
            files[f"{split}/clip-{i}.wav"] = wav(i)
    return files


def tar_shard(examples: list[dict[str, bytes]]) -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for example in examples:
            for name, data in example.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def webdataset() -> dict[str, bytes]:
    """TAR shards of examples (key.png, key.json, key.txt); test has an extra field train lacks."""

    def examples(first, n, extra=False):
        out = []
        for i in range(first, first + n):
            example = {
                f"sample{i:04d}.png": png(i),
                f"sample{i:04d}.json": json.dumps({"id": i, "tags": ["a", "b"][: i % 3]}).encode(),
                f"sample{i:04d}.txt": f"caption {i}".encode(),
            }
            if extra:
                example[f"sample{i:04d}.cls"] = str(i % 2).encode()
            out.append(example)
        return out

    return {
        "README.md": readme(),
        "train/shard-000.tar": tar_shard(examples(0, 7)),
        "train/shard-001.tar": tar_shard(examples(7, 4)),
        "test/shard-000.tar": tar_shard(examples(100, 6, extra=True)),
    }


LAYOUTS = {
    "layouts/yaml-configs": yaml_configs,
    "layouts/sharded": sharded,
    "layouts/split-dirs": split_dirs,
    "layouts/split-folders": split_folders,
    "layouts/split-in-names": split_in_names,
    "layouts/parquet-schemas": parquet_schemas_differ,
    "layouts/arrow": arrow_files,
    "layouts/card-csv": lambda: card_features("csv"),
    "layouts/card-json": lambda: card_features("json"),
    "layouts/card-parquet": lambda: card_features("parquet"),
    "layouts/card-splits": lambda: card_features("json", {"train": 12, "test": 5}),
    "layouts/card-splits-wrong": lambda: card_features("json", {"train": 12, "test": 6}),
    "layouts/late-types-json": lambda: late_types("json"),
    "layouts/late-types-csv": lambda: late_types("csv"),
    "layouts/json-variants": json_variants,
    "layouts/compressed": compressed,
    "layouts/compressed-csv": compressed_csv,
    "layouts/csv-options": csv_options,
    "layouts/tsv": tsv,
    "layouts/text": text,
    "layouts/image-classes": image_classes,
    "layouts/image-metadata": image_metadata,
    "layouts/webdataset": webdataset,
    "layouts/audio-metadata": audio_metadata,
}

# (repo id, subset, split) requests; "" is the default subset.
CASES = [
    ("layouts/yaml-configs", "", "train"),
    ("layouts/yaml-configs", "sft", "train_sft"),
    ("layouts/yaml-configs", "sft", "test_sft"),
    ("layouts/yaml-configs", "other", "test"),
    ("layouts/sharded", "", "train"),
    ("layouts/sharded", "", "validation"),
    ("layouts/split-dirs", "", "train"),
    ("layouts/split-folders", "", "validation"),
    ("layouts/split-in-names", "", "train"),
    ("layouts/split-in-names", "", "test"),
    ("layouts/parquet-schemas", "", "test"),
    ("layouts/arrow", "", "test"),
    ("layouts/card-csv", "", "train"),
    ("layouts/card-csv", "", "test"),
    ("layouts/card-json", "", "test"),
    ("layouts/card-parquet", "", "train"),
    ("layouts/card-splits", "", "test"),
    ("layouts/late-types-json", "", "train"),
    ("layouts/late-types-json", "", "test"),
    ("layouts/late-types-csv", "", "train"),
    ("layouts/late-types-csv", "", "test"),
    ("layouts/json-variants", "array", "train"),
    ("layouts/json-variants", "field", "train"),
    ("layouts/tsv", "", "train"),
    ("layouts/text", "", "test"),
    ("layouts/compressed", "gz", "train"),
    ("layouts/compressed", "zst", "train"),
    ("layouts/compressed", "bz2", "train"),
    ("layouts/compressed", "zip", "train"),
    ("layouts/compressed", "xz", "train"),
    ("layouts/compressed-csv", "", "train"),
    ("layouts/csv-options", "", "train"),
    ("layouts/image-classes", "", "train"),
    ("layouts/image-classes", "", "test"),
    ("layouts/image-metadata", "", "train"),
    ("layouts/image-metadata", "", "test"),
    ("layouts/webdataset", "", "train"),
    ("layouts/webdataset", "", "test"),
]


def many_configs(n: int = 100) -> dict[str, bytes]:
    """A card declaring n subsets, each with a train and a test file."""
    card = {
        "configs": [
            {
                "config_name": f"c{i:03d}",
                "data_files": [
                    {"split": "train", "path": f"c{i:03d}/train-*.parquet"},
                    {"split": "test", "path": f"c{i:03d}/test-*.parquet"},
                ],
            }
            for i in range(n)
        ]
    }
    files = {"README.md": readme(card)}
    for i in range(n):
        files[f"c{i:03d}/train-0.parquet"] = parquet(rows(i, 2))
        files[f"c{i:03d}/test-0.parquet"] = parquet(rows(i, 1))
    return files


SCRIPT_REPO = "layouts/old-style"


def add_script_repo(hub, with_export: bool = True) -> tuple[str, str | None]:
    """A repo built by a loading script (old-style.py), and the Hub's parquet export of it.

    Returns (main sha, export sha or None). The export is laid out <config>/<split>/*.parquet,
    with a "partial-" split folder as the Hub writes for large splits.
    """
    hub.remove_repo(SCRIPT_REPO)
    main = hub.add_repo(
        SCRIPT_REPO,
        {
            "README.md": readme({"license": "mit"}),
            "old-style.py": b"import datasets\n\nclass OldStyle(datasets.GeneratorBasedBuilder):\n    pass\n",
        },
    )
    if not with_export:
        return main, None
    export = hub.add_repo(
        SCRIPT_REPO,
        {
            "plain/train/0000.parquet": parquet(rows(0, 6)),
            "plain/train/0001.parquet": parquet(rows(6, 3)),
            "plain/test/0000.parquet": parquet(rows(50, 4)),
            "fancy/partial-train/0000.parquet": parquet(rows(100, 5, "fancy")),
        },
        branch="refs/convert/parquet",
    )
    return main, export


def add_layout(hub, repo_id: str) -> str:
    """Register one layout repository on the hub (a fresh commit); returns its commit sha."""
    hub.remove_repo(repo_id)
    return hub.add_repo(repo_id, LAYOUTS[repo_id]())
