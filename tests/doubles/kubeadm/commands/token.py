"""``kubeadm token`` (generate, create, list, delete)."""
from __future__ import annotations

import json
import sys
import time

from .. import der, kclient, kconfig, kubeconfig, paths, tokens, yamlk
from .apiclient import admin_client
from .base import Fail, go_q, out, parse


def cmd_token(args):
    common = {"kubeconfig": "str", "dry-run": "bool", "config": "str"}
    if not args or args[0] in ("-h", "--help"):
        out("Usage:\n  kubeadm token [command]\n\nAvailable Commands:\n  create\n  delete\n  generate\n  list")
        return 0
    sub, rest = args[0], args[1:]
    if sub == "generate":
        parse(rest, {})
        out(kconfig.generate_token())
        return 0
    if sub == "create":
        vals, pos, _ = parse(rest, dict(common, ttl="str", description="str", usages="list", groups="list",
                                        **{"print-join-command": "bool", "certificate-key": "str"}))
        tok = pos[0] if pos else kconfig.generate_token()
        if not kconfig.TOKEN_RE.match(tok):
            raise Fail("the bootstrap token %s was not of the form %s" % (go_q(tok), go_q(kconfig.TOKEN_PATTERN)))
        try:
            ttl = kconfig.parse_duration(vals.get("ttl") or "24h0m0s")
        except ValueError as e:
            raise Fail('invalid argument "%s" for "--ttl" flag: %s' % (vals.get("ttl"), e))
        usages = vals.get("usages") or ["signing", "authentication"]
        groups = vals.get("groups") if "groups" in vals else [kconfig.DEFAULT_TOKEN_GROUP]
        errs = kconfig.validate_tokens([{"usages": usages, "groups": groups}])
        if errs:
            raise Fail(kconfig.aggregate(errs).replace("bootstrapTokens[0].", ""))
        client, cl = admin_client(vals.get("kubeconfig") or paths.ADMIN_CONF)
        obj = tokens.secret_for(tok, vals.get("description", ""), ttl=ttl or None, usages=sorted(usages),
                                groups=groups)
        code, doc = _req(client, "POST", "/api/v1/namespaces/kube-system/secrets", obj)
        if code == 409:
            raise Fail("failed to create or update bootstrap token with name %s: secrets %s already exists"
                       % (obj["metadata"]["name"], go_q(obj["metadata"]["name"])))
        if code not in (200, 201):
            raise Fail("failed to create or update bootstrap token with name %s: %s"
                       % (obj["metadata"]["name"], kclient.status_message(doc, code)))
        if vals.get("print-join-command"):
            ca = cl.get("ca")
            if not ca:
                raise Fail("failed to get join command: the kubeconfig has no certificate-authority-data")
            pin = der.pins_of_pem(ca)[0]
            cmdline = "kubeadm join %s --token %s --discovery-token-ca-cert-hash %s " % (
                kubeconfig.host_port(cl["server"]), tok, pin)
            if vals.get("certificate-key"):
                cmdline += "--control-plane --certificate-key %s " % vals["certificate-key"]
            out(cmdline)
        else:
            out(tok)
        return 0
    if sub == "list":
        vals, pos, _ = parse(rest, dict(common, output="str", **{"allow-missing-template-keys": "bool",
                                                                  "show-managed-fields": "bool"}), {"o": "output"})
        client, _ = admin_client(vals.get("kubeconfig") or paths.ADMIN_CONF)
        code, doc = _req(client, "GET", "/api/v1/namespaces/kube-system/secrets")
        if code != 200:
            raise Fail("failed to list bootstrap tokens: %s" % kclient.status_message(doc, code))
        toks = [t for t in (tokens.decode_secret(s) for s in doc.get("items") or []) if t]
        now = time.time()
        toks = [t for t in toks if tokens.valid(t, now)]
        fmt = vals.get("output") or "text"
        if fmt == "text":
            if toks:
                sys.stdout.write(tokens.tabwriter(tokens.list_rows(toks, now)))
        elif fmt == "json":
            for t in toks:
                out(json.dumps(_token_json(t), indent=4))
        elif fmt == "yaml":
            sys.stdout.write("---\n".join(yamlk.dump(_token_json(t)) for t in toks))
        else:
            raise Fail('invalid output format: %s' % fmt)
        return 0
    if sub == "delete":
        vals, pos, _ = parse(rest, common)
        if not pos:
            raise Fail("missing subcommand; 'token delete' is missing token of form %s or %s"
                       % (go_q(kconfig.TOKEN_PATTERN), go_q(r"\A([a-z0-9]{6})\z")))
        client, _ = admin_client(vals.get("kubeconfig") or paths.ADMIN_CONF)
        for t in pos:
            tid = t.split(".", 1)[0]
            code, doc = _req(client, "DELETE", "/api/v1/namespaces/kube-system/secrets/bootstrap-token-" + tid)
            if code != 200:
                raise Fail("failed to delete bootstrap token %s: %s" % (go_q(tid), kclient.status_message(doc, code)))
            out("bootstrap token %s deleted" % go_q(tid))
        return 0
    raise Fail('unknown command "%s" for "kubeadm token"' % sub)


def _token_json(t):
    d = {"kind": "BootstrapToken", "apiVersion": "output.kubeadm.k8s.io/v1alpha3", "token": t["token"],
         "description": t["description"], "usages": t["usages"], "groups": t["groups"]}
    if t["expiration"]:
        d["expires"] = t["expiration"]
    return d


def _req(client, method, path, body=None):
    try:
        return client.request(method, path, body)
    except kclient.APIError as e:
        raise Fail(str(e))
