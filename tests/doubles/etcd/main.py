"""Entry point: the program is the built file's (buildinfo.PROGRAM) or argv[0]'s name."""
import os
import sys

from . import buildinfo, ctl, utl
from .cli import Exit


def run(prog=None):
    prog = prog or buildinfo.PROGRAM or os.path.basename(sys.argv[0])
    main = {"etcdctl": ctl.main, "etcdutl": utl.main}.get(prog)
    if main is None:
        sys.stderr.write("kubeforge etcd tools double: unknown program %r (etcdctl or etcdutl)\n" % prog)
        sys.exit(2)
    try:
        code = main(sys.argv[1:], os.environ)
    except Exit as e:
        if e.message:
            sys.stderr.write("Error: %s\n" % e.message)
        code = e.code
    sys.stdout.flush()
    sys.exit(code)
