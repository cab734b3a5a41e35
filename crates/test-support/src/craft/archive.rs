//! Whole image archives around crafted layers: `docker save` output (both
//! the pre-25 layout and the OCI-inside one of Docker 25+) and OCI
//! layouts/`oci-archive`s. Every field of the builders is public so a test
//! can spoil exactly one thing (a diff_id, a missing blob, a manifest entry)
//! and know the rest is valid.

use std::path::Path;

use serde_json::{json, Value};

use super::{dir, file, gunzip, layer, Entry};
use crate::{digest, sha256_hex};

/// How a crafted archive's config lists the layers' diff_ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum DiffIds {
    /// sha256 of each layer's uncompressed tar (gzip is undone first).
    #[default]
    Correct,
    /// Leave `rootfs` exactly as the given config has it (or hasn't).
    AsGiven,
    /// Correct count, wrong digests: the loader must notice the mismatch.
    Corrupt,
    /// Exactly these strings.
    Custom(Vec<String>),
}

/// The diff_id of a layer blob: sha256 of its uncompressed content. Blobs
/// that are not (valid) gzip are hashed as they are.
pub fn diff_id(layer: &[u8]) -> String {
    if layer.starts_with(&[0x1f, 0x8b]) {
        if let Some(raw) = gunzip(layer) {
            return digest(&raw);
        }
    }
    digest(layer)
}

/// OCI media type matching the layer's compression (sniffed from magic).
pub fn layer_media_type(layer: &[u8]) -> &'static str {
    if layer.starts_with(&[0x1f, 0x8b]) {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else if layer.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    }
}

/// A config good enough for a runnable linux/amd64 image whose command is
/// `cmd`; [`DockerArchive`]/[`OciArchive`] add `rootfs`.
pub fn config(cmd: &[&str]) -> Value {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2020-09-13T12:26:40Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": cmd,
        },
        "rootfs": {"type": "layers", "diff_ids": []},
    })
}

fn config_bytes(config: &Value, layers: &[Vec<u8>], mode: &DiffIds) -> Vec<u8> {
    let mut c = config.clone();
    let ids: Option<Vec<String>> = match mode {
        DiffIds::AsGiven => None,
        DiffIds::Correct => Some(layers.iter().map(|l| diff_id(l)).collect()),
        DiffIds::Corrupt => Some(
            layers
                .iter()
                .map(|l| digest(format!("corrupt {}", diff_id(l)).as_bytes()))
                .collect(),
        ),
        DiffIds::Custom(v) => Some(v.clone()),
    };
    if let (Some(ids), Some(obj)) = (ids, c.as_object_mut()) {
        obj.insert("rootfs".into(), json!({"type": "layers", "diff_ids": ids}));
    }
    serde_json::to_vec(&c).expect("serialise config")
}

/// Where a docker-archive keeps its blobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlobLayout {
    /// Docker < 25: `<hex>.json` config, `<id>/layer.tar` layers, plus the
    /// `repositories` file.
    #[default]
    Legacy,
    /// Docker >= 25: an OCI layout inside (`blobs/sha256/<hex>`, `index.json`,
    /// `oci-layout`) with `manifest.json` pointing into it.
    OciBlobs,
}

/// A docker-archive (`docker save` format) for one image. Fields are public
/// so tests can spoil exactly one aspect; [`DockerArchive::write`] and
/// [`docker_archive_multi`] produce the file.
#[derive(Clone, Debug)]
pub struct DockerArchive {
    pub repo_tags: Vec<String>,
    pub config: Value,
    /// Blobs as stored (plain tar or gzip); diff_ids are computed from them.
    pub layers: Vec<Vec<u8>>,
    pub layout: BlobLayout,
    pub diff_ids: DiffIds,
    /// Exact config blob bytes, overriding `config`/`diff_ids` (not JSON,
    /// say).
    pub config_raw: Option<Vec<u8>>,
    /// Replaces this image's `manifest.json` item.
    pub manifest_item: Option<Value>,
    /// Outer members to leave out (by path, e.g. a layer to make it missing).
    pub omit: Vec<String>,
    /// Outer members appended after the regular ones.
    pub extra: Vec<Entry>,
}

