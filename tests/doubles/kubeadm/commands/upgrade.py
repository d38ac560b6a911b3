"""``kubeadm upgrade``: ``plan [version]``, ``apply <version>`` and ``node``, as kubeadm 1.34/1.35 run them.

Sources (kubernetes/kubernetes, cmd/kubeadm/app): cmd/upgrade/{apply,plan,node,common}.go,
cmd/phases/upgrade/{apply,node}/*.go, phases/upgrade/{policy,compute,health,staticpods,versiongetter,
postupgrade}.go, util/version.go, constants/constants.go.  Where a text could not be read in the v1.35 sources it
was taken from real v1.34/v1.35 output (upgrade transcripts); the comments next to each message say which.

apply (phases preflight, control-plane, upload-config, kubeconfig, kubelet-config, bootstrap-token, addon,
post-upgrade): read the ClusterConfiguration from the kubeadm-config ConfigMap, root check, cluster health
checks (CreateJob, ControlPlaneNodesReady, StaticPodManifest), the version skew policy (EnforceVersionPolicies),
the confirmation prompt, the ImagePull check, then the static Pod upgrade: new manifests in
/etc/kubernetes/tmp/kubeadm-upgraded-manifests<random>, the old ones backed up to
/etc/kubernetes/tmp/kubeadm-backup-manifests-<time>/ (and the etcd data dir to kubeadm-backup-etcd-<time>/etcd),
one component at a time: certificates renewed, manifest moved in, wait for the mirror Pod's
kubernetes.io/config.hash to change, then for the Pods with the component label to run.  The kubelet double
restarts a component whose manifest changed (cpapi.ControlPlane.sync).  node: the same static Pod upgrade on a
control plane (to the kubernetesVersion of the cluster's ClusterConfiguration), then the kubelet configuration;
on a worker only the kubelet configuration.  plan: the tables of what apply would do.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import ssl
import sys
import time
import urllib.request

from .. import certs, cpapi, glog, images, kclient, kconfig, kubeconfig, paths, preflight, version, yamlk
from .apiclient import apply_object
from .base import Fail, check_ignore, go_q, out, parse, read_config
from .control_plane import InitContext, manifest_flags, write_control_plane_manifests, write_etcd_manifest
from .init import addons
from .patches import apply_patches

COMMON_FLAGS = {"config": "str", "kubeconfig": "str", "ignore-preflight-errors": "list", "etcd-upgrade": "bool"}
PLAN_FLAGS = dict(COMMON_FLAGS, **{"allow-experimental-upgrades": "bool", "allow-release-candidate-upgrades": "bool",
                                   "print-config": "bool", "output": "str", "allow-missing-template-keys": "bool",
                                   "show-managed-fields": "bool"})
APPLY_FLAGS = dict(COMMON_FLAGS, **{"allow-experimental-upgrades": "bool", "allow-release-candidate-upgrades": "bool",
                                    "print-config": "bool", "yes": "bool", "force": "bool", "dry-run": "bool",
                                    "certificate-renewal": "bool", "patches": "str", "skip-phases": "list"})
NODE_FLAGS = dict(COMMON_FLAGS, **{"dry-run": "bool", "certificate-renewal": "bool", "patches": "str",
                                   "skip-phases": "list"})
APPLY_PHASES = ("preflight", "control-plane", "upload-config", "upload-config/kubeadm", "upload-config/kubelet",
                "kubeconfig", "kubelet-config", "bootstrap-token", "addon", "addon/coredns", "addon/kube-proxy",
                "post-upgrade")
NODE_PHASES = ("preflight", "control-plane", "kubeconfig", "kubelet-config", "addon", "addon/coredns",
               "addon/kube-proxy", "post-upgrade")
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
CP_LABEL = "node-role.kubernetes.io/control-plane"
TMP_DIR = paths.KUBERNETES_DIR + "/tmp"

USAGE = ("Upgrade your cluster smoothly to a newer version with this command\n\n"
         "Usage:\n  kubeadm upgrade [flags]\n  kubeadm upgrade [command]\n\n"
         "Available Commands:\n"
         "  apply       Upgrade your Kubernetes cluster to the specified version\n"
         "  diff        Show what differences would be applied to existing static pod manifests. See also: "
         "kubeadm upgrade apply --dry-run\n"
         "  node        Upgrade commands for a node in the cluster\n"
         "  plan        Check which versions are available to upgrade to and validate whether your current cluster "
         "is upgradeable.\n")

# A Kubernetes version as kubeadm's util/version.go accepts it (semantic, "v" optional) and its release labels.
SEMVER_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
LABEL_RE = re.compile(r"^((latest|stable)+(-[1-9](\.[1-9]([0-9])?)?)?)$")


# -- versions -----------------------------------------------------------------------------------------------------

class KVersion:
    """k8s.io/apimachinery's semantic version, as far as the upgrade policy needs it."""

    def __init__(self, text: str):
        m = SEMVER_RE.match(text or "")
        if not m:
            raise ValueError(text)
        self.major, self.minor, self.patch = int(m.group(1)), int(m.group(2)), int(m.group(3))
        self.pre = m.group(4) or ""

    def key(self) -> tuple:
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre.split(".")) if self.pre else ()
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: "KVersion") -> bool:
        return self.key() < other.key()

    def at_least(self, other: "KVersion") -> bool:
        return not self < other

    def __str__(self) -> str:
        """version.Version.String(): no leading "v"."""
        return "%d.%d.%d%s" % (self.major, self.minor, self.patch, "-" + self.pre if self.pre else "")


def offline_fallback(label: str) -> str:
    """util/version.go kubernetesReleaseVersion for a release label with no network: klog warnings, then the
    client version (the double never reaches dl.k8s.io)."""
    url = "https://dl.k8s.io/release/%s.txt" % label
    glog.warning("version.go:109", 'could not fetch a Kubernetes version from the internet: unable to get URL "%s": '
                 'Get "%s": dial tcp: lookup dl.k8s.io: no such host' % (url, url))
    glog.warning("version.go:110", "falling back to the local client version: %s" % version.VERSION)
    return version.VERSION


def normalize_version(v: str) -> str:
    """configutil.NormalizeKubernetesVersion: "1.35.2" -> "v1.35.2", a release label -> what it names."""
    if SEMVER_RE.match(v):
        return v if v.startswith("v") else "v" + v
    if LABEL_RE.match(v):
        return offline_fallback(v)
    # cmd/kubeadm/app/util/version.go kubernetesReleaseVersion
    raise Fail('version "%s" doesn\'t match patterns for neither semantic version nor labels (stable, latest, ...)'
               % v)


def format_errs(errs: list) -> str:
    """kubeadmutil.FormatErrMsg: "\\t- <err>\\n" for every error."""
    return "".join("\t- %s\n" % e for e in errs)


