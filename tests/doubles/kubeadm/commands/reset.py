"""``kubeadm reset``."""
from __future__ import annotations

import json
import os
import shutil
import sys

from .. import cpapi, glog, kconfig, paths, preflight, systemd
from ..k3slib import etcd as etcdmod
from .base import Fail, check_ignore, out, parse, read_config
from .control_plane import manifest_flags


def cmd_reset(args):
    vals, pos, _ = parse(args, {"force": "bool", "cri-socket": "str", "cert-dir": "str", "cleanup-tmp-dir": "bool",
                                "config": "str", "ignore-preflight-errors": "list", "skip-phases": "list",
                                "dry-run": "bool", "kubeconfig": "str"}, {"f": "force"})
    force = vals.get("force")
    cert_dir = vals.get("cert-dir") or paths.PKI_DIR
    cri_socket_from_config = None
    if vals.get("config"):
        ld = kconfig.load_text(read_config(vals["config"]), strict=False)
        rc = ld.reset or {}
        force = force or rc.get("force")
        cert_dir = rc.get("certificatesDir") or cert_dir
        cri_socket_from_config = rc.get("criSocket")
    if vals.get("dry-run"):
        raise Fail("--dry-run is not implemented by the kubeforge kubeadm test double")
    ign = check_ignore(list(vals.get("ignore-preflight-errors") or []))
    etcd_dir = None
    etcd_flags = manifest_flags("etcd")
    if etcd_flags.get("data-dir"):
        etcd_dir = etcd_flags["data-dir"]
    if not force:
        glog.warning("preflight.go:56", "[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm "
                                        "join' will be reverted.")
        sys.stdout.write("[reset] Are you sure you want to proceed? [y/N]: ")
        sys.stdout.flush()
        ans = sys.stdin.readline().strip()
        if ans not in ("y", "Y"):
            raise Fail("won't proceed; the user didn't answer (Y|y) in order to continue", phase="preflight")
    try:
        preflight.root_check(ign)
    except preflight.PreflightError as e:
        raise Fail(str(e), phase="preflight")
    out("[preflight] Running pre-flight checks")
    if etcd_dir:
        remove_etcd_member(etcd_flags)
        hd = paths.host(etcd_dir)
        if os.path.isdir(hd):
            _clear_dir(hd)
        out("[reset] Deleted contents of the etcd data directory: %s" % etcd_dir)
    else:
        out("[reset] No etcd config found. Assuming external etcd")
        out("[reset] Please, manually reset etcd to prevent further issues")
    out("[reset] Stopping the kubelet service")
    systemd.stop_quietly("kubelet")
    out('[reset] Unmounting mounted directories in "%s"' % paths.KUBELET_DIR)
    # cleanup-node's removeContainers: a CRI socket that takes no connection is a warning, and the reset goes on
    sock = vals.get("cri-socket") or cri_socket_from_config or paths.DEFAULT_CRI_SOCKET
    err = preflight.cri_dial_error(sock)
    if err:
        glog.warning("cleanupnode.go:99", "[reset] Failed to remove containers: failed to create new CRI runtime "
                     "service: validate service connection: validate CRI v1 runtime API for endpoint %s: %s"
                     % (json.dumps(sock), err))
    dirs = [paths.MANIFESTS_DIR, paths.KUBELET_DIR, cert_dir]
    out("[reset] Deleting contents of directories: [%s]" % " ".join(dirs))
    for d in dirs:
        hd = paths.host(d)
        if os.path.isdir(hd):
            _clear_dir(hd)
    files = [paths.ADMIN_CONF, paths.SUPER_ADMIN_CONF, paths.KUBELET_CONF, paths.BOOTSTRAP_KUBELET_CONF,
             paths.CONTROLLER_MANAGER_CONF, paths.SCHEDULER_CONF]
    out("[reset] Deleting files: [%s]" % " ".join(files))
    for f in files:
        try:
            os.remove(paths.host(f))
        except FileNotFoundError:
            pass
    out("")
    out("The reset process does not perform cleanup of CNI plugin configuration,")
    out("network filtering rules and kubeconfig files.")
    out("")
    out("For information on how to perform this cleanup manually, please see:")
    out("    https://k8s.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/")
    out("")
    return 0


def remove_etcd_member(flags):
    """reset phase remove-etcd-member: take this member out of the stacked etcd cluster (through the simulated
    etcd's peer protocol: the new member list goes to every remaining member)."""
    try:
        m = cpapi.etcd_member(flags)
        if not paths.exists(m["ca_key"]):
            return
        secret = etcdmod.peer_secret(cpapi.peer_password(m["ca_key"]))
        known = [u for _, u in m["initial"]]
        try:  # the member list the local member last knew (etcd.Cluster keeps it in <data-dir>/member.json)
            with open(paths.host(m["data_dir"].rstrip("/") + "/member.json")) as fh:
                known = [x["peerURL"] for x in json.load(fh).get("members") or []] + known
        except (OSError, ValueError, KeyError, TypeError):
            pass
        others = list(dict.fromkeys(u for u in known if u != m["peer_url"]))
        if not others:
            return  # a one-member cluster: nothing to tell
        urls = others + [m["peer_url"]]
        members, last = None, None
        for u in urls:
            try:
                members = etcdmod.peer_call(u, "GET", "/members", secret, timeout=2)["members"]
                break
            except (OSError, ValueError, KeyError) as e:
                last = e
        if members is None:
            raise OSError("etcdserver: no reachable member (%s)" % last)
        if not any(x["peerURL"] == m["peer_url"] for x in members):
            return
        rest = [x for x in members if x["peerURL"] != m["peer_url"]]
        if not rest:
            return  # the last member: nothing to tell
        op = {"type": "members", "members": rest}
        for x in rest:
            etcdmod.peer_call(x["peerURL"], "POST", "/ops", secret, {"ops": [op], "from": m["name"]}, timeout=5)
        glog.v(1, "removeetcdmember.go:103", "[reset] Removed etcd member %s (%s)" % (m["name"], m["peer_url"]))
    except (OSError, ValueError) as e:
        glog.warning("removeetcdmember.go:106", "[reset] Failed to remove etcd member: %s, Please manually remove "
                                                 "this etcd member using etcdctl" % e)


def _clear_dir(d):
    for n in os.listdir(d):
        p = os.path.join(d, n)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.remove(p)
            except OSError:
                pass
