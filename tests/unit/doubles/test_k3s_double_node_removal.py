"""Deleting a K3s server's Node removes its member from the simulated embedded etcd (K3s's
managed-etcd-controller OnRemove + RemovePeer). Three servers on loopback with free high ports, as in test_ha.py."""
import http.client
import json
import re
import time

import pytest

from k3s import etcd as ketcd
from test_agent import agents  # noqa: F401  (fixture)
from test_ha import cluster, join_url  # noqa: F401  (fixture)

TOKEN = "rmsecret"
NAME_ANN = "etcd.k3s.cattle.io/node-name"
ADDR_ANN = "etcd.k3s.cattle.io/node-address"
TIMED_OUT = "etcdserver: request timed out"


def wait_for(fn, timeout=15):
    """Poll fn until it returns something truthy (returned), or fail at the deadline."""
    end = time.time() + timeout
    while True:
        got = fn()
        if got or time.time() > end:
            return got
        time.sleep(0.05)


def peer_members(n):
    """The member list served on a server's etcd peer port (GET /members)."""
    c = http.client.HTTPConnection("127.0.0.1", n.peer, timeout=5)
    try:
        c.request("GET", "/members", headers={ketcd.AUTH_HEADER: ketcd.peer_secret(TOKEN)})
        r = c.getresponse()
        body = json.loads(r.read())
    finally:
        c.close()
    assert r.status == 200, body
    return sorted(m["name"] for m in body["members"])


def member_json(n):
    return json.loads((n.dir / "server" / "db" / "etcd" / "member.json").read_text())


def file_members(n):
    return sorted(m["name"] for m in member_json(n)["members"])


def label(n, node, key, value):
    return n.api("PATCH", "/api/v1/nodes/" + node, {"metadata": {"labels": {key: value}}})


@pytest.fixture
def trio(cluster):  # noqa: F811
    s1 = cluster(1, ["--cluster-init", "--token", TOKEN])
    s2 = cluster(2, ["--server", join_url(s1), "--token", TOKEN])
    s3 = cluster(3, ["--server", join_url(s1), "--token", TOKEN])
    for n in (s1, s2, s3):
        assert wait_for(lambda: n.node_names() == ["srv1", "srv2", "srv3"]), n.node_names()
        assert wait_for(lambda: len(peer_members(n)) == 3)
    return s1, s2, s3


def test_server_nodes_carry_etcd_member_annotations(trio):
    s1, s2, s3 = trio
    names = {}
    for n in (s1, s2, s3):
        md = s1.api("GET", "/api/v1/nodes/srv%d" % n.i)[1]["metadata"]
        assert md["labels"]["node-role.kubernetes.io/etcd"] == "true"
        names[n.i] = md["annotations"][NAME_ANN]
        assert re.match(r"^srv%d-[0-9a-f]{8}$" % n.i, names[n.i]), names[n.i]
        assert names[n.i] == member_json(n)["name"]
        assert md["annotations"][ADDR_ANN] == "127.0.0.1"  # the host of its peer URL (--node-ip)
        assert member_json(n)["peerURL"] == "http://127.0.0.1:%d" % n.peer
    assert peer_members(s2) == sorted(names.values())

    # without the annotation K3s cannot tell which member to remove: the removal fails, the Node stays
    st, body = s1.api("PATCH", "/api/v1/nodes/srv2", {"metadata": {"annotations": {NAME_ANN: None}}})
    assert st == 200, body
    st, body = s1.api("DELETE", "/api/v1/nodes/srv2")
    assert st == 500 and body["message"] == "node name annotation for node srv2 not found", body
    assert "Removing etcd member srv2 from cluster" in s1.proc.log()
    assert s1.api("GET", "/api/v1/nodes/srv2")[0] == 200
    assert peer_members(s1) == sorted(names.values())


