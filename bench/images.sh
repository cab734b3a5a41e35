#!/usr/bin/env bash
# Benchmark: `images` with 1,000 tags and `inspect -f '{{.Size}}'`, kujira against
# podman on the same machine in the same run. Prints hyperfine tables; no assertions.
# Usage: bench/images.sh [path/to/kujira]   (builds the release binary if not given)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
KUJIRA=$(kujira_bin "${1:-}")
TAGS=${TAGS:-1000}
work=$(mktemp -d /tmp/kujira-bench-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
export KUJIRA_ROOT="$work/kujira"
"$KUJIRA" import "$work/rootfs.tar" bench/base:0 >/dev/null
for i in $(seq 1 $((TAGS - 1))); do
    "$KUJIRA" tag bench/base:0 "bench/img$((i % 50)):t$i"
done
echo "kujira: $("$KUJIRA" images -q | wc -l) image rows"

cmds=("$KUJIRA images" "$KUJIRA inspect -f '{{.Size}}' bench/base:0")
if command -v podman >/dev/null; then
    PODMAN=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs)
    "${PODMAN[@]}" import "$work/rootfs.tar" bench/base:0 >/dev/null
    # podman tag takes many names at once
    names=()
    for i in $(seq 1 $((TAGS - 1))); do names+=("bench/img$((i % 50)):t$i"); done
    printf '%s\n' "${names[@]}" | xargs -n 200 "${PODMAN[@]}" tag bench/base:0
    echo "podman: $("${PODMAN[@]}" images --format "{{.Repository}}:{{.Tag}}" | wc -l) image rows"
    cmds+=("${PODMAN[*]} images" "${PODMAN[*]} inspect -f '{{.Size}}' bench/base:0")
fi
hyperfine -N --warmup 3 --min-runs 20 --export-markdown "$work/images.md" "${cmds[@]}" >&2
cat "$work/images.md"
