//! Tar-split: recording during extraction and reassembly of the exact
//! original stream from the layer directory.

use std::fs;
use std::os::unix::fs::symlink;
use std::process::Command;

use tar::{EntryType, Header};

use super::normal::{pax_sparse_v1, sparse_entry};
use super::*;
use crate::{extract_layer_with_split, reassemble_layer};

/// Extracts `input` with a split; returns the stats and the split.
fn extract_split(s: &Scratch, input: &[u8]) -> (LayerStats, Vec<u8>) {
    let mut split = Vec::new();
    let stats =
        extract_layer_with_split(input, &s.dest, &ExtractOptions::default(), &mut split).unwrap();
    (stats, split)
}

fn reassemble(s: &Scratch, split: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::new();
    let n = reassemble_layer(&s.dest, split, &mut out)?;
    assert_eq!(n, out.len() as u64);
    Ok(out)
}

/// Extracts `input` (whose uncompressed form is `tar`), checks the split
/// regenerates `tar` exactly, and returns the scratch area and split.
#[track_caller]
fn round_trip(input: &[u8], tar: &[u8]) -> (Scratch, Vec<u8>) {
    let s = Scratch::new();
    let (stats, split) = extract_split(&s, input);
    assert!(stats.reproducible);
    assert_eq!(stats.diff_id, sha(tar));
    assert_eq!(stats.tar_size, tar.len() as u64);
    let out = reassemble(&s, &split).unwrap();
    assert!(out == tar, "reassembled tar differs from the original");
    assert_eq!(sha(&out), stats.diff_id);
    // Extraction without a split sees the same layer.
    let plain = Scratch::new();
    let mut again = plain.extract(input).unwrap();
    assert!(!again.reproducible);
    again.reproducible = true;
    assert_eq!(again, stats);
    assert!(
        snapshot_timeless_dirs(&plain.dest) == snapshot_timeless_dirs(&s.dest),
        "trees differ"
    );
    (s, split)
}

/// Data that differs at every offset, so misplaced bytes show.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

fn rich() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("etc/", 0o755)
        .file("etc/empty", 0o644, b"")
        .pax(&[("SCHILY.xattr.user.note", b"hello")])
        .file("etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n")
        .file("usr/bin/su", 0o4755, &pattern(70_000, 1))
        .hardlink("usr/bin/su2", "usr/bin/su", 0o4755)
        .symlink("etc/alt", "/usr/bin/su")
        .node("dev/null", EntryType::Char, 1, 3)
        .node("run/fifo", EntryType::Fifo, 0, 0);
    let long = format!("{}/file", "d".repeat(150));
    t.file(&long, 0o644, &pattern(3000, 2));
    let long_pax = format!("{}/pax-file", "p".repeat(200));
    t.pax(&[("path", long_pax.as_bytes())]).file(
        "short-name-replaced-by-pax",
        0o600,
        &pattern(513, 3),
    );
    // Sizes around block and read-ahead boundaries.
    for (i, len) in [1, 511, 512, 513, 65_535, 65_536, 65_537, 300_000]
        .into_iter()
        .enumerate()
    {
        t.file(&format!("sizes/f{i}"), 0o644, &pattern(len, i as u8));
    }
    // Many small files: several headers and contents per read-ahead.
    for i in 0..300 {
        t.file(&format!("many/f{i}"), 0o644, &pattern(i * 37 % 2000, 9));
    }
    // Whiteouts and opaque markers become overlay metadata; AUFS content is
    // skipped; all of it must come back verbatim.
    t.dir("var/", 0o755)
        .file("var/.wh.gone", 0o644, b"")
        .file("var/.wh..wh..opq", 0o644, b"")
        .file(".wh..wh.aufs", 0o644, b"")
        .dir(".wh..wh.plnk/", 0o700)
        .file(".wh..wh.plnk/1234.5678", 0o644, &pattern(100_000, 4))
        .file("after-plnk", 0o644, b"still recorded");
    t.finish()
}

#[test]
fn every_kind_of_entry_round_trips() {
    let tar = rich();
    let (s, split) = round_trip(&tar, &tar);
    assert!(s.path("var/gone").exists());
    assert!(!s.path(".wh..wh.plnk").exists());
    // The split holds metadata, not contents.
    let contents: usize = 70_000 + 3000 + 513 + 65_535 * 3 + 300_000;
    assert!(
        split.len() < tar.len() - contents,
        "split is {} bytes",
        split.len()
    );
}

#[test]
fn compressed_inputs_split_the_uncompressed_stream() {
    let tar = rich();
    round_trip(&gzip(&tar), &tar);
    round_trip(&zstd(&tar), &tar);
}

#[test]
fn trailing_bytes_after_the_end_of_archive_are_kept() {
    let mut tar = rich();
    tar.extend_from_slice(&[0u8; 8192]);
    tar.extend_from_slice(b"trailing junk after end of archive");
    tar.extend_from_slice(&pattern(200_000, 5));
    round_trip(&tar, &tar);
    round_trip(&gzip(&tar), &tar);
}

