"""The kubelet-start phase shared by init and join: kubelet files, (re)start, health wait."""
from __future__ import annotations

import socket

from .. import glog, kconfig, paths, systemd, yamlk
from .base import Fail, out
from .patches import apply_patches
from .waits import fmt_secs, wait_http


def write_kubelet_files(kubelet_cfg, cri_socket, node_name, extra_args, patches_dir, taints=None):
    """kubelet-start: kubeadm-flags.env, instance-config.yaml, config.yaml (+ patches), in kubeadm 1.35's order
    (the flags file first: a crash-looping kubelet that finds config.yaml already sees its flags)."""
    args = []
    if node_name != socket.gethostname().lower():
        args.append(("hostname-override", node_name))
    if taints:
        # join of a worker: kubeadm registers the node with its taints through the kubelet flag
        args.append(("register-with-taints", ",".join(
            "%s%s:%s" % (t["key"], "=" + t["value"] if t.get("value") else "", t["effect"]) for t in taints)))
    merged = []
    for k, v in args + list(extra_args):
        merged = [(a, b) for a, b in merged if a != k] + [(k, v)]
    line = " ".join("--%s=%s" % (k, v) for k, v in sorted(merged, key=lambda kv: kv[0]))
    out('[kubelet-start] Writing kubelet environment file with flags to file "%s"' % paths.KUBEADM_FLAGS_ENV)
    paths.write(paths.KUBEADM_FLAGS_ENV, 'KUBELET_KUBEADM_ARGS="%s"\n' % line, 0o644)
    instance = {"apiVersion": kconfig.KUBELET_GV, "kind": "KubeletConfiguration",
                "containerRuntimeEndpoint": cri_socket}
    out('[kubelet-start] Writing kubelet configuration to file "%s"' % paths.KUBELET_INSTANCE_CONFIG)
    paths.write(paths.KUBELET_INSTANCE_CONFIG, yamlk.dump(instance), 0o644)
    cfg = dict(kubelet_cfg)
    cfg["containerRuntimeEndpoint"] = cri_socket
    out('[patches] Applied patch of type "application/strategic-merge-patch+json" to target "kubeletconfiguration"')
    cfg = apply_patches(cfg, patches_dir, "kubeletconfiguration")
    out('[kubelet-start] Writing kubelet configuration to file "%s"' % paths.KUBELET_CONFIG)
    paths.write(paths.KUBELET_CONFIG, yamlk.dump(cfg), 0o644)
    return cfg


def start_kubelet():
    """TryStartKubelet: systemctl daemon-reload + restart kubelet when an init system is there."""
    out("[kubelet-start] Starting the kubelet")
    sc = systemd.systemctl()
    if sc is None:
        out("[kubelet-start] No supported init system detected, won't make sure the kubelet is running properly.")
        return
    err = systemd.restart(sc, "kubelet")
    if err:
        glog.warning("kubelet.go:74", "[kubelet-start] WARNING: unable to start the kubelet service: [%s]\n" % err)
        out("[kubelet-start] Please ensure kubelet is reloaded and running manually.")


def wait_kubelet(kubelet_cfg, timeout_s, phase):
    port = int(kubelet_cfg.get("healthzPort", 10248) or 10248)
    addr = kubelet_cfg.get("healthzBindAddress") or "127.0.0.1"
    url = "http://%s:%d/healthz" % ("[%s]" % addr if ":" in addr else addr, port)
    out("[kubelet-check] Waiting for a healthy kubelet at %s. This can take up to %s"
        % (url, kconfig.format_duration(timeout_s)))
    ok, el, err = wait_http(url, timeout_s)
    if ok:
        out("[kubelet-check] The kubelet is healthy after %s" % fmt_secs(el))
        return
    out("[kubelet-check] The kubelet is not healthy after %s" % fmt_secs(el))
    out("")
    out("Unfortunately, an error has occurred, likely caused by:")
    out("\t- The kubelet is not running")
    out("\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)")
    out("")
    out("If you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:")
    out("\t- 'systemctl status kubelet'")
    out("\t- 'journalctl -xeu kubelet'")
    out("")
    raise Fail("failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL %s' returned "
               "error: %s" % (url, err), phase=phase)