def enforce_version_policies(new_str: str, cluster_str: str, kubelet_versions: dict,
                             allow_experimental: bool, allow_rc: bool) -> tuple:
    """phases/upgrade/policy.go EnforceVersionPolicies: (mandatory, skippable) error texts.  It prints the cluster
    and kubeadm versions first, as the source does."""
    out("[upgrade/versions] Cluster version: %s" % cluster_str)
    out("[upgrade/versions] kubeadm version: %s" % version.VERSION)
    mandatory, skippable = [], []
    new, cluster, kubeadm = KVersion(new_str), KVersion(cluster_str), KVersion(version.VERSION)
    # constants.MinimumControlPlaneVersion = getSkewedKubernetesVersion(-1): kubeadm's MAJOR.(MINOR-1).0
    minimum = KVersion("v%d.%d.0" % (kubeadm.major, kubeadm.minor - 1))
    if not new.at_least(minimum):
        # policy.go (the second %q is the cluster version in the source, not the minimum)
        mandatory.append('Specified version to upgrade to "%s" is equal to or lower than the minimum supported '
                         'version "%s". Please specify a higher version to upgrade to' % (new_str, cluster_str))
    if new.minor > cluster.minor + 1:  # MaximumAllowedMinorVersionUpgradeSkew = 1
        err = ('Specified version to upgrade to "%s" is too high; kubeadm can upgrade only 1 minor version at a time'
               % new_str)  # policy.go
        (skippable if new.pre else mandatory).append(err)
    if new.minor < cluster.minor - 1:  # MaximumAllowedMinorVersionDowngradeSkew = 1
        err = ('Specified version to downgrade to "%s" is too low; kubeadm can downgrade only 1 minor version at a '
               'time' % new_str)  # policy.go
        (skippable if new.pre else mandatory).append(err)
    if kubeadm < new:
        if new.minor > kubeadm.minor:
            err = ('Specified version to upgrade to "%s" is at least one minor release higher than the kubeadm minor '
                   'release (%d > %d). Such an upgrade is not supported' % (new_str, new.minor, kubeadm.minor))
            (skippable if new.pre else mandatory).append(err)  # policy.go
        else:
            # policy.go: a newer patch than kubeadm is possible with --force
            skippable.append('Specified version to upgrade to "%s" is higher than the kubeadm version "%s". Upgrade '
                             'kubeadm first using the tool you used to install kubeadm' % (new_str, version.VERSION))
    if kubeadm.major > new.major or kubeadm.minor > new.minor:
        # policy.go: an older minor (a downgrade of one minor) is only possible with --force
        skippable.append("Kubeadm version %s can only be used to upgrade to Kubernetes version %d.%d"
                         % (version.VERSION, kubeadm.major, kubeadm.minor))
    if new.pre and not allow_experimental and not (new.pre.startswith("rc") and allow_rc):
        # policy.go detectUnstableVersionError
        skippable.append('Specified version to upgrade to "%s" is an unstable version and such upgrades weren\'t '
                         'allowed via setting the --allow-*-upgrades flags' % new_str)
    if kubelet_versions is not None:
        # policy.go detectTooOldKubelets: the only kubelet skew check of the upgrade policy (kubelets at most
        # MaximumAllowedMinorVersionKubeletSkew minors older than the target; there is no "kubelet too new" check)
        old = [v for v in kubelet_versions if SEMVER_RE.match(v) and new.minor > KVersion(v).minor + KUBELET_SKEW]
        if old:
            skippable.append("There are kubelets in this cluster that are too old that have these versions [%s]"
                             % " ".join(old))
    return mandatory, skippable


# MaximumAllowedMinorVersionKubeletSkew: 3 since the kubelet may be three minors older than the API server (1.28,
# KEP-3935; constants.MinimumKubeletVersion = getSkewedKubernetesVersion(-3) in the same release).  The policy.go
# revisions that could be read still had 1; the value of v1.35 is not confirmed.
KUBELET_SKEW = 3


# -- cluster access ---------------------------------------------------------------------------------------------

def client_for(path: str, retry_for: float = 0.0) -> kclient.Client:
    if not paths.exists(path):
        raise Fail("couldn't create a Kubernetes client from file %s: failed to load admin kubeconfig: open %s: no "
                   "such file or directory" % (go_q(path), path))
    try:
        cl, us = kubeconfig.load(path)
    except kubeconfig.KubeconfigError as e:
        raise Fail("couldn't create a Kubernetes client from file %s: failed to load admin kubeconfig: %s"
                   % (go_q(path), e))
    return kclient.Client.from_kubeconfig(cl, us, retry_for=retry_for)


def api_get(client: kclient.Client, path: str, what: str, phase: str | None = None) -> dict:
    try:
        code, doc = client.get(path)
    except kclient.APIError as e:
        raise Fail("%s: %s" % (what, e), phase=phase)
    if code != 200:
        raise Fail("%s: %s" % (what, kclient.status_message(doc, code)), phase=phase)
    return doc


def fetch_cluster_config(client: kclient.Client, prefix: str) -> dict:
    """FetchInitConfigurationFromCluster: the ClusterConfiguration of the kubeadm-config ConfigMap."""
    out('%s Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...' % prefix)
    out("%s Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to re-upload it." % prefix)
    cm = api_get(client, "/api/v1/namespaces/kube-system/configmaps/kubeadm-config",
                 "unable to fetch the kubeadm-config ConfigMap")
    try:
        cluster = yamlk.safe_load(cm["data"]["ClusterConfiguration"]) or {}
    except (KeyError, TypeError, yamlk.YamlError) as e:
        raise Fail("unable to decode the cluster configuration: %s" % e)
    return cluster


def list_items(client: kclient.Client, path: str, what: str) -> list:
    return api_get(client, path, what).get("items") or []


def node_name() -> str:
    """The name of this node: the CN of kubelet.conf's client certificate (system:node:<name>), else the
    hostname (kubeadm's getNodeName)."""
    try:
        _, us = kubeconfig.load(paths.KUBELET_CONF)
        cn = certs.cert_info(us["cert"])["cn"] if us.get("cert") else ""
        if cn.startswith("system:node:"):
            return cn[len("system:node:"):]
    except Exception:  # no or unreadable kubelet.conf, or openssl could not read its certificate
        pass
    return kconfig.default_node_name()


def is_control_plane() -> bool:
    """node/data.go: a control plane node has the kube-apiserver static Pod manifest."""
    return paths.exists("%s/kube-apiserver.yaml" % paths.MANIFESTS_DIR)


def cri_socket() -> str:
    try:
        inst = yamlk.safe_load(paths.read_text(paths.KUBELET_INSTANCE_CONFIG)) or {}
        if inst.get("containerRuntimeEndpoint"):
            return inst["containerRuntimeEndpoint"]
    except (OSError, yamlk.YamlError):
        pass
    try:
        flags_line = paths.read_text(paths.KUBEADM_FLAGS_ENV)
        m = re.search(r"--container-runtime-endpoint=(\S+)", flags_line)
        if m:
            return m.group(1).strip('"')
    except OSError:
        pass
    return paths.DEFAULT_CRI_SOCKET


