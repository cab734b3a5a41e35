//! Several kujira processes on one store: four concurrent loads of images that share
//! base layers store each layer once, and all four images come out whole.

use std::collections::BTreeSet;

use kujira_test_support::image::{self, ImageSpec, LayerSpec};
use kujira_test_support::Kujira;

#[test]
fn four_concurrent_loads_store_shared_layers_once() {
    let (base, child) = image::shared_pair();
    let other = base.derive(
        "other",
        &ImageSpec::new().layer(LayerSpec::files([("other/file", "other")])),
    );
    let third = child.derive(
        "third",
        &ImageSpec::new().layer(LayerSpec::files([("third/file", vec![3u8; 50_000])])),
    );
    let dir = tempfile::tempdir().unwrap();
    let images = [
        (base, "base:1"),
        (child, "child:1"),
        (&other, "other:1"),
        (&third, "third:1"),
    ];
    let mut archives = Vec::new();
    for (img, name) in images {
        let path = dir.path().join(format!("{}.tar", name.replace(':', "-")));
        img.to_docker_archive(&path, name);
        archives.push(path);
    }
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    k.ok(["images"]);
    let procs: Vec<_> = archives
        .iter()
        .map(|a| k.cmd(["load", "-i", a.to_str().unwrap()]).spawn().unwrap())
        .collect();
    for p in procs {
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut chains = BTreeSet::new();
    for (img, name) in images {
        assert_eq!(
            k.ok(["inspect", "-f", "{{.Id}}", name]).trim(),
            img.image_id()
        );
        let diff_ids: Vec<String> = img.diff_ids();
        let mut chain = String::new();
        for d in diff_ids {
            chain = if chain.is_empty() {
                d
            } else {
                kujira_test_support::digest(format!("{chain} {d}").as_bytes())
            };
            chains.insert(chain.clone());
        }
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(k.root().join("layers"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(on_disk, chains, "each distinct layer stored exactly once");
    assert!(k
        .ok(["system", "check", "--verify-content"])
        .contains("store is consistent"));
}