#[test]
fn edge_streams_round_trip() {
    // Empty input, only end blocks, a single empty file, no end blocks.
    round_trip(b"", b"");
    let zeros = [0u8; 1024];
    round_trip(&zeros, &zeros);
    let mut t = Tar::new();
    t.file("e", 0o644, b"");
    let one = t.finish();
    round_trip(&one, &one);
    let mut t = Tar::new();
    t.file("x", 0o644, &pattern(1000, 1));
    let mut unterminated = t.finish();
    unterminated.truncate(1536);
    round_trip(&unterminated, &unterminated);
}

#[test]
fn tar_crate_archives_round_trip() {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir_all(src.path().join("a/b")).unwrap();
    fs::write(src.path().join("a/b/big"), pattern(1 << 20, 7)).unwrap();
    fs::write(src.path().join("a/small"), b"small").unwrap();
    fs::write(src.path().join("empty"), b"").unwrap();
    symlink("a/small", src.path().join("link")).unwrap();
    for mode in [tar::HeaderMode::Complete, tar::HeaderMode::Deterministic] {
        let mut b = tar::Builder::new(Vec::new());
        b.mode(mode);
        b.follow_symlinks(false);
        b.append_dir_all(".", src.path()).unwrap();
        let tar = b.into_inner().unwrap();
        round_trip(&tar, &tar);
    }
}

fn gnu_tar(src: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("tar")
        .args(args)
        .arg("-cf")
        .arg("-")
        .arg("-C")
        .arg(src)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn gnu_tree() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    let deep = format!("{}/{}", "x".repeat(120), "y".repeat(120));
    fs::create_dir_all(src.path().join(&deep)).unwrap();
    fs::write(
        src.path().join(&deep).join("long-path-file"),
        pattern(5000, 1),
    )
    .unwrap();
    fs::write(src.path().join("big"), pattern(3 << 20, 2)).unwrap();
    fs::write(src.path().join("empty"), b"").unwrap();
    fs::hard_link(src.path().join("big"), src.path().join("big-link")).unwrap();
    symlink("big", src.path().join("sym")).unwrap();
    rustix::fs::setxattr(
        src.path().join("big"),
        "user.k",
        b"v",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.path().join("null"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    src
}

#[test]
fn gnu_tar_archives_round_trip() {
    let src = gnu_tree();
    for args in [
        &["--format=gnu"][..],
        &["--format=posix", "--xattrs"][..],
        &["--format=gnu", "--blocking-factor=1"][..],
    ] {
        let tar = gnu_tar(src.path(), args);
        round_trip(&tar, &tar);
        round_trip(&gzip(&tar), &tar);
    }
}

#[test]
fn sparse_files_are_not_reproducible() {
    let mut t = Tar::new();
    t.file("before", 0o644, b"b")
        .bytes(&sparse_entry("old-gnu", 1 << 20, 4096, &pattern(1000, 1)));
    let old_gnu = t.finish();
    let mut t = Tar::new();
    pax_sparse_v1(&mut t, "pax-1.0", 1 << 20, &[(8192, &pattern(700, 2))]);
    let pax = t.finish();
    for tar in [old_gnu, pax] {
        let s = Scratch::new();
        let (stats, _) = extract_split(&s, &tar);
        assert_eq!(stats.diff_id, sha(&tar));
        assert!(!stats.reproducible);
    }

    // As GNU tar writes them.
    let src = tempfile::tempdir().unwrap();
    let f = fs::File::create(src.path().join("holes")).unwrap();
    f.set_len(16 << 20).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"data", 8 << 20).unwrap();
    for format in ["--format=gnu", "--format=posix"] {
        let tar = gnu_tar(src.path(), &[format, "--sparse"]);
        let s = Scratch::new();
        let (stats, _) = extract_split(&s, &tar);
        assert!(!stats.reproducible, "{format}");
    }
}

#[test]
fn files_lost_within_the_layer_are_not_reproducible() {
    let mut dup = Tar::new();
    dup.file("a", 0o644, b"first").file("a", 0o644, b"second");
    let mut whiteout = Tar::new();
    whiteout.file("a", 0o644, b"x").file(".wh.a", 0o644, b"");
    let mut dir_replaced = Tar::new();
    dir_replaced
        .file("d/sub/f", 0o644, b"x")
        .symlink("d", "/elsewhere");
    let mut relinked = Tar::new();
    relinked
        .file("a", 0o644, b"x")
        .hardlink("b", "a", 0o644)
        .symlink("a", "b");
    for (name, mut t) in [
        ("duplicate", dup),
        ("whiteout", whiteout),
        ("dir replaced", dir_replaced),
        ("relinked", relinked),
    ] {
        let tar = t.finish();
        let s = Scratch::new();
        let (stats, _) = extract_split(&s, &tar);
        assert!(!stats.reproducible, "{name}");
        assert_eq!(stats.diff_id, sha(&tar), "{name}");
    }

    // Replacing things that hold no recorded content is fine.
    let mut t = Tar::new();
    t.file("a", 0o644, b"x")
        .hardlink("b", "a", 0o644)
        .symlink("b", "a")
        .dir("d/", 0o755)
        .dir("d/", 0o700)
        .symlink("l", "x")
        .file("l", 0o644, b"now a file")
        .file("ab", 0o644, b"sorts after a/")
        .node("a-dir/c", EntryType::Fifo, 0, 0)
        .symlink("a-dir", "/x");
    let tar = t.finish();
    round_trip(&tar, &tar);
}

#[test]
fn modified_layers_are_refused() {
    let tar = rich();
    let (s, split) = round_trip(&tar, &tar);

    fs::write(s.path("etc/passwd"), b"root::0:0::/root:/bin/sh\nevil\n").unwrap();
    let err = reassemble(&s, &split).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::LayerModified { path, .. } if path == "etc/passwd"),
        "{err}"
    );
    assert!(err.to_string().contains("bytes"), "{err}");

    fs::remove_file(s.path("etc/passwd")).unwrap();
    let err = reassemble(&s, &split).unwrap_err();
    assert!(err.to_string().contains("gone"), "{err}");

    fs::create_dir(s.path("etc/passwd")).unwrap();
    let err = reassemble(&s, &split).unwrap_err();
    assert!(err.to_string().contains("regular file"), "{err}");
}