impl DockerArchive {
    pub fn new(repo_tag: &str, config: Value, layers: Vec<Vec<u8>>) -> DockerArchive {
        DockerArchive {
            repo_tags: if repo_tag.is_empty() {
                vec![]
            } else {
                vec![repo_tag.to_string()]
            },
            config,
            layers,
            layout: BlobLayout::Legacy,
            diff_ids: DiffIds::Correct,
            config_raw: None,
            manifest_item: None,
            omit: vec![],
            extra: vec![],
        }
    }

    /// The config blob exactly as written; its digest is the image ID.
    pub fn config_blob(&self) -> Vec<u8> {
        self.config_raw
            .clone()
            .unwrap_or_else(|| config_bytes(&self.config, &self.layers, &self.diff_ids))
    }

    /// The image ID (`sha256:<hex>` of the config blob) Docker would report.
    pub fn image_id(&self) -> String {
        digest(&self.config_blob())
    }

    /// Outer path at which layer `i` is stored.
    pub fn layer_path(&self, i: usize) -> String {
        let hex = sha256_hex(&self.layers[i]);
        match self.layout {
            BlobLayout::Legacy => format!("{hex}/layer.tar"),
            BlobLayout::OciBlobs => format!("blobs/sha256/{hex}"),
        }
    }

    /// Outer path of the config blob.
    pub fn config_path(&self) -> String {
        let hex = sha256_hex(&self.config_blob());
        match self.layout {
            BlobLayout::Legacy => format!("{hex}.json"),
            BlobLayout::OciBlobs => format!("blobs/sha256/{hex}"),
        }
    }

    /// Writes the archive to `out`.
    pub fn write(&self, out: &Path) {
        docker_archive_multi(out, std::slice::from_ref(self));
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        docker_archive_bytes(std::slice::from_ref(self))
    }

    /// (manifest.json item, members, index.json manifest descriptors,
    /// repositories entries).
    fn parts(&self) -> ImageParts {
        let cfg = self.config_blob();
        let mut members: Vec<(String, Vec<u8>)> = vec![(self.config_path(), cfg.clone())];
        for (i, l) in self.layers.iter().enumerate() {
            if self.layout == BlobLayout::Legacy {
                let hex = sha256_hex(l);
                members.push((format!("{hex}/VERSION"), b"1.0".to_vec()));
                members.push((
                    format!("{hex}/json"),
                    serde_json::to_vec(&json!({"id": hex})).unwrap(),
                ));
            }
            members.push((self.layer_path(i), l.clone()));
        }
        let mut index = Vec::new();
        if self.layout == BlobLayout::OciBlobs {
            let manifest = oci_manifest(&cfg, &self.layers);
            let mdigest = digest(&manifest);
            let annotations = match self.repo_tags.first() {
                Some(t) => json!({
                    "io.containerd.image.name": t,
                    "org.opencontainers.image.ref.name": t.rsplit_once(':').map_or("latest", |(_, tag)| tag),
                }),
                None => json!({}),
            };
            index.push(json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": mdigest,
                "size": manifest.len(),
                "annotations": annotations,
            }));
            members.push((format!("blobs/sha256/{}", &mdigest[7..]), manifest));
        }
        let item = self.manifest_item.clone().unwrap_or_else(|| {
            json!({
                "Config": self.config_path(),
                "RepoTags": self.repo_tags,
                "Layers": (0..self.layers.len()).map(|i| self.layer_path(i)).collect::<Vec<_>>(),
            })
        });
        let top = self.layers.last().map(|l| sha256_hex(l));
        let repos = match (top, self.layout) {
            (Some(top), BlobLayout::Legacy) => self
                .repo_tags
                .iter()
                .filter_map(|t| t.rsplit_once(':'))
                .map(|(r, t)| (r.to_string(), t.to_string(), top.clone()))
                .collect(),
            _ => vec![],
        };
        ImageParts {
            item,
            members,
            index,
            repos,
        }
    }
}

