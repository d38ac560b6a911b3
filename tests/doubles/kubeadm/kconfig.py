"""kubeadm configuration files: split, strict decoding, defaulting, validation.

Kinds: InitConfiguration, ClusterConfiguration, JoinConfiguration,
ResetConfiguration, UpgradeConfiguration (kubeadm.k8s.io/v1beta4; v1beta3 is
deprecated in 1.35 but still read: it warns, uses maps for extraArgs and has no
Reset/UpgradeConfiguration), KubeletConfiguration (kubelet.config.k8s.io/v1beta1)
and KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1).

Decoding is typed like sigs.k8s.io/yaml + encoding/json: an unquoted scalar
is resolved for the target field's type; a wrong type is a decode error
(``json: cannot unmarshal ...``); unknown fields are strict-decoding errors
(``strict decoding error: unknown field "a.b"``), which ``kubeadm config
validate`` reports as an error and ``kubeadm init/join`` only as a warning.
"""
import ipaddress
import json
import re
import secrets
import socket

from common import netaddr

from . import glog, paths, yamlk

KUBEADM_GROUP = "kubeadm.k8s.io"
V1BETA4 = "kubeadm.k8s.io/v1beta4"
V1BETA3 = "kubeadm.k8s.io/v1beta3"
KUBELET_GV = "kubelet.config.k8s.io/v1beta1"
KUBEPROXY_GV = "kubeproxy.config.k8s.io/v1alpha1"
OLD_KUBEADM = {"kubeadm.k8s.io/v1alpha1": "v1.11", "kubeadm.k8s.io/v1alpha2": "v1.12",
               "kubeadm.k8s.io/v1alpha3": "v1.14", "kubeadm.k8s.io/v1beta1": "v1.15",
               "kubeadm.k8s.io/v1beta2": "v1.26"}
TOKEN_RE = re.compile(r"\A([a-z0-9]{6})\.([a-z0-9]{16})\Z")
TOKEN_PATTERN = r"\A([a-z0-9]{6})\.([a-z0-9]{16})\z"
GROUP_RE = re.compile(r"\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\Z")
DEFAULT_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_SUB_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                   "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
ENCRYPTION = ("ECDSA-P256", "ECDSA-P384", "RSA-2048", "RSA-3072", "RSA-4096")


class ConfigError(Exception):
    """A fatal configuration error (printed as ``error: <msg>``)."""


# ---------------------------------------------------------------------------
# Go-ish value helpers

_DUR_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(s):
    """Seconds in a Go duration string; ValueError with Go's wording."""
    orig = s
    if s in ("0", "+0", "-0"):
        return 0.0
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if not s:
        raise ValueError('time: invalid duration %s' % json.dumps(orig))
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DUR_RE.match(s, pos)
        if not m or m.group(1) in ("", "."):
            if re.match(r"[0-9.]+$", s[pos:]):
                raise ValueError('time: missing unit in duration %s' % json.dumps(orig))
            raise ValueError('time: invalid duration %s' % json.dumps(orig))
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(sec):
    """Go's Duration.String() for whole-second values."""
    sec = int(round(sec))
    if sec == 0:
        return "0s"
    neg = sec < 0
    sec = abs(sec)
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    out = ("%dh%dm%ds" % (h, m, s)) if h else (("%dm%ds" % (m, s)) if m else "%ds" % s)
    return ("-" if neg else "") + out


def go_q(v):
    return json.dumps(v)


