"""pytest fixtures for tests/unit/doubles; the code lives in k3s_double_helpers.py
(a uniquely named module, so it never clashes with tests/unit/conftest.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from k3s_double_helpers import (  # noqa: E402,F401  (fixtures re-exported for pytest)
    host_arch, k3s_bin, k3s_bin_old, k3s_bin_oldest, kenv, release_root, start_server)
