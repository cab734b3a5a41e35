# Sourced by the bench scripts: the kujira binary to measure — the path given as
# the first argument, or a release build of this checkout.
kujira_bin() {
    if [[ -n "${1:-}" ]]; then
        realpath "$1"
    else
        cargo build --release --locked --bin kujira >&2
        echo "$PWD/target/release/kujira"
    fi
}