#[test]
fn planted_symlinks_are_not_followed() {
    let mut t = Tar::new();
    let secret = fs::read(Scratch::new().outer.join("host/etc/shadow")).unwrap();
    t.dir("etc/", 0o755)
        .file("etc/shadow", 0o644, &vec![b'x'; secret.len()]);
    let tar = t.finish();
    let (s, split) = round_trip(&tar, &tar);
    let host = s.outer.join("host/etc");

    // The file itself, then its directory, point at the host's.
    fs::remove_file(s.path("etc/shadow")).unwrap();
    symlink(host.join("shadow"), s.path("etc/shadow")).unwrap();
    let err = reassemble(&s, &split).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");

    fs::remove_file(s.path("etc/shadow")).unwrap();
    fs::remove_dir(s.path("etc")).unwrap();
    symlink(&host, s.path("etc")).unwrap();
    let err = reassemble(&s, &split).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");

    // A fifo must not hang reassembly.
    fs::remove_file(s.path("etc")).unwrap();
    fs::create_dir(s.path("etc")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        s.path("etc/shadow"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let err = reassemble(&s, &split).unwrap_err();
    assert!(err.to_string().contains("regular file"), "{err}");
}

#[test]
fn hostile_splits_are_refused() {
    let s = Scratch::new();
    let mut split = b"kjsplit\x01".to_vec();
    let mut bad_path = split.clone();
    bad_path.extend_from_slice(b"F\x10../host/etc/pas\x1a");
    let err = reassemble(&s, &bad_path).unwrap_err();
    assert!(matches!(err, ArchiveError::InvalidSplit(_)), "{err}");
    let mut abs = split.clone();
    abs.extend_from_slice(b"F\x0b/etc/passwd\x1a");
    assert!(matches!(
        reassemble(&s, &abs).unwrap_err(),
        ArchiveError::InvalidSplit(_)
    ));

    // Truncated, wrong total, trailing data.
    split.extend_from_slice(b"R\x03abc");
    assert!(matches!(
        reassemble(&s, &split).unwrap_err(),
        ArchiveError::InvalidSplit(_)
    ));
    let mut wrong = split.clone();
    wrong.extend_from_slice(b"E\x04");
    assert!(matches!(
        reassemble(&s, &wrong).unwrap_err(),
        ArchiveError::InvalidSplit(_)
    ));
    let mut good = split.clone();
    good.extend_from_slice(b"E\x03");
    assert_eq!(reassemble(&s, &good).unwrap(), b"abc");
    good.push(0);
    assert!(matches!(
        reassemble(&s, &good).unwrap_err(),
        ArchiveError::InvalidSplit(_)
    ));
    let mut short = b"kjsplit\x01".to_vec();
    short.extend_from_slice(b"R\x05ab");
    assert!(matches!(
        reassemble(&s, &short).unwrap_err(),
        ArchiveError::InvalidSplit(_)
    ));
}

#[test]
fn failing_split_writer_fails_extraction() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let tar = rich();
    let s = Scratch::new();
    let err =
        extract_layer_with_split(&tar[..], &s.dest, &ExtractOptions::default(), Full).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::SplitIo {
                action: "write",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn hand_made_headers_round_trip() {
    // A PAX global header, a GNU long link and a header with a bogus PAX
    // size of zero before a directory.
    let mut t = Tar::new();
    let mut g = Header::new_ustar();
    g.set_entry_type(EntryType::XGlobalHeader);
    let rec = b"19 comment=global!\n";
    g.set_size(rec.len() as u64);
    g.set_path("pax_global_header").unwrap();
    g.set_cksum();
    let mut raw = g.as_bytes().to_vec();
    raw.extend_from_slice(rec);
    raw.resize(1024, 0);
    t.bytes(&raw);
    let target = format!("/{}", "t".repeat(300));
    t.symlink("long-link", &target)
        .pax(&[("size", b"0")])
        .dir("d/", 0o755)
        .file("d/f", 0o644, &pattern(10, 0));
    let tar = t.finish();
    round_trip(&tar, &tar);
}
