"""``kubeadm join`` (worker and control plane)."""
from __future__ import annotations

import base64
import os
import sys
import time

from .. import cpapi, der, glog, kclient, kconfig, kubeconfig, paths, preflight, systemd, tokens, version, yamlk
from ..k3slib import etcd as etcdmod
from .apiclient import admin_client, api
from .base import Fail, GLOBAL_FLAGS, check_ignore, go_q, out, parse, read_config
from .control_plane import (InitContext, etcd_peer_url, host_url, mark_control_plane, run_phase_certs,
                            wait_control_plane, write_conf, write_control_plane_manifests, write_etcd_manifest)
from .kubelet_start import start_kubelet, wait_kubelet, write_kubelet_files
from .upload_certs import CERT_FILES, unseal


JOIN_FLAGS = {"config": "str", "token": "str", "discovery-token": "str", "discovery-token-ca-cert-hash": "list",
              "discovery-token-unsafe-skip-ca-verification": "bool", "discovery-file": "str",
              "tls-bootstrap-token": "str", "node-name": "str", "cri-socket": "str", "ignore-preflight-errors": "list",
              "control-plane": "bool", "certificate-key": "str", "apiserver-advertise-address": "str",
              "apiserver-bind-port": "int", "skip-phases": "list", "patches": "str", "dry-run": "bool"}


JOIN_CONFIG_OK = {"config", "ignore-preflight-errors", "skip-phases", "patches", "dry-run"} | set(GLOBAL_FLAGS)


