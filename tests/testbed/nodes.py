#!/usr/bin/env python3
"""Create and destroy a Molecule scenario's node containers with the docker CLI, all at once.

    nodes.py create PLATFORMS_JSON
    nodes.py destroy PLATFORMS_JSON

PLATFORMS_JSON is the scenario's ``platforms`` list (Molecule's ``molecule_yml.platforms``) as JSON.
The shared Molecule configuration (.config/molecule/config.yml) runs this from
molecule/resources/create.yml and destroy.yml in place of the Docker driver's playbooks, which make
one module call (a Python start) per platform and per network and poll for each container: 5 to 11
seconds to destroy nothing, 7 to 44 to create. Here every container starts in parallel, in one call.

It does what those playbooks do for the keys the scenarios use, and refuses any other key, so a
scenario cannot set an option that would silently be ignored:
- create: each network of ``docker_networks`` (subnet and gateway from ``ipam_config``, ``internal``)
  and each network a platform names, made when missing and labelled ``owner=molecule``; each
  container started from its prebuilt image, attached to its networks (with ``ipv4_address``),
  labelled ``owner=molecule``; a stopped container that exists already is started, not recreated. A
  container whose command is systemd is waited for until systemd has finished booting.
- destroy: the containers removed (killed if running), then the networks labelled ``owner=molecule``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

LABEL = "owner=molecule"

PLATFORM_KEYS = frozenset({
    "name", "hostname", "image", "pre_build_image", "groups", "command", "capabilities", "security_opts",
    "cgroupns_mode", "volumes", "tmpfs", "networks", "docker_networks",
})
NETWORK_KEYS = frozenset({"name", "ipv4_address"})
DOCKER_NETWORK_KEYS = frozenset({"name", "ipam_config", "internal"})
IPAM_KEYS = frozenset({"subnet", "gateway"})


class PlatformError(ValueError):
    """A platform this script cannot create as Molecule's Docker driver would."""


def _unknown(where: str, given: dict[str, Any], known: frozenset[str]) -> None:
    extra = sorted(set(given) - known)
    if extra:
        raise PlatformError(
            f"{where}: {', '.join(extra)} not handled by tests/testbed/nodes.py (it knows {', '.join(sorted(known))});"
            " add the option there, with a test, before a scenario uses it")


def check_platforms(platforms: list[dict[str, Any]]) -> None:
    """Refuse what create() would not honour: unknown keys, a missing image, an image to build."""
    for platform in platforms:
        name = platform.get("name") or "a platform without a name"
        _unknown(f"platform {name}", platform, PLATFORM_KEYS)
        if not platform.get("name") or not platform.get("image"):
            raise PlatformError(f"platform {name}: name and image are required")
        if not platform.get("pre_build_image"):
            raise PlatformError(f"platform {name}: pre_build_image must be true (the test bed never builds or pulls)")
        for network in platform.get("networks", []):
            _unknown(f"platform {name}, network {network.get('name')}", network, NETWORK_KEYS)
        for network in platform.get("docker_networks", []):
            _unknown(f"platform {name}, docker_networks {network.get('name')}", network, DOCKER_NETWORK_KEYS)
            for ipam in network.get("ipam_config", []):
                _unknown(f"docker_networks {network.get('name')}, ipam_config", ipam, IPAM_KEYS)


