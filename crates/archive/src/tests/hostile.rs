//! Hostile layers: each must be refused with the right error, and nothing
//! outside the destination may change.

use std::fs;
use std::os::unix::fs::MetadataExt;

use tar::{EntryType, Header};

use super::normal::sparse_entry;
use super::*;

/// Extracts `data`, expecting a refusal; checks the surroundings are intact.
fn refused(s: &Scratch, data: &[u8], opts: &ExtractOptions) -> ArchiveError {
    let before = s.outside();
    let err = s
        .extract_with(data, opts)
        .expect_err("hostile layer was accepted");
    assert_eq!(
        before,
        s.outside(),
        "something changed outside dest ({err})"
    );
    err
}

fn refuse(data: &[u8]) -> (Scratch, ArchiveError) {
    let s = Scratch::new();
    let err = refused(&s, data, &ExtractOptions::default());
    (s, err)
}

fn host(s: &Scratch, rel: &str) -> String {
    s.outer.join("host").join(rel).to_str().unwrap().to_owned()
}

#[test]
fn dotdot_traversal() {
    for name in ["../../etc/x", "a/../../x", "/../x", "./a/b/../../../x"] {
        let mut t = Tar::new();
        t.file("ok", 0o644, b"fine").file(name, 0o644, b"escaped");
        let (_, err) = refuse(&t.finish());
        assert!(
            matches!(&err, ArchiveError::Escape { entry } if entry == name),
            "{name}: {err}"
        );
        assert_eq!(
            err.to_string(),
            format!("layer entry {name:?} would land outside the layer")
        );
    }
}

#[test]
fn symlink_to_root_then_through_it() {
    let unique = format!("kujira-archive-escape-{}", std::process::id());
    let mut t = Tar::new();
    t.symlink("a", "/")
        .file(&format!("a/{unique}/x"), 0o644, b"escaped");
    let (_, err) = refuse(&t.finish());
    assert!(
        matches!(&err, ArchiveError::ThroughSymlink { link, .. } if link == "a"),
        "{err}"
    );
    assert!(!Path::new("/").join(&unique).exists());
}

#[test]
fn absolute_symlink_then_write_through_it() {
    let s = Scratch::new();
    let mut t = Tar::new();
    t.symlink("a", &host(&s, ""))
        .file("a/etc/passwd", 0o644, b"pwned");
    let err = refused(&s, &t.finish(), &ExtractOptions::default());
    assert_eq!(
        err.to_string(),
        "layer entry \"a/etc/passwd\" goes through symlink \"a\""
    );
}

#[test]
fn relative_symlink_climbing_out() {
    let mut t = Tar::new();
    t.symlink("a", "../..").file("a/x", 0o644, b"escaped");
    let (_, err) = refuse(&t.finish());
    assert_eq!(
        err.to_string(),
        "layer entry \"a/x\" goes through symlink \"a\""
    );

    let mut t = Tar::new();
    t.dir("d/", 0o755)
        .symlink("d/up", "../../..")
        .file("d/up/x", 0o644, b"escaped");
    let (_, err) = refuse(&t.finish());
    assert!(
        matches!(&err, ArchiveError::ThroughSymlink { link, .. } if link == "d/up"),
        "{err}"
    );
}

#[test]
fn directory_replaced_by_symlink_is_not_followed() {
    // The parent directory fd cache must not outlive the directory.
    let s = Scratch::new();
    let mut t = Tar::new();
    t.dir("d/", 0o755)
        .file("d/a", 0o644, b"a")
        .symlink("d", &host(&s, "etc"))
        .file("d/passwd", 0o644, b"pwned");
    let err = refused(&s, &t.finish(), &ExtractOptions::default());
    assert!(matches!(err, ArchiveError::ThroughSymlink { .. }), "{err}");
}

#[test]
fn directory_entry_over_symlink_replaces_the_link() {
    let s = Scratch::new();
    let mut t = Tar::new();
    t.symlink("d", &host(&s, "etc"))
        .dir("d/", 0o700)
        .file("d/passwd", 0o644, b"inside");
    let before = s.outside();
    s.extract(&t.finish()).unwrap();
    assert_eq!(before, s.outside());
    assert!(fs::symlink_metadata(s.path("d")).unwrap().is_dir());
    assert_eq!(fs::read(s.path("d/passwd")).unwrap(), b"inside");
}