def field_value(v):
    if isinstance(v, str):
        return go_q(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[]string{%s}" % ", ".join(go_q(str(x)) for x in v)
    return str(v)


def invalid(path, value, detail):
    return "%s: Invalid value: %s: %s" % (path, field_value(value), detail)


def required(path, detail=""):
    return "%s: Required value%s" % (path, (": " + detail) if detail else "")


def unsupported(path, value, supported):
    return "%s: Unsupported value: %s: supported values: %s" % (path, go_q(value),
                                                               ", ".join(go_q(s) for s in supported))


def aggregate(errs):
    if len(errs) == 1:
        return errs[0]
    return "[" + ", ".join(errs) + "]"


# ---------------------------------------------------------------------------
# schemas.  A schema is a dict (struct: json name -> schema), a ("list", s),
# ("map", s) or one of the scalar names below.

STR, INT32, BOOL, DUR, TIME, ANY, FLOAT, INT64 = "string", "int32", "bool", "duration", "time", "any", "float64", "int64"
TOKEN = "token"
GO_TYPES = {STR: "string", INT32: "int32", BOOL: "bool", DUR: "v1.Duration", TIME: "v1.Time", FLOAT: "float64",
            INT64: "int64", TOKEN: "v1.BootstrapTokenString"}


def _args(v):
    return ("list", {"name": STR, "value": STR}) if v == 4 else ("map", STR)


def kubeadm_schemas(v):
    env = ("list", {"name": STR, "value": STR, "valueFrom": ANY})
    volumes = ("list", {"name": STR, "hostPath": STR, "mountPath": STR, "readOnly": BOOL, "pathType": STR})
    taint = {"key": STR, "value": STR, "effect": STR, "timeAdded": TIME}
    node_reg = {"name": STR, "criSocket": STR, "taints": ("list", taint), "kubeletExtraArgs": _args(v),
                "ignorePreflightErrors": ("list", STR), "imagePullPolicy": STR}
    if v == 4:
        node_reg["imagePullSerial"] = BOOL
    endpoint = {"advertiseAddress": STR, "bindPort": INT32}
    patches = {"directory": STR}
    token = {"token": TOKEN, "description": STR, "ttl": DUR, "expires": TIME, "usages": ("list", STR),
             "groups": ("list", STR)}
    timeouts = {k: DUR for k in ("controlPlaneComponentHealthCheck", "kubeletHealthCheck", "kubernetesAPICall",
                                 "etcdAPICall", "tlsBootstrap", "discovery", "upgradeManifests")}
    init = {"apiVersion": STR, "kind": STR, "bootstrapTokens": ("list", token), "nodeRegistration": node_reg,
            "localAPIEndpoint": endpoint, "certificateKey": STR, "skipPhases": ("list", STR), "patches": patches}
    control = {"extraArgs": _args(v), "extraVolumes": volumes}
    if v == 4:
        control["extraEnvs"] = env
    api_server = dict(control, certSANs=("list", STR))
    if v == 3:
        api_server["timeoutForControlPlane"] = DUR
    local_etcd = {"imageRepository": STR, "imageTag": STR, "dataDir": STR, "extraArgs": _args(v),
                  "serverCertSANs": ("list", STR), "peerCertSANs": ("list", STR)}
    if v == 4:
        local_etcd["extraEnvs"] = env
    cluster = {"apiVersion": STR, "kind": STR,
               "etcd": {"local": local_etcd,
                        "external": {"endpoints": ("list", STR), "caFile": STR, "certFile": STR, "keyFile": STR}},
               "networking": {"serviceSubnet": STR, "podSubnet": STR, "dnsDomain": STR},
               "kubernetesVersion": STR, "controlPlaneEndpoint": STR, "apiServer": api_server,
               "controllerManager": dict(control), "scheduler": dict(control),
               "dns": {"imageRepository": STR, "imageTag": STR}, "certificatesDir": STR, "imageRepository": STR,
               "featureGates": ("map", BOOL), "clusterName": STR}
    if v == 4:
        cluster["dns"]["disabled"] = BOOL
        cluster["proxy"] = {"disabled": BOOL}
        cluster.update(encryptionAlgorithm=STR, certificateValidityPeriod=DUR, caCertificateValidityPeriod=DUR)
    discovery = {"bootstrapToken": {"token": STR, "apiServerEndpoint": STR, "caCertHashes": ("list", STR),
                                    "unsafeSkipCAVerification": BOOL},
                 "file": {"kubeConfigPath": STR}, "tlsBootstrapToken": STR}
    if v == 3:
        discovery["timeout"] = DUR
    join = {"apiVersion": STR, "kind": STR, "nodeRegistration": node_reg, "caCertPath": STR, "discovery": discovery,
            "controlPlane": {"localAPIEndpoint": endpoint, "certificateKey": STR}, "skipPhases": ("list", STR),
            "patches": patches}
    out = {"InitConfiguration": init, "ClusterConfiguration": cluster, "JoinConfiguration": join}
    if v == 4:
        init["dryRun"] = BOOL
        init["timeouts"] = timeouts
        join["dryRun"] = BOOL
        join["timeouts"] = timeouts
        out["ResetConfiguration"] = {"apiVersion": STR, "kind": STR, "cleanupTmpDir": BOOL, "certificatesDir": STR,
                                     "criSocket": STR, "dryRun": BOOL, "force": BOOL,
                                     "ignorePreflightErrors": ("list", STR), "skipPhases": ("list", STR),
                                     "unmountFlags": ("list", STR)}
        out["UpgradeConfiguration"] = {
            "apiVersion": STR, "kind": STR,
            "apply": {"kubernetesVersion": STR, "allowExperimentalUpgrades": BOOL, "allowRCUpgrades": BOOL,
                      "certificateRenewal": BOOL, "dryRun": BOOL, "etcdUpgrade": BOOL, "forceUpgrade": BOOL,
                      "ignorePreflightErrors": ("list", STR), "patches": patches, "printConfig": BOOL,
                      "skipPhases": ("list", STR), "imagePullPolicy": STR, "imagePullSerial": BOOL},
            "diff": {"kubernetesVersion": STR, "contextLines": INT32},
            "node": {"certificateRenewal": BOOL, "dryRun": BOOL, "etcdUpgrade": BOOL,
                     "ignorePreflightErrors": ("list", STR), "skipPhases": ("list", STR), "patches": patches,
                     "imagePullPolicy": STR, "imagePullSerial": BOOL},
            "plan": {"kubernetesVersion": STR, "allowExperimentalUpgrades": BOOL, "allowRCUpgrades": BOOL,
                     "dryRun": BOOL, "ignorePreflightErrors": ("list", STR), "printConfig": BOOL},
            "timeouts": timeouts}
    return out


def _kubelet_schema():
    taint = {"key": STR, "value": STR, "effect": STR, "timeAdded": TIME}
    strs = ("list", STR)
    s = {"apiVersion": STR, "kind": STR,
         "enableServer": BOOL, "staticPodPath": STR, "podLogsDir": STR, "syncFrequency": DUR,
         "fileCheckFrequency": DUR, "httpCheckFrequency": DUR, "staticPodURL": STR,
         "staticPodURLHeader": ("map", strs), "address": STR, "port": INT32, "readOnlyPort": INT32,
         "tlsCertFile": STR, "tlsPrivateKeyFile": STR, "tlsCipherSuites": strs, "tlsMinVersion": STR,
         "rotateCertificates": BOOL, "serverTLSBootstrap": BOOL,
         "authentication": {"x509": {"clientCAFile": STR},
                            "webhook": {"enabled": BOOL, "cacheTTL": DUR},
                            "anonymous": {"enabled": BOOL}},
         "authorization": {"mode": STR, "webhook": {"cacheAuthorizedTTL": DUR, "cacheUnauthorizedTTL": DUR}},
         "registryPullQPS": INT32, "registryBurst": INT32, "imagePullCredentialsVerificationPolicy": STR,
         "preloadedImagesVerificationAllowlist": strs,
         "eventRecordQPS": INT32, "eventBurst": INT32, "enableDebuggingHandlers": BOOL,
         "enableContentionProfiling": BOOL, "healthzPort": INT32, "healthzBindAddress": STR,
         "oomScoreAdj": INT32, "clusterDomain": STR, "clusterDNS": strs, "streamingConnectionIdleTimeout": DUR,
         "nodeStatusUpdateFrequency": DUR, "nodeStatusReportFrequency": DUR, "nodeLeaseDurationSeconds": INT32,
         "imageMinimumGCAge": DUR, "imageMaximumGCAge": DUR, "imageGCHighThresholdPercent": INT32,
         "imageGCLowThresholdPercent": INT32, "volumeStatsAggPeriod": DUR, "kubeletCgroups": STR,
         "systemCgroups": STR, "cgroupRoot": STR, "cgroupsPerQOS": BOOL, "cgroupDriver": STR,
         "cpuManagerPolicy": STR, "singleProcessOOMKill": BOOL, "cpuManagerPolicyOptions": ("map", STR),
         "cpuManagerReconcilePeriod": DUR, "memoryManagerPolicy": STR, "topologyManagerPolicy": STR,
         "topologyManagerScope": STR, "topologyManagerPolicyOptions": ("map", STR),
         "qosReserved": ("map", STR), "runtimeRequestTimeout": DUR, "hairpinMode": STR, "maxPods": INT32,
         "podCIDR": STR, "podPidsLimit": INT64, "resolvConf": STR, "runOnce": BOOL, "cpuCFSQuota": BOOL,
         "cpuCFSQuotaPeriod": DUR, "nodeStatusMaxImages": INT32, "maxOpenFiles": INT64, "contentType": STR,
         "kubeAPIQPS": INT32, "kubeAPIBurst": INT32, "serializeImagePulls": BOOL, "maxParallelImagePulls": INT32,
         "evictionHard": ("map", STR), "evictionSoft": ("map", STR), "evictionSoftGracePeriod": ("map", STR),
         "evictionPressureTransitionPeriod": DUR, "evictionMaxPodGracePeriod": INT32,
         "evictionMinimumReclaim": ("map", STR), "mergeDefaultEvictionSettings": BOOL,
         "podsPerCore": INT32, "enableControllerAttachDetach": BOOL,
         "protectKernelDefaults": BOOL, "makeIPTablesUtilChains": BOOL, "iptablesMasqueradeBit": INT32,
         "iptablesDropBit": INT32, "featureGates": ("map", BOOL), "failSwapOn": BOOL,
         "memorySwap": {"swapBehavior": STR}, "containerLogMaxSize": STR, "containerLogMaxFiles": INT32,
         "containerLogMaxWorkers": INT32, "containerLogMonitorInterval": DUR, "configMapAndSecretChangeDetectionStrategy": STR,
         "systemReserved": ("map", STR), "kubeReserved": ("map", STR), "reservedSystemCPUs": STR,
         "showHiddenMetricsForVersion": STR, "systemReservedCgroup": STR, "kubeReservedCgroup": STR,
         "enforceNodeAllocatable": strs, "allowedUnsafeSysctls": strs, "volumePluginDir": STR,
         "providerID": STR, "kernelMemcgNotification": BOOL,
         "logging": {"format": STR, "flushFrequency": ANY, "verbosity": INT32, "vmodule": ANY, "options": ANY},
         "enableSystemLogHandler": BOOL, "enableSystemLogQuery": BOOL, "shutdownGracePeriod": DUR,
         "shutdownGracePeriodCriticalPods": DUR, "shutdownGracePeriodByPodPriority": ANY,
         "crashLoopBackOff": {"maxContainerRestartPeriod": DUR}, "reservedMemory": ANY,
         "enableProfilingHandler": BOOL, "enableDebugFlagsHandler": BOOL, "seccompDefault": BOOL,
         "memoryThrottlingFactor": FLOAT, "registerWithTaints": ("list", taint), "registerNode": BOOL,
         "tracing": ANY, "localStorageCapacityIsolation": BOOL, "containerRuntimeEndpoint": STR,
         "imageServiceEndpoint": STR, "failCgroupV1": BOOL, "userNamespaces": {"idsPerPod": INT64}}
    return s


def _kubeproxy_schema():
    return {"apiVersion": STR, "kind": STR, "featureGates": ("map", BOOL), "clientConnection": ANY,
            "logging": ANY, "hostnameOverride": STR, "bindAddress": STR, "healthzBindAddress": STR,
            "metricsBindAddress": STR, "bindAddressHardFail": BOOL, "enableProfiling": BOOL,
            "showHiddenMetricsForVersion": STR, "mode": STR, "iptables": ANY, "ipvs": ANY, "nftables": ANY,
            "winkernel": ANY, "detectLocalMode": STR, "detectLocal": ANY, "clusterCIDR": STR,
            "nodePortAddresses": ("list", STR), "oomScoreAdj": INT32, "conntrack": ANY,
            "configSyncPeriod": DUR, "portRange": STR, "windowsRunAsService": BOOL}


SCHEMAS = {}
for _k, _s in kubeadm_schemas(4).items():
    SCHEMAS[(V1BETA4, _k)] = _s
for _k, _s in kubeadm_schemas(3).items():
    SCHEMAS[(V1BETA3, _k)] = _s
SCHEMAS[(KUBELET_GV, "KubeletConfiguration")] = _kubelet_schema()
SCHEMAS[(KUBEPROXY_GV, "KubeProxyConfiguration")] = _kubeproxy_schema()


def gvk_go(api_version, kind):
    g, _, v = api_version.rpartition("/")
    return 'schema.GroupVersionKind{Group:%s, Version:%s, Kind:%s}' % (go_q(g), go_q(v), go_q(kind))


def gvk_plus(api_version, kind):
    g, _, v = api_version.rpartition("/")
    return "{Group:%s Version:%s Kind:%s}" % (g, v, kind)


class _Decoder:
    def __init__(self, kind, api_version):
        self.kind = kind
        self.version = api_version.rpartition("/")[2]
        self.unknown = []

    def type_error(self, node, schema, path):
        if isinstance(node, dict):
            jt = "object"
        elif isinstance(node, list):
            jt = "array"
        else:
            r = yamlk.resolve_scalar(node)
            if isinstance(r, bool):
                jt = "bool"
            elif isinstance(r, (int, float)):
                jt = "number"
            else:
                jt = "string"
            if jt == "number":
                jt = "number %s" % node
        if isinstance(schema, dict):
            gt = "%s.%s" % (self.version, "struct")
        elif isinstance(schema, tuple):
            inner = schema[1]
            if schema[0] == "list":
                gt = "[]" + (GO_TYPES.get(inner, "%s.Arg" % self.version) if not isinstance(inner, dict)
                             else ("%s.Arg" % self.version if set(inner) == {"name", "value"} else
                                   "%s.%s" % (self.version, "Item")))
            else:
                gt = "map[string]" + GO_TYPES.get(inner, "interface {}") if not isinstance(inner, (dict, tuple)) \
                    else "map[string][]string"
        else:
            gt = GO_TYPES.get(schema, "string")
        return ConfigError("json: cannot unmarshal %s into Go struct field %s.%s of type %s"
                           % (jt, self.kind, path, gt))

    def decode(self, node, schema, path):
        if schema == ANY:
            return yamlk.resolve(node)
        if isinstance(node, yamlk.Plain) and str(node) in yamlk.NULLS:
            return None
        if isinstance(schema, dict):
            if not isinstance(node, dict):
                raise self.type_error(node, schema, path)
            out = {}
            for k, v in node.items():
                sub = "%s.%s" % (path, k) if path else k
                if k not in schema:
                    self.unknown.append(sub)
                    continue
                out[k] = self.decode(v, schema[k], sub)
            return out
        if isinstance(schema, tuple):
            kind, inner = schema
            if kind == "list":
                if not isinstance(node, list):
                    raise self.type_error(node, schema, path)
                return [self.decode(x, inner, "%s[%d]" % (path, i)) if isinstance(inner, dict)
                        else self.decode(x, inner, path) for i, x in enumerate(node)]
            if not isinstance(node, dict):
                raise self.type_error(node, schema, path)
            return {str(k): self.decode(v, inner, path) for k, v in node.items()}
        if isinstance(node, (dict, list)):
            raise self.type_error(node, schema, path)
        quoted = isinstance(node, yamlk.Quoted)
        text = str(node)
        if schema in (STR, TIME):
            return text
        if schema == TOKEN:
            if not TOKEN_RE.match(text):
                raise ConfigError("the bootstrap token %s was not of the form %s" % (go_q(text), go_q(TOKEN_PATTERN)))
            return text
        if schema == DUR:
            r = yamlk.resolve_scalar(node)
            if not quoted and not isinstance(r, str):
                raise ConfigError("json: cannot unmarshal number into Go value of type string")
            try:
                parse_duration(text)
            except ValueError as e:
                raise ConfigError(str(e))
            return text
        r = text if quoted else yamlk.resolve_scalar(node)
        if schema == BOOL:
            if isinstance(r, bool):
                return r
            raise self.type_error(node, schema, path)
        if schema in (INT32, INT64):
            if isinstance(r, bool) or not isinstance(r, int):
                raise self.type_error(node, schema, path)
            if schema == INT32 and not -2 ** 31 <= r < 2 ** 31:
                raise self.type_error(node, schema, path)
            return r
        if schema == FLOAT:
            if isinstance(r, bool) or not isinstance(r, (int, float)):
                raise self.type_error(node, schema, path)
            return float(r)
        return r


# ---------------------------------------------------------------------------
# documents

class Document:
    def __init__(self, api_version, kind, node, lineno):
        self.api_version, self.kind, self.node, self.lineno = api_version, kind, node, lineno
        self.value = None
        self.strict = []

    @property
    def gvk(self):
        return gvk_go(self.api_version, self.kind)


def split(text):
    """Documents of a kubeadm config stream (kubeadm's SplitConfigDocuments)."""
    try:
        raw = yamlk.load_all(text)
    except yamlk.YamlError as e:
        raise ConfigError(str(e))
    docs, seen = [], set()
    for node in raw:
        if node is None:
            continue
        if not isinstance(node, dict):
            raise ConfigError("error unmarshaling JSON: while decoding JSON: json: cannot unmarshal %s into Go "
                              "value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
                              "Kind string \"json:\\\"kind,omitempty\\\"\" }"
                              % ("array" if isinstance(node, list) else "string"))
        av = str(node.get("apiVersion") or "")
        kind = str(node.get("kind") or "")
        g, _, v = av.rpartition("/")
        if not g or not v or not kind:
            raise ConfigError("invalid configuration for GroupVersionKind %s: kind and apiVersion is mandatory "
                              "information that must be specified" % gvk_plus(av, kind))
        if (av, kind) in seen:
            raise ConfigError("invalid configuration: GroupVersionKind %s is specified twice in YAML"
                              % gvk_plus(av, kind))
        seen.add((av, kind))
        docs.append(Document(av, kind, node, getattr(node, "lines", {}).get("kind", 0)))
    return docs


def decode(doc):
    """Fill doc.value / doc.strict.  Raises ConfigError on unknown GVKs and type errors."""
    g = doc.api_version.rpartition("/")[0]
    if doc.api_version in OLD_KUBEADM:
        raise ConfigError("your configuration file uses an old API spec: %s (kind: %s). Please use kubeadm %s "
                          "instead and run 'kubeadm config migrate --old-config old-config-file --new-config "
                          "new-config-file', which will write the new, similar spec using a newer API version."
                          % (go_q(doc.api_version), go_q(doc.kind), OLD_KUBEADM[doc.api_version]))
    schema = SCHEMAS.get((doc.api_version, doc.kind))
    if schema is None:
        doc.unknown_gvk = True
        return
    doc.unknown_gvk = False
    d = _Decoder(doc.kind, doc.api_version)
    try:
        doc.value = d.decode(doc.node, schema, "")
    except ConfigError as e:
        raise ConfigError("error unmarshaling configuration %s: %s" % (doc.gvk, e))
    if d.unknown:
        doc.strict = d.unknown
    if g == KUBEADM_GROUP and doc.api_version == V1BETA3:
        glog.warning("common.go:101", "your configuration file uses a deprecated API spec: %s (kind: %s). Please "
                     "use 'kubeadm config migrate --old-config old-config-file --new-config new-config-file', which "
                     "will write the new, similar spec using a newer API version." % (go_q(doc.api_version),
                                                                                       go_q(doc.kind)))


def strict_message(doc):
    return "error unmarshaling configuration %s: strict decoding error: %s" % (
        doc.gvk, ", ".join('unknown field "%s"' % f for f in doc.strict))


def load_documents(text, strict):
    """Split + decode every document.  strict=True: unknown fields/kinds are errors;
    False: warnings (``kubeadm init/join --config``)."""
    docs = split(text)
    for doc in docs:
        decode(doc)
        if doc.unknown_gvk:
            msg = "unknown configuration %s" % doc.gvk
            if strict:
                raise ConfigError(msg)
            glog.warning("strict.go:54", msg)
            continue
        if doc.strict:
            if strict:
                raise ConfigError(strict_message(doc))
            glog.warning("strict.go:54", strict_message(doc))
    return docs


# ---------------------------------------------------------------------------
# defaults

def detect_ipv4():
    return netaddr.routed_ipv4() or "127.0.0.1"


def default_node_name():
    return socket.gethostname().lower()


def args_dict(args):
    """v1beta4 [{name, value}] or v1beta3 map -> ordered list of (name, value); later duplicates win in a map view."""
    if isinstance(args, dict):
        return list(args.items())
    return [(a.get("name", ""), a.get("value", "")) for a in args or []]


def timeout(cfg, name, default):
    try:
        return parse_duration((cfg.get("timeouts") or {}).get(name) or default)
    except ValueError:
        return parse_duration(default)


def default_init(init, cluster, version):
    init = dict(init or {})
    init.setdefault("apiVersion", V1BETA4)
    init["kind"] = "InitConfiguration"
    toks = init.get("bootstrapTokens")
    if toks is None:
        toks = [{}]
    out = []
    for t in toks:
        t = dict(t)
        if not t.get("token"):
            t["token"] = generate_token()
        if not t.get("expires") and not t.get("ttl"):
            t["ttl"] = "24h0m0s"
        t.setdefault("usages", ["signing", "authentication"])
        t.setdefault("groups", [DEFAULT_TOKEN_GROUP])
        out.append(t)
    init["bootstrapTokens"] = out
    nr = dict(init.get("nodeRegistration") or {})
    nr.setdefault("criSocket", paths.DEFAULT_CRI_SOCKET)
    if not nr.get("criSocket"):
        nr["criSocket"] = paths.DEFAULT_CRI_SOCKET
    if not nr.get("name"):
        nr["name"] = default_node_name()
    if "taints" not in nr or nr["taints"] is None:
        nr["taints"] = [dict(CONTROL_PLANE_TAINT)]
    nr.setdefault("imagePullPolicy", "IfNotPresent")
    init["nodeRegistration"] = nr
    ep = dict(init.get("localAPIEndpoint") or {})
    if not ep.get("bindPort"):
        ep["bindPort"] = 6443
    if not ep.get("advertiseAddress"):
        ep["advertiseAddress"] = detect_ipv4()
    init["localAPIEndpoint"] = ep
    init["timeouts"] = default_timeouts(init.get("timeouts"))
    c = default_cluster(cluster, version)
    return init, c


def default_timeouts(t):
    t = dict(t or {})
    for k, v in (("controlPlaneComponentHealthCheck", "4m0s"), ("kubeletHealthCheck", "4m0s"),
                 ("kubernetesAPICall", "1m0s"), ("etcdAPICall", "2m0s"), ("tlsBootstrap", "5m0s"),
                 ("discovery", "5m0s"), ("upgradeManifests", "5m0s")):
        t.setdefault(k, v)
    return t


def default_cluster(cluster, version):
    c = dict(cluster or {})
    c.setdefault("apiVersion", V1BETA4)
    c["kind"] = "ClusterConfiguration"
    net = dict(c.get("networking") or {})
    net.setdefault("serviceSubnet", "10.96.0.0/12")
    net.setdefault("dnsDomain", "cluster.local")
    c["networking"] = net
    if not c.get("kubernetesVersion"):
        glog.warning("version.go:109", 'could not fetch a Kubernetes version from the internet: unable to get URL '
                     '"https://dl.k8s.io/release/stable-1.txt": Get "https://dl.k8s.io/release/stable-1.txt": dial '
                     'tcp: lookup dl.k8s.io: no such host')
        glog.warning("version.go:110", "falling back to the local client version: %s" % version)
        c["kubernetesVersion"] = version
    c.setdefault("certificatesDir", paths.PKI_DIR)
    c.setdefault("imageRepository", "registry.k8s.io")
    c.setdefault("clusterName", "kubernetes")
    c.setdefault("controlPlaneEndpoint", "")
    etcd = dict(c.get("etcd") or {})
    if not etcd.get("external"):
        local = dict(etcd.get("local") or {})
        local.setdefault("dataDir", paths.ETCD_DIR)
        etcd["local"] = local
    c["etcd"] = etcd
    for comp in ("apiServer", "controllerManager", "scheduler"):
        c[comp] = dict(c.get(comp) or {})
    c.setdefault("dns", {})
    c.setdefault("proxy", {})
    c.setdefault("encryptionAlgorithm", "RSA-2048")
    c.setdefault("certificateValidityPeriod", "8760h0m0s")
    c.setdefault("caCertificateValidityPeriod", "87600h0m0s")
    return c


def default_join(join):
    j = dict(join or {})
    j.setdefault("apiVersion", V1BETA4)
    j["kind"] = "JoinConfiguration"
    j.setdefault("caCertPath", paths.PKI_DIR + "/ca.crt")
    nr = dict(j.get("nodeRegistration") or {})
    if not nr.get("criSocket"):
        nr["criSocket"] = paths.DEFAULT_CRI_SOCKET
    if not nr.get("name"):
        nr["name"] = default_node_name()
    if nr.get("taints") is None:
        nr["taints"] = [dict(CONTROL_PLANE_TAINT)] if j.get("controlPlane") else []
    nr.setdefault("imagePullPolicy", "IfNotPresent")
    j["nodeRegistration"] = nr
    disc = dict(j.get("discovery") or {})
    bt = disc.get("bootstrapToken")
    if bt and not disc.get("tlsBootstrapToken"):
        disc["tlsBootstrapToken"] = bt.get("token", "")
    j["discovery"] = disc
    if j.get("controlPlane") is not None:
        cp = dict(j["controlPlane"])
        ep = dict(cp.get("localAPIEndpoint") or {})
        ep.setdefault("bindPort", 6443)
        if not ep.get("advertiseAddress"):
            ep["advertiseAddress"] = detect_ipv4()
        cp["localAPIEndpoint"] = ep
        j["controlPlane"] = cp
    t = default_timeouts(j.get("timeouts"))
    if j.get("apiVersion") == V1BETA3 and disc.get("timeout"):
        t["discovery"] = disc["timeout"]
    j["timeouts"] = t
    return j


def default_kubelet(kc, cluster):
    k = dict(kc or {})
    k["apiVersion"] = KUBELET_GV
    k["kind"] = "KubeletConfiguration"
    auth = dict(k.get("authentication") or {})
    auth.setdefault("anonymous", {"enabled": False})
    auth.setdefault("webhook", {"cacheTTL": "0s", "enabled": True})
    auth.setdefault("x509", {"clientCAFile": paths.PKI_DIR + "/ca.crt"})
    k["authentication"] = auth
    k.setdefault("authorization", {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "0s",
                                                                   "cacheUnauthorizedTTL": "0s"}})
    k.setdefault("cgroupDriver", "systemd")
    net = ipaddress.ip_network(cluster["networking"]["serviceSubnet"].split(",")[0], strict=False)
    k.setdefault("clusterDNS", [str(net.network_address + 10)])
    k.setdefault("clusterDomain", cluster["networking"].get("dnsDomain", "cluster.local"))
    k.setdefault("containerRuntimeEndpoint", "")
    k.setdefault("cpuManagerReconcilePeriod", "0s")
    k.setdefault("crashLoopBackOff", {})
    k.setdefault("evictionPressureTransitionPeriod", "0s")
    k.setdefault("fileCheckFrequency", "0s")
    k.setdefault("healthzBindAddress", "127.0.0.1")
    k.setdefault("healthzPort", 10248)
    k.setdefault("httpCheckFrequency", "0s")
    k.setdefault("imageMaximumGCAge", "0s")
    k.setdefault("imageMinimumGCAge", "0s")
    k.setdefault("logging", {"flushFrequency": 0, "options": {"json": {"infoBufferSize": "0"},
                                                              "text": {"infoBufferSize": "0"}}, "verbosity": 0})
    k.setdefault("memorySwap", {})
    k.setdefault("nodeStatusReportFrequency", "0s")
    k.setdefault("nodeStatusUpdateFrequency", "0s")
    k.setdefault("rotateCertificates", True)
    k.setdefault("runtimeRequestTimeout", "0s")
    k.setdefault("shutdownGracePeriod", "0s")
    k.setdefault("shutdownGracePeriodCriticalPods", "0s")
    k.setdefault("staticPodPath", paths.MANIFESTS_DIR)
    k.setdefault("streamingConnectionIdleTimeout", "0s")
    k.setdefault("syncFrequency", "0s")
    k.setdefault("volumeStatsAggPeriod", "0s")
    return k