def networks(platforms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every network the platforms declare or name, once, declared settings first (as the driver's filter)."""
    found: dict[str, dict[str, Any]] = {}
    for platform in platforms:
        for network in platform.get("docker_networks", []):
            found.setdefault(network["name"], network)
    for platform in platforms:
        for network in platform.get("networks", []):
            found.setdefault(network["name"], {"name": network["name"]})
    return list(found.values())


def network_create_argv(network: dict[str, Any]) -> list[str]:
    argv = ["docker", "network", "create", "--label", LABEL]
    if network.get("internal"):
        argv.append("--internal")
    for ipam in network.get("ipam_config", []):
        if "subnet" in ipam:
            argv += ["--subnet", ipam["subnet"]]
        if "gateway" in ipam:
            argv += ["--gateway", ipam["gateway"]]
    return argv + [network["name"]]


def run_argv(platform: dict[str, Any]) -> list[str]:
    """``docker run`` for a platform, attached to its first network; connect_argvs() attaches the others."""
    argv = ["docker", "run", "--detach", "--name", platform["name"], "--hostname", platform.get("hostname", platform["name"]),
            "--label", LABEL]
    for cap in platform.get("capabilities", []):
        argv += ["--cap-add", cap]
    for opt in platform.get("security_opts", []):
        argv += ["--security-opt", opt]
    if "cgroupns_mode" in platform:
        argv += ["--cgroupns", platform["cgroupns_mode"]]
    for volume in platform.get("volumes", []):
        argv += ["--volume", volume]
    for path in platform.get("tmpfs", []):
        argv += ["--tmpfs", path]
    nets = platform.get("networks", [])
    if nets:
        argv += ["--network", nets[0]["name"]]
        if "ipv4_address" in nets[0]:
            argv += ["--ip", nets[0]["ipv4_address"]]
    argv.append(platform["image"])
    if "command" in platform:
        argv += platform["command"].split()
    return argv


def connect_argvs(platform: dict[str, Any]) -> list[list[str]]:
    out = []
    for network in platform.get("networks", [])[1:]:
        argv = ["docker", "network", "connect"]
        if "ipv4_address" in network:
            argv += ["--ip", network["ipv4_address"]]
        out.append(argv + [network["name"], platform["name"]])
    return out


# -- I/O -------------------------------------------------------------------------------------------------

def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def _existing(kind: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """docker inspect of those of the names that exist, by name."""
    if not names:
        return {}
    proc = _run(["docker", kind, "inspect", *names])
    try:
        found = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        found = []
    return {item["Name"].lstrip("/"): item for item in found}


def wait_for_systemd(name: str, timeout: float = 120) -> None:
    """Wait until systemd in container ``name`` has finished booting: running, or degraded (a unit a container
    cannot start). Until its bus is up, systemctl cannot answer at all, so the question is asked again."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        proc = subprocess.run(["docker", "exec", name, "timeout", "90", "systemctl", "is-system-running", "--wait"],
                              capture_output=True, text=True, timeout=120, check=False)
        state = proc.stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"container {name}: systemd did not finish booting in {timeout:.0f} s ({state or 'no answer'})")


def _fail(what: str, proc: subprocess.CompletedProcess[str]) -> str:
    return f"{what}: {' '.join(proc.args)}\n{proc.stderr.strip()}"


def create(platforms: list[dict[str, Any]]) -> list[str]:
    """Make the networks and start the containers; returns what was made (empty when all existed)."""
    check_platforms(platforms)
    made: list[str] = []
    nets = networks(platforms)
    have_nets = _existing("network", [n["name"] for n in nets])
    for network in nets:
        if network["name"] not in have_nets:
            proc = _run(network_create_argv(network))
            if proc.returncode != 0:
                raise RuntimeError(_fail(f"network {network['name']}", proc))
            made.append(f"network {network['name']}")
    have = _existing("container", [p["name"] for p in platforms])

    def start(platform: dict[str, Any]) -> str | None:
        name = platform["name"]
        if name in have and have[name]["State"]["Running"]:
            return None
        argvs = [["docker", "start", name]] if name in have else [run_argv(platform), *connect_argvs(platform)]
        for argv in argvs:
            proc = _run(argv)
            if proc.returncode != 0:
                raise RuntimeError(_fail(f"container {name}", proc))
        if platform.get("command", "").split()[:1] == ["/lib/systemd/systemd"]:
            wait_for_systemd(name)  # the first converge may start units at once
        return f"container {name}" + (" (started again)" if name in have else "")

    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, len(platforms))) as pool:
        for future in [pool.submit(start, p) for p in platforms]:
            try:
                result = future.result()
            except RuntimeError as exc:
                errors.append(str(exc))
            else:
                if result:
                    made.append(result)
    if errors:
        raise RuntimeError("\n".join(errors))
    return made


def destroy(platforms: list[dict[str, Any]]) -> list[str]:
    """Remove the containers, then the networks Molecule owns; returns what was removed."""
    removed: list[str] = []
    names = list(_existing("container", [p["name"] for p in platforms]))
    if names:
        proc = _run(["docker", "rm", "--force", *names])
        if proc.returncode != 0:
            raise RuntimeError(_fail("remove containers", proc))
        removed += [f"container {n}" for n in names]
    nets = _existing("network", [n["name"] for n in networks(platforms)])
    for name, info in nets.items():
        if (info.get("Labels") or {}).get("owner") == "molecule":
            proc = _run(["docker", "network", "rm", name])
            if proc.returncode != 0:
                raise RuntimeError(_fail(f"network {name}", proc))
            removed.append(f"network {name}")
    return removed


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("create", "destroy"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        platforms = json.loads(argv[2])
        done = create(platforms) if argv[1] == "create" else destroy(platforms)
    except (PlatformError, RuntimeError, json.JSONDecodeError) as exc:
        print(f"nodes.py {argv[1]}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"changed": bool(done), "done": done}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
