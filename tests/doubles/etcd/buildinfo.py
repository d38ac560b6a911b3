"""Build-time constants.  ``tests/doubles/build.py`` replaces this module with baked values; the values below are
used when running from the source tree."""

VERSION = "v3.6.5"
PROGRAM = None     # "etcdctl" or "etcdutl" in a built file; None -> from argv
ARCH = None        # None -> host architecture