def generate_token():
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(6)) + "." + \
        "".join(secrets.choice(alphabet) for _ in range(16))


# ---------------------------------------------------------------------------
# validation (cmd/kubeadm/app/apis/kubeadm/validation, the checks that matter here)

def _subnets(text):
    out = []
    for part in text.split(","):
        try:
            if "/" not in part:
                raise ValueError
            out.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            return None
    return out


def validate_ipnet(text, min_addrs, path):
    nets = _subnets(text)
    if nets is None:
        return [invalid(path, text, "couldn't parse subnet")]
    errs = []
    if len(nets) > 2 or (len(nets) == 2 and nets[0].version == nets[1].version):
        errs.append(invalid(path, text, "expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for "
                                        "dual-stack networking"))
    for n in nets:
        if n.num_addresses < min_addrs:
            errs.append(invalid(path, str(n), "subnet with %d address(es) is too small, the minimum is %d"
                                % (n.num_addresses, min_addrs)))
    return errs


def validate_port(port, path):
    if not isinstance(port, int) or not 0 < port < 65536:
        return [invalid(path, port, "port number is not valid")]
    return []


def validate_ip(text, path):
    try:
        ipaddress.ip_address(text)
        return []
    except ValueError:
        return [invalid(path, text, "ip address is not valid")]


