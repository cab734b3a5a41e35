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

# busybox_tar DIR: a busybox root filesystem from Debian's busybox-static, as
# DIR/rootfs.tar (the image every bench imports).
busybox_tar() {
    local dir=$1
    mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc"
    cp /bin/busybox "$dir/rootfs/bin/"
    for a in sh true sleep; do ln -s busybox "$dir/rootfs/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/rootfs/etc/passwd"
    printf 'root:x:0:\n' >"$dir/rootfs/etc/group"
    tar -C "$dir/rootfs" -cf "$dir/rootfs.tar" .
}
