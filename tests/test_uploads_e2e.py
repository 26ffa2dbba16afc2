"""Uploads over the limit against a real daphne: refused while streaming, memory bounded by the limit."""

import socket
import time

import pytest

from tests.processes import answers_ok, free_port, start_daphne, wait_until

LIMIT = 1_000_000
CHUNK = b"x" * 65536


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def read_answer(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            break
        data += part
    return data


@pytest.fixture
def daphne(transactional_db, tmp_path):
    port = free_port()
    web = start_daphne(tmp_path, port, HFD_MAX_UPLOAD_BYTES=LIMIT)
    try:
        wait_until(lambda: answers_ok(f"http://127.0.0.1:{port}/accounts/login/"), timeout=60, message="daphne")
        yield port, web
    finally:
        web.stop()


@pytest.mark.slow
def test_a_content_length_over_the_limit_is_answered_before_the_body(daphne):
    port, _ = daphne
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/datasets/import/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: 100000000000\r\n\r\n"
        )
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"HFD_MAX_UPLOAD_BYTES" in answer


@pytest.mark.slow
def test_a_streamed_body_is_cut_off_at_the_limit_and_memory_stays_bounded(daphne):
    port, web = daphne
    before = peak_rss_kib(web.pid)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /datasets/import/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=zz\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.settimeout(0.0)
        answer = b""
        deadline = time.monotonic() + 60
        # A client that would send 200 MB: the server must answer (and stop reading) long before.
        while sent < 200_000_000 and time.monotonic() < deadline:
            try:
                answer += sock.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                sent += len(CHUNK)
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        try:
            answer += read_answer(sock)
        except ConnectionResetError:
            pass
    assert answer.startswith(b"HTTP/1.1 413"), (answer, sent)
    assert sent < 20_000_000, f"the server read {sent:,} bytes before refusing"
    # daphne read at most about the limit: its peak memory grew by far less than what was offered.
    assert peak_rss_kib(web.pid) - before < 30_000
