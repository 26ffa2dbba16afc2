"""Fetch only the first rows of a split (max_samples): stream and stop, never the whole split.

Parquet is read through HTTP Range requests: the footer, then row groups until there are
enough rows. JSON Lines and CSV are streamed line by line and the connection is closed as soon
as there are enough records. Other formats fall back to whole files, one at a time.
The rows are written to small local files that go through the same build step as a full
download. A capped download is small by nature, so a crash restarts it from zero.
For parquet the footers tell exactly how many bytes the rows take, so `total_bytes` is right
before the row data is read; for line formats it is the whole split until the rows are in.
"""

import io
import threading

import pyarrow as pa
import pyarrow.parquet as pq

from catalog import fetch, hub, services, storage


def fetch_first_rows(dataset, plan, max_samples, reporter, token=None):
    """Local files holding at least max_samples rows (or the whole split if it is smaller)."""
    out_dir = storage.downloads_dir(dataset.pk) / "first-rows"
    if plan.module == "parquet":
        outputs = _first_parquet_rows(dataset, plan, max_samples, reporter, token, out_dir)
    else:
        needed, outputs = max_samples, []
        for planned in plan.files:
            if needed <= 0:
                break
            target = _target(out_dir, planned)
            needed -= _reader_for(plan.module, planned.path)(plan, planned, target, needed, reporter, token)
            outputs.append(target)
    # The transfer is over: what came in is the whole of it, so progress ends at 100%.
    reporter.total = reporter.done
    services.save_run_fields(dataset, reporter.run_id, total_bytes=reporter.done)
    return outputs


def _target(out_dir, planned):
    target = storage.safe_join(out_dir, planned.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _reader_for(module, path):
    lower = path.lower()
    if module == "json" and lower.endswith((".jsonl", ".ndjson")):
        return _first_lines
    if module == "csv":
        return _first_csv_records
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
    services.save_run_fields(dataset, reporter.run_id, total_bytes=reporter.total)

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


def _stream_records(plan, planned, target, needed, reporter, token, is_record_end, header_lines=0):
    """Copy whole lines from the start of a remote file until `needed` records are written."""
    got, pending, kept_header = 0, b"", 0
    record = b""
    with hub.stream_file(plan.repo_id, plan.sha, planned.path, token=token) as (response, _), open(target, "wb") as out:
        for chunk in hub.iter_body(response, plan.repo_id):
            reporter.add(len(chunk))
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if kept_header < header_lines:
                    out.write(line + b"\n")
                    kept_header += 1
                    continue
                record += line + b"\n"
                if is_record_end(record):
                    if record.strip():
                        out.write(record)
                        got += 1
                    record = b""
                    if got >= needed:
                        return got  # Leaving the block closes the connection: no more bytes come.
        tail = record + pending
        if tail.strip() and is_record_end(tail):
            out.write(tail if tail.endswith(b"\n") else tail + b"\n")
            got += 1
    return got


def _first_lines(plan, planned, target, needed, reporter, token):
    return _stream_records(plan, planned, target, needed, reporter, token, lambda record: True)


def _first_csv_records(plan, planned, target, needed, reporter, token):
    # A quoted field may hold a newline: a record ends where the count of quotes is even.
    return _stream_records(
        plan, planned, target, needed, reporter, token, lambda record: record.count(b'"') % 2 == 0, header_lines=1
    )


def _whole_file(plan, planned, target, needed, reporter, token):
    import datasets

    fetch.fetch_file(target, plan.repo_id, plan.sha, planned, reporter, token, threading.Event())
    return len(datasets.load_dataset(plan.module, data_files=[str(target)], split="train"))