def local_api_endpoint() -> dict:
    """The local API endpoint of this control plane, from its kube-apiserver manifest (the advertise-address
    endpoint annotation, else the flags)."""
    ep = {}
    try:
        pod = yamlk.safe_load(paths.read_text("%s/kube-apiserver.yaml" % paths.MANIFESTS_DIR)) or {}
        ann = ((pod.get("metadata") or {}).get("annotations") or {}).get(
            "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint") or ""
        host, sep, port = ann.rpartition(":")
        if sep and port.isdigit():
            ep = {"advertiseAddress": host.strip("[]"), "bindPort": int(port)}
    except (OSError, yamlk.YamlError):
        pass
    if not ep:
        fl = manifest_flags("kube-apiserver")
        ep = {"advertiseAddress": fl.get("advertise-address") or kconfig.detect_ipv4(),
              "bindPort": int(fl.get("secure-port") or 6443)}
    return ep


def local_configs(cluster_in: dict, target: str, node: str, policy: str | None, serial: bool | None) -> tuple:
    """(InitConfiguration, ClusterConfiguration) of this node for the target version."""
    cl = dict(cluster_in)
    cl["kubernetesVersion"] = target
    nr = {"name": node, "criSocket": cri_socket()}
    if policy:
        nr["imagePullPolicy"] = policy
    if serial is not None:
        nr["imagePullSerial"] = serial
    init_in = {"nodeRegistration": nr, "bootstrapTokens": []}
    if is_control_plane():
        init_in["localAPIEndpoint"] = local_api_endpoint()
    return kconfig.default_init(init_in, cl, version.VERSION)


def load_upgrade_config(vals: dict) -> dict:
    if not vals.get("config"):
        return {}
    ld = kconfig.load_text(read_config(vals["config"]), strict=False)
    return ld.upgrade or {}


def setting(vals: dict, given: set, flag: str, section: dict, field: str, default):
    """A flag given on the command line wins over the UpgradeConfiguration field, which wins over the default."""
    if flag in given:
        return vals[flag]
    if field in section and section[field] is not None:
        return section[field]
    return default


# -- health checks (phases/upgrade/health.go CheckClusterHealth) ------------------------------------------------

def check_cluster_health(client: kclient.Client, ign: list) -> None:
    out("[upgrade] Running cluster health checks")

    def nodes():
        return list_items(client, "/api/v1/nodes", "could not list nodes")

    def create_job():
        # health.go createJob: a Job whose Pod must complete within 15 s on a schedulable Node.  The double runs
        # no Pods: with a schedulable Node the Job counts as completed; without one the check is skipped.
        try:
            schedulable = [n for n in nodes() if not (n.get("spec") or {}).get("unschedulable")]
        except Fail as e:
            return [], ["could not check if there is at least one Node that can schedule a test Pod: %s" % e]
        if not schedulable:
            glog.warning("health.go:127", 'The preflight check "CreateJob" was skipped because there are no '
                                          'schedulable Nodes in the cluster.')
        return [], []

    def control_plane_nodes_ready():
        try:
            items = [n for n in nodes() if CP_LABEL in ((n.get("metadata") or {}).get("labels") or {})]
        except Fail as e:
            return [], ['could not list nodes labeled with "%s": %s' % (CP_LABEL, e)]
        not_ready = [n["metadata"]["name"] for n in items
                     for c in (n.get("status") or {}).get("conditions") or []
                     if c.get("type") == "Ready" and c.get("status") != "True"]
        if not_ready:
            # health.go controlPlaneNodesReady
            return [], ["there are NotReady control-planes in the cluster: [%s]" % " ".join(not_ready)]
        return [], []

    def static_pod_manifest():
        missing = ["%s/%s.yaml" % (paths.MANIFESTS_DIR, c) for c in COMPONENTS
                   if not paths.exists("%s/%s.yaml" % (paths.MANIFESTS_DIR, c))]
        if missing:
            # health.go staticPodManifestHealth
            return [], ["The control plane seems to be Static Pod-hosted, but some of the manifests don't seem to "
                        "exist on disk. This probably means you're running 'kubeadm upgrade' on a remote machine, "
                        "which is not supported for a Static Pod-hosted cluster. Manifest files not found: [%s]"
                        % " ".join(missing)]
        return [], []

    try:
        preflight.run([preflight.Check("CreateJob", create_job),
                       preflight.Check("ControlPlaneNodesReady", control_plane_nodes_ready),
                       preflight.Check("StaticPodManifest", static_pod_manifest)], ign)
    except preflight.PreflightError as e:
        raise Fail(str(e), phase="preflight")