def test_deleting_a_server_node_removes_its_member(trio, cluster):  # noqa: F811
    s1, s2, s3 = trio
    gone = member_json(s3)["name"]
    st, body = s1.api("DELETE", "/api/v1/nodes/srv3")
    assert st == 200, body
    log = s1.proc.log()
    assert "Removing etcd member srv3 from cluster" in log
    assert re.search(r"Removing name=%s id=\d+ address=127\.0\.0\.1 from etcd" % gone, log), log
    left = sorted([member_json(s1)["name"], member_json(s2)["name"]])
    for n in (s1, s2):
        assert peer_members(n) == left
        assert file_members(n) == left
        assert n.node_names() == ["srv1", "srv2"]
    # the removed member learnt it: it no longer writes
    assert file_members(s3) == left
    assert wait_for(lambda: "the member has been permanently removed from the cluster" in s3.proc.log())
    st, body = label(s3, "srv3", "after", "removal")
    assert st == 500 and body["message"] == ketcd.ERR_MEMBER_REMOVED, body
    # the remaining two write and replicate to each other
    assert label(s1, "srv1", "w", "1")[0] == 200
    assert label(s2, "srv2", "w", "2")[0] == 200
    assert s2.api("GET", "/api/v1/nodes/srv1")[1]["metadata"]["labels"]["w"] == "1"
    assert s1.api("GET", "/api/v1/nodes/srv2")[1]["metadata"]["labels"]["w"] == "2"
    # s3 runs on but no longer counts: with s2 down, s1 alone is no quorum of two
    assert s2.proc.stop() == 0
    st, body = label(s1, "srv1", "w", "3")
    assert st == 500 and body["message"] == TIMED_OUT, body
    # restarted with its old etcd data, the removed server refuses to start
    assert s3.proc.stop() == 0
    s3 = cluster(3, ["--server", join_url(s1), "--token", TOKEN], wait=False)
    assert s3.proc.proc.wait(30) == 1
    fatal = [line for line in s3.proc.log().splitlines() if "level=fatal" in line]
    assert fatal and ketcd.ERR_MEMBER_REMOVED in fatal[-1], s3.proc.log()


def test_deleting_an_agent_node_keeps_membership_and_own_removal(trio, agents):  # noqa: F811
    s1, s2, s3 = trio
    a = agents(["--server", join_url(s1), "--token", TOKEN, "--node-name", "agent1", "--node-ip", "127.0.0.1"])
    assert a.wait_log("k3s agent is up and running", timeout=30), a.log()
    assert wait_for(lambda: "agent1" in s2.node_names())
    members = peer_members(s1)
    st, body = s2.api("DELETE", "/api/v1/nodes/agent1")
    assert st == 200, body
    for n in (s1, s2, s3):
        assert peer_members(n) == members and file_members(n) == members
        assert "Removing etcd member" not in n.proc.log()
    assert label(s3, "srv3", "w", "1")[0] == 200

    # a server deleting its own Node removes its own member (the Node goes first, while it can write)
    own = member_json(s3)["name"]
    st, body = s3.api("DELETE", "/api/v1/nodes/srv3")
    assert st == 200, body
    assert re.search(r"Removing name=%s id=\d+ address=127\.0\.0\.1 from etcd" % own, s3.proc.log())
    for n in (s1, s2):
        assert peer_members(n) == sorted(m for m in members if m != own)
        assert n.node_names() == ["srv1", "srv2"]
    st, body = label(s3, "srv1", "w", "2")
    assert st == 500 and body["message"] == ketcd.ERR_MEMBER_REMOVED, body


def test_removal_needs_a_quorum_of_the_old_members(trio):
    s1, s2, s3 = trio
    # a dead server's member goes with two of three members up
    assert s3.proc.stop() == 0
    st, body = s1.api("DELETE", "/api/v1/nodes/srv3")
    assert st == 200, body
    two = sorted([member_json(s1)["name"], member_json(s2)["name"]])
    assert peer_members(s1) == two and peer_members(s2) == two and file_members(s2) == two
    # with one of two left, the removal cannot commit: the DELETE fails with the etcd error, the Node stays
    assert s2.proc.stop() == 0
    st, body = s1.api("DELETE", "/api/v1/nodes/srv2")
    assert st == 500 and body["message"] == TIMED_OUT, body
    assert "Removing etcd member srv2 from cluster" in s1.proc.log()
    assert s1.node_names() == ["srv1", "srv2"]
    assert peer_members(s1) == two and file_members(s1) == two
