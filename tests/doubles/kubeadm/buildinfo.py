"""Build-time constants.  ``tests/doubles/build.py`` replaces this module with
baked values; the values below are used when running from the source tree."""

VERSION = "v1.35.2"
PROGRAM = None     # "kubeadm" or "kubelet" in a built file; None -> from argv
ARCH = None        # None -> host architecture (no arch guard)
GIT_COMMIT = None  # None -> derived from VERSION (sha1, 40 hex)
GO_VERSION = None  # None -> derived from the minor
