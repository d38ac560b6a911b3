"""Build-time constants.  ``tests/doubles/build.py`` replaces this module with
baked values; the values below are used when running from the source tree."""

VERSION = "v1.35.1+k3s1"
COMMIT = None      # None -> derived from VERSION (sha1, 8 hex)
ARCH = None        # None -> host architecture (no arch guard)
GO_VERSION = None  # None -> derived from the Kubernetes minor
