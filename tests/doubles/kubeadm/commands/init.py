"""``kubeadm init``."""
from __future__ import annotations

import ipaddress
import secrets

from .. import kconfig, kubeconfig, paths, preflight, systemd, tokens, version, yamlk
from .apiclient import admin_client, apply_object
from .base import Fail, GLOBAL_FLAGS, check_ignore, go_q, out, parse, read_config
from .control_plane import (InitContext, ca_pin, finalize_kubelet_conf, mark_control_plane, phase_kubeconfig,
                            phase_manifests, run_phase_certs, wait_control_plane)
from .kubelet_start import start_kubelet, wait_kubelet, write_kubelet_files
from .upload_certs import cmd_init_phase, upload_certs


INIT_FLAGS = {"config": "str", "ignore-preflight-errors": "list", "upload-certs": "bool", "skip-phases": "list",
              "patches": "str", "apiserver-advertise-address": "str", "apiserver-bind-port": "int",
              "apiserver-cert-extra-sans": "list", "control-plane-endpoint": "str", "pod-network-cidr": "str",
              "service-cidr": "str", "service-dns-domain": "str", "kubernetes-version": "str", "node-name": "str",
              "cri-socket": "str", "token": "str", "token-ttl": "str", "certificate-key": "str",
              "skip-token-print": "bool", "skip-certificate-key-print": "bool", "cert-dir": "str",
              "image-repository": "str", "feature-gates": "str", "dry-run": "bool"}


# flags that may be combined with --config (kubeadm's allowlist)
INIT_CONFIG_OK = {"config", "ignore-preflight-errors", "upload-certs", "skip-phases", "patches", "skip-token-print",
                  "skip-certificate-key-print", "certificate-key", "dry-run", "v"} | set(GLOBAL_FLAGS)


def init_from_flags(vals):
    init = {"localAPIEndpoint": {}, "nodeRegistration": {}}
    cluster = {"networking": {}}
    if vals.get("apiserver-advertise-address"):
        init["localAPIEndpoint"]["advertiseAddress"] = vals["apiserver-advertise-address"]
    if vals.get("apiserver-bind-port"):
        init["localAPIEndpoint"]["bindPort"] = vals["apiserver-bind-port"]
    if vals.get("node-name"):
        init["nodeRegistration"]["name"] = vals["node-name"]
    if vals.get("cri-socket"):
        init["nodeRegistration"]["criSocket"] = vals["cri-socket"]
    if vals.get("token"):
        if not kconfig.TOKEN_RE.match(vals["token"]):
            raise Fail("the bootstrap token %s was not of the form %s" % (go_q(vals["token"]),
                                                                         go_q(kconfig.TOKEN_PATTERN)))
        init["bootstrapTokens"] = [{"token": vals["token"], "ttl": vals.get("token-ttl") or "24h0m0s"}]
    if vals.get("control-plane-endpoint"):
        cluster["controlPlaneEndpoint"] = vals["control-plane-endpoint"]
    if vals.get("pod-network-cidr"):
        cluster["networking"]["podSubnet"] = vals["pod-network-cidr"]
    if vals.get("service-cidr"):
        cluster["networking"]["serviceSubnet"] = vals["service-cidr"]
    if vals.get("service-dns-domain"):
        cluster["networking"]["dnsDomain"] = vals["service-dns-domain"]
    if vals.get("kubernetes-version"):
        cluster["kubernetesVersion"] = vals["kubernetes-version"]
    if vals.get("apiserver-cert-extra-sans"):
        cluster["apiServer"] = {"certSANs": vals["apiserver-cert-extra-sans"]}
    if vals.get("cert-dir"):
        cluster["certificatesDir"] = vals["cert-dir"]
    if vals.get("image-repository"):
        cluster["imageRepository"] = vals["image-repository"]
    if vals.get("certificate-key"):
        init["certificateKey"] = vals["certificate-key"]
    return init, cluster


def cluster_info_kubeconfig(ctx):
    ca_pem = paths.read_bytes(ctx.p("ca.crt"))
    return yamlk.dump({"apiVersion": "v1",
                       "clusters": [{"cluster": {"certificate-authority-data": kubeconfig.b64(ca_pem),
                                                 "server": "https://" + ctx.endpoint}, "name": ""}],
                       "contexts": None, "current-context": "", "kind": "Config", "preferences": {},
                       "users": None})


