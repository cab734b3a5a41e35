//! Hostile input: every archive here must be refused with a clear message, exit
//! status 1, and the store left exactly as it was (files and metadata rows).

use kujira_test_support::craft::{self, DockerArchive, Entry, OciArchive};
use kujira_test_support::{assert_unchanged, image, Kujira, StoreSnapshot};

/// A store that already holds an image, so "unchanged" protects real content.
fn populated() -> (Kujira, tempfile::TempDir) {
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("base.tar");
    image::busybox().to_docker_archive(&archive, "busybox:latest");
    k.ok(["load", "-i", archive.to_str().unwrap()]);
    (k, dir)
}

/// Loads `bytes`; asserts refusal mentioning `expect`, and an unchanged store.
fn refused(bytes: &[u8], expect: &str) {
    let (k, dir) = populated();
    let path = dir.path().join("hostile.tar");
    std::fs::write(&path, bytes).unwrap();
    let before = StoreSnapshot::take(k.root());
    let err = k.fails(["load", "-i", path.to_str().unwrap()], 1);
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_unchanged(&before, &StoreSnapshot::take(k.root()));
    assert!(k.ok(["system", "check"]).contains("store is consistent"));
    // The good image is still intact and usable.
    assert!(k.ok(["images", "-q"]).lines().count() == 1);
}

fn archive_with(layers: Vec<Vec<u8>>) -> Vec<u8> {
    // A good first layer ahead of the bad one: what the good layer created must be
    // undone too.
    let mut all = vec![craft::layer(&[craft::file("ok/file", "fine")])];
    all.extend(layers);
    DockerArchive::new("hostile:latest", craft::config(&["sh"]), all).to_bytes()
}

fn raw(name: &str, kind: tar::EntryType, link: &str) -> Entry {
    Entry::RawName {
        name: name.as_bytes().to_vec(),
        kind,
        data: if kind == tar::EntryType::Regular {
            b"evil".to_vec()
        } else {
            Vec::new()
        },
        link: link.as_bytes().to_vec(),
        mode: 0o644,
    }
}

#[test]
fn path_traversal() {
    refused(
        &archive_with(vec![craft::layer(&[raw(
            "../../../tmp/kujira-pwned",
            tar::EntryType::Regular,
            "",
        )])]),
        "outside",
    );
    refused(
        &archive_with(vec![craft::layer(&[raw(
            "a/../../x",
            tar::EntryType::Regular,
            "",
        )])]),
        "outside",
    );
}

#[test]
fn symlink_escape() {
    refused(
        &archive_with(vec![craft::layer(&[
            craft::symlink("a", "/"),
            raw("a/etc/kujira-pwned", tar::EntryType::Regular, ""),
        ])]),
        "symlink",
    );
    refused(
        &archive_with(vec![craft::layer(&[
            craft::symlink("up", "../.."),
            raw("up/x", tar::EntryType::Regular, ""),
        ])]),
        "symlink",
    );
}

#[test]
fn hardlink_escape() {
    refused(
        &archive_with(vec![craft::layer(&[raw(
            "pw",
            tar::EntryType::Link,
            "../../../etc/passwd",
        )])]),
        "outside",
    );
    refused(
        &archive_with(vec![craft::layer(&[
            craft::symlink("d", "/etc"),
            raw("pw", tar::EntryType::Link, "d/passwd"),
        ])]),
        "symlink",
    );
}

#[test]
fn device_node_tricks() {
    refused(
        &archive_with(vec![craft::layer(&[Entry::CharDev {
            path: "../../dev-evil".into(),
            major: 1,
            minor: 1,
        }])]),
        "outside",
    );
    refused(
        &archive_with(vec![craft::layer(&[craft::whiteout("../../etc/passwd")])]),
        "outside",
    );
}

#[test]
fn overlay_metadata_injection() {
    refused(
        &archive_with(vec![craft::layer(&[Entry::Pax {
            records: vec![("SCHILY.xattr.trusted.overlay.opaque".into(), b"y".to_vec())],
            entry: Box::new(craft::dir("d")),
        }])]),
        "trusted.overlay",
    );
}

#[test]
fn truncated_gzip_and_garbage() {
    let good = craft::gzip(&craft::layer(&[craft::file("a", vec![7u8; 100_000])]));
    let cut = craft::truncate(&good, good.len() / 2);
    let mut a = DockerArchive::new("hostile:latest", craft::config(&["sh"]), vec![cut]);
    a.diff_ids = craft::DiffIds::Custom(vec![craft::diff_id(&craft::layer(&[craft::file(
        "a",
        vec![7u8; 100_000],
    )]))]);
    refused(&a.to_bytes(), "layer");
    refused(
        b"this is not a tar archive at all, not even close.............",
        "invalid archive",
    );
}

#[test]
fn wrong_digests() {
    // The config's diff ID does not match the layer.
    let mut a = DockerArchive::new(
        "hostile:latest",
        craft::config(&["sh"]),
        vec![craft::layer(&[craft::file("a", "x")])],
    );
    a.diff_ids = craft::DiffIds::Corrupt;
    refused(&a.to_bytes(), "diff ID");
    // An OCI layer blob whose bytes do not hash to its descriptor's digest.
    // (uncompressed, so only the digest check can notice the flipped content byte)
    let blob = craft::layer(&[craft::file("a", "x")]);
    let path = OciArchive::blob_path(&kujira_test_support::digest(&blob));
    let mut tampered = blob.clone();
    tampered[512] ^= 0x01;
    let mut o = OciArchive::new(Some("hostile:latest"), craft::config(&["sh"]), vec![blob]);
    o.omit = vec![path.clone()];
    o.extra = vec![craft::file(&path, tampered)];
    refused(&o.to_bytes(), "digest");
}

#[test]
fn malformed_manifests_and_json() {
    let mut a = DockerArchive::new(
        "hostile:latest",
        craft::config(&["sh"]),
        vec![craft::layer(&[craft::file("a", "x")])],
    );
    a.manifest_item = Some(serde_json::json!({"Config": 42}));
    refused(&a.to_bytes(), "manifest.json");
    let mut b = DockerArchive::new(
        "hostile:latest",
        craft::config(&["sh"]),
        vec![craft::layer(&[craft::file("a", "x")])],
    );
    b.config_raw = Some(b"{not json".to_vec());
    refused(&b.to_bytes(), "config");
    let mut c = DockerArchive::new(
        "HOSTILE:latest",
        craft::config(&["sh"]),
        vec![craft::layer(&[craft::file("a", "x")])],
    );
    c.omit = vec![c.layer_path(0)];
    refused(&c.to_bytes(), "invalid");
}

#[test]
fn tar_bomb_of_many_entries() {
    // More entries than any layer may have, in a small gzip stream.
    let mut bomb = Vec::new();
    craft::tar_bomb_gz(&mut bomb, craft::bomb::many_files(1_000_001)).unwrap();
    let plain = craft::gunzip(&bomb).unwrap();
    let mut a = DockerArchive::new("hostile:latest", craft::config(&["sh"]), vec![bomb]);
    a.diff_ids = craft::DiffIds::Custom(vec![craft::diff_id(&plain)]);
    refused(&a.to_bytes(), "entries");
}

#[test]
fn huge_declared_sizes() {
    // A sparse-looking entry declaring far more bytes than the disk has.
    let mut header = tar::Header::new_gnu();
    header.set_path("huge").unwrap();
    header.set_size(1 << 50);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_cksum();
    let layer = craft::layer(&[Entry::Header {
        header: Box::new(header),
        data: Vec::new(),
    }]);
    refused(&archive_with(vec![layer]), "bytes");
}
