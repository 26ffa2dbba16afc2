"""Serving a file with HTTP Range, ETag and Content-Length (exports and the Hub endpoint share it)."""

import re

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import quote_etag

CHUNK = 256 * 1024
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def byte_range(header, size):
    """(start, end_exclusive) for a single `bytes=` range, None for no/ignored range, or "unsatisfiable"."""
    match = _RANGE.match(header or "")
    if not match or not (match[1] or match[2]):
        return None  # absent, malformed or several ranges: the whole file (RFC 9110 allows ignoring it)
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]) + 1, size) if match[2] else size
    else:
        start, end = max(size - int(match[2]), 0), size
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end


def read_span(path, start, end):
    with open(path, "rb") as file:
        file.seek(start)
        left = end - start
        while left > 0:
            chunk = file.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def file_response(request, path, *, etag, content_type="application/octet-stream", filename=None, headers=None):
    """200 with the whole file or 206 with the asked range; 304 for a matching If-None-Match; HEAD without body."""
    size = path.stat().st_size
    common = {"ETag": quote_etag(etag), "Accept-Ranges": "bytes", **(headers or {})}
    if filename:
        common["Content-Disposition"] = f'attachment; filename="{filename}"'
    if request.headers.get("If-None-Match") in (common["ETag"], etag, "*"):
        response = HttpResponse(status=304)
        for key, value in common.items():
            response[key] = value
        return response
    span = byte_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if span is not None and if_range and if_range not in (common["ETag"], etag):
        span = None  # the client's copy is of another version: send the whole file
    if span == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        for key, value in common.items():
            response[key] = value
        return response
    start, end = span or (0, size)
    body = [] if request.method == "HEAD" else read_span(path, start, end)
    response = StreamingHttpResponse(body, status=206 if span else 200, content_type=content_type)
    response["Content-Length"] = str(end - start)
    if span:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    for key, value in common.items():
        response[key] = value
    return response