struct ImageParts {
    item: Value,
    members: Vec<(String, Vec<u8>)>,
    index: Vec<Value>,
    repos: Vec<(String, String, String)>,
}

fn oci_manifest(config: &[u8], layers: &[Vec<u8>]) -> Vec<u8> {
    let m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(config),
            "size": config.len(),
        },
        "layers": layers.iter().map(|l| json!({
            "mediaType": layer_media_type(l),
            "digest": digest(l),
            "size": l.len(),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&m).unwrap()
}

/// Writes a valid single-image docker-archive with correct diff_ids; build
/// a [`DockerArchive`] directly to spoil something.
pub fn docker_archive(out: &Path, repo_tag: &str, config_json: &Value, layers: &[Vec<u8>]) {
    DockerArchive::new(repo_tag, config_json.clone(), layers.to_vec()).write(out);
}

/// One docker-archive holding several images (like `docker save a b`);
/// blobs shared between images are stored once.
pub fn docker_archive_multi(out: &Path, images: &[DockerArchive]) {
    std::fs::write(out, docker_archive_bytes(images))
        .unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
}

/// [`docker_archive_multi`] into memory, e.g. to pipe into `load`.
pub fn docker_archive_bytes(images: &[DockerArchive]) -> Vec<u8> {
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut manifest = Vec::new();
    let mut index = Vec::new();
    let mut repos = serde_json::Map::new();
    let mut omit: Vec<&str> = Vec::new();
    let mut extra: Vec<Entry> = Vec::new();
    let oci = images.iter().any(|i| i.layout == BlobLayout::OciBlobs);
    for img in images {
        let p = img.parts();
        for m in p.members {
            if !members.iter().any(|(n, _)| *n == m.0) {
                members.push(m);
            }
        }
        manifest.push(p.item);
        index.extend(p.index);
        for (r, t, id) in p.repos {
            let e = repos.entry(r).or_insert_with(|| json!({}));
            e[t] = Value::String(id);
        }
        omit.extend(img.omit.iter().map(String::as_str));
        extra.extend(img.extra.iter().cloned());
    }
    let mut top: Vec<(String, Vec<u8>)> = Vec::new();
    if oci {
        top.push((
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ));
        top.push((
            "index.json".into(),
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": index,
            }))
            .unwrap(),
        ));
    }
    top.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    if !repos.is_empty() {
        top.push(("repositories".into(), serde_json::to_vec(&repos).unwrap()));
    }
    outer_tar(members.into_iter().chain(top), &omit, extra)
}

/// Tars `members` (creating parent directories first, as real tools do),
/// minus `omit`, plus `extra`.
fn outer_tar(
    members: impl Iterator<Item = (String, Vec<u8>)>,
    omit: &[&str],
    extra: Vec<Entry>,
) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for (name, data) in members {
        if omit.contains(&name.as_str()) {
            continue;
        }
        let mut parent = String::new();
        for comp in name.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
            parent.push_str(comp);
            parent.push('/');
            if !dirs.contains(&parent) {
                dirs.push(parent.clone());
                entries.push(dir(&parent));
            }
        }
        entries.push(file(&name, data));
    }
    entries.extend(extra);
    layer(&entries)
}

/// An OCI image layout for one image, as an `oci-archive` tar or a
/// directory. Fields are public for spoiling, as in [`DockerArchive`].
#[derive(Clone, Debug)]
pub struct OciArchive {
    /// `org.opencontainers.image.ref.name` of the index entry (a tag such as
    /// `latest`, or a full reference); `None` leaves it unnamed.
    pub ref_name: Option<String>,
    pub config: Value,
    pub layers: Vec<Vec<u8>>,
    pub diff_ids: DiffIds,
    pub config_raw: Option<Vec<u8>>,
    /// Exact manifest blob bytes (the index then points at these).
    pub manifest_raw: Option<Vec<u8>>,
    /// Replaces `index.json` entirely.
    pub index: Option<Value>,
    pub omit: Vec<String>,
    pub extra: Vec<Entry>,
}

