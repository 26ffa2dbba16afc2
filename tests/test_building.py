"""catalog.building.save: the build's own Arrow files become the saved dataset, as save_to_disk writes it."""

import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from catalog import building


def _parquet_files(folder, shards=3, rows=50):
    paths = []
    for shard in range(shards):
        ids = range(shard * rows, (shard + 1) * rows)
        table = pa.table({"id": list(ids), "text": [f"row {i}" for i in ids], "score": [i / 7 for i in ids]})
        path = folder / f"train-{shard:05d}-of-{shards:05d}.parquet"
        pq.write_table(table, path, row_group_size=20)
        paths.append(path)
    return paths


def _build(files, cache):
    return building.build(building.BuildSpec("parquet", "train"), files, cache)


def _saved(folder):
    return {name: json.loads((folder / name).read_text()) for name in ("state.json", "dataset_info.json")}


def test_save_moves_the_build_files_and_writes_what_save_to_disk_writes(tmp_path):
    files = _parquet_files(tmp_path)
    reference = _build(files, tmp_path / "cache-a")
    reference.save_to_disk(str(tmp_path / "expected"))
    built = _build(files, tmp_path / "cache-b")
    cache_files = [entry["filename"] for entry in built.cache_files]

    building.save(built, tmp_path / "ours")

    # Moved, not copied: the build cache no longer holds the data.
    assert not any(tmp_path.joinpath(f).exists() for f in cache_files)
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == sorted(
        p.name for p in (tmp_path / "expected").iterdir()
    )
    ours, expected = _saved(tmp_path / "ours"), _saved(tmp_path / "expected")
    # The fingerprint names the build cache folder, which differs between the two builds.
    assert {**ours["state.json"], "_fingerprint": None} == {**expected["state.json"], "_fingerprint": None}
    assert ours["dataset_info.json"] == expected["dataset_info.json"]
    loaded, wanted = (
        datasets.load_from_disk(str(tmp_path / "ours")),
        datasets.load_from_disk(str(tmp_path / "expected")),
    )
    assert loaded.features == wanted.features
    assert loaded.data.table.equals(wanted.data.table)
    assert loaded.data.table.schema.metadata == wanted.data.table.schema.metadata


def test_a_cut_dataset_is_written_by_save_to_disk_and_the_build_files_stay(tmp_path):
    built = _build(_parquet_files(tmp_path), tmp_path / "cache")
    cache_files = [entry["filename"] for entry in built.cache_files]

    building.save(built.select(range(70)), tmp_path / "ours")

    assert all(tmp_path.joinpath(f).exists() for f in cache_files)
    loaded = datasets.load_from_disk(str(tmp_path / "ours"))
    assert loaded["id"] == list(range(70))
