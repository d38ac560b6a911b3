#!/usr/bin/env python3
"""Offline stand-in for github.com release downloads and update.k3s.io channels.

    python3 tests/doubles/mirror.py --root DIR --port N [--bind 127.0.0.1]
                                    [--pidfile FILE] [--log FILE]

* ``GET|HEAD /<path>`` serves files under DIR (``+`` may be literal or %2B).
* ``GET /v1-release/channels`` -> channel collection JSON (from
  DIR/v1-release/channels.json written by build.py).
* ``GET /v1-release/channels/<name>`` -> 302 Found, Location
  https://github.com/k3s-io/k3s/releases/tag/<version>; unknown -> 404 JSON.
SIGTERM/SIGINT stop the server cleanly (exit 0).
"""
import argparse
import json
import os
import posixpath
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

GITHUB_TAG = "https://github.com/k3s-io/k3s/releases/tag/"


def make_handler(root, logf):
    root = os.path.realpath(root)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "kubeforge-mirror"
        sys_version = ""

        def log_message(self, fmt, *args):
            if logf:
                logf.write("%s - %s\n" % (self.client_address[0], fmt % args))
                logf.flush()

        def _send(self, code, body=b"", ctype="application/json", headers=None):
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _channels(self):
            try:
                with open(os.path.join(root, "v1-release", "channels.json")) as fh:
                    return json.load(fh)["channels"]
            except (OSError, ValueError, KeyError):
                return []

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            path = unquote(urlsplit(self.path).path)  # not unquote_plus: '+' stays '+'
            host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
            base = "http://%s/v1-release/channels" % host
            if path.rstrip("/") == "/v1-release/channels":
                data = [{"id": c["name"], "type": "channel", "name": c["name"], "latest": c["latest"],
                         "links": {"self": "%s/%s" % (base, c["name"])}} for c in self._channels()]
                return self._send(200, {"type": "collection", "links": {"self": base},
                                        "actions": {}, "resourceType": "channel", "data": data})
            if path.startswith("/v1-release/channels/"):
                name = path[len("/v1-release/channels/"):].strip("/")
                for c in self._channels():
                    if c["name"] == name:
                        return self._send(302, b"", "text/plain",
                                          {"Location": GITHUB_TAG + c["latest"]})
                return self._send(404, {"type": "error", "status": "404", "code": "NotFound",
                                        "message": "channel %s not found" % name})
            rel = posixpath.normpath(path).lstrip("/")
            full = os.path.realpath(os.path.join(root, rel))
            if not (full == root or full.startswith(root + os.sep)) or not os.path.isfile(full):
                return self._send(404, b"Not Found\n", "text/plain")
            with open(full, "rb") as fh:
                data = fh.read()
            ctype = "text/plain; charset=utf-8" if full.endswith((".txt", ".json")) else "application/octet-stream"
            return self._send(200, data, ctype)

    return Handler


def main(argv=None):
    ap = argparse.ArgumentParser(description="kubeforge offline K3s release mirror")
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--pidfile")
    ap.add_argument("--log", help="access log file (default: no access log)")
    a = ap.parse_args(argv)
    logf = open(a.log, "a") if a.log else None
    httpd = ThreadingHTTPServer((a.bind, a.port), make_handler(a.root, logf))
    httpd.daemon_threads = True
    if a.pidfile:
        with open(a.pidfile, "w") as fh:
            fh.write("%d\n" % os.getpid())

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write("mirror: serving %s on http://%s:%d\n" % (a.root, a.bind, httpd.server_address[1]))
    sys.stderr.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        if a.pidfile:
            try:
                os.remove(a.pidfile)
            except OSError:
                pass
        if logf:
            logf.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
