"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test bootstraps pip into each virtual environment it creates (for
`--requirements` and for the import test) by running a get-pip script that it
downloads from a host this project's machines and CI cannot reach, caching it
as ~/.ansible/test/cache/get_pip_<pip version with _>.py. tests/testbed/sanity.sh
installs this file under that name, so the download never happens.

ansible-test runs it as `python quiet_pip.py [pip options] pip==X.Y [--no-setuptools]
[--no-wheel]` with this file as __main__, in the new (pip-less) virtual environment.
Like the real script, it installs the requested packages, but gets there with the
interpreter's own `ensurepip` (no network) and then pip from PyPI (the package index
pip is configured for) instead of a pip copy embedded in the downloaded script.
"""

import importlib.metadata
import subprocess
import sys

FLAGS = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}


def installed(name):
    """Whether the distribution is installed for this interpreter."""
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def main():
    args = [arg for arg in sys.argv[1:] if arg not in FLAGS]
    unwanted = [FLAGS[arg] for arg in sys.argv[1:] if arg in FLAGS]
    before = {name: installed(name) for name in unwanted}
    python = sys.executable
    subprocess.check_call([python, "-m", "ensurepip", "--upgrade", "--default-pip"])
    subprocess.check_call([python, "-m", "pip", "install", *args])
    # ensurepip on some Pythons (3.11 and older) also installs setuptools; the real
    # get-pip leaves it out when asked to, so take away what ensurepip added.
    extra = [name for name in unwanted if not before[name] and installed_now(python, name)]
    if extra:
        subprocess.check_call([python, "-m", "pip", "uninstall", "--yes", *extra])


def installed_now(python, name):
    """Whether the distribution is installed now (checked in a fresh interpreter)."""
    code = "import importlib.metadata as m, sys\ntry: m.version(sys.argv[1])\nexcept m.PackageNotFoundError: sys.exit(1)"
    return subprocess.call([python, "-c", code, name]) == 0


if __name__ == "__main__":
    main()
