//! write_layer: extract → write_layer → extract gives the same tree.

use std::fs;
use std::io::Read;

use tar::{EntryType, Header};

use super::*;
use crate::write_layer;

fn rich_layer() -> Vec<u8> {
    let long_dir = format!("deep/{}", "n".repeat(130));
    let mut t = Tar::new();
    t.dir("etc/", 0o755)
        .pax(&[
            ("SCHILY.xattr.user.b", b"2"),
            ("SCHILY.xattr.user.a", b"\x00binary\xff"),
        ])
        .file_owned("etc/shadow", 0o640, 0, 42, b"root:*:1::::::\n")
        .file("etc/empty", 0o600, b"")
        .file("bin/prog", 0o6755, b"\x7fELF...")
        .hardlink("bin/prog-alias", "bin/prog", 0o6755)
        .symlink("bin/sh", "busybox")
        .symlink("lib", "/usr/lib/with/a/rather/long/target/that/does/not/fit/into/the/hundred/byte/header/field/at/all/really")
        .node("dev/tty", EntryType::Char, 5, 0)
        .node("dev/sda", EntryType::Block, 8, 0)
        .node("run/pipe", EntryType::Fifo, 0, 0)
        .file(".wh.removed", 0o644, b"")
        .file("etc/.wh.motd", 0o644, b"")
        .dir("opaque/", 0o750)
        .file("opaque/.wh..wh..opq", 0o644, b"")
        .file("opaque/inside", 0o644, b"i")
        .pax(&[("SCHILY.xattr.user.dir", b"x")])
        .dir_at("tmp/", 0o1777, 1_000_000_000)
        .dir(&format!("{long_dir}/"), 0o700)
        .file(&format!("{long_dir}/{}", "f".repeat(120)), 0o644, b"long");
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o644);
    h.set_uid(65534);
    h.set_gid(65534);
    h.set_mtime(1_500_000_000);
    t.raw(h, b"nobody-file", b"", b"owned by nobody");
    t.finish()
}

fn names(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| String::from_utf8(e.unwrap().path_bytes().into_owned()).unwrap())
        .collect()
}

#[test]
fn extract_write_extract_is_identity() {
    let first = Scratch::new();
    let original = first.extract(&rich_layer()).unwrap();

    let mut tar1 = Vec::new();
    let written = write_layer(&first.dest, &mut tar1).unwrap();
    assert_eq!(written.diff_id, sha(&tar1));
    assert_eq!(written.size, original.size);

    let second = Scratch::new();
    let again = second.extract(&tar1).unwrap();
    assert_eq!(again.diff_id, written.diff_id);
    assert_eq!(again.size, original.size);

    let (a, b) = (snapshot(&first.dest), snapshot(&second.dest));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, node) in &a {
        assert_eq!(Some(node), b.get(path), "{}", path.display());
    }
    // Spot checks that the comparison saw what matters.
    let shadow = &a[Path::new("etc/shadow")];
    assert_eq!(shadow.gid, 42);
    assert_eq!(
        shadow.xattrs,
        vec![
            (b"user.a".to_vec(), b"\x00binary\xff".to_vec()),
            (b"user.b".to_vec(), b"2".to_vec())
        ]
    );
    assert_eq!(a[Path::new("removed")].kind, "char");
    assert_eq!(
        a[Path::new("bin/prog-alias")].link_group.as_deref(),
        Some(Path::new("bin/prog"))
    );
    assert_eq!(a[Path::new("tmp")].mtime, 1_000_000_000);
    assert!(a[Path::new("opaque")]
        .xattrs
        .contains(&(b"trusted.overlay.opaque".to_vec(), b"y".to_vec())));

    // Whiteouts went back to their OCI spelling.
    let listed = names(&tar1);
    for expected in [
        ".wh.removed",
        "etc/.wh.motd",
        "opaque/.wh..wh..opq",
        "etc/",
        "bin/prog",
    ] {
        assert!(
            listed.iter().any(|n| n == expected),
            "{expected} missing from {listed:?}"
        );
    }
    assert!(!listed.iter().any(|n| n == "removed" || n == "etc/motd"));
}

#[test]
fn output_is_deterministic_and_sorted() {
    let s = Scratch::new();
    s.extract(&rich_layer()).unwrap();
    let mut one = Vec::new();
    let mut two = Vec::new();
    write_layer(&s.dest, &mut one).unwrap();
    write_layer(&s.dest, &mut two).unwrap();
    assert_eq!(one, two);

    let listed = names(&one);
    // Each directory precedes its contents, siblings sorted bytewise.
    let pos = |n: &str| listed.iter().position(|x| x == n).unwrap();
    assert!(pos("bin/") < pos("bin/prog"));
    assert!(pos("bin/prog") < pos("bin/prog-alias"));
    assert!(pos("bin/prog-alias") < pos("bin/sh"));
    assert!(pos("bin/sh") < pos("dev/"));
    // The second path of an inode is a hardlink to the first.
    let mut a = tar::Archive::new(&one[..]);
    let alias = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path_bytes().as_ref() == b"bin/prog-alias")
        .map(|e| {
            (
                e.header().entry_type(),
                e.link_name_bytes().map(|l| l.into_owned()),
            )
        })
        .unwrap();
    assert_eq!(alias, (EntryType::Link, Some(b"bin/prog".to_vec())));
}

#[test]
fn overlay_metadata_is_never_written() {
    let s = Scratch::new();
    fs::create_dir(s.path("d")).unwrap();
    rustix::fs::setxattr(
        s.path("d").as_path(),
        "trusted.overlay.origin",
        b"junk",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::setxattr(
        s.path("d").as_path(),
        "user.keep",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let mut out = Vec::new();
    write_layer(&s.dest, &mut out).unwrap();
    let mut a = tar::Archive::new(&out[..]);
    let mut keys = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if let Some(pax) = e.pax_extensions().unwrap() {
            for p in pax {
                keys.push(String::from_utf8(p.unwrap().key_bytes().to_vec()).unwrap());
            }
        }
        let mut sink = Vec::new();
        e.read_to_end(&mut sink).unwrap();
    }
    assert_eq!(keys, vec!["SCHILY.xattr.user.keep".to_string()]);
    // And the result extracts cleanly.
    let again = Scratch::new();
    again.extract(&out).unwrap();
    assert_eq!(xattr(&again.path("d"), "user.keep").unwrap(), b"1");
}

#[test]
fn sockets_are_skipped_with_a_warning() {
    let s = Scratch::new();
    fs::write(s.path("file"), b"f").unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(s.path("sock")).unwrap();
    let mut out = Vec::new();
    let stats = write_layer(&s.dest, &mut out).unwrap();
    assert_eq!(stats.entries, 1);
    assert_eq!(names(&out), vec!["file".to_string()]);
    assert_eq!(stats.warnings.len(), 1);
    assert!(stats.warnings[0].contains("socket"), "{:?}", stats.warnings);
}
