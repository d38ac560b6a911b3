"""tests/testbed/nodes.py: the docker commands made from a scenario's platforms, and what it refuses."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("testbed_nodes", ROOT / "tests" / "testbed" / "nodes.py")
assert SPEC and SPEC.loader
nodes = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(nodes)

NODE = {
    "pre_build_image": True, "command": "/lib/systemd/systemd", "capabilities": ["SYS_ADMIN", "NET_ADMIN"],
    "security_opts": ["seccomp=unconfined", "apparmor=unconfined"], "cgroupns_mode": "host",
    "volumes": ["/sys/fs/cgroup:/sys/fs/cgroup:rw"], "tmpfs": ["/run", "/run/lock"],
}


def platform(name: str, **extra) -> dict:
    return {"name": name, "hostname": name, "image": "kubeforge-node:bookworm-amd64", "groups": ["servers"],
            **NODE, **extra}


def test_run_argv_carries_every_option_of_the_test_bed() -> None:
    argv = nodes.run_argv(platform("kf-a", networks=[{"name": "kf-n", "ipv4_address": "172.30.9.11"}]))
    assert argv == [
        "docker", "run", "--detach", "--name", "kf-a", "--hostname", "kf-a", "--label", "owner=molecule",
        "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--cgroupns", "host", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
        "--network", "kf-n", "--ip", "172.30.9.11", "kubeforge-node:bookworm-amd64", "/lib/systemd/systemd",
    ]
    assert "--privileged" not in argv


def test_hostname_defaults_to_the_name_and_no_network_means_docker_default() -> None:
    p = platform("kf-b")
    del p["hostname"]
    argv = nodes.run_argv(p)
    assert argv[argv.index("--hostname") + 1] == "kf-b"
    assert "--network" not in argv


def test_second_network_is_connected_after_the_run() -> None:
    p = platform("kf-c", networks=[{"name": "one"}, {"name": "two", "ipv4_address": "10.9.0.5"}])
    assert nodes.run_argv(p)[-4:-2] == ["--network", "one"]
    assert nodes.connect_argvs(p) == [["docker", "network", "connect", "--ip", "10.9.0.5", "two", "kf-c"]]


def test_networks_declared_first_then_named_once() -> None:
    platforms = [
        platform("kf-a", networks=[{"name": "plain"}, {"name": "kf-n"}]),
        platform("kf-b", networks=[{"name": "kf-n"}],
                 docker_networks=[{"name": "kf-n", "internal": True,
                                   "ipam_config": [{"subnet": "172.30.9.0/24", "gateway": "172.30.9.1"}]}]),
    ]
    nets = nodes.networks(platforms)
    assert [n["name"] for n in nets] == ["kf-n", "plain"]
    assert nodes.network_create_argv(nets[0]) == [
        "docker", "network", "create", "--label", "owner=molecule", "--internal",
        "--subnet", "172.30.9.0/24", "--gateway", "172.30.9.1", "kf-n"]
    assert nodes.network_create_argv(nets[1]) == ["docker", "network", "create", "--label", "owner=molecule", "plain"]


@pytest.mark.parametrize("change, message", [
    ({"privileged": True}, "platform kf-a: privileged not handled by tests/testbed/nodes.py"),
    ({"networks": [{"name": "n", "aliases": ["x"]}]}, "platform kf-a, network n: aliases not handled"),
    ({"docker_networks": [{"name": "n", "driver": "macvlan"}]}, "platform kf-a, docker_networks n: driver not handled"),
    ({"docker_networks": [{"name": "n", "ipam_config": [{"subnet": "10.0.0.0/8", "iprange": "10.1.0.0/16"}]}]},
     "docker_networks n, ipam_config: iprange not handled"),
    ({"pre_build_image": False}, "platform kf-a: pre_build_image must be true"),
    ({"image": ""}, "platform kf-a: name and image are required"),
])
def test_options_it_would_not_honour_are_refused(change: dict, message: str) -> None:
    with pytest.raises(nodes.PlatformError, match=message.replace("(", r"\(")):
        nodes.check_platforms([platform("kf-a", **change)])


def test_every_scenario_platform_is_accepted() -> None:
    """The scenarios' platforms use only what nodes.py honours (the check create() makes first)."""
    files = sorted((ROOT / "molecule").glob("*/molecule.yml"))
    assert len(files) > 10
    for path in files:
        nodes.check_platforms(yaml.safe_load(path.read_text())["platforms"])


def test_usage_and_bad_json_exit_non_zero(capsys) -> None:
    assert nodes.main(["nodes.py"]) == 2
    assert nodes.main(["nodes.py", "create", "{not json"]) == 1
    assert "nodes.py create:" in capsys.readouterr().err