impl OciArchive {
    pub fn new(ref_name: Option<&str>, config: Value, layers: Vec<Vec<u8>>) -> OciArchive {
        OciArchive {
            ref_name: ref_name.map(str::to_string),
            config,
            layers,
            diff_ids: DiffIds::Correct,
            config_raw: None,
            manifest_raw: None,
            index: None,
            omit: vec![],
            extra: vec![],
        }
    }

    pub fn config_blob(&self) -> Vec<u8> {
        self.config_raw
            .clone()
            .unwrap_or_else(|| config_bytes(&self.config, &self.layers, &self.diff_ids))
    }

    pub fn manifest_blob(&self) -> Vec<u8> {
        self.manifest_raw
            .clone()
            .unwrap_or_else(|| oci_manifest(&self.config_blob(), &self.layers))
    }

    /// Digest of the manifest: what `docker images --digests` would show.
    pub fn manifest_digest(&self) -> String {
        digest(&self.manifest_blob())
    }

    /// Layout-relative path of a blob with digest `sha256:<hex>`.
    pub fn blob_path(digest: &str) -> String {
        format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
    }

    fn members(&self) -> Vec<(String, Vec<u8>)> {
        let manifest = self.manifest_blob();
        let index = self.index.clone().unwrap_or_else(|| {
            let mut desc = json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest(&manifest),
                "size": manifest.len(),
            });
            if let Some(r) = &self.ref_name {
                desc["annotations"] = json!({"org.opencontainers.image.ref.name": r});
            }
            json!({"schemaVersion": 2, "manifests": [desc]})
        });
        let mut m = vec![
            (
                "oci-layout".to_string(),
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            ),
            ("index.json".into(), serde_json::to_vec(&index).unwrap()),
        ];
        let cfg = self.config_blob();
        for blob in std::iter::once(&cfg)
            .chain(self.layers.iter())
            .chain(std::iter::once(&manifest))
        {
            let p = Self::blob_path(&digest(blob));
            if !m.iter().any(|(n, _)| *n == p) {
                m.push((p, blob.clone()));
            }
        }
        m
    }

    /// The `oci-archive` tar bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let omit: Vec<&str> = self.omit.iter().map(String::as_str).collect();
        outer_tar(self.members().into_iter(), &omit, self.extra.clone())
    }

    pub fn write(&self, out: &Path) {
        std::fs::write(out, self.to_bytes())
            .unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
    }

    /// Writes the layout as a directory (an `oci:` directory); `extra` is
    /// ignored here since it may hold entries a filesystem cannot express.
    pub fn write_dir(&self, dir: &Path) {
        for (name, data) in self.members() {
            if self.omit.contains(&name) {
                continue;
            }
            let p = dir.join(&name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        }
    }
}