def token_secret_obj(t):
    ttl = kconfig.parse_duration(t["ttl"]) if t.get("ttl") else None
    return tokens.secret_for(t["token"], t.get("description", ""), ttl=ttl, expires=t.get("expires"),
                             usages=t.get("usages") or [], groups=t.get("groups") or [])


def cmd_init(args):
    if args and args[0] == "phase":
        return cmd_init_phase(args[1:])
    vals, pos, given = parse(args, INIT_FLAGS)
    if pos:
        raise Fail('unknown command "%s" for "kubeadm init"' % pos[0])
    if vals.get("dry-run"):
        raise Fail("--dry-run is not implemented by the kubeforge kubeadm test double")
    ld = kconfig.Loaded()
    if vals.get("config"):
        bad = sorted(n for n in given if n not in INIT_CONFIG_OK)
        if bad:
            raise Fail("can not mix '--config' with arguments %s" % "[" + " ".join(bad) + "]")
        ld = kconfig.load_text(read_config(vals["config"]), strict=False)
        init_in, cluster_in = ld.init, ld.cluster
        if "certificate-key" in given:
            init_in = dict(init_in or {}, certificateKey=vals["certificate-key"])
    else:
        init_in, cluster_in = init_from_flags(vals)
    init, cluster = kconfig.default_init(init_in, cluster_in, version.VERSION)
    kubelet = kconfig.default_kubelet(ld.kubelet, cluster)
    errs = kconfig.validate_init(init, cluster) + kconfig.validate_kubelet(kubelet)
    if errs:
        raise Fail(kconfig.aggregate(errs))
    ign = check_ignore(list(init["nodeRegistration"].get("ignorePreflightErrors") or []) +
                       list(vals.get("ignore-preflight-errors") or []))
    skip = set(vals.get("skip-phases") or []) | set(init.get("skipPhases") or [])
    patches_dir = vals.get("patches") or (init.get("patches") or {}).get("directory")
    c = InitContext(init, cluster, kubelet)
    out("[init] Using Kubernetes version: %s" % cluster["kubernetesVersion"])
    if "preflight" not in skip:
        try:
            preflight.root_check(ign)
            out("[preflight] Running pre-flight checks")
            preflight.run(preflight.init_checks(init, cluster, kubelet), ign)
            out("[preflight] Pulling images required for setting up a Kubernetes cluster")
            out("[preflight] This might take a minute or two, depending on the speed of your internet connection")
            out("[preflight] You can also perform this action beforehand using 'kubeadm config images pull'")
            preflight.run_pull_images(init, cluster, ign)
        except preflight.PreflightError as e:
            raise Fail(str(e), phase="preflight")
    run_phase_certs(c, "certs")
    phase_kubeconfig(c)
    phase_manifests(c, patches_dir)
    systemd.stop_quietly("kubelet")
    extra = kconfig.args_dict(init["nodeRegistration"].get("kubeletExtraArgs"))
    kcfg = write_kubelet_files(kubelet, init["nodeRegistration"]["criSocket"], c.node, extra, patches_dir)
    start_kubelet()
    out('[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory '
        '"%s"' % paths.MANIFESTS_DIR)
    wait_kubelet(kcfg, kconfig.timeout(init, "kubeletHealthCheck", "4m0s"), "wait-control-plane")
    wait_control_plane(c, kconfig.timeout(init, "controlPlaneComponentHealthCheck", "4m0s"))
    client, _ = admin_client(retry_for=kconfig.timeout(init, "kubernetesAPICall", "1m0s"))
    out('[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace')
    stored = {k: v for k, v in cluster.items()}
    stored["apiVersion"], stored["kind"] = kconfig.V1BETA4, "ClusterConfiguration"
    apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "kubeadm-config",
                 {"metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
                  "data": {"ClusterConfiguration": yamlk.dump(stored)}})
    out('[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the '
        'kubelets in the cluster')
    shared = dict(kubelet)
    shared.pop("containerRuntimeEndpoint", None)
    apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "kubelet-config",
                 {"metadata": {"name": "kubelet-config", "namespace": "kube-system"},
                  "data": {"kubelet": yamlk.dump(shared)}})
    if vals.get("upload-certs"):
        key = init.get("certificateKey") or secrets.token_hex(32)
        upload_certs(client, c, key, print_key=not vals.get("skip-certificate-key-print"))
    else:
        out("[upload-certs] Skipping phase. Please see --upload-certs")
    mark_control_plane(client, c, kconfig.timeout(init, "kubernetesAPICall", "1m0s"))
    toks = init["bootstrapTokens"]
    out("[bootstrap-token] Using token: %s" % toks[0]["token"])
    out("[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles")
    for t in toks:
        obj = token_secret_obj(t)
        apply_object(client, "/api/v1/namespaces/kube-system/secrets", obj["metadata"]["name"], obj)
    out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to get nodes")
    out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to "
        "get long term certificate credentials")
    out("[bootstrap-token] Configured RBAC rules to allow the csrapprover controller automatically approve CSRs "
        "from a Node Bootstrap Token")
    out("[bootstrap-token] Configured RBAC rules to allow certificate rotation for all node client certificates in "
        "the cluster")
    out('[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace')
    apply_object(client, "/api/v1/namespaces/kube-public/configmaps", "cluster-info",
                 {"metadata": {"name": "cluster-info", "namespace": "kube-public"},
                  "data": {"kubeconfig": cluster_info_kubeconfig(c)}})
    finalize_kubelet_conf(c)
    addons(client, c)
    pin = ca_pin(c.p("ca.crt"))
    out("")
    out("Your Kubernetes control-plane has initialized successfully!")
    out("")
    out("To start using your cluster, you need to run the following as a regular user:")
    out("")
    out("  mkdir -p $HOME/.kube")
    out("  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config")
    out("  sudo chown $(id -u):$(id -g) $HOME/.kube/config")
    out("")
    out("Alternatively, if you are the root user, you can run:")
    out("")
    out("  export KUBECONFIG=/etc/kubernetes/admin.conf")
    out("")
    out("You should now deploy a pod network to the cluster.")
    out('Run "kubectl apply -f [podnetwork].yaml" with one of the options listed at:')
    out("  https://kubernetes.io/docs/concepts/cluster-administration/addons/")
    out("")
    tok = "<value withheld>" if vals.get("skip-token-print") else toks[0]["token"]
    if cluster.get("controlPlaneEndpoint"):
        out("You can now join any number of control-plane nodes by copying certificate authorities")
        out("and service account keys on each node and then running the following as root:")
        out("")
        out("  kubeadm join %s --token %s \\" % (c.endpoint, tok))
        out("\t--discovery-token-ca-cert-hash %s \\" % pin)
        out("\t--control-plane ")
        out("")
    out("Then you can join any number of worker nodes by running the following on each as root:")
    out("")
    out("kubeadm join %s --token %s \\" % (c.endpoint, tok))
    out("\t--discovery-token-ca-cert-hash %s " % pin)
    return 0