def validate_endpoint(text, path):
    host, sep, port = text.rpartition(":")
    if not sep:
        return []  # a host without a port: kubeadm appends bindPort
    if not port.isdigit() or not 0 < int(port) < 65536:
        return [invalid(path, text, "port must be a valid number between 1 and 65535, inclusive")]
    return []


def validate_args(args, path, version):
    errs = []
    if isinstance(args, list):
        for i, a in enumerate(args):
            if not a.get("name"):
                errs.append(required("%s[%d].name" % (path, i), ""))
    return errs


def validate_node_registration(nr, path, control_plane):
    errs = []
    name = nr.get("name", "")
    if not DNS1123_SUB.match(name) or len(name) > 253:
        errs.append(invalid(path + ".name", name, DNS1123_SUB_MSG))
    sock = nr.get("criSocket", "")
    scheme, sep, rest = sock.partition("://")
    if not sep:
        glog.warning("initconfiguration.go:125", "Usage of CRI endpoints without URL scheme is deprecated and can "
                     "cause kubelet errors in the future. Automatically prepending scheme \"unix\" to the "
                     "\"criSocket\" with value \"%s\". Please update your configuration!" % sock)
        nr["criSocket"] = "unix://" + sock
        rest = sock
    elif scheme != "unix":
        errs.append(invalid(path + ".criSocket", sock, "URL scheme %s is not supported" % go_q(scheme)))
    if not rest.startswith("/"):
        errs.append(invalid(path + ".criSocket", sock, "path is not absolute"))
    ign = nr.get("ignorePreflightErrors") or []
    if any(i.lower() == "all" for i in ign) and len(ign) > 1:
        errs.append(invalid(path + ".ignorePreflightErrors", ",".join(ign),
                            "don't specify individual checks if 'all' is used"))
    pol = nr.get("imagePullPolicy", "IfNotPresent")
    if pol not in ("Always", "IfNotPresent", "Never"):
        errs.append(unsupported(path + ".imagePullPolicy", pol, ("Always", "IfNotPresent", "Never")))
    for i, t in enumerate(nr.get("taints") or []):
        tp = "%s.taints[%d]" % (path, i)
        if not t.get("key"):
            errs.append(required(tp + ".key", ""))
        if t.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(unsupported(tp + ".effect", t.get("effect", ""), ("NoExecute", "NoSchedule",
                                                                          "PreferNoSchedule")))
    return errs


