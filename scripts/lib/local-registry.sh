# Sourced by scripts/demo.sh and bench/pull.sh: Debian's docker-registry on a free
# loopback port, storage under a given directory.
# start_local_registry DIR: sets `port` and `registry_pid`; waits until /v2/ answers.
start_local_registry() {
    local dir=$1
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$dir/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/registry
http:
  addr: 127.0.0.1:$port
log:
  level: error
YAML
    docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
    registry_pid=$!
    for _ in $(seq 50); do
        curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "docker-registry did not start; see $dir/registry.log" >&2
    return 1
}