def addons(client, c):
    svc = ipaddress.ip_network(c.cluster["networking"]["serviceSubnet"].split(",")[0], strict=False)
    if not (c.cluster.get("dns") or {}).get("disabled"):
        apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "coredns",
                     {"metadata": {"name": "coredns", "namespace": "kube-system"},
                      "data": {"Corefile": ".:53 {\n    errors\n    health\n    kubernetes %s in-addr.arpa ip6.arpa\n"
                                           "    forward . /etc/resolv.conf\n    cache 30\n}\n"
                                           % c.cluster["networking"].get("dnsDomain", "cluster.local")}})
        apply_object(client, "/api/v1/namespaces/kube-system/services", "kube-dns",
                     {"metadata": {"name": "kube-dns", "namespace": "kube-system",
                                   "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
                      "spec": {"clusterIP": str(svc.network_address + 10), "selector": {"k8s-app": "kube-dns"},
                               "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                         {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}})
        out("[addons] Applied essential addon: CoreDNS")
    if not (c.cluster.get("proxy") or {}).get("disabled"):
        apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "kube-proxy",
                     {"metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                      "data": {"config.conf": yamlk.dump({"apiVersion": kconfig.KUBEPROXY_GV,
                                                          "kind": "KubeProxyConfiguration",
                                                          "clusterCIDR": c.cluster["networking"].get("podSubnet",
                                                                                                     "")})}})
        out("[addons] Applied essential addon: kube-proxy")
