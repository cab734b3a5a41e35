//! The overlay rootfs on the real kernel (needs root).

use std::path::{Path, PathBuf};

use kujira_runtime::bundle::is_mountpoint;
use kujira_runtime::Bundle;
use oci_spec::runtime::Spec;

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

struct Layout {
    _tmp: tempfile::TempDir,
    base: PathBuf,
}

impl Layout {
    fn new() -> Layout {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        Layout { _tmp: tmp, base }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }
}

#[test]
fn copy_on_write_and_whiteouts() {
    let l = Layout::new();
    // lower1 is the bottom layer, lower2 on top of it.
    write(&l.p("lower1/etc/motd"), "bottom\n");
    write(&l.p("lower1/etc/hidden"), "should be hidden\n");
    write(&l.p("lower1/only-bottom"), "b\n");
    write(&l.p("lower2/etc/motd"), "top\n");
    // A whiteout (char device 0:0) in the upper lower hides the file below it.
    let wh = std::ffi::CString::new(l.p("lower2/etc/hidden").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mknod(wh.as_ptr(), libc::S_IFCHR, 0) }, 0);

    let bundle = Bundle::create(
        &l.p("bundle"),
        &[l.p("lower2"), l.p("lower1")],
        &l.p("upper"),
        &l.p("work"),
        &Spec::default(),
    )
    .unwrap();
    let root = bundle.rootfs().to_path_buf();
    assert!(is_mountpoint(&root));
    assert!(bundle.config_path().exists());
    let spec = Spec::load(bundle.config_path()).unwrap();
    assert_eq!(spec.root().as_ref().unwrap().path(), Path::new("rootfs"));

    assert_eq!(
        std::fs::read_to_string(root.join("etc/motd")).unwrap(),
        "top\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("only-bottom")).unwrap(),
        "b\n"
    );
    assert!(!root.join("etc/hidden").exists());

    std::fs::write(root.join("etc/motd"), "changed\n").unwrap();
    std::fs::write(root.join("new-file"), "new\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(l.p("upper/etc/motd")).unwrap(),
        "changed\n"
    );
    assert_eq!(
        std::fs::read_to_string(l.p("upper/new-file")).unwrap(),
        "new\n"
    );
    assert_eq!(
        std::fs::read_to_string(l.p("lower2/etc/motd")).unwrap(),
        "top\n"
    );
    assert_eq!(
        std::fs::read_to_string(l.p("lower1/etc/motd")).unwrap(),
        "bottom\n"
    );
    assert!(!l.p("lower1/new-file").exists() && !l.p("lower2/new-file").exists());

    bundle.unmount().unwrap();
    assert!(!is_mountpoint(&root));
    // Unmounting twice is fine; remove deletes the bundle but not the upper dir.
    bundle.unmount().unwrap();
    bundle.remove().unwrap();
    assert!(!l.p("bundle").exists());
    assert!(l.p("upper/new-file").exists());
}

#[test]
fn a_hundred_lowers_with_long_paths() {
    let l = Layout::new();
    let long = "x".repeat(80);
    let lowers: Vec<PathBuf> = (0..100)
        .map(|n| {
            let dir = l.p(&format!("layers/{long}{n:03}/diff"));
            write(&dir.join(format!("file{n}")), &format!("{n}\n"));
            write(&dir.join("shadowed"), &format!("{n}\n"));
            dir
        })
        .collect();
    let total: usize = lowers.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(total > 4096, "the test must exceed a page ({total})");
    let bundle = Bundle::create(
        &l.p("bundle"),
        &lowers,
        &l.p("upper"),
        &l.p("work"),
        &Spec::default(),
    )
    .unwrap();
    let root = bundle.rootfs();
    for n in [0, 42, 99] {
        assert_eq!(
            std::fs::read_to_string(root.join(format!("file{n}"))).unwrap(),
            format!("{n}\n")
        );
    }
    // The first lower is the top one.
    assert_eq!(
        std::fs::read_to_string(root.join("shadowed")).unwrap(),
        "0\n"
    );
    std::fs::write(root.join("file99"), "cow\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(lowers[99].join("file99")).unwrap(),
        "99\n"
    );
    assert_eq!(
        std::fs::read_to_string(l.p("upper/file99")).unwrap(),
        "cow\n"
    );
    // The caller's working directory was not changed by the mount.
    assert_ne!(std::env::current_dir().unwrap(), l.p("bundle"));
    bundle.remove().unwrap();
    assert!(lowers[0].exists());
}

#[test]
fn hostile_paths_refused() {
    let l = Layout::new();
    write(&l.p("lower,upperdir=/tmp/x/f"), "");
    let err = Bundle::create(
        &l.p("bundle"),
        &[l.p("lower,upperdir=/tmp/x")],
        &l.p("upper"),
        &l.p("work"),
        &Spec::default(),
    );
    assert!(err.is_err());
    assert!(Bundle::create(
        &l.p("bundle"),
        &[],
        &l.p("upper"),
        &l.p("work"),
        &Spec::default()
    )
    .is_err());
}