/// Writes a valid `oci-archive` whose index names the image `ref_name`.
pub fn oci_archive(out: &Path, ref_name: &str, config_json: &Value, layers: &[Vec<u8>]) {
    OciArchive::new(Some(ref_name), config_json.clone(), layers.to_vec()).write(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::craft::tests::tar_t;
    use crate::craft::{gzip, layer};
    use crate::tools;
    use std::process::Command;

    fn extract(data: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.tar");
        std::fs::write(&p, data).unwrap();
        tools::run(
            Command::new("tar")
                .arg("-xf")
                .arg(&p)
                .arg("-C")
                .arg(dir.path()),
        );
        dir
    }

    #[test]
    fn docker_archive_legacy_is_loadable_by_skopeo() {
        tools::require("skopeo");
        let l1 = layer(&[dir("etc"), file("etc/a", "1")]);
        let l2 = gzip(&layer(&[file("etc/b", "2")]));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("d.tar");
        docker_archive(
            &out,
            "crafted:v1",
            &config(&["sh"]),
            &[l1.clone(), l2.clone()],
        );
        let names = tar_t(&std::fs::read(&out).unwrap());
        assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
        assert!(names.contains(&"repositories".to_string()), "{names:?}");
        assert!(
            names.contains(&format!("{}/layer.tar", sha256_hex(&l1))),
            "{names:?}"
        );
        let inspect =
            crate::image::skopeo_inspect(&format!("docker-archive:{}", out.display()), &[]);
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
        let cfg = crate::image::skopeo_inspect(
            &format!("docker-archive:{}", out.display()),
            &["--config"],
        );
        assert_eq!(cfg["rootfs"]["diff_ids"][1], digest(&gunzip(&l2).unwrap()));
        // Corrupt diff_ids really are corrupt: skopeo's copy, which
        // verifies layer digests, must refuse the archive.
        let copy = |tag: &str| {
            tools::output(
                tools::command("skopeo")
                    .args(["--insecure-policy", "copy", "-q"])
                    .arg(format!("docker-archive:{}", out.display()))
                    .arg(format!("oci:{}:{tag}", dir.path().join("copy").display())),
            )
        };
        assert!(copy("good").status.success());
        let mut bad = DockerArchive::new("crafted:bad", config(&["sh"]), vec![l1.clone()]);
        bad.diff_ids = DiffIds::Corrupt;
        bad.write(&out);
        let o = copy("bad");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("Digest did not match"),
            "{err}"
        );
    }

    #[test]
    fn docker_archive_oci_layout_and_multi() {
        tools::require("skopeo");
        let base = layer(&[file("a", "1")]);
        let mut one = DockerArchive::new("one:latest", config(&["sh"]), vec![base.clone()]);
        one.layout = BlobLayout::OciBlobs;
        let mut two = DockerArchive::new(
            "two:v2",
            config(&["true"]),
            vec![base.clone(), layer(&[file("b", "2")])],
        );
        two.layout = BlobLayout::OciBlobs;
        let data = docker_archive_bytes(&[one.clone(), two.clone()]);
        let names = tar_t(&data);
        let base_path = format!("blobs/sha256/{}", sha256_hex(&base));
        assert_eq!(
            names.iter().filter(|n| **n == base_path).count(),
            1,
            "{names:?}"
        );
        assert!(names.contains(&"index.json".into()) && names.contains(&"oci-layout".into()));
        let x = extract(&data);
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(x.path().join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest.as_array().unwrap().len(), 2);
        assert_eq!(manifest[1]["RepoTags"][0], "two:v2");
        assert_eq!(manifest[1]["Config"], two.config_path());
        // The embedded OCI layout is valid on its own; like Docker's, its
        // ref.name annotations hold only the tag.
        let img = crate::image::skopeo_inspect(&format!("oci:{}:v2", x.path().display()), &[]);
        assert_eq!(img["Layers"].as_array().unwrap().len(), 2);
        assert_eq!(
            digest(&std::fs::read(x.path().join(two.config_path())).unwrap()),
            two.image_id()
        );
    }

    #[test]
    fn oci_archive_inspectable_and_spoilable() {
        tools::require("skopeo");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.tar");
        let l = gzip(&layer(&[file("x", "y")]));
        oci_archive(&out, "latest", &config(&["sh"]), std::slice::from_ref(&l));
        let raw = crate::image::skopeo_inspect(
            &format!("oci-archive:{}:latest", out.display()),
            &["--raw"],
        );
        assert_eq!(raw["layers"][0]["digest"], digest(&l));
        assert_eq!(
            raw["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        // Replacing a blob's content under its old name must make skopeo's
        // digest check fail: the crafted archive really is corrupt.
        let mut a = OciArchive::new(Some("latest"), config(&["sh"]), vec![l.clone()]);
        let p = OciArchive::blob_path(&digest(&l));
        a.omit.push(p.clone());
        a.extra.push(file(&p, gzip(b"other")));
        a.write(&out);
        let dest = dir.path().join("copy");
        let o = tools::output(
            tools::command("skopeo")
                .arg("copy")
                .arg(format!("oci-archive:{}:latest", out.display()))
                .arg(format!("oci:{}:x", dest.display())),
        );
        assert!(!o.status.success());
        let layout = dir.path().join("layout");
        OciArchive::new(Some("t"), config(&["sh"]), vec![l]).write_dir(&layout);
        let img = crate::image::skopeo_inspect(&format!("oci:{}:t", layout.display()), &[]);
        assert_eq!(img["Layers"].as_array().unwrap().len(), 1);
    }
}
