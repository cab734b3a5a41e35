#!/usr/bin/env bash
# Installs the third-party tools kujira's tests build fixtures with and compare
# against (skopeo, umoci, busybox-static, docker-registry, crun, runc, ...), and
# what containers use at run time (tini-static for --init, containers-common's
# seccomp profile).
#
# Idempotent and cheap when everything is present: CI and developers run it
# before every `cargo test`, so the fast path must not touch the network or
# take the dpkg lock. Debian/Ubuntu only (apt-get).
set -euo pipefail

PACKAGES=(skopeo umoci busybox-static docker-registry crun runc jq hyperfine sqlite3 ca-certificates openssl apache2-utils curl tini golang-github-containers-common procps libseccomp-dev pkg-config python3-venv nftables iproute2 iperf3 docker-compose)
# Binaries whose absence means the package set is incomplete. busybox is
# checked by path because the tests copy the *static* /bin/busybox into
# rootfs fixtures; a dynamically linked one from package `busybox` would not
# run inside them.
TOOLS=(skopeo umoci docker-registry crun runc jq hyperfine sqlite3 openssl htpasswd curl tini-static ps nft ip iperf3 docker-compose)

missing=()
for t in "${TOOLS[@]}"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [[ ! -x /bin/busybox ]] \
    || ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
    missing+=(busybox-static)
fi
if [[ ! -e /etc/ssl/certs/ca-certificates.crt ]]; then
    missing+=(ca-certificates)
fi
# libseccomp's headers and pkg-config file, to build kujira (seccomp filters are
# compiled to BPF once and cached).
if ! pkg-config --exists libseccomp 2>/dev/null; then
    missing+=(libseccomp-dev)
fi
# venv for the docker-py and testcontainers tests.
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
fi
# Docker's default seccomp profile, as containers-common ships it.
if [[ ! -e /usr/share/containers/seccomp.json ]]; then
    missing+=(golang-github-containers-common)
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo)
fi

if ((${#missing[@]})); then
    echo "install-deps: missing: ${missing[*]}; installing with apt-get" >&2
    # Another apt-get may be running (e.g. a provisioning step in the
    # background); wait for its lock instead of failing.
    APT_OPTS=(-o DPkg::Lock::Timeout=600)
    "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${PACKAGES[@]}"
fi

# Rust components: normally shipped with the toolchain, so only ask rustup
# when one is actually absent.
if command -v cargo >/dev/null 2>&1; then
    components=()
    cargo fmt --version >/dev/null 2>&1 || components+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || components+=(clippy)
    if ((${#components[@]})); then
        if command -v rustup >/dev/null 2>&1; then
            echo "install-deps: adding rust components: ${components[*]}" >&2
            rustup component add "${components[@]}"
        else
            echo "install-deps: missing rust components (${components[*]}) and no rustup" >&2
            exit 1
        fi
    fi
else
    echo "install-deps: cargo not found; install a Rust toolchain (rustup) first" >&2
    exit 1
fi

# docker-py and testcontainers-python from PyPI, in a venv of their own (the
# API server's tests drive kujira with them). Pinned to the majors tested.
PY_VENV=${KUJIRA_PY_VENV:-/var/tmp/kujira-py-venv}
if ! "$PY_VENV/bin/python" -c 'import docker, testcontainers' 2>/dev/null; then
    echo "install-deps: making the python venv $PY_VENV (docker, testcontainers)" >&2
    python3 -m venv "$PY_VENV"
    "$PY_VENV/bin/pip" install -q --disable-pip-version-check 'docker>=7,<8' 'testcontainers>=4.10,<5'
fi

# A last check so a half-finished install is reported here, not as a
# confusing fixture failure later.
for t in "${TOOLS[@]}"; do
    command -v "$t" >/dev/null 2>&1 || { echo "install-deps: $t still missing" >&2; exit 1; }
done
[[ -x /bin/busybox ]] || { echo "install-deps: /bin/busybox still missing" >&2; exit 1; }
