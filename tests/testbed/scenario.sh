#!/usr/bin/env bash
# Run one Molecule scenario, timed; when it fails, repeat the failed tasks from
# its Ansible log at the end, where a CI summary (which keeps only the tail) sees them.
set -uo pipefail
scenario=$1
# The shared Molecule config sends each scenario's Ansible log here.
log=$PWD/.cache/logs/$scenario.log
mkdir -p "${log%/*}"
: > "$log" && chmod 600 "$log"  # results can name hosts and paths: keep them private
# The node images the scenario's platforms use; an ARM one may still be building in the background.
images=$(grep -ho 'kubeforge-node:[a-z0-9-]*' "molecule/$scenario/molecule.yml" | sed 's/^kubeforge-node://' | sort -u)
if [ -n "$images" ]; then
    # shellcheck disable=SC2086  # one word per image
    tests/testbed/images.sh wait $images || { echo "[timing] molecule $scenario: not run, a node image is missing"; exit 1; }
fi
start=$(date +%s)
molecule test -s "$scenario"; rc=$?
if [ "$rc" -ne 0 ] && [ -s "$log" ]; then
    echo "---- $scenario failed; failed tasks from $log ----"
    # A failed task's line and the lines of its result that follow it.
    grep -n -A 12 -E 'fatal: \[|failed: \[|FAILED!' "$log" | tail -n 60
    echo "---- end of failed tasks ----"
fi
echo "[timing] molecule $scenario: $(( $(date +%s) - start ))s (exit $rc)"
exit $rc
