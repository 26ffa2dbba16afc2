"""Upload size limits that hold while the body streams in, not after it has been read.

Two guards, both at HFD_MAX_UPLOAD_BYTES:

* RequestBodyLimit (ASGI, in front of Django): a request whose Content-Length is over the limit
  is answered 413 before a byte of its body is read; a body without a length (chunked) is
  counted as it arrives and cut off at the limit. Django spools what it reads to a temporary file
  that is deleted when the request ends, so memory and temporary disk stay within the limit
  whatever the client sends.
* LimitedUploadHandler (Django, first of FILE_UPLOAD_HANDLERS): stops an uploaded file at the
  limit exactly, before the next handler writes more of it; the partial file is deleted and the
  view reports the refusal on the file field (`upload_refused(request)`).
"""

import json

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

# Room for the multipart boundaries and the other form fields around the file.
FORM_OVERHEAD_BYTES = 1024 * 1024


def too_large_message():
    return f"The upload is larger than the {settings.HFD_MAX_UPLOAD_BYTES:,} bytes allowed (HFD_MAX_UPLOAD_BYTES)."


def upload_refused(request):
    """The message if an uploaded file was stopped at the limit during this request, else None."""
    return getattr(request, "upload_refused", None)


class LimitedUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.HFD_MAX_UPLOAD_BYTES:
            self.request.upload_refused = too_large_message()
            # The parser closes (and so deletes) the partial files and skips the rest of the body.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None  # The next handler (memory or temporary file) builds the file.


class RequestBodyLimit:
    """ASGI middleware: 413 for a request body over HFD_MAX_UPLOAD_BYTES (plus form overhead)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        limit = settings.HFD_MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            return await self.refuse(scope, send)

        received = 0
        cut_off = False
        response_started = False

        async def limited_receive():
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django sees a client that went away: it drops the spooled body and answers nothing.
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.application(scope, limited_receive, tracking_send)
        if cut_off and not response_started:
            await self.refuse(scope, send)

    @staticmethod
    async def refuse(scope, send):
        message = too_large_message()
        if scope.get("path", "").startswith("/api/"):
            body, content_type = json.dumps({"file": [message]}).encode(), b"application/json"
        else:
            body, content_type = f"{message}\n".encode(), b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is not read: the connection cannot carry another request.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
