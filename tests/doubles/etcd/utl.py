"""etcdutl (3.6): ``version``, ``snapshot status <file>``, ``snapshot restore <file>`` (snapfile.py)."""
from __future__ import annotations

import json
import sys

from . import buildinfo, snapfile
from .cli import EXIT_BAD_ARGS, EXIT_ERROR, Exit, parse, zap

FLAGS = {"write-out": "simple", "data-dir": "", "wal-dir": "", "name": "default",
         "initial-cluster": "default=http://localhost:2380", "initial-cluster-token": "etcd-cluster",
         "initial-advertise-peer-urls": "http://localhost:2380", "skip-hash-check": False,
         "mark-compacted": False, "bump-revision": "0"}
SHORT = {"w": "write-out"}


def main(argv: list[str], env) -> int:
    o, pos, _ = parse(argv, FLAGS, SHORT)
    if not pos:
        raise Exit(EXIT_ERROR, "a command is required (version, snapshot status, snapshot restore)")
    if pos[0] == "version":
        v = buildinfo.VERSION.lstrip("v")
        sys.stdout.write("etcdutl version: %s\nAPI version: %s\n" % (v, ".".join(v.split(".")[:2])))
        return 0
    if pos[0] == "snapshot" and pos[1:2] == ["status"]:
        if len(pos) != 3:
            raise Exit(EXIT_BAD_ARGS, "snapshot status requires exactly one argument")
        st = snapfile.status(pos[2])
        if o["write-out"] == "json":
            sys.stdout.write(json.dumps(st) + "\n")
        elif o["write-out"] == "simple":
            sys.stdout.write("%x, %d, %d, %d kB, %s\n" % (st["hash"], st["revision"], st["totalKey"],
                                                          st["totalSize"] // 1000, st["version"]))
        else:
            raise Exit(EXIT_BAD_ARGS, "unsupported output format %s by the kubeforge etcdutl double (simple, json)"
                       % o["write-out"])
        return 0
    if pos[0] == "snapshot" and pos[1:2] == ["restore"]:
        if len(pos) != 3:
            raise Exit(EXIT_BAD_ARGS, "snapshot restore requires exactly one argument")
        snapfile.restore(pos[2], o["data-dir"], o["wal-dir"], o["name"], o["initial-cluster"],
                         o["initial-advertise-peer-urls"], o["skip-hash-check"], log=zap)
        return 0
    if pos[0] == "snapshot" and len(pos) > 1:
        raise Exit(EXIT_ERROR, 'unknown command "%s" for "etcdutl snapshot"' % pos[1])
    raise Exit(EXIT_ERROR, 'unknown command "%s" for "etcdutl"' % pos[0])
