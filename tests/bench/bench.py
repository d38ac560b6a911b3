#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench: time site.yml against the floor for each cluster shape, on containers of its own.

    tests/bench/bench.py [--shapes k3s-1,k3s-1+2,...] [--runs 3] [--big-runs 1] [--out docs/benchmarks.md]
    tests/bench/bench.py --smoke        one shape, one run, no report file: what make test runs

For each run of a shape it starts fresh node containers (the test bed's image and options, on a
docker network of its own), runs the floor playbook on one set and site.yml on another, then reruns
site.yml unchanged (and, for the shapes that say so, with one more agent). The controller's release
source is a loopback mirror of its own (tests/doubles/mirror.py, with an access log); each site.yml
run starts with an empty artifact cache, so the first converge's downloads are all counted.

Bounded: every playbook has a deadline (--deadline for the whole run), and the containers, the network
and the mirror are removed at the end, on a failure, on Ctrl-C and on SIGTERM. Needs make setup and
make doubles (the Makefile's bench targets run them). Talks only to loopback and its own containers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from benchlib.report import (ShapeResult, backup_markdown, markdown, targets, upgrade_markdown,  # noqa: E402
                             workloads_markdown)
from benchlib.shapes import (BACKUP_SHAPES, IMAGE, K3S_UPGRADE_FROM, K3S_VERSION, KUBERNETES_VERSION, SHAPES, SMOKE,  # noqa: E402
                             Shape,
                             forks_for, host_names, inventory)
from benchlib.stats import RunStats, read_access_log, read_events  # noqa: E402

# The test bed's node containers: the wait for systemd is the one the Molecule scenarios' create step uses.
_NODES_SPEC = importlib.util.spec_from_file_location("testbed_nodes", os.path.join(ROOT, "tests", "testbed", "nodes.py"))
assert _NODES_SPEC and _NODES_SPEC.loader
nodes = importlib.util.module_from_spec(_NODES_SPEC)
_NODES_SPEC.loader.exec_module(nodes)

LABEL = "kubeforge.bench"
# --workloads: three workloads for every cluster (a CRD and an object of it; a template rendered per cluster; an
# object waited for), the shape of a small estate's shared list.
WORKLOADS = [
    {"name": "gadgets", "namespace": "gadgets", "selector": {},
     "manifests": [{"definition": {
         "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": "gadgets.bench.example.com"},
         "spec": {"group": "bench.example.com", "scope": "Namespaced",
                  "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                  "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                      "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}},
         {"definition": {"apiVersion": "bench.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
                         "spec": {"size": 1}}}]},
    {"name": "settings", "namespace": "settings", "selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
     "manifests": [{"definition": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                                   "data": {"cluster": "{{ workloads_cluster.name }}"}}}]},
    {"name": "tools", "namespace": "tools", "selector": {},
     "manifests": [{"definition": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tools"},
                                   "data": {"tier": "{{ workloads_cluster.labels.tier }}"}}}],
     "wait_for": [{"kind": "ConfigMap", "name": "tools"}]},
]
NODE_OPTIONS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
]



class ApiReader(threading.Thread):
    """Reads /readyz every 0.5 s through the first of the servers that answers, until finish()."""

    def __init__(self, bench: "Bench", servers: Sequence[str]) -> None:
        super().__init__(daemon=True)
        self.bench, self.servers = bench, list(servers)
        self.stop = threading.Event()
        self.reads = self.failed = 0

    def read_once(self) -> bool:
        for server in self.servers:
            try:
                if self.bench.docker("exec", server, "k3s", "kubectl", "get", "--raw", "/readyz",
                                     "--request-timeout=2s", timeout=10) == "ok":
                    return True
            except (BenchError, subprocess.TimeoutExpired):
                continue
        return False

    def run(self) -> None:
        while not self.stop.is_set():
            self.reads += 1
            if not self.read_once():
                self.failed += 1
            self.stop.wait(0.5)

    def finish(self) -> tuple[int, int]:
        self.stop.set()
        self.join(timeout=30)
        return self.reads, self.failed

class BenchError(Exception):
    pass


