#!/usr/bin/env bash
# Start or stop the loopback release mirror that serves the K3s test double
# laid out like the official releases, plus the channel server API.
# Usage: mirror.sh start|stop ROOT PORT
set -euo pipefail
action=${1:?usage: mirror.sh start|stop ROOT PORT}
root=${2:?root}
port=${3:?port}
here=$(cd "$(dirname "$0")" && pwd)
pidfile="$root/.mirror-$port.pid"
case "$action" in
  start)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      exit 0
    fi
    python3 "$here/../doubles/mirror.py" --root "$root" --port "$port" --bind 127.0.0.1 \
      --pidfile "$pidfile" > "$root/.mirror-$port.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if ! kill -0 "$pid" 2>/dev/null; then
        cat "$root/.mirror-$port.log" >&2
        echo "mirror: exited at start (is port $port taken? set MIRROR_PORT)" >&2
        exit 1
      fi
      if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/v1-release/channels', timeout=1)" 2>/dev/null; then
        echo "mirror: serving $root on 127.0.0.1:$port"
        exit 0
      fi
      sleep 0.1
    done
    cat "$root/.mirror-$port.log" >&2
    echo "mirror: did not come up on port $port" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
    ;;
  *) echo "usage: mirror.sh start|stop ROOT PORT" >&2; exit 2 ;;
esac
