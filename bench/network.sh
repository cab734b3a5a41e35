#!/usr/bin/env bash
# Benchmark: networking. `kujira run --rm busybox true` on the default bridge and on
# a user network, against `--network none`, the crun floor (crun running kujira's
# own bundle, no network set-up at all) and `podman run --rm` on its default network
# (netavark, Debian's); then TCP throughput (iperf3, 5 s): two plain network
# namespaces joined by a veth pair (the floor), container to container on a user
# network, and a published port through kernel DNAT (client in a namespace playing
# an outside machine). Prints tables; no assertions.
# Usage: bench/network.sh [path/to/kujira]   (builds the release binary if not given)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
KUJIRA=$(kujira_bin "${1:-}")
RUNS=${RUNS:-30}
work=$(mktemp -d /tmp/kujira-bench-net.XXXXXX)
export KUJIRA_ROOT="$work/kujira"
for pkg in podman netavark aardvark-dns iperf3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >&2
done
cleanup() {
    "$KUJIRA" rm -f $("$KUJIRA" ps -aq) >/dev/null 2>&1 || true
    "$KUJIRA" network rm benchnet >/dev/null 2>&1 || true
    if [[ -n "${PODMAN[*]:-}" ]]; then "${PODMAN[@]}" rm -af >/dev/null 2>&1 || true; fi
    ip netns del kjb-a 2>/dev/null || true
    ip netns del kjb-b 2>/dev/null || true
    ip netns del kjb-out 2>/dev/null || true
    ip link del kjb-out0 2>/dev/null || true
    rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

busybox_tar "$work"
"$KUJIRA" import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
"$KUJIRA" network create benchnet >/dev/null
# First runs make the bridges and the firewall table; not what is measured.
"$KUJIRA" run --rm busybox true
"$KUJIRA" run --rm --network benchnet busybox true

id=$("$KUJIRA" create --network none busybox true)
bundle="$KUJIRA_ROOT/containers/$id/bundle"
graph() { "$KUJIRA" inspect -f "{{.GraphDriver.Data.$1}}" "$id"; }
mount -t overlay overlay -o "lowerdir=$(graph LowerDir),upperdir=$(graph UpperDir),workdir=$(graph WorkDir)" "$bundle/rootfs"
floor_crun="unshare -m sh -c 'mount --make-rslave / && { umount /sys/fs/cgroup/unified 2>/dev/null || true; } && exec crun --root $work/crun-state run --bundle $bundle floor-\$\$'"
cmds=("$floor_crun" "$KUJIRA run --rm --network none busybox true" "$KUJIRA run --rm busybox true"
      "$KUJIRA run --rm --network benchnet busybox true")
PODMAN=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay --cgroup-manager cgroupfs
        --events-backend none --runtime runc --network-backend netavark --network-config-dir "$work/podman-net")
"${PODMAN[@]}" import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
UL="--ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=4096:4096"
"${PODMAN[@]}" run --rm $UL busybox true
cmds+=("${PODMAN[*]} run --rm $UL busybox true" "${PODMAN[*]} run --rm $UL --network none busybox true")
# SKIP_RUN=1: the throughput part only.
if [[ -z "${SKIP_RUN:-}" ]]; then
    hyperfine -N --output=null --warmup 3 --min-runs "$RUNS" --export-markdown "$work/run.md" "${cmds[@]}" >&2
    cat "$work/run.md"
fi
umount "$bundle/rootfs"

# Throughput. iperf3 is Debian's (dynamically linked): containers run it from the
# host's root, mounted read-only, through the host's dynamic loader.
IPERF="/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path /host/usr/lib/x86_64-linux-gnu /host/usr/bin/iperf3"
gbits() { jq -r 'if .error then "iperf3: \(.error)" | halt_error else .end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100 end'; }

ip netns add kjb-a; ip netns add kjb-b
ip link add kjb-va netns kjb-a type veth peer name kjb-vb netns kjb-b
ip -n kjb-a addr add 192.0.2.201/24 dev kjb-va; ip -n kjb-a link set kjb-va up; ip -n kjb-a link set lo up
ip -n kjb-b addr add 192.0.2.202/24 dev kjb-vb; ip -n kjb-b link set kjb-vb up; ip -n kjb-b link set lo up
ip netns exec kjb-a iperf3 -s -D; sleep 0.5

"$KUJIRA" run -d --name srv --network benchnet --tmpfs /tmp -v /:/host:ro -p 5201:5201 busybox $IPERF -s >/dev/null
sleep 1

# An outside client: its own namespace, routed to the host over a veth pair.
ip netns add kjb-out
ip link add kjb-out0 type veth peer name eth0 netns kjb-out
ip addr add 198.18.250.1/24 dev kjb-out0; ip link set kjb-out0 up
ip -n kjb-out addr add 198.18.250.2/24 dev eth0; ip -n kjb-out link set eth0 up; ip -n kjb-out link set lo up

# Three 5 s runs of each, interleaved (the machine's throughput drifts); the median.
median() { sort -n | sed -n 2p; }
f=(); c=(); d=()
for _ in 1 2 3; do
    f+=("$(ip netns exec kjb-b iperf3 -J -t 5 -c 192.0.2.201 | gbits)"); sleep 1
    c+=("$("$KUJIRA" run --rm --network benchnet --tmpfs /tmp -v /:/host:ro busybox $IPERF -J -t 5 -c srv | gbits)"); sleep 1
    d+=("$(ip netns exec kjb-out iperf3 -J -t 5 -c 198.18.250.1 -p 5201 | gbits)"); sleep 1
done
floor=$(printf '%s\n' "${f[@]}" | median)
c2c=$(printf '%s\n' "${c[@]}" | median)
dnat=$(printf '%s\n' "${d[@]}" | median)
echo "runs: floor ${f[*]}; container-to-container ${c[*]}; DNAT ${d[*]}" >&2

cat <<EOF

| TCP throughput (iperf3, median of 3 × 5 s) | Gbit/s | vs the veth floor |
|:---|---:|---:|
| two namespaces joined by a veth pair (floor) | $floor | 1.00 |
| container to container, user network | $c2c | $(echo "scale=2; $c2c / $floor" | bc) |
| outside namespace to a published port (DNAT) | $dnat | $(echo "scale=2; $dnat / $floor" | bc) |
EOF
