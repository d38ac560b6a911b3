# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run kubeadm_token's main() against a scripted kubeadm and a real CA certificate."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeforge.cluster.plugins.modules import kubeadm_token

# A stand-in that keeps its tokens in a JSON file and prints them the way kubeadm does.
FAKE = textwrap.dedent('''\
    #!{python}
    import datetime, json, os, sys
    state = os.environ["FAKE_STATE"]
    tokens = json.load(open(state)) if os.path.exists(state) else []
    args = sys.argv[1:]
    if os.environ.get("FAKE_FAIL"):
        sys.stderr.write("failed to load admin kubeconfig\\n"); sys.exit(1)
    if args[:2] == ["token", "list"]:
        print("%-25s %-11s %-22s %-24s %-40s %s" % ("TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"))
        for t in tokens:
            print("%-25s %-11s %-22s %-24s %-40s %s" % (t["token"], "1h", t["expires"], "authentication,signing",
                                                       t["description"], "system:bootstrappers:kubeadm:default-node-token"))
    elif args[:2] == ["token", "create"]:
        ttl = int(args[args.index("--ttl") + 1].rstrip("h"))
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=ttl)
        token = "kfkfkf.%016d" % (len(tokens) + 1)
        tokens.append({{"token": token, "expires": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "description": args[args.index("--description") + 1]}})
        json.dump(tokens, open(state, "w"))
        print(token)
    else:
        sys.exit(2)
''')


@pytest.fixture
def env(tmp_path, monkeypatch):
    fake = tmp_path / "kubeadm"
    fake.write_text(FAKE.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "tokens.json"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(tmp_path / "ca.key"), "-out", str(tmp_path / "ca.crt"), "-subj", "/CN=kubernetes",
                    "-days", "1"], check=True, capture_output=True)
    pin = subprocess.run("openssl x509 -pubkey -noout -in %s | openssl pkey -pubin -outform der | sha256sum"
                         % (tmp_path / "ca.crt"), shell=True, check=True, capture_output=True, text=True).stdout.split()[0]
    return {"kubeadm": str(fake), "ca_cert": str(tmp_path / "ca.crt"), "pin": "sha256:" + pin, "dir": tmp_path}


def run(capsys, env, check_mode=False, **params):
    args = {"api_server_endpoint": "api.example:6443", "kubeadm": env["kubeadm"], "ca_cert": env["ca_cert"],
            "kubeconfig": str(env["dir"] / "admin.conf"), "_ansible_check_mode": check_mode}
    args.update(params)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            kubeadm_token.main()
    return json.loads(capsys.readouterr().out)


def test_creates_once_then_reuses(capsys, env):
    first = run(capsys, env)
    assert first["changed"] and first["created"] and first["token"] == "kfkfkf.0000000000000001"
    assert first["ca_cert_hash"] == env["pin"]
    assert first["join_command"] == ("kubeadm join api.example:6443 --token kfkfkf.0000000000000001 "
                                     "--discovery-token-ca-cert-hash " + env["pin"])
    second = run(capsys, env)
    assert not second["changed"] and second["token"] == first["token"]


def test_a_token_about_to_expire_is_replaced(capsys, env):
    run(capsys, env, ttl="2h")
    # The existing token lives 2 hours: asking for 3 hours of life makes a new one.
    again = run(capsys, env, ttl="4h", min_remaining="3h")
    assert again["changed"] and again["token"] == "kfkfkf.0000000000000002"


def test_check_mode_creates_nothing(capsys, env):
    result = run(capsys, env, check_mode=True)
    assert result["changed"] and result["created"] and "token" not in result
    assert not os.path.exists(env["dir"] / "tokens.json")


def test_failures_are_explained(capsys, env, monkeypatch):
    assert "must be longer than min_remaining" in run(capsys, env, ttl="1h", min_remaining="1h")["msg"]
    assert "is not a duration" in run(capsys, env, ttl="2 days")["msg"]
    assert "cannot read the cluster CA certificate" in run(capsys, env, ca_cert=str(env["dir"] / "none.crt"))["msg"]
    (env["dir"] / "bad.crt").write_text("not a certificate")
    assert "is not a usable CA certificate" in run(capsys, env, ca_cert=str(env["dir"] / "bad.crt"))["msg"]
    monkeypatch.setenv("FAKE_FAIL", "1")
    failed = run(capsys, env)
    assert failed["failed"] and "kubeadm token list failed (exit 1): failed to load admin kubeconfig" in failed["msg"]
