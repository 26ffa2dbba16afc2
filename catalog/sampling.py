"""Fetch only the first rows of a split (max_samples): stream and stop, never the whole split.

Parquet is read through HTTP Range requests: the footer, then row groups until there are
enough rows. JSON Lines, CSV and text are streamed (and decompressed: .gz, .zst, .bz2, .xz)
line by line, and the connection is closed once there are enough records. Other files (JSON
arrays, `field:` JSON, .zip archives, arrow) are fetched whole, one at a time, until there are
enough rows. WebDataset shards are streamed and cut after their first examples; imagefolder and
audiofolder fetch their metadata files, then the media files of the first rows. The rows are
written to small local files that go through the same build step as a full download. A capped download is small by nature, so a crash restarts it from zero.

Types: `datasets` parses JSON Lines in blocks of `chunksize` bytes (10 MiB by default) and CSV
in chunks of `chunksize` records (10,000), infers each block's types and casts the later ones to
the first block's. A capped read therefore always takes whole blocks: at least the first block
of each file it reads, so the types (and values) are exactly those of the full split.
For parquet the footers tell exactly how many bytes the rows take, so `total_bytes` is right
before the row data is read; for line formats it is the whole split until the rows are in.
"""

import bz2
import io
import json
import lzma
import posixpath
import shutil
import threading
import zlib
from contextlib import closing
from itertools import islice

import pyarrow as pa
import pyarrow.parquet as pq

from catalog import building, fetch, hub, storage

COMPRESSIONS = (".gz", ".zst", ".bz2", ".xz")
# The packaged builders' own defaults (JsonConfig.chunksize, CsvConfig.chunksize).
JSON_BLOCK_BYTES = 10 << 20
WEBDATASET_INFERENCE_EXAMPLES = 5  # WebDataset.NUM_EXAMPLES_FOR_FEATURES_INFERENCE
CSV_CHUNK_RECORDS = 10_000


def fetch_first_rows(dataset, plan, max_samples, reporter, token=None):
    """Local files holding at least max_samples rows (or the whole split if it is smaller)."""
    out_dir = storage.downloads_dir(dataset.pk) / "first-rows"
    if plan.module in hub.FOLDER_MODULES:
        return _first_folder_rows(dataset, plan, max_samples, reporter, token)
    if plan.module == "webdataset":
        needed, outputs = max_samples, []
        for index, planned in enumerate(plan.files):
            if needed <= 0:
                break
            # datasets infers the features from the first examples of the last split's first shard.
            least = WEBDATASET_INFERENCE_EXAMPLES if index == 0 and plan.split == plan.inference_split else 0
            target = _target(out_dir, planned)
            needed -= _first_tar_examples(plan, planned, target, max(needed, least), reporter, token)
            outputs.append(target)
    elif plan.module == "parquet" and not plan.builder_kwargs.get("filters"):
        outputs = _first_parquet_rows(dataset, plan, max_samples, reporter, token, out_dir)
    else:
        needed, outputs = max_samples, []
        for planned in plan.files:
            if needed <= 0:
                break
            reader = _reader_for(plan, planned.path)
            target = _target(out_dir, planned, reader)
            needed -= reader(plan, planned, target, needed, reporter, token)
            outputs.append(target)
    # The transfer is over: what came in is the whole of it, so progress ends at 100%.
    reporter.total = reporter.done
    reporter.save(total_bytes=reporter.done)
    return outputs


def fetch_head(plan, planned, work_dir, token=None):
    """What `datasets` reads of a file to infer a subset's features (see catalog.building).

    Parquet: the schema, from the footer. Line formats: a local file with the first block.
    Anything else: the whole file. These reads are metadata, not counted in the progress.
    """
    reporter = _Uncounted()
    if plan.module == "parquet":
        return pq.read_schema(pa.PythonFile(RangeFile(plan, planned, reporter, token), mode="r"))
    if plan.module == "webdataset":
        target = _target(work_dir / "head", planned)
        _first_tar_examples(plan, planned, target, WEBDATASET_INFERENCE_EXAMPLES, reporter, token)
        return target
    reader = _reader_for(plan, planned.path)
    target = _target(work_dir / "head", planned, reader)
    reader(plan, planned, target, 1, reporter, token)
    return target


