//! skopeo as the reference converter: docker-archive and oci-archive files
//! exported from OCI layouts, and `skopeo inspect` as an independent reader
//! to check what kujira (or a fixture) wrote.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::Value;

use super::OciImage;
use crate::tools::{self, run};

/// `skopeo copy` with signature policy checks off (fixtures are unsigned
/// and the host may lack /etc/containers/policy.json).
pub fn skopeo_copy(src: &str, dst: &str, extra: &[&str]) {
    run(tools::command("skopeo")
        .args(["--insecure-policy", "copy", "-q"])
        .args(extra)
        .arg(src)
        .arg(dst));
}

/// `skopeo inspect [extra] REF` parsed as JSON; `extra` is e.g. `["--raw"]`
/// for the manifest or `["--config"]` for the config blob.
pub fn skopeo_inspect(reference: &str, extra: &[&str]) -> Value {
    let out = run(tools::command("skopeo")
        .arg("inspect")
        .args(extra)
        .arg(reference));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "skopeo inspect {reference}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// `skopeo copy oci:LAYOUT:TAG docker-archive:OUT:NAME_TAG`, replacing `out`
/// (skopeo refuses to add to an existing archive). skopeo writes the fully
/// qualified name (`docker.io/library/busybox:latest`); see
/// [`familiarize_docker_archive`] for `docker save`'s short form.
pub fn to_docker_archive(layout: &Path, tag: &str, out: &Path, name_tag: &str) {
    let _ = std::fs::remove_file(out);
    skopeo_copy(
        &format!("oci:{}:{tag}", layout.display()),
        &format!("docker-archive:{}:{name_tag}", out.display()),
        &[],
    );
}

/// `skopeo copy oci:LAYOUT:TAG oci-archive:OUT:NAME`.
pub fn to_oci_archive(layout: &Path, tag: &str, out: &Path, name: &str) {
    let _ = std::fs::remove_file(out);
    skopeo_copy(
        &format!("oci:{}:{tag}", layout.display()),
        &format!("oci-archive:{}:{name}", out.display()),
        &[],
    );
}

/// A docker-archive holding several images, each under one or more names,
/// like `docker save a b:1 b:2`. skopeo writes one image per archive
/// (extra names via `--additional-tag`), so each image is exported by skopeo
/// and the archives are merged: members are content-addressed, so the union
/// of them plus the concatenated `manifest.json` is what Docker writes.
pub fn docker_archive_multi(out: &Path, images: &[(&OciImage, &[&str])]) {
    let work = tempfile::tempdir().unwrap();
    let mut members: Vec<(Vec<u8>, tar::Header, Vec<u8>)> = Vec::new();
    let mut manifest: Vec<Value> = Vec::new();
    let mut repos = serde_json::Map::new();
    for (i, (img, names)) in images.iter().enumerate() {
        let (first, rest) = names.split_first().expect("at least one name per image");
        let part = work.path().join(format!("{i}.tar"));
        let mut extra = Vec::new();
        for n in rest {
            extra.extend(["--additional-tag", n]);
        }
        skopeo_copy(
            &img.reference(),
            &format!("docker-archive:{}:{first}", part.display()),
            &extra,
        );
        let data = std::fs::read(&part).unwrap();
        let mut ar = tar::Archive::new(data.as_slice());
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path_bytes().into_owned();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            match name.as_slice() {
                b"manifest.json" => {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    manifest.extend(v.as_array().unwrap().iter().cloned());
                }
                b"repositories" => {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    for (repo, tags) in v.as_object().unwrap() {
                        let entry = repos
                            .entry(repo.clone())
                            .or_insert_with(|| Value::Object(Default::default()));
                        for (t, id) in tags.as_object().unwrap() {
                            entry[t] = id.clone();
                        }
                    }
                }
                _ if members.iter().any(|(n, _, _)| *n == name) => {}
                _ => members.push((name, e.header().clone(), body)),
            }
        }
    }
    let f = std::fs::File::create(out).unwrap_or_else(|e| panic!("create {}: {e}", out.display()));
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    for (_, h, body) in &members {
        b.append(h, body.as_slice()).unwrap();
    }
    for (name, body) in [
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
        ("repositories", serde_json::to_vec(&repos).unwrap()),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(body.len() as u64);
        h.set_mode(0o444);
        h.set_cksum();
        b.append(&h, body.as_slice()).unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
}

/// Docker's short form of a reference: `docker.io/library/busybox:latest`
/// → `busybox:latest`, `docker.io/foo/bar:1` → `foo/bar:1`.
pub fn familiar_name(name: &str) -> String {
    let n = name.strip_prefix("docker.io/").unwrap_or(name);
    n.strip_prefix("library/").unwrap_or(n).to_string()
}

/// Rewrites the names in a skopeo-written docker-archive to the short form
/// `docker save` uses, so a test sees byte-for-byte what Docker would give.
pub fn familiarize_docker_archive(path: &Path) {
    let data = std::fs::read(path).unwrap();
    let mut out = tar::Builder::new(Vec::new());
    let mut ar = tar::Archive::new(data.as_slice());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        let mut h = e.header().clone();
        match &*e.path_bytes() {
            b"manifest.json" => {
                let mut v: Value = serde_json::from_slice(&body).unwrap();
                for item in v.as_array_mut().unwrap() {
                    if let Some(tags) = item["RepoTags"].as_array_mut() {
                        for t in tags {
                            *t = Value::String(familiar_name(t.as_str().unwrap()));
                        }
                    }
                }
                body = serde_json::to_vec(&v).unwrap();
            }
            b"repositories" => {
                let v: Value = serde_json::from_slice(&body).unwrap();
                let m: serde_json::Map<String, Value> = v
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (familiar_name(k), v.clone()))
                    .collect();
                body = serde_json::to_vec(&m).unwrap();
            }
            _ => {}
        }
        h.set_size(body.len() as u64);
        h.set_cksum();
        out.append(&h, body.as_slice()).unwrap();
    }
    std::fs::write(path, out.into_inner().unwrap()).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{busybox, busybox_docker_archive, busybox_oci_archive, shared_pair};
    use std::process::Command;

    fn tar_list(path: &Path) -> Vec<String> {
        tools::run_stdout(Command::new("tar").arg("-tf").arg(path))
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn archives_via_skopeo() {
        let p = busybox_docker_archive();
        let names = tar_list(p);
        assert!(names.contains(&"manifest.json".to_string()));
        let m: Value = serde_json::from_slice(
            &tools::run(Command::new("tar").arg("-xOf").arg(p).arg("manifest.json")).stdout,
        )
        .unwrap();
        assert_eq!(m[0]["RepoTags"], serde_json::json!(["busybox:latest"]));
        let i = skopeo_inspect(&format!("docker-archive:{}", p.display()), &["--config"]);
        assert_eq!(i["config"]["Cmd"], serde_json::json!(["sh"]));
        let o = busybox_oci_archive();
        let raw = skopeo_inspect(&format!("oci-archive:{}:latest", o.display()), &["--raw"]);
        assert_eq!(
            raw["config"]["digest"].as_str().unwrap(),
            busybox().image_id()
        );
    }

    #[test]
    fn multi_image_docker_archive() {
        let (base, child) = shared_pair();
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("multi.tar");
        docker_archive_multi(
            &out,
            &[(base, &["base:1", "base:latest"]), (child, &["child:1"])],
        );
        let m: Value = serde_json::from_slice(
            &tools::run(
                Command::new("tar")
                    .arg("-xOf")
                    .arg(&out)
                    .arg("manifest.json"),
            )
            .stdout,
        )
        .unwrap();
        let m = m.as_array().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0]["RepoTags"].as_array().unwrap().len(), 2);
        assert_eq!(m[1]["Layers"].as_array().unwrap().len(), 3);
        // Shared layers stored once.
        let names = tar_list(&out);
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(m[0]["Layers"][0], m[1]["Layers"][0]);
    }
}
