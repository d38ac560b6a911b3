#!/usr/bin/env bash
# The unit tests, in two streams side by side: unit.sh [WORKERS]
# - the kubeadm double's tests, one after another in one process: its nodes listen on kubeadm's fixed
#   ports (127.0.0.x:2379, 2380, 6443, 10250), as kubeadm's do, so two of them cannot run at once;
# - every other test, spread over WORKERS pytest-xdist processes (default 2); they bind free ports only.
# Most of the kubeadm tests' time is waiting on the double's processes, so the two streams overlap well.
# Each stream's output is printed whole when both have ended; the exit status is 1 if either failed.
set -uo pipefail
workers=${1:-2}
out=$PWD/.cache/logs
mkdir -p "$out"
fixed=(tests/unit/doubles/test_kubeadm_double_*.py)
ignore=()
for f in "${fixed[@]}"; do ignore+=("--ignore=$f"); done
start=$(date +%s)
pytest -q -p no:cacheprovider "${fixed[@]}" > "$out/unit-fixed-ports.out" 2>&1 &
fixed_pid=$!
# A background job of a script ignores Ctrl-C: stop it with the script.
trap 'kill "$fixed_pid" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
pytest -q -p no:cacheprovider -n "$workers" "${ignore[@]}" tests/unit > "$out/unit-rest.out" 2>&1
rest_rc=$?
wait "$fixed_pid"; fixed_rc=$?
echo "==== unit tests on fixed ports (the kubeadm double), one at a time (exit $fixed_rc) ===="
cat "$out/unit-fixed-ports.out"
echo "==== the other unit tests, $workers workers (exit $rest_rc) ===="
cat "$out/unit-rest.out"
echo "[timing] unit: $(( $(date +%s) - start ))s (exit $(( fixed_rc || rest_rc )))"
[ "$fixed_rc" -eq 0 ] && [ "$rest_rc" -eq 0 ]
