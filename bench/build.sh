#!/usr/bin/env bash
# Benchmark: building images. A 3-stage Dockerfile (a base, two independent build
# stages that copy and read 2,500 context files each, a final stage copying from
# both; ≈ 5,000 context files) built by `kujira build` and by `buildah bud --layers`
# (Debian's buildah, installed here if missing; the same busybox base in both
# stores): cold (no cache), unchanged (everything cached) and with one source file
# changed. Prints hyperfine tables; no assertions.
# Usage: bench/build.sh [path/to/kujira]   (builds the release binary if not given)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
KUJIRA=$(kujira_bin "${1:-}")
RUNS=${RUNS:-10}
command -v buildah >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q buildah >&2
work=$(mktemp -d /var/tmp/kujira-bench-build.XXXXXX)
export KUJIRA_ROOT="$work/kujira"
BUILDAH=(buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver overlay)
cleanup() {
    "${BUILDAH[@]}" rm -a >/dev/null 2>&1 || true
    grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount 2>/dev/null || true
    rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

busybox_tar "$work"
"$KUJIRA" import -c 'CMD ["sh"]' "$work/rootfs.tar" localhost/busybox:latest >/dev/null
ctr=$("${BUILDAH[@]}" from scratch)
"${BUILDAH[@]}" add "$ctr" "$work/rootfs.tar" / >/dev/null
"${BUILDAH[@]}" config --cmd sh "$ctr"
"${BUILDAH[@]}" commit -q "$ctr" localhost/busybox:latest >/dev/null
"${BUILDAH[@]}" rm "$ctr" >/dev/null

ctx="$work/ctx"
mkdir -p "$ctx/src/a" "$ctx/src/b"
for i in $(seq 2500); do
    echo "a $i" >"$ctx/src/a/f$i.txt"
    echo "b $i" >"$ctx/src/b/f$i.txt"
done
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM localhost/busybox AS base
RUN busybox mkdir -p /work && echo base > /work/base

FROM base AS a
COPY src/a /src/a
RUN busybox cat /src/a/f1.txt /src/a/f2500.txt > /out-a

FROM base AS b
COPY src/b /src/b
RUN busybox cat /src/b/f1.txt /src/b/f2500.txt > /out-b

FROM base
COPY --from=a /out-a /out-a
COPY --from=b /out-b /out-b
CMD ["busybox", "cat", "/out-a", "/out-b"]
DOCKERFILE

# Deleting a store makes this disk discard, which slows the next write-heavy runs
# (DESIGN.md): nothing is deleted until the end. The warm runs come first; every
# cold run gets a fresh store of its own, its base image made in --prepare.
k_build="$KUJIRA build -q -t bench-out $ctx"
b_build="${BUILDAH[*]} bud --runtime runc --layers -q -t bench-out $ctx"

echo "## unchanged rebuild"
$k_build >/dev/null; $b_build >/dev/null
hyperfine -N --output=null --warmup 2 --min-runs "$RUNS" --export-markdown "$work/same.md" \
    --command-name "kujira build (unchanged)" "$k_build" \
    --command-name "buildah bud --layers (unchanged)" "$b_build" >&2
cat "$work/same.md"

echo "## one source file changed"
# `sync` first: the previous runs' writeback (of either tool) is not the next run's.
touch_one="echo change-\$RANDOM >> $ctx/src/a/f1234.txt; sync"
hyperfine --output=null --warmup 1 --min-runs "$RUNS" --export-markdown "$work/one.md" \
    --command-name "kujira build (one file changed)" --prepare "$touch_one" "$k_build" \
    --command-name "buildah bud --layers (one file changed)" --prepare "$touch_one" "$b_build" >&2
cat "$work/one.md"

echo "## cold (no cache, a fresh store per run)"
# `fresh NAME`: a new store directory for the next cold run, its path left in
# $work/NAME.cur.
cat >"$work/fresh.sh" <<FRESH
set -e
n=\$(date +%s%N)
if [ "\$1" = kujira ]; then
    d=$work/cold-kujira-\$n
    $KUJIRA --root \$d import -c 'CMD ["sh"]' $work/rootfs.tar localhost/busybox:latest >/dev/null
else
    d=$work/cold-buildah-\$n
    b="buildah --root \$d --runroot \$d-run --storage-driver overlay"
    c=\$(\$b from scratch)
    \$b add \$c $work/rootfs.tar / >/dev/null
    \$b commit -q \$c localhost/busybox:latest >/dev/null
    \$b rm \$c >/dev/null
fi
echo \$d > $work/\$1.cur
sync
FRESH
hyperfine --output=null --min-runs "$RUNS" --export-markdown "$work/cold.md" \
    --command-name "kujira build (cold)" --prepare "bash $work/fresh.sh kujira" \
    "$KUJIRA --root \$(cat $work/kujira.cur) build -q -t bench-out $ctx" \
    --command-name "buildah bud --layers (cold)" --prepare "bash $work/fresh.sh buildah" \
    "d=\$(cat $work/buildah.cur); buildah --root \$d --runroot \$d-run --storage-driver overlay bud --runtime runc --layers -q -t bench-out $ctx" >&2
cat "$work/cold.md"
