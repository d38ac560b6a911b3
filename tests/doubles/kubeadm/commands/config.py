"""``kubeadm config`` (validate, print init-defaults / join-defaults, images list)."""
from __future__ import annotations

import json
import sys

from .. import images, kconfig, version, yamlk
from .base import Fail, out, parse, read_config


IMAGES_LIST_FLAGS = {"config": "str", "kubernetes-version": "str", "image-repository": "str",
                     "feature-gates": "str", "output": "str", "allow-missing-template-keys": "bool",
                     "show-managed-fields": "bool"}
# kubeadm's output.kubeadm.k8s.io/v1alpha3 Images object
IMAGES_API_VERSION = "output.kubeadm.k8s.io/v1alpha3"
# the formats of kubeadm's output flags (kubectl's printers plus "text"); the double prints text, json and yaml
PRINTER_FORMATS = ["json", "yaml", "go-template", "go-template-file", "template", "templatefile", "jsonpath",
                   "jsonpath-as-json", "jsonpath-file", "text"]


def images_list(args):
    """``kubeadm config images list``: GetControlPlaneImages of the defaulted configuration. With --config the
    file decides (the --kubernetes-version and --image-repository flags are not applied, as in kubeadm)."""
    vals, pos, _ = parse(args, IMAGES_LIST_FLAGS, {"o": "output"})
    if pos:
        raise Fail('unknown command "%s" for "kubeadm config images list"' % pos[0])
    fmt = vals.get("output", "text")
    if fmt not in PRINTER_FORMATS:
        raise Fail('could not construct output printer: unable to match a printer suitable for the output format '
                   '"%s", allowed formats are: %s' % (fmt, ",".join(PRINTER_FORMATS)))
    if fmt not in ("text", "json", "yaml"):
        raise Fail("-o %s is not implemented by the kubeforge kubeadm test double" % fmt)
    if vals.get("feature-gates"):
        raise Fail("--feature-gates is not implemented by the kubeforge kubeadm test double")
    if vals.get("config"):
        ld = kconfig.load_text(read_config(vals["config"]), strict=False)
        init_in, cluster_in = ld.init, ld.cluster
    else:
        init_in, cluster_in = None, {}
        if vals.get("kubernetes-version"):
            cluster_in["kubernetesVersion"] = vals["kubernetes-version"]
        if vals.get("image-repository"):
            cluster_in["imageRepository"] = vals["image-repository"]
    init, cluster = kconfig.default_init(init_in, cluster_in, version.VERSION)
    errs = kconfig.validate_init(init, cluster)
    if errs:
        raise Fail(kconfig.aggregate(errs))
    imgs = images.control_plane_images(cluster, version.VERSION)
    if fmt == "text":
        out("\n".join(imgs))
    elif fmt == "json":
        # kubectl's JSON printer: four-space indent, TypeMeta first
        out(json.dumps({"kind": "Images", "apiVersion": IMAGES_API_VERSION, "images": imgs}, indent=4))
    else:
        sys.stdout.write(yamlk.dump({"apiVersion": IMAGES_API_VERSION, "images": imgs, "kind": "Images"}))
    return 0


def cmd_images(args):
    if not args or args[0] in ("-h", "--help"):
        out("Usage:\n  kubeadm config images [command]\n\nAvailable Commands:\n  list\n  pull")
        return 0
    if args[0] == "list":
        return images_list(args[1:])
    raise Fail('"kubeadm config images %s" is not implemented by the kubeforge kubeadm test double'
               % " ".join(args))


def cmd_config(args):
    if not args or args[0] in ("-h", "--help"):
        out("Usage:\n  kubeadm config [command]\n\nAvailable Commands:\n  images\n  migrate\n  print\n  validate")
        return 0
    sub, rest = args[0], args[1:]
    if sub == "images":
        return cmd_images(rest)
    if sub == "validate":
        vals, pos, _ = parse(rest, {"config": "str", "allow-experimental-api": "bool", "kubeconfig": "str"})
        if not vals.get("config"):
            raise Fail("the --config flag is mandatory")
        text = read_config(vals["config"])
        ld = kconfig.load_text(text, strict=True)
        errs = kconfig.validate_loaded(ld, version.VERSION)
        if errs:
            raise Fail(kconfig.aggregate(errs))
        out("ok")
        return 0
    if sub == "print":
        what = rest[0] if rest else ""
        if what == "init-defaults":
            init, cluster = kconfig.default_init({"bootstrapTokens": [{"token": "abcdef.0123456789abcdef"}],
                                                  "localAPIEndpoint": {"advertiseAddress": "1.2.3.4"},
                                                  "nodeRegistration": {"name": "node"}},
                                                 {"kubernetesVersion": "%d.%d.0" % (version.MAJOR, version.MINOR)},
                                                 version.VERSION)
            sys.stdout.write(yamlk.dump_all([init, cluster]))
            return 0
        if what == "join-defaults":
            j = kconfig.default_join({"discovery": {"bootstrapToken": {"token": "abcdef.0123456789abcdef",
                                                                       "apiServerEndpoint": "kube-apiserver:6443",
                                                                       "unsafeSkipCAVerification": True}},
                                      "nodeRegistration": {"name": "node"}})
            sys.stdout.write(yamlk.dump(j))
            return 0
    raise Fail('"kubeadm config %s" is not implemented by the kubeforge kubeadm test double' % " ".join(args))
