"""Run from the source tree:  python3 tests/doubles/etcd {etcdctl|etcdutl} ARGS..."""
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from etcd.main import run
else:
    from .main import run

if len(sys.argv) > 1 and sys.argv[1] in ("etcdctl", "etcdutl"):
    prog = sys.argv.pop(1)
    sys.argv[0] = prog
    run(prog)
sys.stderr.write("usage: python3 tests/doubles/etcd {etcdctl|etcdutl} [ARGS...]\n")
sys.exit(2)
