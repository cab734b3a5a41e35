//! Removal semantics as Docker's: untag versus delete, conflicts, prune of dangling
//! and unused images, and the space that comes back.

use kujira_test_support::{image, Kujira};

fn with_image(name: &str) -> (Kujira, &'static image::OciImage) {
    let img = image::layered();
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("img.tar");
    img.to_docker_archive(&archive, name);
    k.ok(["load", "-i", archive.to_str().unwrap()]);
    (k, img)
}

#[test]
fn rmi_untags_before_it_deletes() {
    let (k, img) = with_image("nginx:1.25");
    k.ok(["tag", "nginx:1.25", "nginx:latest"]);
    assert_eq!(k.ok(["rmi", "nginx"]), "Untagged: nginx:latest\n");
    assert_eq!(k.ok(["images", "-q"]).lines().count(), 1);
    let out = k.ok(["rmi", "nginx:1.25"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Untagged: nginx:1.25"));
    assert_eq!(
        lines.next(),
        Some(format!("Deleted: {}", img.image_id()).as_str())
    );
    // Then the three layers, top first, by chain ID.
    assert_eq!(lines.count(), 3);
    assert_eq!(k.ok(["images", "-q"]), "");
    assert_eq!(
        std::fs::read_dir(k.root().join("layers")).unwrap().count(),
        0
    );
    let blobs = std::fs::read_dir(k.root().join("blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "no blob left behind");
}

#[test]
fn rmi_by_id_prefix_and_conflicts() {
    let (k, img) = with_image("nginx:1.25");
    k.ok(["tag", "nginx:1.25", "myuser/web:v1"]);
    let id = &img.image_id()[7..19];
    let err = k.fails(["rmi", id], 1);
    assert_eq!(
        err.trim(),
        format!("Error response from daemon: conflict: unable to delete {id} (must be forced) - image is referenced in multiple repositories")
    );
    let out = k.ok(["rmi", "-f", id]);
    assert!(
        out.contains("Untagged: nginx:1.25\n") && out.contains("Untagged: myuser/web:v1\n"),
        "{out}"
    );
    assert!(out.contains(&format!("Deleted: {}", img.image_id())));
}

#[test]
fn rmi_missing_image_says_so_and_continues() {
    let (k, _) = with_image("nginx:1.25");
    let out = k.cmd(["rmi", "nope", "nginx:1.25"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error response from daemon: No such image: nope:latest"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("Untagged: nginx:1.25\nDeleted: sha256:")
    );
}

#[test]
fn prune_removes_dangling_only_with_consent() {
    let (k, img) = with_image("nginx:1.25");
    // Loading another image under the same tag leaves the first one dangling.
    let other = image::busybox();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("o.tar");
    other.to_docker_archive(&a, "nginx:1.25");
    let out = k.ok(["load", "-i", a.to_str().unwrap()]);
    assert_eq!(
        out,
        format!(
            "The image nginx:1.25 already exists, renaming the old one with ID {} to empty string\nLoaded image: nginx:1.25\n",
            img.image_id()
        )
    );
    assert_eq!(
        k.ok([
            "images",
            "-f",
            "dangling=true",
            "--format",
            "{{.Repository}} {{.Tag}}"
        ]),
        "<none> <none>\n"
    );
    // No answer: nothing is deleted.
    let out = k.ok_stdin(["image", "prune"], "");
    assert_eq!(
        out,
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(k.ok(["images", "-q"]).lines().count(), 2);
    let out = k.ok_stdin(["image", "prune"], "y\n");
    assert!(
        out.contains(&format!("Deleted Images:\ndeleted: {}\n", img.image_id())),
        "{out}"
    );
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("Total reclaimed space: ") && last != "Total reclaimed space: 0B",
        "{out}"
    );
    assert_eq!(k.ok(["images", "-q"]).lines().count(), 1);
    // Nothing left to prune.
    assert_eq!(
        k.ok(["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    // -a removes images no container uses, tagged or not.
    let out = k.ok(["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: nginx:1.25\n"), "{out}");
    assert_eq!(k.ok(["images", "-q"]), "");
    assert!(k.ok(["system", "check"]).contains("store is consistent"));
}

#[test]
fn tag_errors() {
    let (k, _) = with_image("nginx:1.25");
    let err = k.fails(["tag", "nginx:1.25", "Bad/Name"], 1);
    assert!(err.starts_with("Error parsing reference: \"Bad/Name\" is not a valid repository/tag: invalid reference format"), "{err}");
    let err = k.fails(["tag", "missing:1", "x:1"], 1);
    assert_eq!(
        err.trim(),
        "Error response from daemon: No such image: missing:1"
    );
}

#[test]
fn usage_errors_use_docker_wording() {
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let err = k.fails(["images", "--bogus"], 125);
    assert!(
        err.starts_with("unknown flag: --bogus\nSee 'kujira images --help'."),
        "{err}"
    );
    let err = k.fails(["rmi"], 1);
    assert!(
        err.starts_with("kujira: 'kujira rmi' requires at least 1 argument\n\nUsage:  kujira rmi"),
        "{err}"
    );
    assert!(
        err.trim_end()
            .ends_with("See 'kujira rmi --help' for more information"),
        "{err}"
    );
}
