"""Upload size limits that hold while the body streams in, not after it has been read.

Three guards, all at HFD_MAX_UPLOAD_BYTES:

* LimitedWebRequest (daphne, the server we run): daphne reads a whole request body into a
  temporary file and then queues all of it for the application before the application sees a
  byte. This request class refuses a Content-Length over the limit before reading the body, and
  stops reading a body that passes the limit, answering 413 and closing the connection; nothing
  more is read or kept. install_daphne_body_limit() puts it in place (hfdatasets/asgi.py).
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


def body_limit():
    return settings.HFD_MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES


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
        limit = body_limit()
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
        body, content_type = too_large_body(scope.get("path", ""))
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


def too_large_body(path):
    """(body, content type) of the 413 answer: JSON naming the file field for the API, text for pages."""
    message = too_large_message()
    if path.startswith("/api/"):
        return json.dumps({"file": [message]}).encode(), b"application/json"
    return f"{message}\n".encode(), b"text/plain; charset=utf-8"


def install_daphne_body_limit():
    """Serve requests with LimitedWebRequest when running under daphne (see the module docstring)."""
    try:
        from daphne import http_protocol
    except ImportError:  # Another ASGI server: RequestBodyLimit still applies.
        return
    if issubclass(http_protocol.WebRequest, LimitedWebRequestMixin):
        return
    # HTTPFactory.buildProtocol builds every request from this module attribute.
    http_protocol.WebRequest = type("LimitedWebRequest", (LimitedWebRequestMixin, http_protocol.WebRequest), {})


class LimitedWebRequestMixin:
    """For daphne's WebRequest (a twisted Request): refuse a too-large body while it streams in."""

    refused = False
    received = 0

    def gotLength(self, length):
        if length is not None and length > body_limit():
            self.refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.received += len(data)
        if self.received > body_limit():
            self.refuse()
            return
        super().handleContentChunk(data)

    def process(self):
        if self.refused:
            return None
        return super().process()

    def refuse(self):
        """Answer 413 straight on the connection and close it; the request never reaches the application."""
        self.refused = True
        content = getattr(self, "content", None)
        if content is not None:
            content.close()  # A temporary file is deleted on close.
        self.content = _Discard()
        # The request line is parsed, but the request object gets it only once the body is in.
        path = (getattr(self.channel, "_path", None) or b"").decode("latin1")
        body, content_type = too_large_body(path)
        head = (
            b"HTTP/1.1 413 Payload Too Large\r\n"
            b"Content-Type: " + content_type + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n"
        )
        transport = self.channel.transport
        transport.write(head + body)
        transport.loseConnection()


class _Discard:
    """Stands in for a refused request's body file: keeps nothing."""

    closed = True

    def write(self, data):
        pass

    def read(self, *args):
        return b""

    def seek(self, *args):
        return 0

    def close(self):
        pass
