#!/usr/bin/env bash
# Benchmark: the Docker Engine API. The same docker CLI (/usr/local/bin/docker) runs
# `version`, `ps -a` (50 containers), `images` (1,000 tags), `run --rm busybox true`
# and `exec` against `kujira serve` and against dockerd (Debian's docker.io, on a
# private data-root and socket). Both plug containers into their default bridge:
# dockerd runs in a network namespace of the script's own, so its docker0 and
# iptables rules live there and the host's network is untouched (kujira's bridge
# and nftables table are its own already). Then the idle RSS of kujira serve
# against dockerd + containerd. Prints hyperfine tables; no assertions.
# Usage: bench/api.sh [path/to/kujira]   (builds the release binary if not given)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
KUJIRA=$(kujira_bin "${1:-}")
RUNS=${RUNS:-20}
DOCKER=${DOCKER:-/usr/local/bin/docker}
work=$(mktemp -d /tmp/kujira-bench-api.XXXXXX)
export KUJIRA_ROOT="$work/kujira"
serve_pid= dockerd_pid=
netns="kujira-bench-$$"
cleanup() {
    DOCKER_HOST="unix://$work/kujira.sock" "$DOCKER" rm -f $(DOCKER_HOST="unix://$work/kujira.sock" "$DOCKER" ps -aq) >/dev/null 2>&1 || true
    if [[ -n "$dockerd_pid" ]]; then
        DOCKER_HOST="unix://$work/dockerd.sock" "$DOCKER" rm -f $(DOCKER_HOST="unix://$work/dockerd.sock" "$DOCKER" ps -aq) >/dev/null 2>&1 || true
        kill "$dockerd_pid" 2>/dev/null; wait "$dockerd_pid" 2>/dev/null || true
    fi
    [[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null
    umount -R "$work/dockerd-root" 2>/dev/null || true
    ip netns del "$netns" 2>/dev/null || true
    rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

# dockerd where installable (policy-rc.d keeps the package from starting it).
if ! command -v dockerd >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null 2>&1 \
        || echo "bench/api.sh: docker.io could not be installed; kujira only" >&2
fi

busybox_tar "$work"

"$KUJIRA" serve -H "unix://$work/kujira.sock" >"$work/serve.log" 2>&1 &
serve_pid=$!
hosts=("unix://$work/kujira.sock")
names=(kujira)
if command -v dockerd >/dev/null; then
    ip netns add "$netns"
    ip -n "$netns" link set lo up
    # nsenter, not `ip netns exec`: only the network namespace, so dockerd keeps
    # the host's /sys and its cgroup mounts.
    nsenter --net="/run/netns/$netns" dockerd --data-root "$work/dockerd-root" --exec-root "$work/dockerd-exec" \
        --pidfile "$work/dockerd.pid" -H "unix://$work/dockerd.sock" \
        --ip6tables=false \
        --exec-opt native.cgroupdriver=cgroupfs --storage-driver overlay2 \
        >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    hosts+=("unix://$work/dockerd.sock")
    names+=(dockerd)
fi
for h in "${hosts[@]}"; do
    for _ in $(seq 100); do DOCKER_HOST=$h "$DOCKER" version >/dev/null 2>&1 && break; sleep 0.1; done
    DOCKER_HOST=$h "$DOCKER" import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
done

for h in "${hosts[@]}"; do
    export DOCKER_HOST=$h
    for i in $(seq 1 50); do "$DOCKER" create busybox true >/dev/null; done
    for i in $(seq 1 1000); do "$DOCKER" tag busybox "bench/tag$i:v1"; done
    "$DOCKER" run -d --name target busybox sleep 100000 >/dev/null
done
unset DOCKER_HOST

# Idle RSS: after the setup above (an import, 50 creates, 1,000 tags, a
# running container), once both have been quiet for 12 s.
sleep 12
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
serve_rss=$(rss "$serve_pid")
echo "idle RSS: kujira serve ${serve_rss} kB"
if [[ -n "$dockerd_pid" ]]; then
    cd_pid=$(pgrep -f "containerd.*$work" | head -1 || true)
    d_rss=$(rss "$dockerd_pid"); c_rss=$([[ -n "$cd_pid" ]] && rss "$cd_pid" || echo 0)
    echo "idle RSS: dockerd ${d_rss} kB + containerd ${c_rss} kB = $((d_rss + c_rss)) kB"
    echo "ratio: $(awk "BEGIN {printf \"%.3f\", $serve_rss / ($d_rss + $c_rss)}")"
fi


bench() {
    local title=$1; shift
    local cmds=()
    # The client's own cost, no server asked: what no server can go below.
    [[ $title == version ]] && cmds+=(-n "docker --version (no server)" "$DOCKER --version")
    for i in "${!hosts[@]}"; do cmds+=(-n "${names[$i]}" "env DOCKER_HOST=${hosts[$i]} $DOCKER $*"); done
    echo; echo "### docker $*"
    hyperfine -N --output=null --warmup 3 --min-runs "$RUNS" --export-markdown "$work/$title.md" "${cmds[@]}" >&2
    cat "$work/$title.md"
}
bench version version
bench ps ps -a
bench images images
bench run run --rm busybox true
bench exec exec target true