class _Uncounted:
    def add(self, nbytes):
        pass

    def check(self):
        pass


def _target(out_dir, planned, reader=None):
    # A streamed file is stored decompressed: the build reads it as the plain file it holds.
    path = planned.path
    if reader not in (None, _whole_file) and path.lower().endswith(COMPRESSIONS):
        path = path.rsplit(".", 1)[0]
    target = storage.safe_join(out_dir, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


# Reading options under which rows are not one-per-record from the start of the file: files are
# then fetched whole (a count of lines or records could stop short of N rows).
# So are files in an encoding whose newline is not the byte "\n".
_WHOLE_FILE_OPTIONS = {"field", "skiprows", "skipfooter", "nrows", "comment", "header", "filters"}


def _reader_for(plan, path):
    inner = path.lower()
    if inner.endswith(COMPRESSIONS):
        inner = inner.rsplit(".", 1)[0]
    options = plan.builder_kwargs
    encoding = (options.get("encoding") or "utf-8").lower().replace("-", "").replace("_", "")
    if _WHOLE_FILE_OPTIONS & set(options) or encoding not in ("utf8", "ascii", "latin1", "iso88591"):
        return _whole_file
    if plan.module == "json" and inner.endswith((".jsonl", ".ndjson")):
        return _first_json_lines
    if plan.module == "csv" and inner.endswith((".csv", ".tsv", ".txt")):
        return _first_csv_records
    if plan.module == "text" and options.get("sample_by", "line") == "line" and not inner.endswith(".zip"):
        return _first_text_lines
    return _whole_file


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of a Hub file; each read is one HTTP Range request."""

    def __init__(self, plan, planned, reporter, token):
        self.plan, self.planned, self.reporter, self.token = plan, planned, reporter, token
        self.position = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.position

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.planned.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer):
        end = min(self.position + len(buffer), self.planned.size)
        if end <= self.position:
            return 0
        data = hub.with_retries(lambda: self._get(self.position, end - 1), what=f"read of '{self.planned.path}'")
        buffer[: len(data)] = data
        self.position += len(data)
        self.reporter.add(len(data))
        return len(data)

    def _get(self, start, end):
        parts = []
        with hub.stream_file(
            self.plan.repo_id, self.plan.sha, self.planned.path, start=start, end=end, token=self.token
        ) as (response, offset):
            if offset != start:
                raise hub.HubError(f"The Hub ignored a byte range request for '{self.planned.path}'.")
            for chunk in hub.iter_body(response, self.plan.repo_id):
                parts.append(chunk)
        data = b"".join(parts)
        if len(data) != end - start + 1:
            raise hub.HubUnavailable(f"A range read of '{self.planned.path}' came back short.")
        return data


def _first_parquet_rows(dataset, plan, max_samples, reporter, token, out_dir):
    # Footers first: they tell how many rows each row group holds and how many bytes it takes,
    # so the total shown is what will really be read rather than the whole split.
    chosen, needed, to_read = [], max_samples, 0
    for planned in plan.files:
        if needed <= 0:
            break
        remote = pq.ParquetFile(pa.PythonFile(RangeFile(plan, planned, reporter, token), mode="r"))
        groups = []
        for index in range(remote.num_row_groups):
            if needed <= 0:
                break
            group = remote.metadata.row_group(index)
            groups.append(index)
            needed -= group.num_rows
            to_read += sum(group.column(c).total_compressed_size for c in range(group.num_columns))
        chosen.append((planned, remote, groups))
    reporter.total = reporter.done + to_read
    reporter.save(total_bytes=reporter.total)

    outputs, needed = [], max_samples
    for planned, remote, groups in chosen:
        target = _target(out_dir, planned)
        with pq.ParquetWriter(target, remote.schema_arrow) as writer:
            for index in groups:
                table = remote.read_row_group(index)
                writer.write_table(table.slice(0, needed))
                needed -= min(table.num_rows, needed)
                reporter.check()
        outputs.append(target)
    return outputs


def _first_folder_rows(dataset, plan, max_samples, reporter, token):
    """imagefolder / audiofolder: the metadata files, then the media files of the first rows.

    Rows follow the split's metadata files when it has some, else its media files in order.
    Files go where they are in the repository (the builder finds media next to the metadata).
    """
    metadata = [f for f in plan.files if hub.is_metadata_file(f.path)]
    fetch.fetch_files(dataset.pk, plan.repo_id, plan.sha, metadata, reporter, token)
    own = set(plan.split_files[plan.split])
    own_metadata = [f for f in metadata if f.path in own]
    media = [f for f in plan.files if f.path in own and not hub.is_metadata_file(f.path)]
    if own_metadata:
        named = set()
        for planned in own_metadata:
            folder = planned.path.rsplit("/", 1)[0] + "/" if "/" in planned.path else ""
            for name in _first_file_names(fetch.local_path(dataset.pk, planned.path), max_samples):
                named.add(posixpath.normpath(folder + name))
        media = [f for f in media if f.path in named]
    else:
        files = [f for f in media if not f.path.lower().endswith(".zip")]
        # Archives' rows come after the plain files' rows.
        media = files[:max_samples] if len(files) >= max_samples else media
    reporter.total = reporter.done + sum(f.size for f in media)
    reporter.save(total_bytes=reporter.total)
    fetch.fetch_files(dataset.pk, plan.repo_id, plan.sha, media, reporter, token)
    return [fetch.local_path(dataset.pk, f.path) for f in metadata + media]


def _first_file_names(path, max_samples):
    """The media file names of a metadata file's first rows (file_name, *_file_name, *_file_names)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import pandas as pd

        records = pd.read_csv(path, nrows=max_samples, dtype=str).to_dict("records")
    elif suffix == ".jsonl":
        with open(path, "rb") as f:
            records = [json.loads(line) for line in islice((ln for ln in f if ln.strip()), max_samples)]
    else:
        records = pq.read_table(path).slice(0, max_samples).to_pylist()
    for record in records:
        for key, value in record.items():
            if key == "file_name" or key.endswith("_file_name"):
                if isinstance(value, str):
                    yield value
            elif key == "file_names" or key.endswith("_file_names"):
                yield from (v for v in value or [] if isinstance(v, str))


class _BodyReader(io.RawIOBase):
    """A remote file's body as a readable stream (for tarfile's streaming mode)."""

    def __init__(self, chunks):
        self.chunks, self.pending = chunks, b""

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self.pending:
            self.pending = next(self.chunks, b"")
            if not self.pending:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _first_tar_examples(plan, planned, target, needed, reporter, token):
    """The members of a WebDataset shard's first `needed` examples, as a smaller local tar.

    An example is the run of files sharing a key (the name before the first dot), as datasets
    groups them; reading stops at the first file of the example after them.
    """
    import tarfile

    from datasets.packaged_modules.webdataset.webdataset import base_plus_ext

    def counted(chunks):
        for chunk in chunks:
            reporter.add(len(chunk))
            yield chunk

    got, key = 0, None
    with hub.stream_file(plan.repo_id, plan.sha, planned.path, token=token) as (response, _):
        body = io.BufferedReader(_BodyReader(counted(hub.iter_body(response, plan.repo_id))), 1 << 20)
        with tarfile.open(fileobj=body, mode="r|*") as remote, tarfile.open(target, "w") as out:
            for member in remote:
                if not member.isreg() or posixpath.basename(member.name).startswith((".", "__")):
                    continue
                member_key, _ = base_plus_ext(member.name)
                if member_key is not None and member_key != key:
                    if got == needed:
                        break
                    key, got = member_key, got + 1
                out.addfile(member, remote.extractfile(member))
    return got


def _decompressor(path):
    """A function turning compressed chunks into plain bytes, for the file's compression (or None)."""
    lower = path.lower()
    if lower.endswith(".gz"):
        state = {"d": zlib.decompressobj(wbits=47)}

        def gunzip(chunk):
            out = b""
            while chunk:
                out += state["d"].decompress(chunk)
                # Several gzip members in one file are read one after the other, as gzip does.
                chunk = state["d"].unused_data if state["d"].eof else b""
                if chunk:
                    state["d"] = zlib.decompressobj(wbits=47)
            return out

        return gunzip
    if lower.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress
    if lower.endswith(".bz2"):
        return bz2.BZ2Decompressor().decompress
    if lower.endswith(".xz"):
        return lzma.LZMADecompressor().decompress
    return None


def _iter_lines(plan, planned, reporter, token):
    """Lines (with their newline) of a remote file, decompressed, as its bytes arrive."""
    decompress = _decompressor(planned.path)
    pending = b""
    with hub.stream_file(plan.repo_id, plan.sha, planned.path, token=token) as (response, _):
        for chunk in hub.iter_body(response, plan.repo_id):
            reporter.add(len(chunk))
            pending += decompress(chunk) if decompress else chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line + b"\n"
    if pending:
        yield pending


def _copy(plan, planned, target, reporter, token, copy_lines):
    # Leaving the `with` closes the stream, and so the connection: no more bytes come.
    with closing(_iter_lines(plan, planned, reporter, token)) as lines, open(target, "wb") as out:
        return copy_lines(lines, out)


def _first_json_lines(plan, planned, target, needed, reporter, token):
    """Whole blocks as `datasets` reads them: `chunksize` bytes, then to the end of that line."""
    block = plan.builder_kwargs.get("chunksize", JSON_BLOCK_BYTES)

    def copy_lines(lines, out):
        got = offset = block_start = 0
        for line in lines:
            out.write(line)
            offset += len(line)
            got += bool(line.strip())
            if offset - 1 >= block_start + block:  # this line ends the block
                block_start = offset
                if got >= needed:
                    break
        return got

    return _copy(plan, planned, target, reporter, token, copy_lines)


def _first_csv_records(plan, planned, target, needed, reporter, token):
    """The header and whole chunks of `chunksize` records, as pandas reads them for `datasets`."""
    chunk = plan.builder_kwargs.get("chunksize", CSV_CHUNK_RECORDS)

    def copy_lines(lines, out):
        got, record = 0, b""
        out.write(next(lines, b""))  # the header
        for line in lines:
            record += line
            # A quoted field may hold a newline: a record ends where the count of quotes is even.
            if record.count(b'"') % 2:
                continue
            out.write(record)
            got += bool(record.strip())
            record = b""
            if got >= needed and got % chunk == 0:
                break
        out.write(record)
        return got

    return _copy(plan, planned, target, reporter, token, copy_lines)


def _first_text_lines(plan, planned, target, needed, reporter, token):
    def copy_lines(lines, out):
        got = 0
        for line in lines:
            out.write(line)
            got += 1
            if got >= needed:
                break
        return got

    return _copy(plan, planned, target, reporter, token, copy_lines)


def _whole_file(plan, planned, target, needed, reporter, token):
    fetch.fetch_file(target, plan.repo_id, plan.sha, planned, reporter, token, threading.Event())
    spec = building.BuildSpec(plan.module, plan.split, dict(plan.builder_kwargs))
    cache = target.parent / f".{target.name}.count-cache"
    try:
        return len(building.build(spec, [target], cache))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
