#!/usr/bin/env bash
# Benchmark: starting containers. `kujira run --rm busybox true` (kujira's built-in
# runtime, and with --runtime crun) against the floor (`crun run` of a prepared
# bundle: the very config.json and overlay rootfs kujira made), runc on the same
# bundle, and `podman run --rm` where installed; `exec` against the `crun exec` floor
# and `podman exec`; then 50 containers started at once. Prints hyperfine tables; no
# assertions.
# Usage: bench/containers.sh [path/to/kujira]   (builds the release binary if not given)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
KUJIRA=$(kujira_bin "${1:-}")
RUNS=${RUNS:-30}
work=$(mktemp -d /tmp/kujira-bench-run.XXXXXX)
export KUJIRA_ROOT="$work/kujira"
cleanup() {
    "$KUJIRA" rm -f $("$KUJIRA" ps -aq) >/dev/null 2>&1 || true
    if [[ -n "${PODMAN[*]:-}" ]]; then "${PODMAN[@]}" rm -af >/dev/null 2>&1 || true; fi
    rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

busybox_tar "$work"
"$KUJIRA" import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null

# The floor: kujira's own bundle for `true`, run directly by crun (in a private mount
# namespace without the cgroup2 `unified` mount, which crun 1.8 refuses) and by runc.
id=$("$KUJIRA" create busybox true)
bundle="$KUJIRA_ROOT/containers/$id/bundle"
# `create` leaves the rootfs unmounted (its start mounts it): mount it as kujira would.
graph() { "$KUJIRA" inspect -f "{{.GraphDriver.Data.$1}}" "$id"; }
mount -t overlay overlay -o "lowerdir=$(graph LowerDir),upperdir=$(graph UpperDir),workdir=$(graph WorkDir)" "$bundle/rootfs"
floor_crun="unshare -m sh -c 'mount --make-rslave / && { umount /sys/fs/cgroup/unified 2>/dev/null || true; } && exec crun --root $work/crun-state run --bundle $bundle floor-\$\$'"
floor_runc="runc --root $work/runc-state run --bundle $bundle floor-runc"
cmds=("$floor_crun" "$floor_runc" "$KUJIRA run --rm busybox true" "$KUJIRA run --rm --network none busybox true"
      "$KUJIRA run --rm --runtime crun busybox true")

PODMAN=()
if command -v podman >/dev/null; then
    PODMAN=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay --cgroup-manager cgroupfs --events-backend none --runtime runc)
    "${PODMAN[@]}" import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
    # podman raises RLIMIT_NOFILE/NPROC by default, which this host cannot (no
    # CAP_SYS_RESOURCE): give it the current hard limits.
    UL="--ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=4096:4096"
    cmds+=("${PODMAN[*]} run --rm $UL busybox true" "${PODMAN[*]} run --rm $UL --network none busybox true")
fi
# -N: no shell between hyperfine and the command, so nothing but the command is timed.
hyperfine -N --output=null --warmup 3 --min-runs "$RUNS" --export-markdown "$work/run.md" "${cmds[@]}" >&2
cat "$work/run.md"
umount "$bundle/rootfs"
"$KUJIRA" rm "$id" >/dev/null

# exec into a running container: the floor is `crun exec` into one kujira started
# with crun.
"$KUJIRA" run -d --name target busybox sleep 100000 >/dev/null
"$KUJIRA" run -d --runtime crun --name target-crun busybox sleep 100000 >/dev/null
cmds=("crun --root /run/kujira/runtime/crun exec $("$KUJIRA" inspect -f '{{.Id}}' target-crun) true"
      "$KUJIRA exec target true" "$KUJIRA exec target-crun true")
if [[ ${#PODMAN[@]} -gt 0 ]]; then
    "${PODMAN[@]}" run -d $UL --name target busybox sleep 100000 >/dev/null
    cmds+=("${PODMAN[*]} exec target true")
fi
# crun exec also needs the hybrid-cgroup workaround.
cmds[0]="unshare -m sh -c 'mount --make-rslave / && { umount /sys/fs/cgroup/unified 2>/dev/null || true; } && exec ${cmds[0]}'"
hyperfine -N --output=null --warmup 3 --min-runs "$RUNS" --export-markdown "$work/exec.md" "${cmds[@]}" >&2
cat "$work/exec.md"
"$KUJIRA" rm -f target target-crun >/dev/null

# 50 containers started at once.
start=$(date +%s%N)
for i in $(seq 1 50); do "$KUJIRA" run -d busybox sleep 100000 >/dev/null & done
wait
end=$(date +%s%N)
running=$("$KUJIRA" ps -q | wc -l)
echo
echo "50 concurrent \`kujira run -d busybox sleep\`: $(( (end - start) / 1000000 )) ms, $running running"
