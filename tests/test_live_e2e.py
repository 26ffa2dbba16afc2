"""End to end: a worker process downloads, daphne serves the socket, a real WebSocket client watches.

worker -> channel layer (Redis, or the database relay on the embedded default) -> daphne -> client.

The client is a few lines of RFC 6455 over a blocking socket: the test drives the database
from the same thread between reads, and the suite needs no extra WebSocket library for it.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import time
import uuid

import pytest
from django.conf import settings
from django.test import Client

from catalog import services
from catalog.models import Dataset
from tests.processes import free_port, start_daphne, start_worker, wait_until

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Refused(Exception):
    def __init__(self, status):
        super().__init__(f"handshake refused with HTTP {status}")
        self.status = status


class Closed(ConnectionError):
    def __init__(self, code):
        super().__init__(f"the server closed the socket with code {code}")
        self.code = code


class WebSocketClient:
    """Just enough of a WebSocket client for a test: handshake, text frames, pings, close."""

    def __init__(self, port, path, origin, cookie=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            f"Origin: {origin}",
        ]
        if cookie:
            lines.append(f"Cookie: sessionid={cookie}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_until(b"\r\n\r\n").decode("latin1")
        status = int(head.split(" ", 2)[1])
        if status != 101:
            self.sock.close()
            raise Refused(status)
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert f"sec-websocket-accept: {accept}".lower() in head.lower(), head

    def _read_until(self, marker):
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exact(self, n):
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def _send_frame(self, opcode, payload=b""):
        # Client frames are masked (RFC 6455 5.3); payloads here are tiny control frames.
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def receive_json(self, timeout):
        """The next text message, or AssertionError when none comes within timeout seconds."""
        deadline = time.monotonic() + timeout
        message = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no WebSocket message within {timeout}s")
            self.sock.settimeout(remaining)
            try:
                first, second = self._read_exact(2)
                length = second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self._read_exact(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self._read_exact(8))
                payload = self._read_exact(length)
            except TimeoutError:
                raise AssertionError(f"no WebSocket message within {timeout}s") from None
            opcode = first & 0x0F
            if opcode == 0x9:  # ping: answer, or the server drops us
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                raise Closed(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
            elif opcode in (0x0, 0x1):
                message += payload
                if first & 0x80:
                    return json.loads(message)

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


@pytest.mark.slow
def test_a_download_in_the_worker_moves_live_in_the_browser(transactional_db, fake_hub, tmp_path, user):
    # About 2.9 MB in four files at 300 kB/s each: a couple of seconds, several progress updates.
    fake_hub.throttle("acme/multi", bytes_per_second=300_000)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    browser = Client()
    browser.force_login(user)
    session = browser.cookies["sessionid"].value

    # The session cookie is signed with our key; the processes' data directory would hold another.
    web = start_daphne(tmp_path, port, SECRET_KEY=settings.SECRET_KEY)
    worker = start_worker(tmp_path, SECRET_KEY=settings.SECRET_KEY)
    socket_ = None
    try:

        def open_socket():
            try:
                return WebSocketClient(port, "/ws/datasets/", origin, cookie=session)
            except ConnectionRefusedError:
                return None  # daphne is still starting

        socket_ = wait_until(open_socket, timeout=60, interval=0.1, message="daphne to accept the WebSocket")
        # The real server refuses a socket without a session, and one from another site.
        with pytest.raises(Refused):
            WebSocketClient(port, "/ws/datasets/", origin)
        with pytest.raises(Refused):
            WebSocketClient(port, "/ws/datasets/", "http://evil.example", cookie=session)
        missing = WebSocketClient(port, f"/ws/datasets/{uuid.uuid4()}/", origin, cookie=session)
        with pytest.raises(Closed) as closed:
            missing.receive_json(timeout=10)
        assert closed.value.code == 4404
        missing.close()

        started = time.monotonic()
        dataset, created = services.request_download("acme/multi", split="train", owner=user)
        assert created
        events = []
        while not events or events[-1]["dataset"].get("status") not in ("ready", "failed", "cancelled"):
            message = socket_.receive_json(timeout=120)
            if message["dataset"]["id"] == str(dataset.pk):
                events.append(message)
        elapsed = time.monotonic() - started
    except BaseException:
        print(f"--- daphne log\n{web.output()}\n--- worker log\n{worker.output()}")
        raise
    finally:
        if socket_ is not None:
            socket_.close()
        worker.stop()
        web.stop()

    summary = [(m["event"], m["dataset"]["status"], m["dataset"]["downloaded_bytes"]) for m in events]
    assert events[0]["event"] == "created", summary
    final = events[-1]
    assert (final["event"], final["dataset"]["status"], final["dataset"]["progress_percent"]) == (
        "status",
        "ready",
        100.0,
    ), summary
    total = Dataset.objects.get(pk=dataset.pk).total_bytes
    assert total and final["dataset"]["downloaded_bytes"] == total, summary

    # Statuses in their order. Over Redis every change is announced. The embedded relay reports
    # the state it sees every half second: a short step (pending until the worker claims the
    # download, processing) may fall between two looks, but downloading and ready cannot.
    statuses = [status for _, status, _ in summary]
    order = [statuses[0]] + [b for a, b in zip(statuses, statuses[1:]) if a != b]
    every_step = ["pending", "downloading", "processing", "ready"]
    if settings.REDIS_URL:
        assert order == every_step, summary
    else:
        assert order == [step for step in every_step if step in order], summary
        assert "downloading" in order and order[-1] == "ready", summary

    # Progress only grows, and the page saw it move several times on the way.
    sizes = [size for _, _, size in summary]
    assert sizes == sorted(sizes), summary
    moving = {size for event, status, size in summary if event == "progress" and 0 < size < total}
    assert len(moving) >= 3, summary
    assert any(m["dataset"]["bytes_per_second"] for m in events if m["event"] == "progress"), summary
    # Debounced: far fewer messages than chunks, a few per second at most.
    assert len(events) <= 10 + 4 * elapsed, (len(events), elapsed)