def validate_tokens(tokens):
    errs = []
    for i, t in enumerate(tokens):
        p = "bootstrapTokens[%d]" % i
        us = t.get("usages") or []
        bad = [u for u in us if u not in ("signing", "authentication")]
        if bad:
            errs.append(invalid(p + ".usages", us, "invalid bootstrap token usage string: %s, valid usage options: "
                                                   "signing,authentication" % ",".join(bad)))
        gs = t.get("groups") or []
        if gs and "authentication" not in us:
            errs.append(invalid(p + ".groups", gs, 'token groups cannot be specified unless --usages includes '
                                                   '"authentication"'))
        for g in gs:
            if not GROUP_RE.match(g):
                errs.append(invalid(p + ".groups", gs, "group %s is invalid (must match %s)"
                                    % (go_q(g), r"\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z")))
        if t.get("expires") and t.get("ttl"):
            errs.append(invalid(p, "", "the BootstrapToken .TTL and .Expires fields are mutually exclusive"))
    return errs


def validate_cluster(c):
    errs = []
    net = c.get("networking") or {}
    errs += validate_ipnet(net.get("serviceSubnet", ""), 4, "networking.serviceSubnet")
    if net.get("podSubnet"):
        errs += validate_ipnet(net["podSubnet"], 4, "networking.podSubnet")
    dd = net.get("dnsDomain", "")
    if not DNS1123_SUB.match(dd):
        errs.append(invalid("networking.dnsDomain", dd, DNS1123_SUB_MSG))
    if c.get("controlPlaneEndpoint"):
        errs += validate_endpoint(c["controlPlaneEndpoint"], "controlPlaneEndpoint")
    for s in (c.get("apiServer") or {}).get("certSANs") or []:
        try:
            ipaddress.ip_address(s)
        except ValueError:
            if not DNS1123_SUB.match(s.replace("*.", "", 1)):
                errs.append(invalid("apiServer.certSANs", s, "altname is not a valid IP address, DNS label or a "
                                                             "DNS label with subdomain wildcards: "
                                    + DNS1123_SUB_MSG))
    for comp in ("apiServer", "controllerManager", "scheduler"):
        errs += validate_args((c.get(comp) or {}).get("extraArgs"), comp + ".extraArgs", c.get("apiVersion"))
    etcd = c.get("etcd") or {}
    if etcd.get("local") and etcd.get("external"):
        errs.append(invalid("etcd", "", "either .Etcd.Local or .Etcd.External is required"))
    ea = c.get("encryptionAlgorithm")
    if ea is not None and ea not in ENCRYPTION:
        errs.append(unsupported("encryptionAlgorithm", ea, ENCRYPTION))
    kv = c.get("kubernetesVersion", "")
    if kv and not re.match(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$", kv) and \
            not re.match(r"^(stable|latest|ci)(-\d+(\.\d+)?)?$", kv):
        errs.append(invalid("kubernetesVersion", kv, "invalid version"))
    return errs


def validate_init(init, cluster):
    errs = validate_tokens(init.get("bootstrapTokens") or [])
    errs += validate_node_registration(init["nodeRegistration"], "nodeRegistration", True)
    ep = init["localAPIEndpoint"]
    errs += validate_ip(ep["advertiseAddress"], "localAPIEndpoint.advertiseAddress")
    errs += validate_port(ep["bindPort"], "localAPIEndpoint.bindPort")
    errs += validate_certificate_key(init.get("certificateKey"), "certificateKey")
    errs += validate_cluster(cluster)
    return errs


HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
CERTIFICATE_KEY_SIZE = 32


def go_hex_decode_error(s):
    """The error of Go's hex.DecodeString, or None."""
    for i in range(0, len(s) - len(s) % 2, 2):
        for ch in s[i:i + 2]:
            if ch not in "0123456789abcdefABCDEF":
                return "encoding/hex: invalid byte: U+%04X %s" % (ord(ch), "'%s'" % ch)
    if len(s) % 2:
        if s[-1] not in "0123456789abcdefABCDEF":
            return "encoding/hex: invalid byte: U+%04X '%s'" % (ord(s[-1]), s[-1])
        return "encoding/hex: odd length hex string"
    return None


def validate_certificate_key(key, path):
    """ValidateCertificateKey (cmd/kubeadm/app/apis/kubeadm/validation/validation.go)."""
    if not key:
        return []
    err = go_hex_decode_error(key)
    if err:
        return [invalid(path, key, "certificate key decoding error: %s" % err)]
    if len(key) // 2 != CERTIFICATE_KEY_SIZE:
        return [invalid(path, key, "invalid certificate key size %d, the key must be an AES key of size %d"
                        % (len(key) // 2, CERTIFICATE_KEY_SIZE))]
    return []


def validate_join(j):
    errs = validate_node_registration(j["nodeRegistration"], "nodeRegistration", bool(j.get("controlPlane")))
    d = j.get("discovery") or {}
    bt, f = d.get("bootstrapToken"), d.get("file")
    if bt and f:
        errs.append(invalid("discovery", "", "bootstrapToken and file cannot both be set"))
    elif not bt and not f:
        errs.append(invalid("discovery", "", "bootstrapToken or file must be set"))
    if bt:
        tok = bt.get("token", "")
        if not TOKEN_RE.match(tok):
            errs.append(invalid("discovery.bootstrapToken.token", tok, "the bootstrap token is invalid"))
        ep = bt.get("apiServerEndpoint") or ""
        if not ep:
            errs.append(required("discovery.bootstrapToken.apiServerEndpoint", ""))
        elif not re.match(r"^(\[[^\]]+\]|[^:\[\]]+):[^:]*$", ep):
            errs.append(invalid("discovery.bootstrapToken.apiServerEndpoint", ep,
                                "address %s: missing port in address" % ep))
        else:
            errs += validate_endpoint(ep, "discovery.bootstrapToken.apiServerEndpoint")
        hashes = bt.get("caCertHashes") or []
        if not hashes and not bt.get("unsafeSkipCAVerification"):
            errs.append(invalid("discovery.bootstrapToken.caCertHashes", [], "using token-based discovery without "
                                "caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm "
                                "config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue"))
    tls = d.get("tlsBootstrapToken", "")
    if tls and not TOKEN_RE.match(tls):
        errs.append(invalid("discovery.tlsBootstrapToken", tls, "the bootstrap token is invalid"))
    cp = j.get("controlPlane")
    if cp is not None:
        ep = cp.get("localAPIEndpoint") or {}
        errs += validate_ip(ep.get("advertiseAddress", ""), "controlPlane.localAPIEndpoint.advertiseAddress")
        errs += validate_port(ep.get("bindPort", 6443), "controlPlane.localAPIEndpoint.bindPort")
        errs += validate_certificate_key(cp.get("certificateKey"), "controlPlane.certificateKey")
    return errs


def validate_kubelet(k):
    """A few of the kubelet's own checks (the kubelet double repeats them at start)."""
    errs = []
    for f in ("healthzPort", "port"):
        if f in k and not (0 < int(k[f]) < 65536 or (f == "healthzPort" and k[f] == 0)):
            errs.append("invalid configuration: %s (--%s) %d must be between 1 and 65535, inclusive"
                        % (f, "healthz-port" if f == "healthzPort" else "port", k[f]))
    if k.get("cgroupDriver") not in (None, "systemd", "cgroupfs"):
        errs.append("invalid configuration: cgroupDriver (--cgroup-driver) %s is not supported" % k["cgroupDriver"])
    return errs


# ---------------------------------------------------------------------------
# loading for commands

class Loaded:
    def __init__(self):
        self.init = self.cluster = self.join = self.kubelet = self.kubeproxy = self.reset = self.upgrade = None
        self.kinds = []


def load_file(path, strict):
    try:
        text = paths.read_text(path)
    except FileNotFoundError:
        raise ConfigError("unable to read config from %s : open %s: no such file or directory"
                          % (go_q(path), path))
    except OSError as e:
        raise ConfigError("unable to read config from %s : open %s: %s" % (go_q(path), path,
                                                                       (e.strerror or str(e)).lower()))
    return load_text(text, strict)


def load_text(text, strict):
    out = Loaded()
    for doc in load_documents(text, strict):
        if getattr(doc, "unknown_gvk", False):
            continue
        out.kinds.append(doc.kind)
        attr = {"InitConfiguration": "init", "ClusterConfiguration": "cluster", "JoinConfiguration": "join",
                "KubeletConfiguration": "kubelet", "KubeProxyConfiguration": "kubeproxy",
                "ResetConfiguration": "reset", "UpgradeConfiguration": "upgrade"}.get(doc.kind)
        if attr:
            val = doc.value or {}
            val["apiVersion"], val["kind"] = doc.api_version, doc.kind
            setattr(out, attr, val)
    return out


def validate_loaded(ld, version):
    """``kubeadm config validate``: the init or join configuration, defaulted and validated."""
    if ld.init is not None or ld.cluster is not None:
        init, cluster = default_init(ld.init, ld.cluster, version)
        errs = validate_init(init, cluster)
        if ld.kubelet is not None:
            errs += validate_kubelet(ld.kubelet)
        return errs
    if ld.join is not None:
        return validate_join(default_join(ld.join))
    if ld.reset is not None or "UpgradeConfiguration" in ld.kinds:
        return []
    if ld.kubelet is not None or ld.kubeproxy is not None:
        return validate_kubelet(ld.kubelet or {})
    raise ConfigError("no InitConfiguration, ClusterConfiguration, JoinConfiguration, ResetConfiguration or "
                      "UpgradeConfiguration found in the config")