def kubectl_on_node(distribution: str) -> List[str]:
    """The command a node runs kubectl with: K3s's own, or kubeadm's kubectl with the admin kubeconfig."""
    return ["k3s", "kubectl"] if distribution == "k3s" else ["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Bench:
    def __init__(self, work: str, deadline: float) -> None:
        self.tag = f"kfbench{os.getpid()}"
        self.work = work
        self.deadline = deadline
        self.mirror: Optional[subprocess.Popen] = None
        self.mirror_log = os.path.join(work, "mirror.log")
        self.mirror_url = ""
        self.network = self.tag
        self.releases = os.path.join(ROOT, ".cache", "releases")

    # -- docker ---------------------------------------------------------------------------
    def docker(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise BenchError(f"docker {' '.join(args[:2])} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def start(self) -> None:
        if not os.path.isdir(self.releases):
            raise BenchError(f"no release tree at {self.releases}: run make doubles first")
        self.docker("image", "inspect", IMAGE)
        self.docker("network", "create", "--label", f"{LABEL}={self.tag}", self.network)
        self.start_mirror()

    def start_mirror(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.mirror = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "doubles", "mirror.py"), "--root", self.releases,
             "--port", str(port), "--bind", "127.0.0.1", "--log", self.mirror_log],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.mirror_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if self.mirror.poll() is not None:
                    raise BenchError("the release mirror exited at start")
                time.sleep(0.1)
        raise BenchError("the release mirror did not come up")

    def cleanup(self) -> None:
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}={self.tag}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        subprocess.run(["docker", "network", "rm", self.network], capture_output=True)
        if self.mirror and self.mirror.poll() is None:
            self.mirror.terminate()
            self.mirror.wait(10)

    def containers(self, names: Sequence[str]) -> None:
        def run(name: str) -> None:
            self.docker("run", "-d", "--name", name, "--hostname", name, "--network", self.network,
                        "--label", f"{LABEL}={self.tag}", *NODE_OPTIONS, IMAGE, "/lib/systemd/systemd")
            try:
                nodes.wait_for_systemd(name)
            except RuntimeError as exc:
                raise BenchError(str(exc)) from exc
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(run, names))

    def remove(self, names: Sequence[str]) -> None:
        if names:
            subprocess.run(["docker", "rm", "-f", *names], capture_output=True, timeout=300)

    def address(self, name: str) -> str:
        return self.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)

    def peak_rss_mib(self, name: str, unit: str) -> Optional[float]:
        """The high-water mark of a unit's main process on a node (VmHWM), in MiB."""
        script = f"pid=$(systemctl show -p MainPID --value {unit}); grep VmHWM /proc/$pid/status"
        proc = subprocess.run(["docker", "exec", name, "sh", "-c", script], capture_output=True, text=True)
        fields = proc.stdout.split()
        return int(fields[1]) / 1024 if proc.returncode == 0 and len(fields) >= 2 else None

    # -- ansible --------------------------------------------------------------------------
    def playbook(self, playbook: str, inv: Dict, name: str, forks: int) -> Tuple[float, RunStats, float, int]:
        """Run a playbook; return (wall seconds, what it did, controller peak RSS MiB, mirror log offset)."""
        base = os.path.join(self.work, name)
        with open(base + ".inventory.json", "w") as f:
            json.dump(inv, f, indent=1)
        events = base + ".events"
        env = dict(os.environ,
                   ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="kubeforge_bench",
                   KUBEFORGE_BENCH_EVENTS=events,
                   ANSIBLE_FORKS=str(forks),
                   ANSIBLE_FORCE_COLOR="false",
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"))
        env.pop("ANSIBLE_LOG_PATH", None)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError("out of time (--deadline)")
        offset = os.path.getsize(self.mirror_log) if os.path.exists(self.mirror_log) else 0
        with open(base + ".log", "w") as out:
            start = time.monotonic()
            proc = subprocess.Popen(["ansible-playbook", "-i", base + ".inventory.json", playbook],
                                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() - start > remaining:
                    os.killpg(proc.pid, signal.SIGKILL)
                    os.wait4(proc.pid, 0)
                    raise BenchError(f"{name}: stopped at the deadline; log: {base}.log")
                time.sleep(0.05)
            wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        with open(events) as f:
            stats = read_events(f)
        if proc.returncode != 0 or not stats.complete:
            raise BenchError(f"{name}: ansible-playbook exited {proc.returncode}; log: {base}.log")
        return wall, stats, usage.ru_maxrss / 1024, offset

    def requests_since(self, offset: int):
        with open(self.mirror_log) as f:
            f.seek(offset)
            return read_access_log(f)

    # -- one shape ------------------------------------------------------------------------
    def floor_files(self, shape: Shape) -> Dict[str, str]:
        if shape.distribution == "k3s":
            return {"k3s": f"{self.releases}/k3s-io/k3s/releases/download/{K3S_VERSION}/k3s"}
        base = f"{self.releases}/dl.k8s.io/release/{KUBERNETES_VERSION}/bin/linux/amd64"
        return {n: f"{base}/{n}" for n in ("kubeadm", "kubelet", "kubectl")}

    def images_archive(self, shape: Shape) -> Optional[Tuple[str, str]]:
        """The kubeadm image archive make doubles built, and its digest (tests/testbed/kubeadm_images.py)."""
        if shape.distribution != "kubeadm":
            return None
        path = f"{self.releases}/kubeadm-images/{KUBERNETES_VERSION}/kubeadm-images-amd64.tar"
        with open(path + ".sha256") as f:
            return path, f.read().strip()

    def run_floor(self, shape: Shape, run: int, result: ShapeResult) -> None:
        prefix = f"{self.tag}-{shape.key.replace('+', 'p')}-f{run}"
        groups = host_names(shape, prefix)
        names = [n for g in groups.values() for n in g]
        try:
            self.containers(names)
            endpoint = self.address(groups["loadbalancers"][0]) if shape.loadbalancers else None
            inv = inventory(shape, groups, mirror_url=self.mirror_url, run_dir=self.run_dir(prefix),
                            api_endpoint=endpoint, floor_files=self.floor_files(shape),
                            images_archive=self.images_archive(shape))
            wall, _, _, _ = self.playbook(os.path.join(HERE, "floor", f"{shape.distribution}.yml"), inv,
                                          f"{prefix}-floor", forks_for(shape.hosts))
            result.floor.append(wall)
            log(f"{shape.key} run {run}: floor {wall:.1f}s")
        finally:
            self.remove(names)

    def run_dir(self, prefix: str) -> str:
        path = os.path.join(self.work, prefix)
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def run_site(self, shape: Shape, run: int, result: ShapeResult) -> None:
        prefix = f"{self.tag}-{shape.key.replace('+', 'p')}-r{run}"
        groups = host_names(shape, prefix)
        grown = host_names(shape, prefix, extra_agents=1) if shape.grow else groups
        names = sorted({n for g in grown.values() for n in g})
        site = os.path.join(ROOT, "site.yml")
        forks = forks_for(shape.hosts + (1 if shape.grow else 0))
        try:
            self.containers(names)
            endpoint = self.address(groups["loadbalancers"][0]) if shape.loadbalancers else None
            run_dir = self.run_dir(prefix)
            inv = inventory(shape, groups, mirror_url=self.mirror_url, run_dir=run_dir, api_endpoint=endpoint,
                            images_archive=self.images_archive(shape))

            wall, stats, rss, offset = self.playbook(site, inv, f"{prefix}-converge", forks)
            req = self.requests_since(offset)
            result.converge.append(wall)
            result.tasks_per_host.append(stats.max_tasks_per_host)
            result.downloads.append(req.downloads)
            result.distinct_files.append(req.distinct_files)
            result.copies.append(stats.copies)
            result.controller_rss_mib.append(rss)
            result.roles.append(stats.role_seconds)
            log(f"{shape.key} run {run}: converge {wall:.1f}s, {stats.changed} changed, "
                f"{req.downloads} downloads, {stats.copies} copies")

            wall, stats, rss, offset = self.playbook(site, inv, f"{prefix}-rerun", forks)
            req = self.requests_since(offset)
            result.rerun.append(wall)
            result.rerun_changed.append(stats.changed)
            result.rerun_tasks_per_host.append(stats.max_tasks_per_host)
            result.rerun_requests.append(req.downloads + req.metadata)
            result.rerun_copies.append(stats.copies)
            result.controller_rss_mib[-1] = max(result.controller_rss_mib[-1], rss)
            log(f"{shape.key} run {run}: rerun {wall:.1f}s, {stats.changed} changed, "
                f"{req.downloads + req.metadata} requests to the release source")

            unit = "k3s" if shape.distribution == "k3s" else "kubelet"
            rss_node = self.peak_rss_mib(groups["servers"][0], unit)
            if rss_node is not None:
                result.node_rss_mib.append(rss_node)

            if shape.grow:
                inv = inventory(shape, grown, mirror_url=self.mirror_url, run_dir=run_dir, api_endpoint=endpoint,
                                images_archive=self.images_archive(shape))
                wall, stats, _, _ = self.playbook(site, inv, f"{prefix}-grow", forks)
                result.grow.append(wall)
                result.grow_changed.append(stats.changed)
                log(f"{shape.key} run {run}: one more agent {wall:.1f}s, {stats.changed} changed")
        finally:
            self.remove(names)


    # -- backup and restore -----------------------------------------------------------------
    def run_backup(self, markers: Sequence[int]) -> List[Dict[str, float]]:
        """Time backup.yml and restore.yml of each of BACKUP_SHAPES (K3s 3 embedded etcd servers, a kubeadm control
        plane with stacked etcd) holding each count of marker ConfigMaps.

        One cluster a shape for all counts, in ascending order: markers are added up to each count, then the cluster
        is backed up and restored from that backup. Returns one row per shape and count: the cluster, markers, backup
        and restore seconds, and the size of the backup's datastore file in bytes."""
        rows: List[Dict[str, Any]] = []
        for shape in BACKUP_SHAPES:
            rows += self.run_backup_shape(shape, markers)
        return rows

    def run_backup_shape(self, shape: Shape, markers: Sequence[int]) -> List[Dict[str, Any]]:
        prefix = f"{self.tag}-backup-{shape.distribution}"
        groups = host_names(shape, prefix)
        run_dir = self.run_dir(prefix)
        names = groups["servers"]
        forks = forks_for(shape.hosts)
        rows: List[Dict[str, Any]] = []
        try:
            self.containers(names)
            inv = inventory(shape, groups, mirror_url=self.mirror_url, run_dir=run_dir,
                            images_archive=self.images_archive(shape))
            inv["all"]["vars"]["backup_dir"] = f"{run_dir}/backups"
            wall, _, _, _ = self.playbook(os.path.join(ROOT, "site.yml"), inv, f"{prefix}-site", forks)
            log(f"backup: {shape.title} built in {wall:.1f}s")
            have = 0
            for count in sorted(set(markers)):
                self.add_markers(names[0], have, count, shape.distribution)
                have = count
                backup, _, _, _ = self.playbook(os.path.join(ROOT, "playbooks", "backup.yml"), inv,
                                                f"{prefix}-backup-{count}", forks)
                folder = sorted(os.listdir(f"{run_dir}/backups/bench"))[-1]
                with open(f"{run_dir}/backups/bench/{folder}/manifest.json") as f:
                    size = sum(e["size"] for e in json.load(f)["files"] if e["role"] == "datastore")
                restore_inv = json.loads(json.dumps(inv))
                restore_inv["all"]["vars"].update(restore_from=f"{run_dir}/backups/bench/{folder}", restore_confirm="bench")
                restore, _, _, _ = self.playbook(os.path.join(ROOT, "playbooks", "restore.yml"), restore_inv,
                                                 f"{prefix}-restore-{count}", forks)
                left = self.docker("exec", names[0], *kubectl_on_node(shape.distribution), "get", "configmaps",
                                   "-n", "default", "-l", "kubeforge.io/bench=marker", "-o", "name", timeout=300).split()
                if len(left) != count:
                    raise BenchError(f"backup: {len(left)} markers after the restore of {shape.key}, not {count}")
                log(f"backup: {shape.key}, {count} markers: backup {backup:.1f}s, restore {restore:.1f}s, "
                    f"snapshot {size} bytes")
                rows.append({"cluster": shape.title, "markers": count, "backup": backup, "restore": restore,
                             "snapshot_bytes": size})
        finally:
            self.remove(names)
        return rows

    # -- upgrades ---------------------------------------------------------------------------
    def run_upgrade(self, agent_counts: Sequence[int]) -> List[Dict[str, float]]:
        """Time upgrade.yml of a K3s cluster of 3 servers (embedded etcd) and N agents from K3S_UPGRADE_FROM to
        K3S_VERSION, for each N.

        A new cluster per count, built by site.yml at K3S_UPGRADE_FROM; then upgrade.yml with its defaults, checked
        (every Node at K3S_VERSION), and run again, which must change nothing. While the upgrade runs, a reader asks
        the API for /readyz every 0.5 s, through the first server that answers (a client that knows every server's
        address, as a load balancer would). Returns one row per count: agents, upgrade and rerun seconds, the files
        the upgrade downloaded from the release source, the reads and the reads no server answered."""
        rows: List[Dict[str, float]] = []
        for count in agent_counts:
            shape = Shape(f"k3s-3+{count}", f"K3s 3 servers (etcd) + {count} agents", "k3s", 3, count)
            prefix = f"{self.tag}-upgrade-{count}"
            groups = host_names(shape, prefix)
            names = groups["servers"] + groups["agents"]
            forks = forks_for(shape.hosts)
            upgrade = os.path.join(ROOT, "playbooks", "upgrade.yml")
            try:
                self.containers(names)
                inv = inventory(shape, groups, mirror_url=self.mirror_url, run_dir=self.run_dir(prefix))
                inv["all"]["vars"]["cluster_k3s_version"] = K3S_UPGRADE_FROM
                wall, _, _, _ = self.playbook(os.path.join(ROOT, "site.yml"), inv, f"{prefix}-site", forks)
                log(f"upgrade: {shape.title} built at {K3S_UPGRADE_FROM} in {wall:.1f}s")
                inv["all"]["vars"]["cluster_k3s_version"] = K3S_VERSION
                reader = ApiReader(self, groups["servers"])
                reader.start()
                try:
                    wall, _, _, offset = self.playbook(upgrade, inv, f"{prefix}-upgrade", forks)
                finally:
                    reads, failed = reader.finish()
                downloads = self.requests_since(offset).downloads
                seen = self.docker("exec", names[0], "k3s", "kubectl", "get", "nodes", "-o",
                                   "jsonpath={.items[*].status.nodeInfo.kubeletVersion}").split()
                if seen != [K3S_VERSION] * len(names):
                    raise BenchError(f"upgrade: the Nodes report {seen} after the upgrade, not {K3S_VERSION} each")
                rerun, stats, _, _ = self.playbook(upgrade, inv, f"{prefix}-rerun", forks)
                if stats.changed:
                    raise BenchError(f"upgrade: the rerun changed {stats.changed} things; log: {prefix}-rerun.log")
                log(f"upgrade: {shape.title} upgraded in {wall:.1f}s ({downloads} downloads; {failed} of {reads} "
                    f"API reads failed), rerun {rerun:.1f}s")
                rows.append({"agents": count, "upgrade": wall, "rerun": rerun, "downloads": downloads,
                             "reads": reads, "failed": failed})
            finally:
                self.remove(names)
        return rows

    # -- workloads --------------------------------------------------------------------------
    def run_workloads(self, cluster_counts: Sequence[int]) -> List[Dict[str, float]]:
        """Time playbooks/workloads.yml applying WORKLOADS to N single-server K3s clusters (SQLite), for each N.

        New clusters per count, each its own container and cluster_name, built by site.yml without workloads; then
        workloads.yml applies the three workloads to every cluster (timed), is checked (every cluster holds them),
        and runs again, which must change nothing (timed). Returns one row per count: clusters, apply and rerun
        seconds."""
        rows: List[Dict[str, float]] = []
        for count in cluster_counts:
            prefix = f"{self.tag}-workloads-{count}"
            names = [f"{prefix}-s{i}" for i in range(1, count + 1)]
            forks = forks_for(count)
            # One server a cluster: the shape gives the inventory its K3s settings (SQLite, no load balancer).
            shape = Shape(f"k3s-x{count}", f"{count} K3s clusters of one server", "k3s", 1, 0)
            try:
                self.containers(names)
                run_dir = self.run_dir(prefix)
                inv = inventory(shape, {"servers": names}, mirror_url=self.mirror_url, run_dir=run_dir)
                del inv["all"]["vars"]["cluster_name"]
                for i, name in enumerate(names, 1):
                    inv["all"]["children"]["servers"]["hosts"][name] = {
                        "cluster_name": f"bench-{i}", "cluster_labels": {"tier": "edge" if i % 2 else "core"}}
                wall, _, _, _ = self.playbook(os.path.join(ROOT, "site.yml"), inv, f"{prefix}-site", forks)
                log(f"workloads: {count} clusters built in {wall:.1f}s")
                inv["all"]["vars"].update(workloads_list=WORKLOADS, workloads_files_dir=HERE)
                playbook = os.path.join(ROOT, "playbooks", "workloads.yml")
                wall, stats, _, _ = self.playbook(playbook, inv, f"{prefix}-apply", forks)
                for name in names:
                    have = self.docker("exec", name, "k3s", "kubectl", "get", "configmaps,gadgets", "-A", "-l",
                                       "app.kubernetes.io/managed-by=kubeforge", "-o", "name").split()
                    # the objects of the three workloads, and the record of what is applied
                    if len(have) != 4:
                        raise BenchError(f"workloads: {name} holds {have} after the run, not the 3 objects and the "
                                         "record")
                rerun, restats, _, _ = self.playbook(playbook, inv, f"{prefix}-rerun", forks)
                if restats.changed:
                    raise BenchError(f"workloads: the rerun changed {restats.changed} things; log: {prefix}-rerun.log")
                log(f"workloads: {count} clusters: apply {wall:.1f}s ({stats.changed} changed), rerun {rerun:.1f}s")
                rows.append({"clusters": count, "apply": wall, "rerun": rerun, "changed": stats.changed})
            finally:
                self.remove(names)
        return rows

    def add_markers(self, node: str, start: int, end: int, distribution: str = "k3s") -> None:
        """Create the ConfigMaps kf-bench-<start>..<end - 1> on the cluster, through the node's kubectl."""
        for first in range(start, end, 500):
            items = [{"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": f"kf-bench-{i}", "namespace": "default", "labels": {"kubeforge.io/bench": "marker"}},
                      "data": {"n": str(i)}} for i in range(first, min(end, first + 500))]
            proc = subprocess.run(["docker", "exec", "-i", node, *kubectl_on_node(distribution), "create", "--validate=false",
                                   "-f", "-"],
                                  input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
                                  capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise BenchError(f"backup: creating markers failed: {proc.stderr.strip()[-300:]}")


def machine() -> str:
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    distro = ""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            distro = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line).get("PRETTY_NAME", "").strip('"')
    return f"{os.cpu_count()} cores ({model}), {mem} memory, {distro or platform.platform()}"


def collection_commit() -> str:
    """The last commit that changed what the benchmark measures (roles, playbooks, plugins), not the harness."""
    proc = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %cs", "--", "roles", "playbooks", "plugins",
                           "site.yml", "meta", "ansible.cfg"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "roles", "playbooks", "plugins",
                            "site.yml", "meta", "ansible.cfg"], capture_output=True, text=True).stdout.strip()
    commit = proc.stdout.strip() or "unknown"
    return commit + (" with uncommitted changes" if dirty else "")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated: " + ", ".join(SHAPES))
    ap.add_argument("--runs", type=int, default=3, help="runs per shape (default 3)")
    ap.add_argument("--big-runs", type=int, default=1, help="runs of the 1+24 shape (default 1)")
    ap.add_argument("--smoke", action="store_true", help=f"{SMOKE} only, one run, no report file")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"), help="the Markdown report")
    ap.add_argument("--deadline", type=float, default=None, help="seconds for the whole run (3 h; smoke 15 min)")
    ap.add_argument("--backup", metavar="N[,N...]",
                    help="instead of the shapes: time backup.yml and restore.yml of a K3s 3-server etcd cluster holding "
                         "N marker ConfigMaps, for each N; writes docs/benchmarks-backup.md")
    ap.add_argument("--upgrade", metavar="N[,N...]",
                    help="instead of the shapes: time playbooks/upgrade.yml of a K3s cluster of 1 server and N agents, "
                         "for each N; writes docs/benchmarks-upgrade.md")
    ap.add_argument("--workloads", metavar="N[,N...]",
                    help="instead of the shapes: time playbooks/workloads.yml applying 3 workloads to N single-server "
                         "K3s clusters, for each N; writes docs/benchmarks-workloads.md")
    ap.add_argument("--reuse", metavar="RESULTS_JSON",
                    help="take the shapes this run does not measure from an earlier run's results.json (the report says so)")
    a = ap.parse_args(argv)
    if a.smoke:
        shapes, runs, big, out = [SMOKE], 1, 1, None
    else:
        shapes, runs, big, out = a.shapes.split(","), a.runs, a.big_runs, a.out
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        ap.error(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}")
    if shutil.which("ansible-playbook") is None or shutil.which("docker") is None:
        ap.error("ansible-playbook and docker must be on PATH: run make setup (make bench does)")
    deadline = time.monotonic() + (a.deadline or (900 if a.smoke else 3 * 3600))

    work = os.path.join(ROOT, ".cache", "bench")
    os.makedirs(work, mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix=time.strftime("%Y%m%dT%H%M%S-"), dir=work)
    bench = Bench(work, deadline)
    if a.backup:
        markers = [int(n) for n in a.backup.split(",")]
        return main_table(bench, "backup", lambda: bench.run_backup(markers), backup_markdown)
    if a.workloads:
        counts = [int(n) for n in a.workloads.split(",")]
        return main_table(bench, "workloads", lambda: bench.run_workloads(counts), workloads_markdown)
    if a.upgrade:
        counts = [int(n) for n in a.upgrade.split(",")]
        return main_table(bench, "upgrade", lambda: bench.run_upgrade(counts),
                          lambda rows, where, when: upgrade_markdown(rows, where, when,
                                                                     f"from {K3S_UPGRADE_FROM} to {K3S_VERSION}"))

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop)

    results: Dict[str, ShapeResult] = {}
    reused: Dict[str, str] = {}
    if a.reuse:
        with open(a.reuse) as f:
            earlier = json.load(f)
        for key, fields in earlier.items():
            if key in SHAPES and key not in shapes:
                results[key] = ShapeResult(SHAPES[key], **fields)
                reused[key] = os.path.basename(os.path.dirname(os.path.abspath(a.reuse)))
    failed = False
    try:
        bench.start()
        log(f"logs and inventories in {work}; mirror {bench.mirror_url}")
        for key in shapes:
            shape = SHAPES[key]
            result = results[key] = ShapeResult(shape)
            reused.pop(key, None)
            for run in range(1, (big if key == "k3s-1+24" else runs) + 1):
                try:
                    bench.run_floor(shape, run, result)
                    bench.run_site(shape, run, result)
                except BenchError as e:
                    failed = True
                    result.errors.append(str(e))
                    log(f"{key} run {run} FAILED: {e}")
                    if time.monotonic() > deadline:
                        raise
    except KeyboardInterrupt:
        log("interrupted: removing the containers")
        failed = True
    except BenchError as e:
        log(f"stopped: {e}")
        failed = True
    finally:
        bench.cleanup()

    when = time.strftime("%Y-%m-%d")
    command = "make bench-smoke" if a.smoke else "make bench"
    # The report lists the shapes in their usual order, whichever run measured them.
    results = {k: results[k] for k in SHAPES if k in results}
    report = markdown(results, f"{machine()}; the collection at commit {collection_commit()}", when, command, reused)
    print(report)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({k: {n: v for n, v in vars(r).items() if n != "shape"} for k, r in results.items() if k not in reused},
                  f, indent=1)
    if out and results and not failed:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write(report)
        log(f"wrote {out}")
    if a.smoke:
        # The harness itself must work: every run complete and the rerun changing nothing.
        r = results.get(SMOKE)
        if failed or r is None or not r.converge or not r.floor or any(r.rerun_changed):
            log("smoke: FAILED")
            return 1
        log("smoke: passed (" + "; ".join(f"{t}: {m}" for t, m, _ in targets(results)) + ")")
    return 1 if failed else 0


def main_table(bench: Bench, what: str, measure: Callable[[], List[Dict[str, float]]],
               render: Callable[[List[Dict[str, float]], str, str], str]) -> int:
    """--backup, --upgrade and --workloads: measure the rows on a fresh mirror, then write docs/benchmarks-<what>.md."""
    try:
        bench.start()
        log(f"logs and inventories in {bench.work}; mirror {bench.mirror_url}")
        rows = measure()
    except (BenchError, KeyboardInterrupt) as e:
        log(f"{what}: stopped: {e}")
        return 1
    finally:
        bench.cleanup()
    report = render(rows, f"{machine()}; the collection at commit {collection_commit()}", time.strftime("%Y-%m-%d"))
    print(report)
    out = os.path.join(ROOT, "docs", f"benchmarks-{what}.md")
    with open(out, "w") as f:
        f.write(report)
    log(f"wrote {out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
