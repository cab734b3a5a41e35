#!/usr/bin/env bash
# Benchmark: `kujira pull` of a python:3.11 stand-in (5 gzip layers, ~280 MB compressed)
# from a local Debian `docker-registry` on loopback, against `skopeo copy docker://…
# oci:…`, `podman pull` (where installed) and the shell floor (curl | gunzip | tar with
# sha256sum of both streams, all layers in parallel), side by side in one run.
# Every run goes into a fresh directory under one work dir (the disk here discards on
# delete, so nothing is deleted until the end). Prints markdown tables; no assertions.
# Usage: bench/pull.sh [path/to/kujira]   (builds the release binary if not given)
# Env: RUNS (3), LAYER_MB (unpacked MB per layer, 140), KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
KUJIRA=$(kujira_bin "${1:-}")
RUNS=${RUNS:-3}
LAYER_MB=${LAYER_MB:-140}
work=$(mktemp -d /tmp/kujira-pull.XXXXXX)  # short: podman wants a runroot under 50 characters
registry_pid=
cleanup() {
    [[ -n "$registry_pid" ]] && kill "$registry_pid" 2>/dev/null
    if [[ "${KEEP:-}" == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work/r"

# --- The image: a python:3.11 stand-in made of real files from this machine's /usr
# (shared libraries, toolchain, headers, docs, Python) — content that gzips about
# 2.5:1 like a real image's, with many small files. Five layers, each a size budget
# filled with files in a fixed order, built with umoci (gzip layers).
fill_layer() { # fill_layer ROOTFS PREFIX DIR...: copy files under DIRs into ROOTFS/PREFIX
    python3 - "$LAYER_MB" "$@" <<'PY'
import os, shutil, sys
budget = int(sys.argv[1]) * 1000 * 1000
root, prefix, dirs = sys.argv[2], sys.argv[3], sys.argv[4:]
used = 0
for top in dirs:
    for d, subdirs, files in os.walk(top):
        subdirs.sort()
        for f in sorted(files):
            src = os.path.join(d, f)
            if os.path.islink(src) or not os.path.isfile(src):
                continue
            size = os.path.getsize(src)
            if size > 16 << 20 or used + size > budget:
                continue
            dst = os.path.join(root, prefix, os.path.relpath(src, "/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
            used += size
print(f"layer {prefix}: {used / 1e6:.0f} MB", file=sys.stderr)
PY
}
layers=(
    "base /usr/bin /usr/sbin /usr/share"
    "libs /usr/lib/x86_64-linux-gnu"
    "toolchain /usr/lib/gcc /usr/include /usr/libexec /usr/lib/llvm-14"
    "extras /usr/lib/jvm /usr/lib/google-cloud-sdk /usr/lib/node_modules /usr/local"
    "python /usr/lib/python3.11 /usr/lib/python3 /usr/share/perl /usr/lib/postgresql"
)
umoci init --layout "$work/layout" >/dev/null
umoci new --image "$work/layout:pybench" >/dev/null
for spec in "${layers[@]}"; do
    read -r -a parts <<<"$spec"
    bundle="$work/bundle-${parts[0]}"
    umoci unpack --image "$work/layout:pybench" "$bundle" >/dev/null
    dirs=()
    for d in "${parts[@]:1}"; do [[ -d "$d" ]] && dirs+=("$d"); done
    fill_layer "$bundle/rootfs" "${parts[0]}" "${dirs[@]}"
    umoci repack --image "$work/layout:pybench" "$bundle" >/dev/null
done
umoci config --image "$work/layout:pybench" --config.cmd python3 >/dev/null

# --- A local registry on loopback (as scripts/demo.sh starts it).
source scripts/lib/local-registry.sh
start_local_registry "$work"
reg="127.0.0.1:$port"
skopeo copy --quiet --format v2s2 --dest-tls-verify=false \
    "oci:$work/layout:pybench" "docker://$reg/library/pybench:latest"

# The layer digests, from the registry's manifest, for the floor.
curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$reg/v2/library/pybench/manifests/latest" >"$work/manifest.json"
python3 - "$work/manifest.json" >"$work/layers.txt" <<'PY'
import json, sys
for l in json.load(open(sys.argv[1]))["layers"]:
    print(l["digest"], l["size"])
PY
compressed=$(awk '{s += $2} END {printf "%.0f", s / 1e6}' "$work/layers.txt")
nlayers=$(wc -l <"$work/layers.txt")
unpacked=$(find "$work/bundle-python/rootfs" -type f -printf "%s\n" | awk '{s += $1} END {printf "%.0f", s / 1e6}')
echo "image: $reg/library/pybench:latest, $nlayers layers, $compressed MB compressed, $unpacked MB of files unpacked" >&2

# The floor: every layer fetched with curl and piped through gunzip and tar, sha256 of
# the compressed and the uncompressed stream, all layers in parallel; the compressed
# sums are checked against the layer digests.
cat >"$work/floor.sh" <<SH
#!/usr/bin/env bash
set -eo pipefail
dest=\$1
n=0
while read -r digest size; do
    n=\$((n + 1))
    ( curl -fsS "http://$reg/v2/library/pybench/blobs/\$digest" \\
        | tee >(sha256sum >"\$dest/.c\$n") | gunzip | tee >(sha256sum >"\$dest/.u\$n") \\
        | tar -x -C "\$dest" ) &
done <"$work/layers.txt"
wait
sleep 0.05  # the >(sha256sum) substitutions finish just after their pipelines
n=0
while read -r digest size; do
    n=\$((n + 1))
    [[ "sha256:\$(cut -c1-64 "\$dest/.c\$n")" == "\$digest" ]] || { echo "bad digest \$digest" >&2; exit 1; }
done <"$work/layers.txt"
SH

# --- The contenders, each into a fresh directory per run.
fresh="\$(mktemp -d $work/r/XXXXXX)"
names=("kujira pull pybench (mirror)" "kujira pull $reg/library/pybench")
cmds=(
    "KUJIRA_REGISTRY_MIRROR=http://$reg KUJIRA_ROOT=$fresh $KUJIRA pull -q pybench"
    "KUJIRA_ROOT=$fresh $KUJIRA pull -q $reg/library/pybench"
)
names+=("skopeo copy docker:// oci:")
cmds+=("skopeo copy --quiet --src-tls-verify=false docker://$reg/library/pybench:latest oci:$fresh:latest")
if command -v podman >/dev/null; then
    driver=overlay
    d=$(mktemp -d "$work/r/XXXXXX")
    if ! podman --root "$d/root" --runroot "$d/run" --storage-driver overlay \
        pull -q --tls-verify=false "$reg/library/pybench" >/dev/null 2>"$work/podman-overlay.err"; then
        driver=vfs
        echo "podman: overlay failed ($(tail -1 "$work/podman-overlay.err")), using vfs" >&2
    fi
    names+=("podman pull ($driver)")
    cmds+=("d=$fresh; podman --root \$d/root --runroot \$d/run --storage-driver $driver pull -q --tls-verify=false $reg/library/pybench")
fi
names+=("shell floor: curl, gunzip, sha256sum, tar (parallel)")
cmds+=("bash $work/floor.sh $fresh")

# Sanity: each contender once (also a warm-up), kujira's result checked.
for i in "${!cmds[@]}"; do bash -c "${cmds[$i]}" >/dev/null; done
check=$(mktemp -d "$work/r/XXXXXX")
KUJIRA_ROOT=$check "$KUJIRA" pull -q "$reg/library/pybench" >/dev/null
KUJIRA_ROOT=$check "$KUJIRA" inspect -f '{{len .RootFS.Layers}} layers, {{.Size}} bytes' "$reg/library/pybench" >&2

hyperfine_args=()
for i in "${!cmds[@]}"; do hyperfine_args+=(-n "${names[$i]}" "bash -c '${cmds[$i]}'"); done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# `sync` before every run: each contender starts with no dirty data left by the one
# before (kujira flushes before it commits, the peers never do, so without this kujira
# would pay for writing out the previous contender's data).
hyperfine -N --runs "$RUNS" --prepare sync --export-markdown "$work/pull.md" --export-json "$work/pull.json" \
    "${hyperfine_args[@]}" >&2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Peak memory (max RSS of the largest process; for the floor, of its largest member),
# wall and CPU time: one run each.
mem() { # mem NAME COMMAND
    local kb wall user sys cpu
    read -r kb wall user sys cpu < <(/usr/bin/time -f '%M %e %U %S %P' bash -c "$2" 2>&1 >/dev/null | tail -1)
    printf '| %s | %d MB | %s s | %s s | %s s | %s |\n' "$1" $((kb / 1024)) "$wall" "$user" "$sys" "$cpu"
}
{
    echo
    echo "image: $nlayers layers, $compressed MB compressed, $unpacked MB of files unpacked"
    echo
    cat "$work/pull.md"
    echo
    echo "| command | peak RSS | wall | user | sys | CPU |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    for i in "${!cmds[@]}"; do sync; mem "${names[$i]}" "${cmds[$i]}"; done
    echo
    python3 - "$work/pull.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
k = min(v for n, v in r.items() if n.startswith("kujira"))
for n, v in r.items():
    if not n.startswith("kujira"):
        print(f"kujira (best) / {n}: {k / v:.2f}")
PY
}
