#!/usr/bin/env bash
# The Molecule node images (kubeforge-node:<suite>-<arch>, made by build-image.sh):
#   images.sh now IMAGE...         build them side by side and wait; fails if one fails
#   images.sh background IMAGE...  start their builds detached and at a lower priority, then return
#   images.sh wait IMAGE...        wait for each one's background build, or build it now if none runs
# IMAGE is <suite>-<arch>, e.g. bookworm-arm64. An up-to-date image costs a second either way.
# A background build keeps its state in .cache/images/: <image>.pid while it runs, then
# <image>.rc (its exit status) and <image>.log.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=$(cd "$here/../.." && pwd)/.cache/images
mkdir -p "$state"
log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*"; }

build() { "$here/build-image.sh" "${1%-*}" "${1##*-}"; }
running() {  # a background build of $1 is under way (its pid is alive and still ours)
  local pid
  pid=$(cat "$state/$1.pid" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'images.sh background'
}

cmd=${1:?usage: images.sh now|background|wait IMAGE...}; shift
case "$cmd" in
  now)
    pids=()
    for image in "$@"; do build "$image" & pids+=("$!"); done
    failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ "$failed" -eq 0 ] || { echo "images: a node image failed to build (its error is above)" >&2; exit 1; }
    ;;
  background)
    for image in "$@"; do
      if running "$image"; then log "kubeforge-node:$image is already being built"; continue; fi
      rm -f "$state/$image.rc"
      # nice: the lint, the unit tests and the first scenarios run meanwhile and come first.
      (
        nice -n 5 "$here/build-image.sh" "${image%-*}" "${image##*-}" > "$state/$image.log" 2>&1
        echo $? > "$state/$image.rc.tmp" && mv "$state/$image.rc.tmp" "$state/$image.rc"
      ) < /dev/null > /dev/null 2>&1 &
      echo "$!" > "$state/$image.pid"
      log "building kubeforge-node:$image in the background (log: $state/$image.log)"
    done
    ;;
  wait)
    for image in "$@"; do
      if running "$image"; then
        start=$(date +%s)
        log "waiting for kubeforge-node:$image, still building in the background"
        tail --pid="$(cat "$state/$image.pid")" -f /dev/null
        log "kubeforge-node:$image: waited $(( $(date +%s) - start ))s"
      fi
      if [ -e "$state/$image.rc" ] && [ "$(cat "$state/$image.rc")" != 0 ]; then
        tail -n 30 "$state/$image.log" >&2
        echo "images: the background build of kubeforge-node:$image failed (above, whole log in $state/$image.log)" >&2
        exit 1
      fi
      # Up to date after a background build: returns at once. Otherwise (no build ran) build it now.
      build "$image" > /dev/null || exit 1
    done
    ;;
  *) echo "usage: images.sh now|background|wait IMAGE..." >&2; exit 2 ;;
esac