def kubelet_versions(client: kclient.Client) -> dict | None:
    """versiongetter.go KubeletVersions: kubelet version -> number of Nodes; None when the Nodes cannot be listed."""
    try:
        items = list_items(client, "/api/v1/nodes", "could not list nodes")
    except Fail:
        return None
    vs = {}
    for n in items:
        v = ((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or ""
        vs[v] = vs.get(v, 0) + 1
    return vs


def server_version(client: kclient.Client) -> str:
    """versiongetter.go ClusterVersion: the API server's /version gitVersion."""
    doc = api_get(client, "/version", "Unable to fetch cluster version: failed to get server version")
    return doc.get("gitVersion", "")


def confirm() -> None:
    """cmd/util InteractivelyConfirmAction("upgrade", "Are you sure you want to proceed?", os.Stdin)."""
    sys.stdout.write("[upgrade] Are you sure you want to proceed? [y/N]: ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise Fail("won't proceed; the user didn't answer (Y|y) in order to continue", phase="preflight")


def pull_images(init: dict, cluster: dict, ign: list, prefix: str) -> None:
    out("%s Pulling images required for setting up a Kubernetes cluster" % prefix)
    out("%s This might take a minute or two, depending on the speed of your internet connection" % prefix)
    out("%s You can also perform this action beforehand using 'kubeadm config images pull'" % prefix)
    try:
        preflight.run_pull_images(init, cluster, ign)
    except preflight.PreflightError as e:
        raise Fail(str(e), phase="preflight")


def print_config(cluster: dict) -> None:
    """common.go printConfiguration."""
    out("[upgrade/config] Configuration used:")
    for line in yamlk.dump(cluster).splitlines():
        out("\t" + line)


# -- static Pod upgrade (phases/upgrade/staticpods.go) ----------------------------------------------------------

def temp_dir(prefix: str) -> str:
    """constants.CreateTempDir: os.MkdirTemp under /etc/kubernetes/tmp (random digits after the prefix)."""
    paths.makedirs(TMP_DIR, 0o700)
    while True:
        d = "%s/%s%d" % (TMP_DIR, prefix, secrets.randbelow(4294967295))
        try:
            os.mkdir(paths.host(d), 0o700)
            return d
        except FileExistsError:
            continue


def timestamp_dir(prefix: str) -> str:
    """constants.CreateTimestampDir: /etc/kubernetes/tmp/<prefix>-2006-01-02-15-04-05."""
    paths.makedirs(TMP_DIR, 0o700)
    d = "%s/%s-%s" % (TMP_DIR, prefix, time.strftime("%Y-%m-%d-%H-%M-%S"))
    os.makedirs(paths.host(d), 0o700, exist_ok=True)
    return d


def load_manifest(path: str) -> dict | None:
    try:
        return yamlk.safe_load(paths.read_text(path)) or {}
    except (OSError, yamlk.YamlError):
        return None


def mirror_hash(client: kclient.Client, comp: str, node: str) -> str | None:
    try:
        code, pod = client.get("/api/v1/namespaces/kube-system/pods/%s-%s" % (comp, node))
    except kclient.APIError:
        return None
    if code != 200:
        return None
    return ((pod.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/config.hash")


class StaticPodUpgrade:
    """PerformStaticPodUpgrade for this control plane: new manifests for ``c`` (an InitContext of the target)."""

    def __init__(self, client: kclient.Client, c: InitContext, node: str, etcd_upgrade: bool, renew: bool,
                 patches_dir: str | None, timeout_s: float):
        self.client, self.c, self.node = client, c, node
        self.etcd_upgrade, self.renew, self.patches_dir, self.timeout_s = etcd_upgrade, renew, patches_dir, timeout_s
        self.local_etcd = (c.cluster.get("etcd") or {}).get("local") is not None
        self.wait_text = kconfig.format_duration(timeout_s)

    def run(self) -> None:
        self.tmp = temp_dir("kubeadm-upgraded-manifests")
        self.backup = timestamp_dir("kubeadm-backup-manifests")
        try:
            self.before = {comp: mirror_hash(self.client, comp, self.node) for comp in ("etcd",) + COMPONENTS}
            out('[upgrade/staticpods] Writing new Static Pod manifests to "%s"' % self.tmp)
            write_control_plane_manifests(self.c, self.patches_dir, dest=self.tmp, quiet=True)
            apiserver_changes = not self.equal("kube-apiserver")
            if self.etcd_upgrade and self.local_etcd:
                self.upgrade_etcd(restart_if_equal=apiserver_changes and self.renew)
            for comp in COMPONENTS:
                self.upgrade_component(comp)
            if self.renew:
                # PerformStaticPodUpgrade: the certificates embedded in admin.conf and super-admin.conf too
                for conf in (paths.ADMIN_CONF, paths.SUPER_ADMIN_CONF):
                    if paths.exists(conf):
                        renew_kubeconfig(self.c, conf)
        finally:
            shutil.rmtree(paths.host(self.tmp), ignore_errors=True)

    def paths_of(self, comp: str) -> tuple:
        return ("%s/%s.yaml" % (paths.MANIFESTS_DIR, comp), "%s/%s.yaml" % (self.tmp, comp),
                "%s/%s.yaml" % (self.backup, comp))

    def equal(self, comp: str) -> bool:
        """staticpod.ManifestFilesAreEqual: the two Pods are the same object."""
        cur, new, _ = self.paths_of(comp)
        return load_manifest(cur) == load_manifest(new)

    def upgrade_etcd(self, restart_if_equal: bool) -> None:
        """performEtcdStaticPodUpgrade: back up the data dir, refuse to downgrade etcd (non-fatal), write the new
        manifest, upgrade the component, then wait for etcd."""
        data_dir = self.c.cluster["etcd"]["local"].get("dataDir") or paths.ETCD_DIR
        backup_etcd = timestamp_dir("kubeadm-backup-etcd")
        try:
            shutil.copytree(paths.host(data_dir), paths.host(backup_etcd + "/etcd"), dirs_exist_ok=True)
        except OSError as e:
            raise Fail("couldn't complete the static pod upgrade: failed to back up etcd data: %s" % e,
                       phase="control-plane")
        desired = images.component_images(self.c.cluster, version.VERSION)["etcd"].rsplit(":", 1)[1]
        current = cpapi.image_tag_of(cpapi.container_image(load_manifest(self.paths_of("etcd")[0]) or {}))
        if etcd_version_key(desired) < etcd_version_key(current):
            # staticpods.go: a non-fatal error, the upgrade goes on without etcd
            out('[upgrade/etcd] Non fatal issue encountered during upgrade: the desired etcd version "%s" is older '
                'than the currently installed "%s". Skipping etcd upgrade' % (desired, current))
            return
        write_etcd_manifest(self.c, self.patches_dir, dest=self.tmp)
        self.upgrade_component("etcd", restart_if_equal=restart_if_equal)
        out("[upgrade/etcd] Waiting for etcd to become available")
        self.wait_etcd()

    def upgrade_component(self, comp: str, restart_if_equal: bool = False) -> None:
        out('[upgrade/staticpods] Preparing for "%s" upgrade' % comp)
        cur, new, bak = self.paths_of(comp)
        equal = self.equal(comp)
        if equal and not restart_if_equal:
            out("[upgrade/staticpods] Current and new manifests of %s are equal, skipping upgrade" % comp)
            return
        if self.renew:
            renew_component(self.c, comp, self.local_etcd)
        if equal:
            # kubeadm restarts an unchanged etcd when kube-apiserver's manifest changes and certificates are renewed
            # (kubernetes PR #124688).  How it makes the kubelet restart it is not modelled: the manifest is backed
            # up and the running member is left as it is.
            shutil.copy2(paths.host(cur), paths.host(bak))
            out('[upgrade/staticpods] Restarting the %s static pod and backing up its manifest to "%s"' % (comp, bak))
        else:
            os.replace(paths.host(cur), paths.host(bak))
            os.replace(paths.host(new), paths.host(cur))
            out('[upgrade/staticpods] Moving new manifest to "%s" and backing up old manifest to "%s"' % (cur, bak))
        out("[upgrade/staticpods] Waiting for the kubelet to restart the component")
        out("[upgrade/staticpods] This can take up to %s" % self.wait_text)
        try:
            if not equal:
                self.wait_hash_change(comp)
            self.wait_pods_with_label(comp)
        except Fail as e:
            if not equal:
                os.replace(paths.host(bak), paths.host(cur))
            # staticpods.go rollbackOldManifests; node/controlplane.go wraps it in "couldn't complete the static
            # pod upgrade" (wording seen in kubeadm 1.33 output of `upgrade node`)
            raise Fail("couldn't complete the static pod upgrade: couldn't upgrade control plane. kubeadm has tried "
                       "to recover everything into the earlier state. Errors faced: %s" % e, phase="control-plane")
        out('[upgrade/staticpods] Component "%s" upgraded successfully!' % comp)

    def wait_hash_change(self, comp: str) -> None:
        """apiclient WaitForStaticPodHashChange: poll the mirror Pod until kubernetes.io/config.hash changes."""
        before = self.before.get(comp)
        deadline = time.time() + self.timeout_s
        while time.time() < deadline:
            h = mirror_hash(self.client, comp, self.node)
            if h is not None and h != before:
                return
            time.sleep(0.2)
        # wording of kubeadm 1.33's output
        raise Fail("static Pod hash for component %s on Node %s did not change after %s: context deadline exceeded"
                   % (comp, self.node, self.wait_text))

    def wait_pods_with_label(self, comp: str) -> None:
        """apiclient WaitForPodsWithLabel: every Pod labelled component=<comp> is Running."""
        deadline = time.time() + self.timeout_s
        while time.time() < deadline:
            try:
                code, doc = self.client.get("/api/v1/namespaces/kube-system/pods")
            except kclient.APIError:
                code, doc = 0, None
            if code == 200:
                pods = [p for p in doc.get("items") or []
                        if ((p.get("metadata") or {}).get("labels") or {}).get("component") == comp]
                if pods and all((p.get("status") or {}).get("phase") == "Running" for p in pods):
                    out("[apiclient] Found %d Pods for label selector component=%s" % (len(pods), comp))
                    return
            time.sleep(0.2)
        raise Fail("timed out waiting for the condition")

    def wait_etcd(self) -> None:
        """etcd WaitForClusterAvailable: the member's client endpoint answers /health, over TLS with kubeadm's
        etcd client certificate (apiserver-etcd-client) when the member serves TLS."""
        m = cpapi.etcd_member(manifest_flags("etcd"))
        ctx = None
        if m["client_tls"]:
            ctx = ssl.create_default_context(cafile=m["client_tls"]["ca"])
            ctx.load_cert_chain(paths.host(paths.PKI_DIR + "/apiserver-etcd-client.crt"),
                                paths.host(paths.PKI_DIR + "/apiserver-etcd-client.key"))
        url = "%s://%s:%d/health" % ("https" if ctx else "http", m["bind"], m["client_port"])
        deadline = time.time() + self.timeout_s
        last = ""
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                    if r.status == 200:
                        return
            except OSError as e:
                last = str(e)
            time.sleep(0.2)
        raise Fail("couldn't complete the static pod upgrade: fatal error when trying to upgrade the etcd cluster, "
                   "rolled the state back to pre-upgrade state: %s" % (last or "timed out"), phase="control-plane")


def etcd_version_key(tag: str) -> tuple:
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", tag or "")
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


# certificates renewed with each component (staticpods.go renewCertsByComponent), as kubeadm names them
RENEWALS = {
    "etcd": [("etcd-server", "etcd/server", "etcd/ca"), ("etcd-peer", "etcd/peer", "etcd/ca"),
             ("etcd-healthcheck-client", "etcd/healthcheck-client", "etcd/ca")],
    "kube-apiserver": [("apiserver", "apiserver", "ca"), ("apiserver-kubelet-client", "apiserver-kubelet-client", "ca"),
                       ("front-proxy-client", "front-proxy-client", "front-proxy-ca"),
                       ("apiserver-etcd-client", "apiserver-etcd-client", "etcd/ca")],
    "kube-controller-manager": [("controller-manager.conf", paths.CONTROLLER_MANAGER_CONF, None)],
    "kube-scheduler": [("scheduler.conf", paths.SCHEDULER_CONF, None)],
}


def renew_component(c: InitContext, comp: str, local_etcd: bool) -> None:
    for name, target, ca in RENEWALS.get(comp, []):
        if name == "apiserver-etcd-client" and not local_etcd:
            continue
        if ca is None:
            if paths.exists(target):
                out("[upgrade/staticpods] Renewing %s certificate" % name)
                renew_kubeconfig(c, target)
            continue
        if not (paths.exists(c.p(target + ".crt")) and paths.exists(c.p(ca + ".key"))):
            continue  # an external CA: kubeadm cannot renew it
        out("[upgrade/staticpods] Renewing %s certificate" % name)
        try:
            certs.renew_leaf(c.p(target + ".crt"), c.p(target + ".key"), c.p(ca + ".crt"), c.p(ca + ".key"),
                             c.algo, c.leaf_h)
        except Exception as e:  # openssl
            raise Fail("couldn't complete the static pod upgrade: failed to renew certificates for component %s: %s"
                       % (go_q(comp), e), phase="control-plane")


def renew_kubeconfig(c: InitContext, path: str) -> None:
    """The client certificate embedded in a kubeconfig file, renewed with the same subject by the cluster CA."""
    try:
        raw = yamlk.safe_load(paths.read_text(path)) or {}
        _, us = kubeconfig.load(path)
        if not us.get("cert"):
            return
        info = certs.cert_info(us["cert"])
        crt, key = certs.client_cert_pem(c.p("ca.crt"), c.p("ca.key"), info["cn"], info["orgs"], c.algo, c.leaf_h)
    except (OSError, yamlk.YamlError, kubeconfig.KubeconfigError) as e:
        raise Fail("failed to renew the certificate in %s: %s" % (path, e), phase="control-plane")
    for u in raw.get("users") or []:
        if u.get("name") == us.get("name"):
            u["user"]["client-certificate-data"] = kubeconfig.b64(crt)
            u["user"]["client-key-data"] = kubeconfig.b64(key)
    kubeconfig.write(path, raw)


# -- the phases after the control plane -------------------------------------------------------------------------

def upload_config(client: kclient.Client, cluster: dict, skip: set) -> None:
    if "upload-config" in skip:
        return
    if "upload-config/kubeadm" not in skip:
        out('[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" '
            'Namespace')
        stored = dict(cluster)
        stored["apiVersion"], stored["kind"] = kconfig.V1BETA4, "ClusterConfiguration"
        apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "kubeadm-config",
                     {"metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
                      "data": {"ClusterConfiguration": yamlk.dump(stored)}})
    if "upload-config/kubelet" not in skip:
        out('[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the '
            'kubelets in the cluster')
        kubelet = cluster_kubelet_config(client)
        apply_object(client, "/api/v1/namespaces/kube-system/configmaps", "kubelet-config",
                     {"metadata": {"name": "kubelet-config", "namespace": "kube-system"},
                      "data": {"kubelet": yamlk.dump(kubelet)}})


def cluster_kubelet_config(client: kclient.Client) -> dict:
    cm = api_get(client, "/api/v1/namespaces/kube-system/configmaps/kubelet-config", "failed to get config map",
                 phase="kubelet-config")
    try:
        return yamlk.safe_load(cm["data"]["kubelet"]) or {}
    except (KeyError, TypeError, yamlk.YamlError) as e:
        raise Fail("failed to decode the kubelet configuration: %s" % e, phase="kubelet-config")


def kubelet_config(client: kclient.Client, patches_dir: str | None) -> None:
    """postupgrade.go WriteKubeletConfigFiles: back up /var/lib/kubelet/config.yaml, then write it again from the
    cluster's kubelet-config ConfigMap, this node's instance configuration (its CRI socket) and the patches."""
    if version.MINOR >= 35:
        backup, src = timestamp_dir("kubeadm-kubelet-config"), "postupgrade.go:105"
    else:
        backup, src = temp_dir("kubeadm-kubelet-config"), "postupgrade.go:116"
    glog.warning(src, "Using temporary directory %s for kubelet config. To override it set the environment variable "
                      "KUBEADM_UPGRADE_DRYRUN_DIR" % backup)
    out("[upgrade] Backing up kubelet config file to %s/config.yaml" % backup)
    if paths.exists(paths.KUBELET_CONFIG):
        shutil.copy2(paths.host(paths.KUBELET_CONFIG), paths.host(backup + "/config.yaml"))
    cfg = dict(cluster_kubelet_config(client))
    cfg["containerRuntimeEndpoint"] = cri_socket()
    out('[patches] Applied patch of type "application/strategic-merge-patch+json" to target "kubeletconfiguration"')
    cfg = apply_patches(cfg, patches_dir, "kubeletconfiguration")
    out('[kubelet-start] Writing kubelet configuration to file "%s"' % paths.KUBELET_CONFIG)
    paths.write(paths.KUBELET_CONFIG, yamlk.dump(cfg), 0o644)
    out("[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!")


def bootstrap_token() -> None:
    out("[upgrade/bootstrap-token] Configuring bootstrap token and cluster-info RBAC rules")
    out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to get nodes")
    out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to "
        "get long term certificate credentials")
    out("[bootstrap-token] Configured RBAC rules to allow the csrapprover controller automatically approve CSRs from "
        "a Node Bootstrap Token")
    out("[bootstrap-token] Configured RBAC rules to allow certificate rotation for all node client certificates in "
        "the cluster")


def post_upgrade_kubelet_env() -> None:
    """kubeadm 1.35's post-upgrade phase: kubeadm-flags.env written again (without the flags 1.35 no longer
    passes, --pod-infra-container-image), after a backup."""
    if version.MINOR < 35 or not paths.exists(paths.KUBEADM_FLAGS_ENV):
        return
    backup = temp_dir("kubeadm-kubelet-env")
    glog.warning("postupgrade.go:203", "Using temporary directory %s for kubelet env file. To override it set the "
                                       "environment variable KUBEADM_UPGRADE_DRYRUN_DIR" % backup)
    out("[upgrade] Backing up kubelet env file to %s/kubeadm-flags.env" % backup)
    text = paths.read_text(paths.KUBEADM_FLAGS_ENV)
    shutil.copy2(paths.host(paths.KUBEADM_FLAGS_ENV), paths.host(backup + "/kubeadm-flags.env"))
    text = re.sub(r" ?--pod-infra-container-image=\S+?(?=[ \"])", "", text)
    out('[kubelet-start] Writing kubelet environment file with flags to file "%s"' % paths.KUBEADM_FLAGS_ENV)
    paths.write(paths.KUBEADM_FLAGS_ENV, text, 0o644)


def run_addons(client: kclient.Client, c: InitContext, skip: set) -> None:
    if "addon" in skip:
        return
    cl = dict(c.cluster)
    if "addon/coredns" in skip:
        cl["dns"] = dict(cl.get("dns") or {}, disabled=True)
    if "addon/kube-proxy" in skip:
        cl["proxy"] = dict(cl.get("proxy") or {}, disabled=True)
    addons(client, InitContext(c.init, cl, c.kubelet))


def check_phases(skip: set, known: tuple) -> None:
    bad = sorted(p for p in skip if p not in known and p != "all")
    if bad:
        raise Fail('invalid phase name: %s' % bad[0])  # wording not verified against the workflow runner


# -- the commands -------------------------------------------------------------------------------------------------

def cmd_upgrade(args: list) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    sub, rest = args[0], args[1:]
    if sub == "apply":
        return cmd_apply(rest)
    if sub == "plan":
        return cmd_plan(rest)
    if sub == "node":
        return cmd_node(rest)
    if sub == "diff":
        raise Fail('"kubeadm upgrade diff" is not implemented by the kubeforge kubeadm test double')
    raise Fail('unknown command "%s" for "kubeadm upgrade"' % sub)


def shared_settings(vals: dict, given: set, up: dict, section: dict, phases) -> tuple:
    """What apply and node both take, from a flag or their UpgradeConfiguration section: (etcd upgrade, certificate
    renewal, patches directory, skipped phases (checked), ignored preflight errors (checked), manifest timeout)."""
    etcd_upgrade = setting(vals, given, "etcd-upgrade", section, "etcdUpgrade", True)
    renew = setting(vals, given, "certificate-renewal", section, "certificateRenewal", True)
    patches_dir = vals.get("patches") or (section.get("patches") or {}).get("directory")
    skip = set(vals.get("skip-phases") or []) | set(section.get("skipPhases") or [])
    check_phases(skip, phases)
    ign = check_ignore(list(section.get("ignorePreflightErrors") or []) + list(vals.get("ignore-preflight-errors") or []))
    return etcd_upgrade, renew, patches_dir, skip, ign, kconfig.timeout(up, "upgradeManifests", "5m0s")


def cmd_apply(args: list) -> int:
    vals, pos, given = parse(args, APPLY_FLAGS, {"y": "yes", "f": "force"})
    if pos and pos[0] == "phase":
        raise Fail('"kubeadm upgrade apply phase" is not implemented by the kubeforge kubeadm test double')
    up = load_upgrade_config(vals)
    a = up.get("apply") or {}
    if len(pos) > 1:
        raise Fail('unknown command "%s" for "kubeadm upgrade apply"' % pos[1])
    target_in = pos[0] if pos else a.get("kubernetesVersion") or ""
    if not target_in:
        # cmd/util ValidateExactArgNumber
        raise Fail("missing one or more required arguments. Required arguments: [version]")
    if setting(vals, given, "dry-run", a, "dryRun", False):
        raise Fail("--dry-run is not implemented by the kubeforge kubeadm test double")
    force = setting(vals, given, "force", a, "forceUpgrade", False)
    yes = vals.get("yes", False)
    allow_exp = setting(vals, given, "allow-experimental-upgrades", a, "allowExperimentalUpgrades", False)
    allow_rc = setting(vals, given, "allow-release-candidate-upgrades", a, "allowRCUpgrades", False)
    etcd_upgrade, renew, patches_dir, skip, ign, timeout_s = shared_settings(vals, given, up, a, APPLY_PHASES)
    client = client_for(vals.get("kubeconfig") or paths.ADMIN_CONF)
    cluster_in = fetch_cluster_config(client, "[upgrade]")
    target = normalize_version(target_in)
    node = node_name()
    init, cluster = local_configs(cluster_in, target, node, a.get("imagePullPolicy"), a.get("imagePullSerial"))
    if setting(vals, given, "print-config", a, "printConfig", False):
        print_config(cluster)
    if "preflight" not in skip:
        out("[upgrade/preflight] Running preflight checks")
        try:
            preflight.root_check(ign)
        except preflight.PreflightError as e:
            raise Fail(str(e), phase="preflight")
        check_cluster_health(client, ign)
        out('[upgrade/preflight] You have chosen to upgrade the cluster version to "%s"' % target)
        cluster_version = server_version(client)
        if not SEMVER_RE.match(cluster_version):
            raise Fail("the version argument is invalid due to these fatal errors:\n\n%s\nPlease fix the misalignments "
                       "highlighted above and try upgrading again" % format_errs(
                           ["Unable to fetch cluster version: couldn't parse cluster version %s" % cluster_version]),
                       phase="preflight")
        mandatory, skippable = enforce_version_policies(target, cluster_version, kubelet_versions(client),
                                                        allow_exp, allow_rc)
        # cmd/phases/upgrade/apply/preflight.go enforceVersionPolicies
        if mandatory:
            raise Fail("the version argument is invalid due to these fatal errors:\n\n%s\nPlease fix the "
                       "misalignments highlighted above and try upgrading again" % format_errs(mandatory),
                       phase="preflight")
        if skippable:
            if not force:
                raise Fail("the version argument is invalid due to these errors:\n\n%s\nCan be bypassed if you pass "
                           "the --force flag" % format_errs(skippable), phase="preflight")
            sys.stdout.write("[upgrade/version] Found %d potential version compatibility errors but skipping since "
                             "the --force flag is set: \n\n%s" % (len(skippable), format_errs(skippable)))
            sys.stdout.flush()
        # applyFlags.sessionIsInteractive: not with -y, -f or --dry-run
        if not (yes or force):
            confirm()
        pull_images(init, cluster, ign, "[upgrade/preflight]")
    kcfg = kconfig.default_kubelet({}, cluster)
    c = InitContext(init, cluster, kcfg)
    if "control-plane" not in skip:
        out('[upgrade/control-plane] Upgrading your static Pod-hosted control plane to version "%s" (timeout: %s)...'
            % (target, kconfig.format_duration(timeout_s)))
        StaticPodUpgrade(client, c, node, etcd_upgrade, renew, patches_dir, timeout_s).run()
        out("[upgrade/control-plane] The control plane instance for this node was successfully upgraded!")
    client = client_for(vals.get("kubeconfig") or paths.ADMIN_CONF, retry_for=30)
    upload_config(client, cluster, skip)
    if "kubeconfig" not in skip:
        out("[upgrade/kubeconfig] The kubeconfig files for this node were successfully upgraded!")
    if "kubelet-config" not in skip:
        kubelet_config(client, patches_dir)
    if "bootstrap-token" not in skip:
        bootstrap_token()
    run_addons(client, c, skip)
    if "post-upgrade" not in skip:
        post_upgrade_kubelet_env()
    out("")
    # cmd/upgrade/apply.go
    out('[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "%s".' % target)
    out("")
    out("[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order.")
    return 0


def cmd_node(args: list) -> int:
    vals, pos, given = parse(args, NODE_FLAGS)
    if pos and pos[0] == "phase":
        raise Fail('"kubeadm upgrade node phase" is not implemented by the kubeforge kubeadm test double')
    if pos:
        raise Fail('unknown command "%s" for "kubeadm upgrade node"' % pos[0])
    up = load_upgrade_config(vals)
    n = up.get("node") or {}
    if setting(vals, given, "dry-run", n, "dryRun", False):
        raise Fail("--dry-run is not implemented by the kubeforge kubeadm test double")
    etcd_upgrade, renew, patches_dir, skip, ign, timeout_s = shared_settings(vals, given, up, n, NODE_PHASES)
    cp = is_control_plane()
    # node.go: admin.conf on a control plane, kubelet.conf on a worker (or when admin.conf is not there)
    kc = vals.get("kubeconfig") or (paths.ADMIN_CONF if cp and paths.exists(paths.ADMIN_CONF) else paths.KUBELET_CONF)
    client = client_for(kc)
    cluster_in = fetch_cluster_config(client, "[upgrade]")
    target = cluster_in.get("kubernetesVersion") or version.VERSION
    target = target if target.startswith("v") else "v" + target
    node = node_name()
    init, cluster = local_configs(cluster_in, target, node, n.get("imagePullPolicy"), n.get("imagePullSerial"))
    if "preflight" not in skip:
        out("[upgrade/preflight] Running pre-flight checks")
        try:
            preflight.root_check(ign)
        except preflight.PreflightError as e:
            raise Fail(str(e), phase="preflight")
        if cp:
            pull_images(init, cluster, ign, "[upgrade/preflight]")
        else:
            out("[upgrade/preflight] Skipping prepull. Not a control plane node.")
    kcfg = kconfig.default_kubelet({}, cluster)
    c = InitContext(init, cluster, kcfg) if cp else None
    if "control-plane" not in skip:
        if not cp:
            out("[upgrade/control-plane] Skipping phase. Not a control plane node.")
        else:
            try:
                kv, tv = KVersion(version.VERSION), KVersion(target)
            except ValueError:
                kv = tv = None
            if kv is not None and kv < tv and tv.minor > kv.minor:
                # The text of kubeadm's policy.go for a target above the kubeadm minor; where `upgrade node`
                # refuses it in v1.35 (and with which words) could not be read in the sources.
                raise Fail('Specified version to upgrade to "%s" is at least one minor release higher than the '
                           'kubeadm minor release (%d > %d). Such an upgrade is not supported'
                           % (target, tv.minor, kv.minor), phase="control-plane")
            out('[upgrade/control-plane] Upgrading your Static Pod-hosted control plane instance to version "%s"...'
                % target)
            StaticPodUpgrade(client_for(kc), c, node, etcd_upgrade, renew, patches_dir, timeout_s).run()
            out("[upgrade/control-plane] The control plane instance for this node was successfully upgraded!")
    if "kubeconfig" not in skip:
        if cp:
            out("[upgrade/kubeconfig] The kubeconfig files for this node were successfully upgraded!")
        else:
            out("[upgrade/kubeconfig] Skipping phase. Not a control plane node.")
    client = client_for(kc, retry_for=30)
    if "kubelet-config" not in skip:
        kubelet_config(client, patches_dir)
    if "addon" not in skip:
        if cp:
            run_addons(client, c, skip)
        else:
            for a in ("coredns", "kube-proxy"):
                if "addon/" + a not in skip:
                    out("[upgrade/addon] Skipping the addon/%s phase. Not a control plane node." % a)
    if "post-upgrade" not in skip:
        post_upgrade_kubelet_env()
    return 0


# -- plan ------------------------------------------------------------------------------------------------------------

def tabwrite(rows: list) -> str:
    """text/tabwriter.NewWriter(w, 10, 4, 3, ' ', 0) for cells separated by tabs, the last cell of a row unpadded."""
    widths = {}
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell) + 3, 10)
    return "".join("".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + r[-1] + "\n" for r in rows)


def cmd_plan(args: list) -> int:
    vals, pos, given = parse(args, PLAN_FLAGS, {"o": "output"})
    fmt = vals.get("output", "text")
    if fmt != "text":
        raise Fail("-o %s is not implemented by the kubeforge kubeadm test double" % fmt)
    if len(pos) > 1:
        raise Fail('unknown command "%s" for "kubeadm upgrade plan"' % pos[1])
    up = load_upgrade_config(vals)
    p = up.get("plan") or {}
    ign = check_ignore(list(p.get("ignorePreflightErrors") or []) + list(vals.get("ignore-preflight-errors") or []))
    etcd_upgrade = vals.get("etcd-upgrade", True)
    out("[preflight] Running pre-flight checks.")
    try:
        preflight.root_check(ign)
    except preflight.PreflightError as e:
        raise Fail(str(e))
    client = client_for(vals.get("kubeconfig") or paths.ADMIN_CONF)
    cluster = fetch_cluster_config(client, "[upgrade/config]")
    if setting(vals, given, "print-config", p, "printConfig", False):
        print_config(cluster)
    check_cluster_health(client, ign)
    out("[upgrade] Fetching available versions to upgrade to")
    cluster_version = KVersion(server_version(client))
    out("[upgrade/versions] Cluster version: %s" % cluster_version)
    out("[upgrade/versions] kubeadm version: %s" % version.VERSION)
    given_version = pos[0] if pos else p.get("kubernetesVersion")
    if given_version:
        # versiongetter.go OfflineVersionGetter: the given version answers every release label
        stable_str = normalize_version(given_version)
        patch_str = stable_str
        out("[upgrade/versions] Target version: %s" % stable_str)
    else:
        stable_str = offline_fallback("stable")
        out("[upgrade/versions] Target version: %s" % stable_str)
    stable = KVersion(stable_str)
    upgrades = []
    can_minor = cluster_version < stable
    if stable.at_least(cluster_version):
        branch = "%d.%d" % (cluster_version.major, cluster_version.minor)
        if not given_version:
            patch_str = offline_fallback("stable-" + branch)
        out("[upgrade/versions] Latest version in the v%s series: %s" % (branch, patch_str))
        patch = KVersion(patch_str)
        can_minor = patch < stable
        if cluster_version < patch:
            upgrades.append(("version in the v%s series" % branch, patch_str))
    if can_minor:
        upgrades.append(("stable version", stable_str))
    out("")
    nodes = list_items(client, "/api/v1/nodes", "could not list nodes")
    pods = list_items(client, "/api/v1/namespaces/kube-system/pods", "could not list pods")
    if not upgrades:
        out("Awesome, you're up-to-date! Enjoy!")  # plan.go
    for desc, target in upgrades:
        print_upgrade(desc, target, cluster_version, cluster, nodes, pods, etcd_upgrade)
    print_component_configs(client)
    return 0


def print_upgrade(desc: str, target: str, cluster_version: KVersion, cluster: dict, nodes: list, pods: list,
                  etcd_upgrade: bool) -> None:
    """plan.go printAvailableUpgrades for one upgrade."""
    target_cluster = dict(cluster, kubernetesVersion=target)
    want = images.component_images(target_cluster, version.VERSION)
    kubelets = sorted((n["metadata"]["name"], ((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", ""))
                      for n in nodes)
    if kubelets and any(v != target for _, v in kubelets):
        out("Components that must be upgraded manually after you have upgraded the control plane with 'kubeadm "
            "upgrade apply':")
        sys.stdout.write(tabwrite([["COMPONENT", "NODE", "CURRENT", "TARGET"]] +
                                  [["kubelet", name, v, target] for name, v in kubelets]))
        out("")
    out("Upgrade to the latest %s:" % desc)
    out("")
    rows = [["COMPONENT", "NODE", "CURRENT", "TARGET"]]

    def static(comp):
        found = []
        for p in pods:
            md = p.get("metadata") or {}
            if (md.get("labels") or {}).get("component") == comp:
                found.append(((p.get("spec") or {}).get("nodeName", ""),
                              cpapi.image_tag_of(cpapi.container_image(p))))
        return sorted(found)

    for comp in COMPONENTS:
        for node, tag in static(comp):
            rows.append([comp, node, tag, target])
    if not (cluster.get("proxy") or {}).get("disabled"):
        rows.append(["kube-proxy", "", str(cluster_version), target])
    if not (cluster.get("dns") or {}).get("disabled"):
        # the CoreDNS Deployment's image tag (dns.DeployedDNSAddon): the double's init creates no Deployment
        rows.append(["CoreDNS", "", "", want["coredns"].rsplit(":", 1)[1]])
    if etcd_upgrade and "etcd" in want:
        for node, tag in static("etcd"):
            rows.append(["etcd", node, tag, want["etcd"].rsplit(":", 1)[1]])
    sys.stdout.write(tabwrite(rows))
    out("")
    out("You can now apply the upgrade by executing the following command:")
    out("")
    out("\tkubeadm upgrade apply %s" % target)
    out("")
    if KVersion(version.VERSION) < KVersion(target):
        out("Note: Before you can perform this upgrade, you have to update kubeadm to %s." % target)
        out("")
    out("_" * 69)
    out("")


def print_component_configs(client: kclient.Client) -> None:
    """plan.go: the component config versions (kube-proxy's and the kubelet's)."""
    def current(cm, key):
        try:
            code, doc = client.get("/api/v1/namespaces/kube-system/configmaps/" + cm)
            if code != 200:
                return "-"
            obj = yamlk.safe_load(doc["data"][key]) or {}
            return (obj.get("apiVersion") or "").rpartition("/")[2] or "-"
        except (kclient.APIError, KeyError, TypeError, yamlk.YamlError):
            return "-"
    out("")
    out("The table below shows the current state of component configs as understood by this version of kubeadm.")
    out("Configs that have a \"yes\" mark in the \"MANUAL UPGRADE REQUIRED\" column require manual config upgrade or")
    out("resetting to kubeadm defaults before a successful upgrade can be performed. The version to manually")
    out("upgrade to is denoted in the \"PREFERRED VERSION\" column.")
    out("")
    sys.stdout.write(tabwrite([["API GROUP", "CURRENT VERSION", "PREFERRED VERSION", "MANUAL UPGRADE REQUIRED"],
                               ["kubeproxy.config.k8s.io", current("kube-proxy", "config.conf"), "v1alpha1", "no"],
                               ["kubelet.config.k8s.io", current("kubelet-config", "kubelet"), "v1beta1", "no"]]))
    out("_" * 69)
    out("")