def join_from_flags(vals, pos):
    j = {"nodeRegistration": {}, "discovery": {}}
    tok = vals.get("discovery-token") or vals.get("token") or ""
    if vals.get("discovery-file"):
        j["discovery"]["file"] = {"kubeConfigPath": vals["discovery-file"]}
    else:
        if not pos:
            raise Fail("discovery: Invalid value: \"\": bootstrapToken or file must be set")
        j["discovery"]["bootstrapToken"] = {
            "token": tok, "apiServerEndpoint": pos[0],
            "caCertHashes": vals.get("discovery-token-ca-cert-hash") or [],
            "unsafeSkipCAVerification": bool(vals.get("discovery-token-unsafe-skip-ca-verification"))}
    tls = vals.get("tls-bootstrap-token") or vals.get("token")
    if tls:
        j["discovery"]["tlsBootstrapToken"] = tls
    if vals.get("node-name"):
        j["nodeRegistration"]["name"] = vals["node-name"]
    if vals.get("cri-socket"):
        j["nodeRegistration"]["criSocket"] = vals["cri-socket"]
    if vals.get("control-plane"):
        j["controlPlane"] = {"certificateKey": vals.get("certificate-key", ""), "localAPIEndpoint": {}}
        if vals.get("apiserver-advertise-address"):
            j["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] = vals["apiserver-advertise-address"]
        if vals.get("apiserver-bind-port"):
            j["controlPlane"]["localAPIEndpoint"]["bindPort"] = vals["apiserver-bind-port"]
    return j


def discover(j):
    """Token discovery: the validated cluster-info kubeconfig (server, CA PEM)."""
    bt = j["discovery"]["bootstrapToken"]
    ep = bt["apiServerEndpoint"]
    tid, tsec = bt["token"].split(".", 1)
    deadline = time.time() + kconfig.timeout(j, "discovery", "5m0s")
    interval = 5.0 if kconfig.timeout(j, "discovery", "5m0s") > 30 else 1.0

    def fetch(ca):
        last = None
        while True:
            try:
                cl = kclient.Client("https://" + ep, ca=ca, insecure=ca is None, timeout=10)
                code, cm = cl.get("/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s")
                if code == 200 and isinstance(cm, dict):
                    if ("jws-kubeconfig-" + tid) in (cm.get("data") or {}):
                        return cm
                    last = "could not find a JWS signature in the cluster-info ConfigMap for token ID %s" % go_q(tid)
                    glog.v(1, "token.go:223", "[discovery] The cluster-info ConfigMap does not yet contain a JWS "
                                              "signature for token ID %s, will try again" % go_q(tid))
                else:
                    last = kclient.status_message(cm, code)
            except kclient.APIError as e:
                last = str(e)
                glog.v(1, "token.go:217", "[discovery] Failed to request cluster-info, will try again: %s" % e)
            if time.time() + interval > deadline:
                raise Fail("couldn't validate the identity of the API Server: %s" % last, phase="preflight")
            time.sleep(interval)

    cm = fetch(None)
    data = cm.get("data") or {}
    kc = data.get("kubeconfig")
    if not kc:
        raise Fail("couldn't validate the identity of the API Server: there is no kubeconfig key in the cluster-info "
                   "ConfigMap. This API Server isn't set up for token bootstrapping, can't connect", phase="preflight")
    if not tokens.jws_valid(data.get("jws-kubeconfig-" + tid, ""), kc, tid, tsec):
        raise Fail("couldn't validate the identity of the API Server: failed to verify JWS signature of received "
                   "cluster info object, can't trust this API Server", phase="preflight")
    try:
        info = yamlk.safe_load(kc)
        cluster = info["clusters"][0]["cluster"]
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    except (yamlk.YamlError, KeyError, IndexError, TypeError, ValueError) as e:
        raise Fail("couldn't validate the identity of the API Server: couldn't parse the kubeconfig file in the "
                   "cluster-info ConfigMap: %s" % e, phase="preflight")
    if not bt.get("unsafeSkipCAVerification") or bt.get("caCertHashes"):
        for h in bt.get("caCertHashes") or []:
            if not kconfig.HASH_RE.match(h.lower()):
                raise Fail("couldn't validate the identity of the API Server: invalid hash %s, expected format: "
                           "sha256:<64 hex characters>" % go_q(h), phase="preflight")
        got = der.pins_of_pem(ca_pem)
        if not set(h.lower() for h in bt.get("caCertHashes") or []) & set(got):
            raise Fail("couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap "
                       "is invalid: none of the public keys %s are pinned" % go_q(":".join(got)), phase="preflight")
    cm2 = fetch(ca_pem)
    if (cm2.get("data") or {}).get("kubeconfig") != kc:
        raise Fail("couldn't validate the identity of the API Server: the second kubeconfig from the cluster-info "
                   "ConfigMap (using validated TLS) was different from the first", phase="preflight")
    return cluster["server"], ca_pem


NOT_READY_FOR_CONTROL_PLANE = """
One or more conditions for hosting a new control plane instance is not satisfied.

%s

Please ensure that:
* The cluster has a stable controlPlaneEndpoint address.
* The certificates that must be shared among control plane instances are provided.

"""


JOIN_CONTROL_PLANE_DONE = """
This node has joined the cluster and a new control plane instance was created:

* Certificate signing request was sent to apiserver and approval was received.
* The Kubelet was informed of the new secure connection details.
* Control plane label and taint were applied to the new node.
* The Kubernetes control plane instances scaled up.
* A new etcd member was added to the local/stacked etcd cluster.

To start administering your cluster from this node, you need to run the following as a regular user:

\tmkdir -p $HOME/.kube
\tsudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
\tsudo chown $(id -u):$(id -g) $HOME/.kube/config

Run 'kubectl get nodes' to see this node join the cluster.
"""


def cmd_join(args):
    vals, pos, given = parse(args, JOIN_FLAGS)
    if vals.get("dry-run"):
        raise Fail("--dry-run is not implemented by the kubeforge kubeadm test double")
    if vals.get("config"):
        bad = sorted(n for n in given if n not in JOIN_CONFIG_OK)
        if bad or pos:
            raise Fail("can not mix '--config' with arguments %s" % ("[" + " ".join(bad + pos) + "]"))
        ld = kconfig.load_text(read_config(vals["config"]), strict=False)
        if ld.join is None:
            raise Fail("no JoinConfiguration found in %s" % vals["config"])
        j_in = ld.join
    else:
        j_in = join_from_flags(vals, pos)
    j = kconfig.default_join(j_in)
    errs = kconfig.validate_join(j)
    if errs:
        raise Fail(kconfig.aggregate(errs))
    if "file" in j["discovery"] and j["discovery"]["file"]:
        raise Fail("file discovery is not implemented by the kubeforge kubeadm test double")
    is_cp = j.get("controlPlane") is not None
    ign = check_ignore(list(j["nodeRegistration"].get("ignorePreflightErrors") or []) +
                       list(vals.get("ignore-preflight-errors") or []))
    skip = set(vals.get("skip-phases") or []) | set(j.get("skipPhases") or [])
    patches_dir = vals.get("patches") or (j.get("patches") or {}).get("directory")
    node = j["nodeRegistration"]["name"]
    if "preflight" not in skip:
        try:
            preflight.root_check(ign)
            out("[preflight] Running pre-flight checks")
            preflight.run(preflight.join_checks(j), ign)
        except preflight.PreflightError as e:
            raise Fail(str(e), phase="preflight")
    server, ca_pem = discover(j)
    tls_token = j["discovery"].get("tlsBootstrapToken") or j["discovery"]["bootstrapToken"]["token"]
    boot = kclient.Client(server, ca=ca_pem, token=tls_token)
    out('[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
    out("[preflight] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to re-upload it.")
    _, kcm = api(boot, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", phase="preflight",
                 what="unable to fetch the kubeadm-config ConfigMap")
    _, klc = api(boot, "GET", "/api/v1/namespaces/kube-system/configmaps/kubelet-config", phase="kubelet-start",
                 what="failed to get config map")
    try:
        kubelet = yamlk.safe_load(klc["data"]["kubelet"]) or {}
        cluster = yamlk.safe_load(kcm["data"]["ClusterConfiguration"]) or {}
    except (KeyError, TypeError, yamlk.YamlError) as e:
        raise Fail("unable to decode the cluster configuration: %s" % e, phase="preflight")
    c = None
    if is_cp:
        c = join_control_plane_prepare(j, cluster, boot, ign, skip, patches_dir)
    systemd.stop_quietly("kubelet")
    cname = cluster.get("clusterName", "kubernetes")
    bcfg = kubeconfig.build(cname, server, ca_pem, "tls-bootstrap-token-user", token=tls_token)
    kubeconfig.write(paths.BOOTSTRAP_KUBELET_CONF, bcfg)
    paths.write(j.get("caCertPath") or paths.PKI_DIR + "/ca.crt", ca_pem, 0o644)
    extra = kconfig.args_dict(j["nodeRegistration"].get("kubeletExtraArgs"))
    # kubeadm registers a worker's taints through the kubelet flag; a control plane's come from mark-control-plane
    kcfg = write_kubelet_files(kubelet, j["nodeRegistration"]["criSocket"], node, extra, patches_dir,
                               taints=None if is_cp else j["nodeRegistration"].get("taints"))
    start_kubelet()
    wait_kubelet(kcfg, kconfig.timeout(j, "kubeletHealthCheck", "4m0s"), "kubelet-start")
    out("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
    tls_timeout = kconfig.timeout(j, "tlsBootstrap", "5m0s")
    deadline = time.time() + tls_timeout
    client, last = None, "timed out"
    while time.time() < deadline:
        if paths.exists(paths.KUBELET_CONF):
            try:
                cl, us = kubeconfig.load(paths.KUBELET_CONF)
                client = kclient.Client.from_kubeconfig(cl, us)
                code, doc = client.get("/api/v1/nodes/" + node)
                if code == 200:
                    break
                last = kclient.status_message(doc, code)
            except (kubeconfig.KubeconfigError, kclient.APIError, OSError) as e:
                last = str(e)
        client = None
        time.sleep(0.5)
    if client is None:
        raise Fail("error waiting for the kubelet to perform the TLS Bootstrap and register node %s: %s"
                   % (go_q(node), last), phase="kubelet-start")
    try:
        os.remove(paths.host(paths.BOOTSTRAP_KUBELET_CONF))
    except OSError:
        pass
    if is_cp:
        join_control_plane_finish(j, c, patches_dir)
        sys.stdout.write(JOIN_CONTROL_PLANE_DONE)
        sys.stdout.flush()
        return 0
    out("")
    out("This node has joined the cluster:")
    out("* Certificate signing request was sent to apiserver and a response was received.")
    out("* The Kubelet was informed of the new secure connection details.")
    out("")
    out("Run 'kubectl get nodes' on the control-plane to see this node join the cluster.")
    out("")
    return 0


def join_init_config(j, cluster):
    """The InitConfiguration kubeadm derives for a joining control plane (its node registration and endpoint)."""
    nr = dict(j["nodeRegistration"])
    init, cl = kconfig.default_init({"nodeRegistration": nr,
                                     "localAPIEndpoint": dict(j["controlPlane"]["localAPIEndpoint"]),
                                     "bootstrapTokens": []}, cluster, version.VERSION)
    return init, cl


def join_control_plane_prepare(j, cluster, boot, ign, skip, patches_dir):
    """preflight (control-plane part), control-plane-prepare (download-certs, certs, kubeconfig, control-plane),
    check-etcd.  Returns the InitContext of this control plane."""
    init, cl = join_init_config(j, cluster)
    key = j["controlPlane"].get("certificateKey") or ""
    c = InitContext(init, cl, {})
    if "preflight" not in skip:
        err = None
        if not cl.get("controlPlaneEndpoint"):
            err = ("unable to add a new control plane instance to a cluster that doesn't have a stable "
                   "controlPlaneEndpoint address")
        elif not key:
            err = shared_certificates_error(c)
        if err:
            raise Fail(NOT_READY_FOR_CONTROL_PLANE % err, phase="preflight")
        out("[preflight] Running pre-flight checks before initializing the new control plane instance")
        try:
            preflight.run(preflight.init_checks(init, cl, None, secondary=True), ign)
            out("[preflight] Pulling images required for setting up a Kubernetes cluster")
            out("[preflight] This might take a minute or two, depending on the speed of your internet connection")
            out("[preflight] You can also perform this action beforehand using 'kubeadm config images pull'")
            preflight.run_pull_images(init, cl, ign)
        except preflight.PreflightError as e:
            raise Fail(str(e), phase="preflight")
    if key:
        download_certs(boot, c, key)
    run_phase_certs(c, "control-plane-prepare/certs")
    out("[kubeconfig] Generating kubeconfig files")
    out('[kubeconfig] Using kubeconfig folder "%s"' % paths.KUBERNETES_DIR)
    for name, cn, orgs, ep in (("admin.conf", "kubernetes-admin", ["kubeadm:cluster-admins"], c.endpoint),
                               ("controller-manager.conf", "system:kube-controller-manager", [], c.local),
                               ("scheduler.conf", "system:kube-scheduler", [], c.local)):
        path = "%s/%s" % (paths.KUBERNETES_DIR, name)
        out('[kubeconfig] Writing "%s" kubeconfig file' % name)
        write_conf(path, c, cn, orgs, ep)
    write_control_plane_manifests(c, patches_dir)
    if (cl.get("etcd") or {}).get("local") is not None:
        out("[check-etcd] Checking that the etcd cluster is healthy")
        members = etcd_members(c)
        down = [m for m in members if not etcd_healthy(c, m["peerURL"])]
        if down:
            raise Fail("etcd cluster is not healthy: failed to dial endpoint %s with maintenance client: "
                       "context deadline exceeded" % etcd_client_url(down[0]["peerURL"]), phase="check-etcd")
    return c


def shared_certificates_error(c):
    """certs.SharedCertificateExists: the CAs and the sa key pair must be on disk when no certificate key is given
    (missing CA keys only warn in kubeadm; here they are looked at through their certificates)."""
    errs = []
    cas = [("ca", "CA"), ("front-proxy-ca", "front-proxy CA")]
    if (c.cluster.get("etcd") or {}).get("local") is not None:
        cas.append(("etcd/ca", "etcd CA"))
    for base, ux in cas[:1]:
        if not paths.exists(c.p(base + ".crt")):
            errs.append("failure loading certificate for %s: couldn't load the certificate file %s: open %s: no such "
                        "file or directory" % (ux, c.p(base + ".crt"), c.p(base + ".crt")))
    if not paths.exists(c.p("sa.key")):
        errs.append("failure loading key for service account: couldn't load the private key file %s: open %s: no "
                    "such file or directory" % (c.p("sa.key"), c.p("sa.key")))
    for base, ux in cas[1:]:
        if not paths.exists(c.p(base + ".crt")):
            errs.append("failure loading certificate for %s: couldn't load the certificate file %s: open %s: no such "
                        "file or directory" % (ux, c.p(base + ".crt"), c.p(base + ".crt")))
    if not errs:
        return None
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


def download_certs(boot, c, key):
    out('[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    phase = "control-plane-prepare/download-certs"
    try:
        code, sec = boot.get("/api/v1/namespaces/kube-system/secrets/kubeadm-certs")
    except kclient.APIError as e:
        raise Fail("error downloading certs: error downloading the secret: %s" % e, phase=phase)
    exp = ((sec or {}).get("metadata") or {}).get("annotations", {}).get("kubeforge.io/expires") if code == 200 \
        else None
    if code == 404 or (exp and tokens.parse_rfc3339(exp) <= time.time()):
        raise Fail('error downloading certs: error downloading the secret: Secret "kubeadm-certs" was not found in '
                   'the "kube-system" Namespace. This Secret might have expired. Please, run `kubeadm init phase '
                   'upload-certs --upload-certs` on a control plane to generate a new one', phase=phase)
    if code != 200:
        raise Fail("error downloading certs: error downloading the secret: %s" % kclient.status_message(sec, code),
                   phase=phase)
    data = {}
    for name, b64 in (sec.get("data") or {}).items():
        try:
            blob = base64.b64decode(b64)
            data[name] = unseal(key, blob) if blob else b""
        except ValueError as e:
            raise Fail("error downloading certs: error decoding secret data with provided key: %s"
                       % ("cipher: message authentication failed" if "authentication" in str(e) else e), phase=phase)
    out('[download-certs] Saving the certificates to the folder: "%s"' % c.pki)
    for f in CERT_FILES:
        if f.startswith("etcd/") and (c.cluster.get("etcd") or {}).get("local") is None:
            continue
        sname = f.replace("/", "-")
        if sname not in data:
            raise Fail("error downloading certs: the Secret does not include the required certificate or key - "
                       "name: %s, path: %s" % (f, c.p(f)), phase=phase)
        if not data[sname]:
            continue
        paths.makedirs(os.path.dirname(c.p(f)))
        paths.write(c.p(f), data[sname], 0o600 if f.endswith(".key") else 0o644)


def etcd_secret(c):
    return etcdmod.peer_secret(cpapi.peer_password(c.p("etcd/ca.key")))


def etcd_client_url(peer_url):
    host, _ = cpapi.split_url(peer_url)
    return host_url("https", host, 2379)


def etcd_members(c):
    """The etcd member list, asked from the members found in the etcd mirror Pods (kubeadm: the etcd Pods'
    advertise-client-urls annotation, then the etcd client API; the double speaks its peer protocol)."""
    client, _ = admin_client()
    try:
        code, doc = client.get("/api/v1/namespaces/kube-system/pods")
    except kclient.APIError as e:
        raise Fail("error syncing endpoints with etcd: %s" % e, phase="check-etcd")
    urls = []
    for p in (doc or {}).get("items") or [] if code == 200 else []:
        if ((p.get("metadata") or {}).get("labels") or {}).get("component") != "etcd":
            continue
        try:
            cmd = p["spec"]["containers"][0]["command"]
        except (KeyError, IndexError, TypeError):
            continue
        fl = dict(a[2:].partition("=")[::2] for a in cmd[1:] if a.startswith("--"))
        urls.append(cpapi.etcd_member(fl)["peer_url"])
    if not urls:
        raise Fail("error syncing endpoints with etcd: etcd cluster is not healthy: no etcd Pods found in the "
                   "kube-system namespace", phase="check-etcd")
    secret = etcd_secret(c)
    last = None
    for u in urls:
        try:
            return etcdmod.peer_call(u, "GET", "/members", secret)["members"]
        except (OSError, ValueError) as e:
            last = e
    raise Fail("error syncing endpoints with etcd: failed to dial endpoint %s with maintenance client: %s"
               % (etcd_client_url(urls[0]), last), phase="check-etcd")


def etcd_healthy(c, peer_url):
    try:
        etcdmod.peer_call(peer_url, "GET", "/health", etcd_secret(c), timeout=2)
        return True
    except (OSError, ValueError):
        return False


def join_control_plane_finish(j, c, patches_dir):
    """control-plane-join/etcd, wait-control-plane, control-plane-join/mark-control-plane."""
    if (c.cluster.get("etcd") or {}).get("local") is not None:
        phase = "control-plane-join/etcd"
        data_dir = c.cluster["etcd"]["local"].get("dataDir") or paths.ETCD_DIR
        paths.makedirs(data_dir)
        os.chmod(paths.host(data_dir), 0o700)
        members = etcd_members(c)
        me = etcd_peer_url(c)
        secret = etcd_secret(c)
        resp, last = None, None
        for m in members:
            try:
                resp = etcdmod.peer_call(m["peerURL"], "POST", "/members/add", secret,
                                         {"name": c.node, "peerURL": me}, timeout=10)
                break
            except (OSError, ValueError) as e:
                last = e
        if resp is None:
            raise Fail("error creating local etcd static pod manifest file: etcdserver: unhealthy cluster (%s)"
                       % last, phase=phase)
        out("[etcd] Announced new etcd member joining to the existing etcd cluster")
        initial = [(m["name"], m["peerURL"]) for m in resp["members"]]
        out('[etcd] Creating static Pod manifest for "etcd"')
        write_etcd_manifest(c, patches_dir, initial_cluster=initial)
        out("[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s")
        deadline = time.time() + 40
        while True:
            try:
                h = etcdmod.peer_call(me, "GET", "/members", secret, timeout=2)
                if any(m["peerURL"] == me for m in h.get("members") or []):
                    break
            except (OSError, ValueError):
                pass
            if time.time() > deadline:
                raise Fail("error creating local etcd static pod manifest file: timeout waiting for etcd cluster "
                           "to be available", phase=phase)
            time.sleep(0.5)
    wait_control_plane(c, kconfig.timeout(j, "controlPlaneComponentHealthCheck", "4m0s"))
    client, _ = admin_client(retry_for=kconfig.timeout(j, "kubernetesAPICall", "1m0s"))
    try:
        mark_control_plane(client, c, kconfig.timeout(j, "kubernetesAPICall", "1m0s"))
    except Fail as e:
        e.phase = "control-plane-join/mark-control-plane"
        raise Fail("error applying control-plane label and taints: %s" % e, phase=e.phase)
