# kubeforge.cluster reset: the steps on a node that Ansible's own modules do not take.
# The reset role runs it as `sh -c "<this file>" reset-node <command>`, with its settings in
# RESET_* environment variables (tasks/node.yml):
#   RESET_DATA_DIR      K3s data directory; empty on kubeadm nodes
#   RESET_UNITS         systemd units to look for (a name without a suffix is a .service)
#   RESET_MOUNTS        paths whose mount points go; a path ending in '-' is a name prefix
#   RESET_INTERFACES    network interfaces to delete when present
#   RESET_XTABLES       extended regular expression of the iptables lines (rules and chains) to remove
#   RESET_LINKS         tool links, removed only when they point at RESET_LINK_TARGET
#   RESET_LINK_TARGET   the k3s binary
#   RESET_PATHS         paths (shell globs allowed) to remove
#   RESET_EMPTY_DIRS    directories removed when they are left empty, deepest first
#   RESET_CHECK         paths whose presence the role asks about
#   RESET_VIP           a load balancer's VIP (address without prefix)
# `survey` changes nothing and prints one "<kind> <value>" line for each thing a reset acts on;
# the other commands print one line for each thing they changed, and nothing when there was none.

# K3s brings its own iptables-save and iptables-restore; the host's are used first, as k3s-killall.sh does.
if [ -n "$RESET_DATA_DIR" ]; then
    for bin in "$RESET_DATA_DIR"/data/*/bin; do
        [ -d "$bin" ] && PATH="$PATH:$bin:$bin/aux"
    done
fi

# Mount points under RESET_MOUNTS, deepest first.
mounts() {
    while read -r _ path _; do
        for prefix in $RESET_MOUNTS; do
            case "$prefix" in
                *-) case "$path" in "$prefix"*) echo "$path" ;; esac ;;
                *) case "$path" in "$prefix" | "$prefix"/*) echo "$path" ;; esac ;;
            esac
        done
    done < /proc/self/mounts | sort -r -u
}

# Container shims K3s started from its data directory (their first argument is the shim under
# <data-dir>/data/<hash>/bin), as k3s-killall.sh finds them.
shims() {
    [ -n "$RESET_DATA_DIR" ] || return 0
    for proc in /proc/[0-9]*; do
        first=$(tr '\0' '\n' < "$proc/cmdline" 2>/dev/null | head -n 1)
        case "$first" in
            "$RESET_DATA_DIR"/data/*/bin/containerd-shim*) echo "${proc#/proc/}" ;;
        esac
    done
}

# "<pid> <parent pid>" of every process; the command name in /proc/<pid>/stat may hold spaces, so the
# fields are read after its closing parenthesis.
process_table() {
    for proc in /proc/[0-9]*; do
        stat=$(cat "$proc/stat" 2>/dev/null) || continue
        stat=${stat##*\) }
        # shellcheck disable=SC2086
        set -- $stat
        echo "${proc#/proc/} $2"
    done
}

# $2 and every process below it, from the table in $1.
tree() {
    echo "$2"
    echo "$1" | while read -r pid parent; do
        [ "$parent" = "$2" ] && tree "$1" "$pid"
    done
}

# The interfaces of RESET_INTERFACES that exist, and the veth ends attached to cni0.
interfaces() {
    ip -o link show master cni0 2>/dev/null | while read -r _ name _; do
        name=${name%:}
        echo "${name%%@*}"
    done
    for name in $RESET_INTERFACES; do
        ip link show "$name" > /dev/null 2>&1 && echo "$name"
    done
}

# "<tool> <lines>" for iptables and ip6tables when both halves of the tool exist and rules match.
xtables() {
    [ -n "$RESET_XTABLES" ] || return 0
    for tool in iptables ip6tables; do
        command -v "$tool-save" > /dev/null 2>&1 && command -v "$tool-restore" > /dev/null 2>&1 || continue
        count=$("$tool-save" 2> /dev/null | grep -c -E "$RESET_XTABLES")
        [ "${count:-0}" -gt 0 ] && echo "$tool $count"
    done
}

links() {
    for link in $RESET_LINKS; do
        [ -L "$link" ] || continue
        case "$(readlink "$link")" in
            "$RESET_LINK_TARGET" | k3s | ./k3s) echo "$link" ;;
        esac
    done
}

paths() {
    # shellcheck disable=SC2086
    for path in $RESET_PATHS; do
        if [ -e "$path" ] || [ -L "$path" ]; then echo "$path"; fi
    done
}

vips() {
    [ -n "$RESET_VIP" ] || return 0
    ip -o addr show to "$RESET_VIP" 2> /dev/null | while read -r _ name _ address _; do
        echo "$name $address"
    done
}

case "$1" in
    survey)
        for unit in $RESET_UNITS; do
            case "$unit" in *.*) file=$unit ;; *) file=$unit.service ;; esac
            systemctl cat "$file" > /dev/null 2>&1 && echo "unit $unit"
        done
        shims | sed 's/^/process /'
        mounts | sed 's/^/mount /'
        interfaces | sed 's/^/interface /'
        xtables | sed 's/^/rules /'
        links | sed 's/^/path /'
        paths | sed 's/^/path /'
        vips | sed 's/^/vip /'
        for path in $RESET_CHECK; do
            if [ -e "$path" ] || [ -L "$path" ]; then echo "exists $path"; fi
        done
        ;;
    kill)
        found=$(shims)
        [ -n "$found" ] || exit 0
        table=$(process_table)
        victims=$(for pid in $found; do tree "$table" "$pid"; done | sort -u)
        # shellcheck disable=SC2086
        kill -9 $victims 2> /dev/null
        echo "$victims"
        ;;
    unmount)
        # Stacked mounts need more than one pass; lazily as the last resort, so that nothing mounted is
        # left under a directory the reset deletes.
        for pass in 1 2 3 4 5; do
            found=$(mounts)
            [ -n "$found" ] || break
            for path in $found; do
                if umount -f "$path" 2> /dev/null || { [ "$pass" -gt 2 ] && umount -l "$path"; }; then
                    echo "$path"
                fi
            done
        done
        left=$(mounts)
        if [ -n "$left" ]; then
            echo "still mounted:" $left >&2
            exit 1
        fi
        ;;
    network)
        for name in $(interfaces); do
            ip link delete "$name" 2> /dev/null && echo "interface $name"
        done
        for tool in $(xtables | cut -d ' ' -f 1); do
            "$tool-save" | grep -v -E "$RESET_XTABLES" | "$tool-restore" && echo "rules $tool"
        done
        ;;
    vip)
        vips | while read -r name address; do
            ip addr del "$address" dev "$name" && echo "$address $name"
        done
        ;;
    prune)
        # Deepest first, whatever the order of the list: a directory emptied by the removal of one below it goes too.
        # shellcheck disable=SC2086  # one word per directory
        for dir in $(printf '%s\n' $RESET_EMPTY_DIRS | awk -F/ '{ print NF, $0 }' | sort -k1,1nr -s | cut -d ' ' -f 2-); do
            if [ -d "$dir" ] && [ ! -L "$dir" ] && [ -z "$(ls -A "$dir")" ]; then
                rmdir "$dir" && echo "$dir"
            fi
        done
        ;;
    *)
        echo "usage: reset-node survey|kill|unmount|network|vip|prune" >&2
        exit 2
        ;;
esac
