#!/usr/bin/env bash
# kujira's main job, end to end, on a fresh machine with no internet: install what is
# needed, build kujira, make an image from Debian's busybox-static, serve it from a
# local docker-registry acting as the docker.io mirror, `kujira pull` it verbatim,
# use the image commands the tutorials teach on it, then run containers from it with
# a published port that answers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --locked --release --bin kujira
KUJIRA="$PWD/target/release/kujira"
export KUJIRA_ROOT="${KUJIRA_ROOT:-$(mktemp -d /tmp/kujira-demo.XXXXXX)}"
work=$(mktemp -d /tmp/kujira-demo-work.XXXXXX)
registry_pid=
cleanup() {
    "$KUJIRA" rm -f web1 >/dev/null 2>&1 || true
    [[ -n "$registry_pid" ]] && kill "$registry_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# A busybox root filesystem, as a tarball: the whole OS of our first image.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for app in sh ls cat echo true false sleep env id wget httpd mkdir rm uname; do
    ln -sf busybox "$work/rootfs/bin/$app"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

# A local registry on loopback, standing in for Docker Hub (no internet here).
source scripts/lib/local-registry.sh
start_local_registry "$work"

echo "store: $KUJIRA_ROOT"
# Publish busybox to the mirror as docker.io/library/busybox, made by kujira itself.
KUJIRA_ROOT="$work/publisher" "$KUJIRA" import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null
KUJIRA_ROOT="$work/publisher" "$KUJIRA" save -o "$work/publish.tar" busybox:latest
skopeo copy --quiet --dest-tls-verify=false "docker-archive:$work/publish.tar" "docker://127.0.0.1:$port/library/busybox:latest"

export KUJIRA_REGISTRY_MIRROR="http://127.0.0.1:$port"
step "$KUJIRA" pull busybox
step "$KUJIRA" images
step "$KUJIRA" import -c 'CMD ["sh"]' -c 'EXPOSE 80' -c 'LABEL org.example.demo=kujira' "$work/busybox.tar" mybox:latest
step "$KUJIRA" tag busybox:latest myuser/busybox:v1.0
step "$KUJIRA" images
step "$KUJIRA" history busybox
step "$KUJIRA" inspect --format='{{.Size}}' busybox
step "$KUJIRA" inspect --format='{{len .RootFS.Layers}}' busybox
step "$KUJIRA" inspect --format='{{.Config.ExposedPorts}}' mybox
step "$KUJIRA" inspect -f '{{json .Config.Cmd}}' busybox
step "$KUJIRA" save -o "$work/saved.tar" busybox:latest myuser/busybox:v1.0
step skopeo inspect --format '{{.Digest}} {{.Layers}}' "docker-archive:$work/saved.tar:busybox:latest"
step "$KUJIRA" rmi myuser/busybox:v1.0 busybox:latest
step "$KUJIRA" load -i "$work/saved.tar"
step "$KUJIRA" images
step "$KUJIRA" system df
step "$KUJIRA" system check

# The tutorials' next lesson: a small web image built from a Dockerfile (a
# multi-stage build over the pulled busybox, with a .dockerignore), its history,
# and an unchanged rebuild that runs nothing.
mkdir -p "$work/web"
echo "Hello from kujira" > "$work/web/index.html"
echo "secret" > "$work/web/notes.txt"
printf 'notes.txt\n' > "$work/web/.dockerignore"
cat > "$work/web/Dockerfile" <<'DOCKERFILE'
FROM busybox AS builder
COPY index.html /src/index.html
RUN mkdir -p /www && cp /src/index.html /www/ && date -u +%Y > /www/built

FROM busybox
COPY --from=builder /www /www
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
DOCKERFILE
step "$KUJIRA" build --progress=plain -t myweb:v1 "$work/web"
step "$KUJIRA" history myweb:v1
step "$KUJIRA" build -q -t myweb:v1 "$work/web"

# Containers from the built image: a web server on a published port, a
# copy-on-write edit seen through it, and a throw-away shell command.
PORT=${DEMO_PORT:-8001}
step "$KUJIRA" run -d --name web1 -p "$PORT:80" myweb:v1
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
step curl -fsS "http://127.0.0.1:$PORT/"
step "$KUJIRA" ps
step "$KUJIRA" exec web1 sh -c 'echo "Modified!" > /www/index.html'
step curl -fsS "http://127.0.0.1:$PORT/"
step "$KUJIRA" diff web1
step "$KUJIRA" run --rm busybox echo "hello from a throw-away container"

# Networks: a user-defined network on which one container reaches another by name
# (kujira's embedded DNS), and the default bridge's address of a container.
step "$KUJIRA" network create demonet
step "$KUJIRA" run -d --name api --network demonet --network-alias backend myweb:v1
step "$KUJIRA" run --rm --network demonet busybox sh -c 'for i in $(busybox seq 50); do wget -qO- http://backend/ && exit 0; sleep 0.1; done; exit 1'
step "$KUJIRA" network ls
step "$KUJIRA" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' api
step "$KUJIRA" rm -f api
step "$KUJIRA" network rm demonet
step "$KUJIRA" rm -f web1
step "$KUJIRA" ps -a
step "$KUJIRA" builder prune -a -f
step "$KUJIRA" system df
echo
echo "demo finished: the store is in $KUJIRA_ROOT (remove it with: rm -rf $KUJIRA_ROOT)"
