"""klog (text format) lines on stderr, as kubeadm and the kubelet print them:

    I0102 15:04:05.123456   12345 server.go:123] "Kubelet version" kubeletVersion="v1.35.1"
    E0102 15:04:05.123456   12345 run.go:72] "command failed" err="..."
"""
import json
import os
import sys
import time

VERBOSITY = 0


def _q(v):
    return json.dumps(str(v))


def line(sev, src, msg, **kv):
    t = time.time()
    lt = time.localtime(t)
    head = "%s%02d%02d %02d:%02d:%02d.%06d %7d %s] " % (sev, lt.tm_mon, lt.tm_mday, lt.tm_hour, lt.tm_min,
                                                       lt.tm_sec, int((t % 1) * 1e6), os.getpid(), src)
    if kv:
        body = _q(msg) + "".join(" %s=%s" % (k, _q(v)) for k, v in kv.items())
    else:
        body = msg
    try:
        sys.stderr.write(head + body + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def info(src, msg, **kv):
    line("I", src, msg, **kv)


def warning(src, msg, **kv):
    line("W", src, msg, **kv)


def error(src, msg, **kv):
    line("E", src, msg, **kv)


def v(level, src, msg, **kv):
    if VERBOSITY >= level:
        line("I", src, msg, **kv)
