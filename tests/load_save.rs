//! Images in and out without a registry: archives made by skopeo (docker-archive and
//! OCI) load with their digests unchanged, and what `kujira save` writes is read by
//! skopeo and loads into a fresh store identically.

use kujira_test_support::image::{self, skopeo_inspect};
use kujira_test_support::{tools, Kujira};

fn kujira() -> Kujira {
    Kujira::new(env!("CARGO_BIN_EXE_kujira"))
}

fn inspect_field(k: &Kujira, name: &str, template: &str) -> String {
    k.ok(["inspect", "--format", template, name])
        .trim()
        .to_string()
}

#[test]
fn skopeo_docker_archive_loads_with_digests_unchanged() {
    tools::require("skopeo");
    let img = image::layered();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("layered.tar");
    img.to_docker_archive(&archive, "layered:v1");
    let k = kujira();
    let out = k.ok(["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: layered:v1\n");
    assert_eq!(inspect_field(&k, "layered:v1", "{{.Id}}"), img.image_id());
    let layers = k.ok(["inspect", "-f", "{{json .RootFS.Layers}}", "layered:v1"]);
    let layers: Vec<String> = serde_json::from_str(layers.trim()).unwrap();
    assert_eq!(layers, img.diff_ids());
    assert_eq!(
        inspect_field(&k, "layered:v1", "{{len .RootFS.Layers}}"),
        "3"
    );
    assert!(k.ok(["system", "check"]).contains("store is consistent"));
}

#[test]
fn skopeo_oci_archive_loads_with_digests_unchanged() {
    tools::require("skopeo");
    let img = image::layered();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("layered-oci.tar");
    img.to_oci_archive(&archive, "example.com/team/layered:2.0");
    let k = kujira();
    let out = k.ok(["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: example.com/team/layered:2.0\n");
    assert_eq!(
        inspect_field(&k, "example.com/team/layered:2.0", "{{.Id}}"),
        img.image_id()
    );
    // The compressed layer blobs are kept exactly as the manifest names them.
    for digest in img.layer_digests() {
        let hex = digest.trim_start_matches("sha256:");
        assert!(
            k.root().join("blobs/sha256").join(hex).exists(),
            "blob {digest} kept"
        );
    }
}

#[test]
fn oci_archive_from_stdin_and_gzip_stream() {
    let img = image::busybox();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("bb.tar");
    img.to_docker_archive(&archive, "busybox:latest");
    let bytes = std::fs::read(&archive).unwrap();
    let k = kujira();
    assert_eq!(
        k.ok_stdin(["load"], &bytes),
        "Loaded image: busybox:latest\n"
    );
    let k2 = kujira();
    let gz = kujira_test_support::craft::gzip(&bytes);
    assert_eq!(k2.ok_stdin(["load", "-q"], &gz), "");
    assert_eq!(inspect_field(&k2, "busybox", "{{.Id}}"), img.image_id());
}

#[test]
fn save_is_read_by_skopeo_and_round_trips_into_a_fresh_store() {
    tools::require("skopeo");
    let img = image::layered();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("in.tar");
    img.to_docker_archive(&archive, "layered:v1");
    let k = kujira();
    k.ok(["load", "-i", archive.to_str().unwrap()]);
    k.ok(["tag", "layered:v1", "myuser/layered:latest"]);
    let saved = dir.path().join("saved.tar");
    k.ok([
        "save",
        "-o",
        saved.to_str().unwrap(),
        "layered:v1",
        "myuser/layered",
    ]);

    let cfg = skopeo_inspect(
        &format!("docker-archive:{}:layered:v1", saved.display()),
        &["--config"],
    );
    let expected_cfg = img.config();
    assert_eq!(cfg["rootfs"], expected_cfg["rootfs"]);
    let raw = skopeo_inspect(
        &format!("docker-archive:{}:layered:v1", saved.display()),
        &["--raw"],
    );
    assert_eq!(raw["config"]["digest"].as_str().unwrap(), img.image_id());
    let oci = skopeo_inspect(
        &format!("oci-archive:{}:v1", saved.display()),
        &["--config"],
    );
    assert_eq!(oci["rootfs"], expected_cfg["rootfs"]);

    let fresh = kujira();
    let out = fresh.ok(["load", "-i", saved.to_str().unwrap()]);
    assert_eq!(
        out,
        "Loaded image: layered:v1\nLoaded image: myuser/layered:latest\n"
    );
    for name in ["layered:v1", "myuser/layered"] {
        assert_eq!(
            fresh.ok([
                "inspect",
                "-f",
                "{{.Id}} {{.Size}} {{json .RootFS}} {{json .Config}}",
                name
            ]),
            k.ok([
                "inspect",
                "-f",
                "{{.Id}} {{.Size}} {{json .RootFS}} {{json .Config}}",
                name
            ])
        );
    }
    assert!(fresh
        .ok(["system", "check", "--verify-content"])
        .contains("store is consistent"));
}

#[test]
fn save_to_a_terminal_or_of_a_missing_image_fails_cleanly() {
    let k = kujira();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.tar");
    let err = k.fails(["save", "-o", out.to_str().unwrap(), "nope:1"], 1);
    assert_eq!(
        err.trim(),
        "Error response from daemon: No such image: nope:1"
    );
    assert!(!out.exists(), "no partial archive left behind");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn import_makes_a_one_layer_image_with_changes() {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    image::busybox_rootfs(&rootfs);
    let tarball = dir.path().join("rootfs.tar");
    tools::run(
        std::process::Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tarball)
            .arg("."),
    );
    let k = kujira();
    let id = k.ok([
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-c",
        "EXPOSE 80",
        "-c",
        "ENV A=1",
        "-m",
        "my rootfs",
        tarball.to_str().unwrap(),
        "mybox:1.0",
    ]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(inspect_field(&k, "mybox:1.0", "{{.Id}}"), id);
    assert_eq!(
        inspect_field(&k, "mybox:1.0", "{{.Config.ExposedPorts}}"),
        "map[80/tcp:{}]"
    );
    assert_eq!(
        inspect_field(&k, "mybox:1.0", "{{json .Config.Cmd}}"),
        "[\"sh\"]"
    );
    assert_eq!(inspect_field(&k, "mybox:1.0", "{{.Comment}}"), "my rootfs");
    assert_eq!(
        inspect_field(&k, "mybox:1.0", "{{len .RootFS.Layers}}"),
        "1"
    );
    // The size is the real figure on disk: the files of the rootfs.
    let busybox_size = std::fs::metadata("/bin/busybox").unwrap().len();
    let size: u64 = inspect_field(&k, "mybox:1.0", "{{.Size}}").parse().unwrap();
    assert!(
        size >= busybox_size && size < busybox_size + 4096,
        "{size} vs {busybox_size}"
    );
    // From standard input too, untagged.
    let bytes = std::fs::read(&tarball).unwrap();
    let id2 = k.ok_stdin(["import", "-"], &bytes);
    assert!(id2.starts_with("sha256:"));
    assert_eq!(
        k.ok([
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "-f",
            "dangling=true"
        ]),
        "<none>:<none>\n"
    );
}

#[test]
fn import_rejects_bad_changes_before_touching_the_store() {
    let k = kujira();
    k.ok(["images"]);
    let before = kujira_test_support::StoreSnapshot::take(k.root());
    let err = k.fails(["import", "-c", "RUN rm -rf /", "/dev/null", "x:1"], 1);
    assert!(err.contains("RUN is not a valid change command"), "{err}");
    kujira_test_support::assert_unchanged(
        &before,
        &kujira_test_support::StoreSnapshot::take(k.root()),
    );
}

#[test]
fn loaded_layers_are_stored_once_and_regenerate_their_tar() {
    let img = image::layered();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("layered.tar");
    img.to_docker_archive(&archive, "layered:v1");
    let k = kujira();
    k.ok(["load", "-i", archive.to_str().unwrap()]);
    // No second copy of the uncompressed layers: only the config blob is a file.
    let blobs: Vec<_> = std::fs::read_dir(k.root().join("blobs/sha256"))
        .unwrap()
        .collect();
    assert_eq!(blobs.len(), 1, "only the config is kept as a blob");
    assert!(k
        .ok(["system", "check", "--verify-content"])
        .contains("store is consistent"));
    // A modified layer file is noticed.
    let chain = img.diff_ids()[0].clone();
    let busybox = k
        .root()
        .join("layers")
        .join(&chain[7..])
        .join("diff/bin/busybox");
    let mut bytes = std::fs::read(&busybox).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&busybox, bytes).unwrap();
    let out = k.run(["system", "check", "--verify-content"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no longer regenerates its tar"));
}
