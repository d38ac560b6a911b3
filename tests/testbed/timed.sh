#!/usr/bin/env bash
# Run a command and print how long it took: timed.sh LABEL CMD...
set -uo pipefail
label=$1; shift
start=$(date +%s)
"$@"; rc=$?
echo "[timing] $label: $(( $(date +%s) - start ))s (exit $rc)"
exit $rc
