#!/usr/bin/env bash
# Benchmark: `kujira load` of a >=150 MB multi-layer docker-archive against
# `skopeo copy docker-archive:… oci:…` of the same file, each into a fresh directory
# (the disk here discards on delete, so nothing is deleted between runs).
# Usage: bench/load.sh [path/to/kujira]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
KUJIRA=$(kujira_bin "${1:-}")
LAYERS=${LAYERS:-4}
LAYER_MB=${LAYER_MB:-40}
work=$(mktemp -d /tmp/kujira-bench-load.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A multi-layer image made with umoci, exported to docker-archive with skopeo.
# CONTENT=usr (default): real files from this machine's /usr/lib, LAYER_MB per layer —
# content that compresses like a real image's. CONTENT=random: one incompressible
# LAYER_MB file plus 500 small files per layer (a worst case for kujira against
# skopeo, whose gzip of the OCI copy is cheap on incompressible data).
CONTENT=${CONTENT:-usr}
fill_from_usr() { # fill_from_usr DIR LAYER: the LAYER-th LAYER_MB slice of /usr/lib
    python3 - "$1" "$2" "$LAYER_MB" <<'PY'
import os, shutil, sys
dst, layer, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
budget = mb * 1000 * 1000
skip, seen, used = (layer - 1) * budget, 0, 0
for d, dirs, files in os.walk("/usr/lib"):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(d, f)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        size = os.path.getsize(p)
        if seen < skip:
            seen += size
            continue
        if used + size > budget:
            continue
        t = os.path.join(dst, os.path.relpath(p, "/usr/lib"))
        os.makedirs(os.path.dirname(t), exist_ok=True)
        try:
            shutil.copy2(p, t)
            used += size
        except OSError:
            pass
    if used >= budget * 0.98:
        break
PY
}
umoci init --layout "$work/layout" >/dev/null
umoci new --image "$work/layout:bench" >/dev/null
for l in $(seq 1 "$LAYERS"); do
    rm -rf "$work/bundle"
    umoci unpack --image "$work/layout:bench" "$work/bundle" >/dev/null
    mkdir -p "$work/bundle/rootfs/layer$l/small"
    if [[ "$CONTENT" == random ]]; then
        head -c $((LAYER_MB * 1000 * 1000)) /dev/urandom >"$work/bundle/rootfs/layer$l/blob"
        for f in $(seq 1 500); do echo "file $f of layer $l" >"$work/bundle/rootfs/layer$l/small/f$f"; done
    else
        fill_from_usr "$work/bundle/rootfs/layer$l" "$l"
    fi
    umoci repack --image "$work/layout:bench" "$work/bundle" >/dev/null
done
skopeo copy --quiet "oci:$work/layout:bench" "docker-archive:$work/bench.tar:bench:latest"
ls -l "$work/bench.tar" >&2

hyperfine -N --warmup 1 --runs ${RUNS:-10} --export-markdown "$work/load.md" \
    --prepare "mkdir -p $work/runs && sync" \
    -n "kujira load" "bash -c 'KUJIRA_ROOT=\$(mktemp -d -p $work/runs) exec $KUJIRA load -q -i $work/bench.tar'" \
    -n "skopeo copy docker-archive: oci:" "bash -c 'exec skopeo copy --quiet docker-archive:$work/bench.tar oci:\$(mktemp -d -p $work/runs):bench'" \
    -n "skopeo copy, then sync (as durable as kujira)" "bash -c 'skopeo copy --quiet docker-archive:$work/bench.tar oci:\$(mktemp -d -p $work/runs):bench && sync'" >&2
cat "$work/load.md"
