"""Socket and HTTP plumbing of the doubles' protocol clients and servers."""
from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any, Mapping


def recv_exact(sock: socket.socket, n: int, peer: str) -> bytes:
    """Exactly n bytes from sock; ConnectionError("unexpected EOF from <peer> server") when it closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("unexpected EOF from %s server" % peer)
        buf += chunk
    return buf


def reply(handler: BaseHTTPRequestHandler, code: int, body: Any = b"", ctype: str | None = None,
          headers: Mapping[str, str] | None = None) -> None:
    """Send one complete response: the status, Content-Type (when ctype is given), Content-Length,
    the extra headers in order, then the body (not to a HEAD request). body: bytes, str (UTF-8),
    or a dict/list sent as JSON."""
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body or b""
    handler.send_response(code)
    if ctype is not None:
        handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)
