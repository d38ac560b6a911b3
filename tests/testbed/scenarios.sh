#!/usr/bin/env bash
# Run Molecule scenarios, up to JOBS at a time: scenarios.sh JOBS SCENARIO...
# Scenarios start in the order given (put the long ones first). Each one's output
# goes to .cache/logs/<scenario>.out and is printed whole when it ends, so the CI
# log reads one scenario at a time. After a failure no new scenario starts; the
# running ones finish, and the exit status is 1 with the failed ones named and their
# failed tasks printed again at the end.
set -uo pipefail
jobs=$1; shift
logdir=$PWD/.cache/logs
mkdir -p "$logdir"
start=$(date +%s)
declare -A pid_of=()
failed=()

finish() {  # print one ended scenario's output and record its result
    local s=$1 rc=$2
    echo "==== $s (exit $rc) ===="
    cat "$logdir/$s.out"
    [ "$rc" -eq 0 ] || failed+=("$s")
}

reap() {  # wait for any running scenario to end, then handle every one that has
    local s rc
    wait -n 2>/dev/null || true
    for s in "${!pid_of[@]}"; do
        if ! kill -0 "${pid_of[$s]}" 2>/dev/null; then
            wait "${pid_of[$s]}"; rc=$?
            unset "pid_of[$s]"
            finish "$s" "$rc"
        fi
    done
}

for s in "$@"; do
    while [ "${#pid_of[@]}" -ge "$jobs" ]; do reap; done
    [ "${#failed[@]}" -eq 0 ] || break
    echo "[scenarios] start $s"
    tests/testbed/scenario.sh "$s" > "$logdir/$s.out" 2>&1 &
    pid_of[$s]=$!
done
while [ "${#pid_of[@]}" -gt 0 ]; do reap; done
echo "[timing] molecule, $jobs at a time: $(( $(date +%s) - start ))s"
if [ "${#failed[@]}" -gt 0 ]; then
    # Again at the very end, where a CI summary that keeps only the tail sees them.
    for s in "${failed[@]}"; do
        echo "==== $s: failed tasks (repeated) ===="
        sed -n '/^---- .* failed; failed tasks/,/^---- end of failed tasks/p' "$logdir/$s.out" | tail -n 80
        grep -A 20 'Idempotence test failed' "$logdir/$s.out" | head -n 40 || true
        grep '^\[timing\]' "$logdir/$s.out" || true
    done
    echo "[scenarios] failed: ${failed[*]}"
    exit 1
fi
