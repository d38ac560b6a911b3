"""Talking to systemd, as kubeadm's initsystem package does (systemctl).

Real kubeadm uses systemd whenever ``systemctl`` is in PATH.  The double is
stricter so that it never touches the host's systemd by accident: it needs
``systemctl`` in PATH *and* systemd as PID 1.

``KUBEFORGE_DOUBLE_SYSTEMCTL`` (TEST HOOK ONLY): a program used instead of
systemctl (the PID-1 check is skipped), or ``none`` for "no init system".
"""
import os
import shutil
import subprocess

SYSTEMCTL_ENV = "KUBEFORGE_DOUBLE_SYSTEMCTL"


def systemctl():
    hook = os.environ.get(SYSTEMCTL_ENV)
    if hook is not None and hook != "":
        return None if hook == "none" else hook
    path = shutil.which("systemctl")
    if not path:
        return None
    try:
        with open("/proc/1/comm") as fh:
            if fh.read().strip() != "systemd":
                return None
    except OSError:
        return None
    return path


def _run(sc, *args):
    try:
        p = subprocess.run([sc] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if p.returncode != 0:
        return "exit status %d" % p.returncode
    return None


def restart(sc, unit):
    """ServiceRestart: daemon-reload, then restart."""
    err = _run(sc, "daemon-reload")
    if err:
        return "failed to reload systemd: %s" % err
    return _run(sc, "restart", unit)


def stop_quietly(unit):
    sc = systemctl()
    if sc is not None:
        _run(sc, "stop", unit)
