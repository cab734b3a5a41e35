//! Well-formed layers: every entry kind, metadata, whiteouts, replacement
//! rules, compression formats.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use tar::{EntryType, Header};

use super::*;
use crate::{detect_compression, Compression};

fn sample() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("etc/", 0o755)
        .pax(&[("SCHILY.xattr.user.note", b"hello")])
        .file("etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n")
        .file("usr/bin/su", 0o4755, b"#!/bin/true\n")
        .hardlink("usr/bin/su2", "usr/bin/su", 0o4755)
        .symlink("etc/alt", "/usr/bin/su")
        .dir("tmp/", 0o1777)
        .dir("home/", 0o755);
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Directory);
    h.set_mode(0o2750);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_234_567_890);
    t.raw(h, b"home/u/", b"", b"")
        .file_owned("home/u/secret", 0o600, 1000, 1001, b"shh")
        .node("dev/null", EntryType::Char, 1, 3)
        .node("dev/loop0", EntryType::Block, 7, 0)
        .node("run/fifo", EntryType::Fifo, 0, 0)
        .dir_at("opt/", 0o755, 1_111_111_111)
        .file("opt/later", 0o640, b"written after the dir entry");
    t.finish()
}

#[test]
fn normal_layer() {
    let s = Scratch::new();
    let data = sample();
    let stats = s.extract(&data).unwrap();

    assert_eq!(stats.diff_id, sha(&data));
    assert_eq!(stats.entries, 14);
    // Files once each (the hardlink shares su's inode), symlink by target length.
    let expected = 26 + 12 + 3 + 27 + "/usr/bin/su".len() as u64;
    assert_eq!(stats.size, expected);
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);

    assert_eq!(
        fs::read(s.path("etc/passwd")).unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    assert_eq!(xattr(&s.path("etc/passwd"), "user.note").unwrap(), b"hello");

    let su = fs::metadata(s.path("usr/bin/su")).unwrap();
    assert_eq!(su.mode() & 0o7777, 0o4755);
    assert_eq!(su.mtime(), MTIME as i64);
    let su2 = fs::metadata(s.path("usr/bin/su2")).unwrap();
    assert_eq!(su.ino(), su2.ino());
    assert_eq!(su.nlink(), 2);
    // Implied parents get Docker's 0755.
    assert_eq!(fs::metadata(s.path("usr")).unwrap().mode() & 0o7777, 0o755);

    assert_eq!(
        fs::read_link(s.path("etc/alt")).unwrap().to_str().unwrap(),
        "/usr/bin/su"
    );
    let tmp = fs::metadata(s.path("tmp")).unwrap();
    assert_eq!(tmp.mode() & 0o7777, 0o1777);

    let home = fs::metadata(s.path("home/u")).unwrap();
    assert_eq!((home.uid(), home.gid()), (1000, 1001));
    assert_eq!(home.mode() & 0o7777, 0o2750);
    assert_eq!(home.mtime(), 1_234_567_890);
    let secret = fs::metadata(s.path("home/u/secret")).unwrap();
    assert_eq!((secret.uid(), secret.gid()), (1000, 1001));
    assert_eq!(secret.permissions().mode() & 0o7777, 0o600);

    let null = fs::symlink_metadata(s.path("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o640);
    let lp = fs::symlink_metadata(s.path("dev/loop0")).unwrap();
    assert!(lp.file_type().is_block_device());
    assert_eq!(lp.rdev(), rustix::fs::makedev(7, 0));
    assert!(fs::symlink_metadata(s.path("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());

    // Directory mtimes survive the creation of their children.
    assert_eq!(fs::metadata(s.path("opt")).unwrap().mtime(), 1_111_111_111);
    assert_eq!(fs::metadata(s.path("etc")).unwrap().mtime(), MTIME as i64);
}

#[test]
fn compressions_give_the_same_layer() {
    let data = sample();
    assert_eq!(detect_compression(&data), Compression::None);
    assert_eq!(detect_compression(&gzip(&data)), Compression::Gzip);
    assert_eq!(detect_compression(&zstd(&data)), Compression::Zstd);

    let plain = Scratch::new();
    let gz = Scratch::new();
    let zs = Scratch::new();
    let a = plain.extract(&data).unwrap();
    let b = gz.extract(&gzip(&data)).unwrap();
    let c = zs.extract(&zstd(&data)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    let tree = snapshot_timeless_dirs(&plain.dest);
    assert_eq!(tree, snapshot_timeless_dirs(&gz.dest));
    assert_eq!(tree, snapshot_timeless_dirs(&zs.dest));
}

#[test]
fn multi_member_gzip_and_trailing_data_are_hashed() {
    let mut data = sample();
    // Record padding as GNU tar writes it, plus junk after the end marker.
    data.extend_from_slice(&[0u8; 8192]);
    data.extend_from_slice(b"trailing junk after end of archive");
    let half = data.len() / 2;
    let mut gz = gzip(&data[..half]);
    gz.extend_from_slice(&gzip(&data[half..]));
    let s = Scratch::new();
    let stats = s.extract(&gz).unwrap();
    assert_eq!(stats.diff_id, sha(&data));
    assert!(s.path("opt/later").exists());
}

#[test]
fn empty_input_is_an_empty_layer() {
    let s = Scratch::new();
    let stats = s.extract(b"").unwrap();
    assert_eq!(stats.diff_id, sha(b""));
    assert_eq!(stats.entries, 0);
}

#[test]
fn without_whiteouts_wh_names_are_plain_files() {
    let mut t = Tar::new();
    t.file("a", 0o644, b"kept")
        .file(".wh.a", 0o644, b"a file")
        .dir("var/", 0o755)
        .file("var/.wh..wh..opq", 0o644, b"")
        .file(".wh..wh.plnk", 0o644, b"x");
    let s = Scratch::new();
    let opts = ExtractOptions {
        whiteouts: false,
        ..Default::default()
    };
    s.extract_with(&t.finish(), &opts).unwrap();
    assert_eq!(fs::read(s.path("a")).unwrap(), b"kept");
    assert_eq!(fs::read(s.path(".wh.a")).unwrap(), b"a file");
    assert!(s.path("var/.wh..wh..opq").is_file());
    assert!(s.path(".wh..wh.plnk").is_file());
    assert!(xattr(&s.path("var"), "trusted.overlay.opaque").is_none());
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let mut t = Tar::new();
    t.file("a", 0o644, b"same layer, then deleted")
        .file_owned(".wh.a", 0o600, 7, 8, b"")
        .dir("etc/", 0o755)
        .file("etc/.wh.passwd", 0o644, b"")
        .dir("var/", 0o755)
        .file("var/keep", 0o644, b"k")
        .file("var/.wh..wh..opq", 0o644, b"")
        .file("deep/dir/.wh..wh..opq", 0o644, b"")
        .file(".wh..wh.aufs", 0o644, b"")
        .dir(".wh..wh.plnk/", 0o700)
        .file(".wh..wh.plnk/1234.5678", 0o644, b"aufs hardlink store");
    let data = t.finish();
    let s = Scratch::new();
    let stats = s.extract(&data).unwrap();

    for (rel, uid) in [("a", 7), ("etc/passwd", 0)] {
        let md = fs::symlink_metadata(s.path(rel)).unwrap();
        assert!(md.file_type().is_char_device(), "{rel}");
        assert_eq!(md.rdev(), 0, "{rel}");
        assert_eq!(md.uid(), uid);
    }
    assert!(!s.path("etc/.wh.passwd").exists());
    assert_eq!(
        xattr(&s.path("var"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert_eq!(
        xattr(&s.path("deep/dir"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(xattr(&s.path("etc"), "trusted.overlay.opaque").is_none());
    assert!(s.path("var/keep").exists());
    assert!(!s.path("var/.wh..wh..opq").exists());
    assert!(!s.path(".wh..wh.aufs").exists());
    assert!(!s.path(".wh..wh.plnk").exists());
    // Only the deleted regular file counts.
    assert_eq!(stats.size, 24 + 1);
}

#[test]
fn later_entries_replace_earlier_ones() {
    let s = Scratch::new();
    let host_file = s.outer.join("host/etc/passwd");
    let mut t = Tar::new();
    t.file("x", 0o644, b"file first")
        .dir("x/", 0o750)
        .dir("d/", 0o755)
        .file("d/sub/child", 0o644, b"c")
        .file("d", 0o600, b"file replaces tree")
        .symlink("s", host_file.to_str().unwrap())
        .file("s", 0o644, b"replaces the link, not its target")
        .dir("m/", 0o755)
        .file("m/a", 0o644, b"a")
        .dir("m/", 0o700)
        .file("m/b", 0o644, b"b");
    let before = s.outside();
    s.extract(&t.finish()).unwrap();
    assert_eq!(before, s.outside());

    let x = fs::symlink_metadata(s.path("x")).unwrap();
    assert!(x.is_dir());
    assert_eq!(x.mode() & 0o777, 0o750);
    assert_eq!(fs::read(s.path("d")).unwrap(), b"file replaces tree");
    let md = fs::symlink_metadata(s.path("s")).unwrap();
    assert!(md.file_type().is_file());
    assert_eq!(
        fs::read(s.path("s")).unwrap(),
        b"replaces the link, not its target"
    );
    assert!(s.path("m/a").exists() && s.path("m/b").exists());
    assert_eq!(fs::metadata(s.path("m")).unwrap().mode() & 0o777, 0o700);
}

#[test]
fn absolute_and_dotted_names_stay_inside() {
    let s = Scratch::new();
    let mut t = Tar::new();
    t.file("/etc/abs", 0o644, b"leading slash dropped")
        .file("./rel/./x", 0o644, b"dots")
        .file("a/b/../c", 0o644, b"inner dotdot")
        .dir("./", 0o751);
    let before = s.outside();
    s.extract(&t.finish()).unwrap();
    assert_eq!(before, s.outside());
    assert_eq!(
        fs::read(s.path("etc/abs")).unwrap(),
        b"leading slash dropped"
    );
    assert_eq!(fs::read(s.path("rel/x")).unwrap(), b"dots");
    assert_eq!(fs::read(s.path("a/c")).unwrap(), b"inner dotdot");
    // "./" describes the layer root.
    assert_eq!(fs::metadata(&s.dest).unwrap().mode() & 0o777, 0o751);
}

#[test]
fn long_names_and_pax_records() {
    let long_dir = "d".repeat(120);
    let long = format!("{long_dir}/{}", "f".repeat(150));
    let target = format!("/{}", "t".repeat(200));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(4);
    b.append_data(&mut h, &long, &b"long"[..]).unwrap();
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    b.append_link(&mut h, "lnk", &target).unwrap();
    let mut data = b.into_inner().unwrap();
    data.truncate(data.len() - 1024);
    let mut t = Tar::new();
    t.bytes(&data)
        .pax(&[
            ("path", b"pax/named/file"),
            ("mtime", b"1700000000.5"),
            ("uid", b"4000000"),
        ])
        .file("short", 0o644, b"pax");
    let s = Scratch::new();
    s.extract(&t.finish()).unwrap();
    assert_eq!(fs::read(s.dest.join(&long)).unwrap(), b"long");
    assert_eq!(
        fs::read_link(s.path("lnk")).unwrap().to_str().unwrap(),
        target
    );
    let md = fs::metadata(s.path("pax/named/file")).unwrap();
    assert_eq!(fs::read(s.path("pax/named/file")).unwrap(), b"pax");
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_700_000_000, 500_000_000));
    assert_eq!(md.uid(), 4_000_000);
    assert!(!s.path("short").exists());
}

/// A GNU sparse entry: `real` bytes long, with `data` at `offset`.
pub(crate) fn sparse_entry(name: &str, real: u64, offset: u64, data: &[u8]) -> Vec<u8> {
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::GNUSparse);
    h.set_mode(0o644);
    h.set_mtime(MTIME);
    h.set_size(data.len() as u64);
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(real);
        gnu.sparse[0].set_offset(offset);
        gnu.sparse[0].set_length(data.len() as u64);
        // The map has to reach the real size; a final empty region does it.
        gnu.sparse[1].set_offset(real);
        gnu.sparse[1].set_length(0);
    }
    h.set_path(name).unwrap();
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[test]
fn sparse_files_keep_their_holes() {
    let real = 64 * 1024 * 1024;
    let payload = vec![b'X'; 512];
    let mut t = Tar::new();
    t.bytes(&sparse_entry("sparse", real, 1024 * 1024, &payload))
        .file("after", 0o644, b"next entry still parses");
    let data = t.finish();
    let s = Scratch::new();
    let stats = s.extract(&data).unwrap();
    let md = fs::metadata(s.path("sparse")).unwrap();
    assert_eq!(md.len(), real);
    assert!(
        md.blocks() * 512 < 1024 * 1024,
        "holes were written: {}",
        md.blocks()
    );
    let content = fs::read(s.path("sparse")).unwrap();
    assert!(content[..1024 * 1024].iter().all(|&b| b == 0));
    assert_eq!(&content[1024 * 1024..1024 * 1024 + 512], &payload[..]);
    assert_eq!(
        fs::read(s.path("after")).unwrap(),
        b"next entry still parses"
    );
    assert_eq!(stats.size, real + 23);
}

#[test]
fn refused_xattrs_are_reported_not_hidden() {
    // user.* xattrs are not allowed on symlinks: EPERM, which Docker skips.
    let mut t = Tar::new();
    t.pax(&[("SCHILY.xattr.user.x", b"1")])
        .symlink("l", "target");
    let s = Scratch::new();
    let stats = s.extract(&t.finish()).unwrap();
    assert!(fs::symlink_metadata(s.path("l"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
    assert!(stats.warnings[0].contains("user.x"));
}

#[test]
fn trusted_xattrs_other_than_overlay_are_applied() {
    let mut t = Tar::new();
    t.pax(&[("SCHILY.xattr.trusted.kujira", b"v")])
        .file("f", 0o644, b"")
        .pax(&[("SCHILY.xattr.user.dir", b"d")])
        .dir("dir/", 0o755);
    let s = Scratch::new();
    s.extract(&t.finish()).unwrap();
    assert_eq!(xattr(&s.path("f"), "trusted.kujira").unwrap(), b"v");
    assert_eq!(xattr(&s.path("dir"), "user.dir").unwrap(), b"d");
}

/// A GNU sparse 1.0 entry as GNU tar writes it with `--sparse`.
pub(crate) fn pax_sparse_v1(t: &mut Tar, name: &str, real: u64, regions: &[(u64, &[u8])]) {
    let real = real.to_string();
    t.pax(&[
        ("GNU.sparse.major", b"1"),
        ("GNU.sparse.minor", b"0"),
        ("GNU.sparse.name", name.as_bytes()),
        ("GNU.sparse.realsize", real.as_bytes()),
    ]);
    let mut map = format!("{}\n", regions.len());
    for (offset, data) in regions {
        map += &format!("{offset}\n{}\n", data.len());
    }
    let mut body = map.into_bytes();
    body.resize(body.len().div_ceil(512) * 512, 0);
    for (_, data) in regions {
        body.extend_from_slice(data);
    }
    t.file("GNUSparseFile.123/stored-name", 0o644, &body);
}

#[test]
fn pax_sparse_files() {
    let mut t = Tar::new();
    pax_sparse_v1(
        &mut t,
        "var/log/lastlog",
        32 << 20,
        &[
            (0, b"head"),
            (8 << 20, b"middle"),
            ((32 << 20) - 4, b"tail"),
        ],
    );
    // Format 0.1: the map is a record.
    t.pax(&[
        ("GNU.sparse.name", b"v01"),
        ("GNU.sparse.size", b"10000"),
        ("GNU.sparse.numblocks", b"1"),
        ("GNU.sparse.map", b"5000,3"),
    ])
    .file("GNUSparseFile.1/v01", 0o600, b"abc")
    .file("after", 0o644, b"ok");
    let s = Scratch::new();
    let stats = s.extract(&t.finish()).unwrap();

    let lastlog = fs::read(s.path("var/log/lastlog")).unwrap();
    assert_eq!(lastlog.len(), 32 << 20);
    assert_eq!(&lastlog[..4], b"head");
    assert_eq!(&lastlog[8 << 20..(8 << 20) + 6], b"middle");
    assert_eq!(&lastlog[lastlog.len() - 4..], b"tail");
    assert_eq!(lastlog.iter().filter(|&&b| b != 0).count(), 14);
    let md = fs::metadata(s.path("var/log/lastlog")).unwrap();
    assert!(md.blocks() * 512 < 1 << 20, "holes were written");

    let v01 = fs::read(s.path("v01")).unwrap();
    assert_eq!(v01.len(), 10000);
    assert_eq!(&v01[5000..5003], b"abc");
    assert_eq!(fs::metadata(s.path("v01")).unwrap().mode() & 0o777, 0o600);
    assert!(!s.path("GNUSparseFile.123").exists());
    assert_eq!(fs::read(s.path("after")).unwrap(), b"ok");
    assert_eq!(stats.size, (32 << 20) + 10000 + 2);
}
