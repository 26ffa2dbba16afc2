"""The HTTP side of an export: which format, which shard, and the streamed response."""

import hashlib

from django.http import JsonResponse, StreamingHttpResponse
from django.urls import reverse
from rest_framework.negotiation import DefaultContentNegotiation

from catalog.exports import ranged, writers
from catalog.viewer.params import BadQuery


class AnyFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names an export's file format (and the /hub views answer in their own formats),
    so DRF must not take it as the name of one of its renderers."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# A bad export parameter is reported like a bad viewer parameter: a 400 naming it.
BadExport = BadQuery


def file_etag(path):
    """Changes whenever the file is rewritten (a new inode, size or modification time)."""
    stat = path.stat()
    return hashlib.sha256(f"{path.name}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()


def parse(query_params):
    fmt = (query_params.get("format") or "").strip().lower()
    if fmt not in writers.FORMATS:
        raise BadExport("format", f"Choose format={'|'.join(writers.FORMATS)}.")
    shard = (query_params.get("shard") or "").strip()
    if shard and not shard.isdigit():
        raise BadExport("shard", "A shard is a whole number from 0.")
    if shard and fmt != "parquet":
        raise BadExport("shard", "Only the Parquet export has shards.")
    return fmt, int(shard) if shard else None


def export_url(dataset, fmt, shard=None, request=None):
    url = reverse("api:dataset-export", args=[dataset.pk]) + f"?format={fmt}"
    if shard is not None:
        url += f"&shard={shard}"
    return request.build_absolute_uri(url) if request is not None else url


def response_for(request, dataset, fmt, shard):
    """The export as an HTTP response (the dataset must be ready)."""
    stem = writers.file_stem(dataset)
    if fmt in writers.STREAMS:
        # Rows go out batch by batch as they are read; the size is unknown until the end.
        rows = [] if request.method == "HEAD" else writers.STREAMS[fmt](writers.table_of(dataset))
        response = StreamingHttpResponse(rows, content_type=writers.CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
        return response
    files = writers.parquet_files(dataset)
    if shard is None and len(files) > 1:
        return shard_list(request, dataset, files)
    index = shard or 0
    if index >= len(files):
        raise BadExport("shard", f"This export has {len(files)} shard(s): 0 to {len(files) - 1}.")
    path = files[index]
    name = (
        f"{stem}.parquet" if len(files) == 1 else f"{stem}-{path.name.rsplit('-', 3)[-3]}-of-{len(files):05d}.parquet"
    )
    return ranged.file_response(
        request, path, etag=file_etag(path), content_type=writers.CONTENT_TYPES["parquet"], filename=name
    )


def shard_list(request, dataset, files):
    """300 Multiple Choices: a large dataset's Parquet comes in shards, one URL each."""
    shards = [
        {"shard": i, "name": path.name, "size": path.stat().st_size, "url": export_url(dataset, "parquet", i, request)}
        for i, path in enumerate(files)
    ]
    response = JsonResponse(
        {"detail": f"The Parquet export has {len(files)} shards; download each one.", "shards": shards}, status=300
    )
    response["Link"] = ", ".join(f'<{s["url"]}>; rel="item"' for s in shards)
    return response
