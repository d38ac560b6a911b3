"""common.wire: exact socket reads and one-call HTTP replies."""
from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from common import wire


def test_recv_exact_reads_across_chunks() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"abc")
        threading.Timer(0.05, a.sendall, args=(b"defgh",)).start()
        assert wire.recv_exact(b, 6, "PostgreSQL") == b"abcdef"
        assert wire.recv_exact(b, 2, "PostgreSQL") == b"gh"


def test_recv_exact_names_the_peer_on_eof() -> None:
    a, b = socket.socketpair()
    with b:
        a.sendall(b"ab")
        a.close()
        with pytest.raises(ConnectionError, match=r"^unexpected EOF from MySQL server$"):
            wire.recv_exact(b, 4, "MySQL")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/json":
            wire.reply(self, 200, {"a": [1]}, "application/json", {"X-One": "1", "X-Two": "2"})
        elif self.path == "/text":
            wire.reply(self, 404, "404 page not found\n", "text/plain; charset=utf-8")
        else:
            wire.reply(self, 401, b"Unauthorized")

    do_HEAD = do_GET


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield "127.0.0.1:%d" % srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def fetch(hostport: str, path: str, method: str = "GET") -> tuple[int, http.client.HTTPMessage, bytes]:
    c = http.client.HTTPConnection(hostport, timeout=5)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


def test_reply(server: str) -> None:
    code, headers, body = fetch(server, "/json")
    assert (code, body) == (200, b'{"a": [1]}')
    assert headers["Content-Type"] == "application/json" and headers["Content-Length"] == str(len(body))
    assert [k for k in headers.keys() if k.startswith("X-")] == ["X-One", "X-Two"]
    code, headers, body = fetch(server, "/text")
    assert (code, body, headers["Content-Type"]) == (404, b"404 page not found\n", "text/plain; charset=utf-8")
    code, headers, body = fetch(server, "/other")
    assert (code, body, headers["Content-Type"]) == (401, b"Unauthorized", None)


def test_reply_to_head_sends_no_body(server: str) -> None:
    code, headers, body = fetch(server, "/json", "HEAD")
    assert (code, body, headers["Content-Length"]) == (200, b"", "10")