#[test]
fn file_over_symlink_replaces_the_link() {
    let s = Scratch::new();
    let mut t = Tar::new();
    t.symlink("passwd", &host(&s, "etc/passwd"))
        .file("passwd", 0o644, b"pwned");
    let before = s.outside();
    s.extract(&t.finish()).unwrap();
    assert_eq!(before, s.outside());
    assert!(fs::symlink_metadata(s.path("passwd")).unwrap().is_file());
    // Same for hardlinks and device nodes written over a link.
    let mut t = Tar::new();
    t.symlink("l1", &host(&s, "etc/passwd"))
        .symlink("l2", &host(&s, "etc/shadow"))
        .file("f", 0o644, b"f")
        .hardlink("l1", "f", 0o644)
        .node("l2", EntryType::Fifo, 0, 0);
    let s = Scratch::new();
    let before = s.outside();
    s.extract(&t.finish()).unwrap();
    assert_eq!(before, s.outside());
    assert_eq!(fs::read(s.path("l1")).unwrap(), b"f");
}

#[test]
fn hardlink_outside_the_layer() {
    let mut t = Tar::new();
    t.hardlink("x", "../../etc/passwd", 0o644);
    let (s, err) = refuse(&t.finish());
    assert_eq!(
        err.to_string(),
        "hardlink \"x\" points outside the layer (\"../../etc/passwd\")"
    );
    assert!(!s.path("x").exists());
}

#[test]
fn hardlink_through_symlinked_parent() {
    let s = Scratch::new();
    let mut t = Tar::new();
    t.symlink("h", &host(&s, "etc"))
        .hardlink("x", "h/shadow", 0o644);
    let err = refused(&s, &t.finish(), &ExtractOptions::default());
    assert!(
        matches!(&err, ArchiveError::HardlinkThroughSymlink { link, .. } if link == "h"),
        "{err}"
    );
    assert!(!s.path("x").exists());
    assert_eq!(
        fs::metadata(s.outer.join("host/etc/shadow"))
            .unwrap()
            .nlink(),
        1
    );
}

#[test]
fn hardlink_to_missing_or_directory() {
    let mut t = Tar::new();
    t.hardlink("x", "nope", 0o644);
    let (_, err) = refuse(&t.finish());
    assert!(matches!(err, ArchiveError::HardlinkMissing { .. }), "{err}");

    let mut t = Tar::new();
    t.dir("d/", 0o755).hardlink("x", "d", 0o644);
    let (_, err) = refuse(&t.finish());
    assert!(
        matches!(err, ArchiveError::HardlinkToDirectory { .. }),
        "{err}"
    );
}

#[test]
fn hardlink_to_symlink_links_the_symlink_itself() {
    let s = Scratch::new();
    let mut t = Tar::new();
    t.symlink("l", &host(&s, "etc/shadow"))
        .hardlink("x", "l", 0o644);
    let before = s.outside();
    s.extract(&t.finish()).unwrap();
    assert_eq!(before, s.outside());
    assert!(fs::symlink_metadata(s.path("x")).unwrap().is_symlink());
    assert_eq!(
        fs::metadata(s.outer.join("host/etc/shadow"))
            .unwrap()
            .nlink(),
        1
    );
}

