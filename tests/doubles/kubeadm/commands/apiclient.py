"""The admin kubeconfig client and the create-or-update calls that init, join and token make."""
from __future__ import annotations

from .. import kclient, kubeconfig, paths
from .base import Fail


def admin_client(path=paths.ADMIN_CONF, retry_for=0.0):
    try:
        cl, us = kubeconfig.load(path)
    except kubeconfig.KubeconfigError as e:
        raise Fail("failed to load admin kubeconfig: %s" % e)
    return kclient.Client.from_kubeconfig(cl, us, retry_for=retry_for), cl


def api(client, method, path, body=None, ok=(200, 201), phase=None, what=""):
    try:
        code, doc = client.request(method, path, body,
                                   "application/merge-patch+json" if method == "PATCH" else "application/json")
    except kclient.APIError as e:
        raise Fail("%s%s" % (what + ": " if what else "", e), phase=phase)
    if code not in ok:
        raise Fail("%s%s" % (what + ": " if what else "", kclient.status_message(doc, code)), phase=phase)
    return code, doc


def apply_object(client, path_list, name, obj):
    """Create or replace an object (kubeadm's CreateOrUpdate)."""
    code, doc = client.request("POST", path_list, obj)
    if code == 409:
        code, doc = client.request("PUT", "%s/%s" % (path_list, name), obj)
    if code not in (200, 201):
        raise Fail("unable to create %s: %s" % (name, kclient.status_message(doc, code)))
