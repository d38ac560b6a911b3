#!/bin/bash
# Reads /readyz twice a second with the kubectl command line given after the stop file, until the stop file exists;
# then prints the longest time between two answers (ms), the answers and the failed reads. The upgrade checks of the
# scenarios run it in the background through a cluster's load balancer or VIP.
#   tests/testbed/readyz_reader.sh STOP_FILE KUBECTL [ARGS...]
set -u
stop="$1"
shift
rm -f "$stop"
last=$(date +%s%3N)
worst=0
ok=0
bad=0
while [ ! -e "$stop" ]; do
    if "$@" get --raw /readyz --request-timeout=2s >/dev/null 2>&1; then
        now=$(date +%s%3N)
        gap=$((now - last))
        if [ "$gap" -gt "$worst" ]; then worst=$gap; fi
        last=$now
        ok=$((ok + 1))
    else
        bad=$((bad + 1))
    fi
    sleep 0.5
done
echo "$worst $ok $bad"