#[test]
fn whiteout_escapes() {
    let mut t = Tar::new();
    t.file("../../.wh.passwd", 0o644, b"");
    let (_, err) = refuse(&t.finish());
    assert!(matches!(err, ArchiveError::Escape { .. }), "{err}");

    let s = Scratch::new();
    let mut t = Tar::new();
    t.symlink("e", &host(&s, "etc"))
        .file("e/.wh.passwd", 0o644, b"");
    let err = refused(&s, &t.finish(), &ExtractOptions::default());
    assert!(matches!(err, ArchiveError::ThroughSymlink { .. }), "{err}");

    let s = Scratch::new();
    let mut t = Tar::new();
    t.symlink("e", &host(&s, "etc"))
        .file("e/.wh..wh..opq", 0o644, b"");
    let err = refused(&s, &t.finish(), &ExtractOptions::default());
    assert!(matches!(err, ArchiveError::ThroughSymlink { .. }), "{err}");
    assert!(xattr(&s.outer.join("host/etc"), "trusted.overlay.opaque").is_none());

    for name in ["x/.wh.", "x/.wh..", "x/.wh..."] {
        let mut t = Tar::new();
        t.file(name, 0o644, b"");
        let (_, err) = refuse(&t.finish());
        assert!(
            matches!(err, ArchiveError::InvalidName { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn overlay_xattrs_are_refused() {
    for key in [
        "SCHILY.xattr.trusted.overlay.opaque",
        "SCHILY.xattr.trusted.overlay.redirect",
        "SCHILY.xattr.user.overlay.origin",
    ] {
        let mut t = Tar::new();
        t.pax(&[(key, b"y")]).dir("d/", 0o755);
        let (s, err) = refuse(&t.finish());
        assert!(
            matches!(&err, ArchiveError::OverlayXattr { entry, .. } if entry == "d/"),
            "{key}: {err}"
        );
        assert!(!s.path("d").exists());
    }
}

#[test]
fn truncated_streams() {
    let mut t = Tar::new();
    t.file("big", 0o644, &vec![7u8; 200_000]);
    let data = t.finish();

    let gz = gzip(&data);
    let (_, err) = refuse(&gz[..gz.len() / 2]);
    assert_eq!(err.to_string(), "gzip stream is truncated");

    let zs = zstd(&data);
    let (_, err) = refuse(&zs[..zs.len() / 2]);
    assert_eq!(err.to_string(), "zstd stream is truncated");

    let (_, err) = refuse(&data[..100_000]);
    assert_eq!(err.to_string(), "tar stream is truncated");
    let (_, err) = refuse(&data[..300]);
    assert_eq!(err.to_string(), "tar stream is truncated");
}

#[test]
fn garbage_is_not_a_layer() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let (_, err) = refuse(&garbage);
    assert!(matches!(err, ArchiveError::InvalidTar(_)), "{err}");
    assert!(err
        .to_string()
        .starts_with("layer is not a valid tar archive: "));

    let mut fake_gz = vec![0x1f, 0x8b];
    fake_gz.extend_from_slice(&garbage);
    let (_, err) = refuse(&fake_gz);
    assert!(
        matches!(err, ArchiveError::Corrupt { format: "gzip", .. }),
        "{err}"
    );

    let (_, err) = refuse(b"\xfd7zXZ\x00\x00\x04rest-of-an-xz-stream");
    assert!(
        matches!(err, ArchiveError::UnsupportedCompression("xz")),
        "{err}"
    );
}

#[test]
fn huge_declared_sizes_are_refused_before_writing() {
    let tib = 1u64 << 40;
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(tib);
    h.set_path("huge").unwrap();
    h.set_cksum();
    let mut data = h.as_bytes().to_vec();
    data.extend_from_slice(&[0u8; 4096]);

    let (s, err) = refuse(&data);
    assert!(
        matches!(err, ArchiveError::NoSpace { needed, .. } if needed == tib),
        "{err}"
    );
    assert!(!s.path("huge").exists());

    let s = Scratch::new();
    let opts = ExtractOptions {
        max_total_size: Some(1 << 20),
        ..Default::default()
    };
    let err = refused(&s, &data, &opts);
    assert_eq!(
        err.to_string(),
        format!("layer would need {tib} bytes but the limit is 1048576")
    );

    // Sizes add up across entries.
    let mut t = Tar::new();
    t.file("a", 0o644, &[1; 600]).file("b", 0o644, &[2; 600]);
    let s = Scratch::new();
    let opts = ExtractOptions {
        max_total_size: Some(1000),
        ..Default::default()
    };
    let err = refused(&s, &t.finish(), &opts);
    assert!(
        matches!(err, ArchiveError::TooLarge { needed: 1200, .. }),
        "{err}"
    );
    assert!(!s.path("b").exists());
}

#[test]
fn huge_sparse_file_is_refused() {
    let data = sparse_entry("sparse", 1 << 40, 0, &[b'x'; 512]);
    let (s, err) = refuse(&data);
    assert!(
        matches!(err, ArchiveError::NoSpace { needed, .. } if needed == 1 << 40),
        "{err}"
    );
    assert!(!s.path("sparse").exists());
}

#[test]
fn huge_extended_headers_are_refused_without_buffering() {
    // A GNU long name claiming 4 GiB: the tar crate would try to read it all
    // into memory.
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::GNULongName);
    h.set_size(4 << 30);
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_cksum();
    let mut data = h.as_bytes().to_vec();
    data.extend_from_slice(&[b'a'; 8192]);
    let (_, err) = refuse(&gzip(&data));
    assert!(matches!(err, ArchiveError::InvalidTar(_)), "{err}");
    assert!(err.to_string().contains("extended header"), "{err}");
}

#[test]
fn too_many_entries() {
    let mut t = Tar::new();
    for i in 0..5 {
        t.file(&format!("f{i}"), 0o644, b"");
    }
    let s = Scratch::new();
    let opts = ExtractOptions {
        max_entries: 3,
        ..Default::default()
    };
    let err = refused(&s, &t.finish(), &opts);
    assert_eq!(err.to_string(), "layer has more than 3 entries");
    assert!(!s.path("f3").exists());
}

#[test]
fn device_nodes_with_traversal() {
    let mut t = Tar::new();
    t.node("../../dev/evil", EntryType::Char, 1, 1);
    let (_, err) = refuse(&t.finish());
    assert!(matches!(err, ArchiveError::Escape { .. }), "{err}");

    let s = Scratch::new();
    let mut t = Tar::new();
    t.symlink("d", &host(&s, ""))
        .node("d/evil", EntryType::Block, 8, 0);
    let err = refused(&s, &t.finish(), &ExtractOptions::default());
    assert!(matches!(err, ArchiveError::ThroughSymlink { .. }), "{err}");
}

#[test]
fn bad_names() {
    // A NUL inside a GNU long name.
    let mut name = b"dir/".to_vec();
    name.extend_from_slice(&[b'a'; 120]);
    name[10] = 0;
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::GNULongName);
    h.set_size(name.len() as u64);
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_cksum();
    let mut t = Tar::new();
    t.bytes(h.as_bytes());
    let mut padded = name.clone();
    padded.resize(512, 0);
    t.bytes(&padded).file("placeholder", 0o644, b"x");
    let (_, err) = refuse(&t.finish());
    assert!(matches!(err, ArchiveError::InvalidName { .. }), "{err}");

    // A parent that is a regular file.
    let mut t = Tar::new();
    t.file("f", 0o644, b"").file("f/x", 0o644, b"");
    let (_, err) = refuse(&t.finish());
    assert!(
        matches!(&err, ArchiveError::NotADirectory { component, .. } if component == "f"),
        "{err}"
    );

    // Replacing the root with a file.
    let mut t = Tar::new();
    t.file("./", 0o644, b"");
    let (_, err) = refuse(&t.finish());
    assert!(matches!(err, ArchiveError::ReplacesRoot { .. }), "{err}");
}

#[test]
fn hostile_pax_sparse() {
    // A terabyte declared in a few hundred bytes.
    let mut t = Tar::new();
    super::normal::pax_sparse_v1(&mut t, "big", 1 << 40, &[(0, b"x")]);
    let (s, err) = refuse(&t.finish());
    assert!(matches!(err, ArchiveError::NoSpace { .. }), "{err}");
    assert!(!s.path("big").exists());

    // Regions past the declared size, or overlapping.
    for map in [&b"5000,3"[..], b"0,4,2,4", b"18446744073709551615,2"] {
        let mut t = Tar::new();
        t.pax(&[("GNU.sparse.size", b"5001"), ("GNU.sparse.map", map)])
            .file("GNUSparseFile.1/f", 0o644, b"abcdefgh");
        let (_, err) = refuse(&t.finish());
        assert!(matches!(err, ArchiveError::InvalidEntry { .. }), "{err}");
    }

    // The real name is checked like any other.
    let mut t = Tar::new();
    super::normal::pax_sparse_v1(&mut t, "../../etc/passwd", 10, &[(0, b"x")]);
    let (_, err) = refuse(&t.finish());
    assert!(matches!(err, ArchiveError::Escape { .. }), "{err}");
}

/// Fails after handing over `ok` bytes; holds an Rc so it is not Send,
/// like an entry of an outer archive that `load` passes in.
struct Flaky<'a> {
    data: &'a [u8],
    ok: usize,
    _not_send: std::rc::Rc<()>,
}

impl std::io::Read for Flaky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::other("network down"));
        }
        let n = buf.len().min(self.ok).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn input_errors_are_read_errors() {
    let mut t = Tar::new();
    t.file("big", 0o644, &vec![3u8; 300_000]);
    let data = t.finish();
    for input in [data.clone(), gzip(&data)] {
        let s = Scratch::new();
        let flaky = Flaky {
            data: &input,
            ok: input.len() / 2,
            _not_send: std::rc::Rc::new(()),
        };
        let err = crate::extract_layer(flaky, &s.dest, &ExtractOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "cannot read layer: network down");
    }
}
