//! Real images built with third-party tools: umoci lays out OCI images
//! ([`ImageSpec`] → [`OciImage`]), skopeo converts and inspects them
//! ([`skopeo`]), and the rootfs is Debian's static busybox. Ready-made,
//! cached fixtures live in [`fixtures`]; everything is re-exported here.
//!
//! Building with umoci rather than kujira's own code means a bug in kujira's
//! image handling cannot be hidden by the same bug in the fixture.

pub mod fixtures;
pub mod skopeo;

pub use fixtures::*;
pub use skopeo::*;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tempfile::TempDir;

use crate::tools::{self, run};

/// Busybox applets linked into [`busybox_rootfs`]; the set the engine's
/// tests use (shells, file ops, networking for port tests).
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "true", "false", "sleep", "env", "id", "wget", "httpd", "mkdir",
    "rm", "touch", "uname",
];

/// The PATH Docker's own images set; kept identical so `inspect` output
/// compares cleanly.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Timestamp given to cached fixtures, so CREATED columns do not depend on
/// when the test process happened to start.
pub const FIXTURE_CREATED: &str = "2020-09-13T12:26:40Z";

/// Populates `dir` with a minimal runnable rootfs: `/bin/busybox` (static),
/// a symlink per [`BUSYBOX_APPLETS`] entry, `/etc/passwd` and `/etc/group`
/// with root and nobody, `/tmp` (1777), and empty `/root`, `/proc`, `/sys`,
/// `/dev` mount points.
pub fn busybox_rootfs(dir: &Path) {
    let busybox = tools::require_busybox();
    let mkdir = |p: &str, mode: u32| {
        let d = dir.join(p);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        // Set explicitly: the umask would otherwise strip the sticky/world bits.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for (p, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("root", 0o700),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("tmp", 0o1777),
    ] {
        mkdir(p, mode);
    }
    let bb = dir.join("bin/busybox");
    std::fs::copy(&busybox, &bb).unwrap_or_else(|e| panic!("copy busybox: {e}"));
    std::fs::set_permissions(&bb, std::fs::Permissions::from_mode(0o755)).unwrap();
    for applet in BUSYBOX_APPLETS {
        let link = dir.join("bin").join(applet);
        if link.symlink_metadata().is_err() {
            symlink("busybox", &link).unwrap();
        }
    }
    write_file(
        &dir.join("etc/passwd"),
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        0o644,
    );
    write_file(
        &dir.join("etc/group"),
        b"root:x:0:\nnobody:x:65534:\n",
        0o644,
    );
}

fn write_file(p: &Path, data: &[u8], mode: u32) {
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A change applied to the rootfs before a layer is committed. Paths are
/// relative to the rootfs (a leading `/` is ignored).
#[derive(Clone)]
pub enum Op {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        path: String,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
    /// Deletes a path present in lower layers; umoci records a whiteout.
    Remove {
        path: String,
    },
    /// Lays down [`busybox_rootfs`].
    Busybox,
    /// Anything else, given the rootfs directory.
    With(Arc<dyn Fn(&Path) + Send + Sync>),
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::File { path, data, mode } => {
                write!(f, "File({path:?}, {} bytes, {mode:o})", data.len())
            }
            Op::Dir { path, mode } => write!(f, "Dir({path:?}, {mode:o})"),
            Op::Symlink { path, target } => write!(f, "Symlink({path:?} -> {target:?})"),
            Op::Remove { path } => write!(f, "Remove({path:?})"),
            Op::Busybox => write!(f, "Busybox"),
            Op::With(_) => write!(f, "With(..)"),
        }
    }
}

impl Op {
    fn apply(&self, rootfs: &Path) {
        let at = |p: &str| rootfs.join(p.trim_start_matches('/'));
        match self {
            Op::File { path, data, mode } => write_file(&at(path), data, *mode),
            Op::Dir { path, mode } => {
                let d = at(path);
                std::fs::create_dir_all(&d).unwrap();
                std::fs::set_permissions(&d, std::fs::Permissions::from_mode(*mode)).unwrap();
            }
            Op::Symlink { path, target } => {
                let l = at(path);
                std::fs::create_dir_all(l.parent().unwrap()).unwrap();
                let _ = std::fs::remove_file(&l);
                symlink(target, &l).unwrap();
            }
            Op::Remove { path } => {
                let p = at(path);
                let meta = p
                    .symlink_metadata()
                    .unwrap_or_else(|_| panic!("Remove: {path} does not exist"));
                if meta.is_dir() {
                    std::fs::remove_dir_all(&p).unwrap();
                } else {
                    std::fs::remove_file(&p).unwrap();
                }
            }
            Op::Busybox => busybox_rootfs(rootfs),
            Op::With(f) => f(rootfs),
        }
    }
}

/// The changes making up one layer, and its history entry.
#[derive(Clone, Debug, Default)]
pub struct LayerSpec {
    pub ops: Vec<Op>,
    /// History `created_by`; defaults to `layer <n>` (1-based).
    pub created_by: Option<String>,
    pub comment: Option<String>,
}

impl LayerSpec {
    pub fn new() -> LayerSpec {
        LayerSpec::default()
    }

    /// A layer holding [`busybox_rootfs`].
    pub fn busybox() -> LayerSpec {
        LayerSpec::new()
            .op(Op::Busybox)
            .created_by("busybox rootfs")
    }

    /// A layer of files (mode 0644) from `(path, contents)` pairs.
    pub fn files<P: AsRef<str>, D: AsRef<[u8]>>(
        files: impl IntoIterator<Item = (P, D)>,
    ) -> LayerSpec {
        let mut l = LayerSpec::new();
        for (p, d) in files {
            l = l.file(p.as_ref(), d.as_ref());
        }
        l
    }

    pub fn op(mut self, op: Op) -> Self {
        self.ops.push(op);
        self
    }

    pub fn file(self, path: &str, data: impl Into<Vec<u8>>) -> Self {
        self.file_mode(path, data, 0o644)
    }

    pub fn file_mode(self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.op(Op::File {
            path: path.into(),
            data: data.into(),
            mode,
        })
    }

    pub fn dir(self, path: &str, mode: u32) -> Self {
        self.op(Op::Dir {
            path: path.into(),
            mode,
        })
    }

    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.op(Op::Symlink {
            path: path.into(),
            target: target.into(),
        })
    }

    pub fn remove(self, path: &str) -> Self {
        self.op(Op::Remove { path: path.into() })
    }

    pub fn with(self, f: impl Fn(&Path) + Send + Sync + 'static) -> Self {
        self.op(Op::With(Arc::new(f)))
    }

    pub fn created_by(mut self, s: &str) -> Self {
        self.created_by = Some(s.into());
        self
    }

    pub fn comment(mut self, s: &str) -> Self {
        self.comment = Some(s.into());
        self
    }
}

/// What to build: layers (each one umoci repack) and the image config.
/// Unset config fields keep umoci's defaults (or the base's, when derived).
#[derive(Clone, Debug, Default)]
pub struct ImageSpec {
    pub layers: Vec<LayerSpec>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=value` entries, each passed to `umoci config --config.env`.
    pub env: Vec<String>,
    /// `80/tcp` style.
    pub exposed_ports: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub volumes: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    pub author: Option<String>,
    /// RFC 3339; also used for the layers' history entries.
    pub created: Option<String>,
    pub architecture: Option<String>,
    pub os: Option<String>,
}

impl ImageSpec {
    pub fn new() -> ImageSpec {
        ImageSpec::default()
    }

    /// One busybox layer, `Cmd ["sh"]`, Docker's default PATH: the smallest
    /// image that runs.
    pub fn busybox() -> ImageSpec {
        ImageSpec::new()
            .layer(LayerSpec::busybox())
            .cmd(&["sh"])
            .env(DEFAULT_PATH)
    }

    pub fn layer(mut self, l: LayerSpec) -> Self {
        self.layers.push(l);
        self
    }

    pub fn cmd(mut self, cmd: &[&str]) -> Self {
        self.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
        self
    }

    pub fn entrypoint(mut self, ep: &[&str]) -> Self {
        self.entrypoint = Some(ep.iter().map(|s| s.to_string()).collect());
        self
    }

    pub fn env(mut self, kv: &str) -> Self {
        self.env.push(kv.into());
        self
    }

    pub fn expose(mut self, port: &str) -> Self {
        self.exposed_ports.push(port.into());
        self
    }

    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.push((k.into(), v.into()));
        self
    }

    pub fn volume(mut self, v: &str) -> Self {
        self.volumes.push(v.into());
        self
    }

    pub fn workdir(mut self, w: &str) -> Self {
        self.workdir = Some(w.into());
        self
    }

    pub fn user(mut self, u: &str) -> Self {
        self.user = Some(u.into());
        self
    }

    pub fn stop_signal(mut self, s: &str) -> Self {
        self.stop_signal = Some(s.into());
        self
    }

    pub fn author(mut self, a: &str) -> Self {
        self.author = Some(a.into());
        self
    }

    pub fn created(mut self, rfc3339: &str) -> Self {
        self.created = Some(rfc3339.into());
        self
    }

    /// Builds into a fresh temporary layout (kept alive by the returned
    /// image) under tag `latest`.
    pub fn build(&self) -> OciImage {
        let dir = Arc::new(
            tempfile::Builder::new()
                .prefix("kujira-image.")
                .tempdir()
                .unwrap(),
        );
        let img = self.build_at(&dir.path().join("layout"), "latest");
        OciImage {
            _keep: Some(dir),
            ..img
        }
    }

    /// Builds into the OCI layout `layout` (created if missing) as `tag`.
    pub fn build_at(&self, layout: &Path, tag: &str) -> OciImage {
        if !layout.join("oci-layout").exists() {
            umoci(&["init", "--layout"], &[layout.as_os_str()]);
        }
        let image = image_arg(layout, tag);
        umoci(&["new", "--image", &image], &[]);
        self.apply(layout, tag);
        OciImage::at(layout, tag)
    }

    /// Unpacks `layout:tag`, commits each layer, then sets the config.
    fn apply(&self, layout: &Path, tag: &str) {
        let image = image_arg(layout, tag);
        if !self.layers.is_empty() {
            let work = tempfile::Builder::new()
                .prefix("kujira-bundle.")
                .tempdir()
                .unwrap();
            let bundle = work.path().join("bundle");
            umoci(&["unpack", "--image", &image], &[bundle.as_os_str()]);
            let rootfs = bundle.join("rootfs");
            for (i, l) in self.layers.iter().enumerate() {
                for op in &l.ops {
                    op.apply(&rootfs);
                }
                let created_by = l
                    .created_by
                    .clone()
                    .unwrap_or_else(|| format!("layer {}", i + 1));
                // --refresh-bundle: without it the next repack diffs against
                // the original unpack and re-commits earlier layers' changes.
                let mut args = vec![
                    "repack".to_string(),
                    "--refresh-bundle".into(),
                    "--image".into(),
                    image.clone(),
                    "--history.created_by".into(),
                    created_by,
                ];
                if let Some(c) = &l.comment {
                    args.extend(["--history.comment".into(), c.clone()]);
                }
                if let Some(c) = &self.created {
                    args.extend(["--history.created".into(), c.clone()]);
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                umoci(&args, &[bundle.as_os_str()]);
            }
        }
        let mut args: Vec<String> = vec![
            "config".into(),
            "--no-history".into(),
            "--image".into(),
            image,
        ];
        let mut flag = |f: &str, v: &str| args.extend([format!("--{f}"), v.to_string()]);
        if let Some(cmd) = &self.cmd {
            if cmd.is_empty() {
                flag("clear", "config.cmd");
            }
            cmd.iter().for_each(|c| flag("config.cmd", c));
        }
        if let Some(ep) = &self.entrypoint {
            if ep.is_empty() {
                flag("clear", "config.entrypoint");
            }
            ep.iter().for_each(|c| flag("config.entrypoint", c));
        }
        self.env.iter().for_each(|e| flag("config.env", e));
        self.exposed_ports
            .iter()
            .for_each(|p| flag("config.exposedports", p));
        self.labels
            .iter()
            .for_each(|(k, v)| flag("config.label", &format!("{k}={v}")));
        self.volumes.iter().for_each(|v| flag("config.volume", v));
        let singles = [
            ("config.workingdir", &self.workdir),
            ("config.user", &self.user),
            ("config.stopsignal", &self.stop_signal),
            ("author", &self.author),
            ("created", &self.created),
            ("architecture", &self.architecture),
            ("os", &self.os),
        ];
        for (f, v) in singles {
            if let Some(v) = v {
                flag(f, v);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        umoci(&args, &[]);
    }
}

fn image_arg(layout: &Path, tag: &str) -> String {
    format!("{}:{tag}", layout.display())
}

fn umoci(args: &[&str], paths: &[&std::ffi::OsStr]) {
    run(tools::command("umoci").args(args).args(paths));
}

/// One tagged image in an OCI layout directory.
#[derive(Clone, Debug)]
pub struct OciImage {
    pub layout: PathBuf,
    pub tag: String,
    _keep: Option<Arc<TempDir>>,
}

impl OciImage {
    /// Refers to an existing `layout:tag` (not checked).
    pub fn at(layout: &Path, tag: &str) -> OciImage {
        OciImage {
            layout: layout.to_path_buf(),
            tag: tag.to_string(),
            _keep: None,
        }
    }

    /// The skopeo/containers-image reference, `oci:DIR:TAG`.
    pub fn reference(&self) -> String {
        format!("oci:{}:{}", self.layout.display(), self.tag)
    }

    /// `skopeo inspect` (Digest, Layers, Labels, ...).
    pub fn inspect(&self) -> Value {
        skopeo_inspect(&self.reference(), &[])
    }

    /// The manifest as stored.
    pub fn manifest(&self) -> Value {
        skopeo_inspect(&self.reference(), &["--raw"])
    }

    /// The image config blob.
    pub fn config(&self) -> Value {
        skopeo_inspect(&self.reference(), &["--config"])
    }

    /// Compressed layer digests, bottom first.
    pub fn layer_digests(&self) -> Vec<String> {
        strings(&self.manifest()["layers"], "digest")
    }

    /// Uncompressed layer digests from the config, bottom first.
    pub fn diff_ids(&self) -> Vec<String> {
        self.config()["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `sha256:` digest of the config blob: Docker's image ID.
    pub fn image_id(&self) -> String {
        self.manifest()["config"]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Digest of the manifest (what a registry would call the image).
    pub fn manifest_digest(&self) -> String {
        let index: Value =
            serde_json::from_slice(&std::fs::read(self.layout.join("index.json")).unwrap())
                .unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == self.tag.as_str())
            .and_then(|m| m["digest"].as_str())
            .unwrap_or_else(|| panic!("tag {} not in {}", self.tag, self.layout.display()))
            .to_string()
    }

    /// A blob's content by digest.
    pub fn blob(&self, digest: &str) -> Vec<u8> {
        let p = self
            .layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    /// A new image in the *same* layout, tagged `tag`, made of this image plus
    /// `spec`'s layers and config changes: the shared layers are the very
    /// same blobs, so their digests are equal by construction.
    pub fn derive(&self, tag: &str, spec: &ImageSpec) -> OciImage {
        umoci(
            &["tag", "--image", &image_arg(&self.layout, &self.tag), tag],
            &[],
        );
        spec.apply(&self.layout, tag);
        OciImage {
            tag: tag.to_string(),
            ..self.clone()
        }
    }

    /// Copies this image with skopeo into layout `dir` as `tag`; blobs are
    /// copied verbatim, so digests are unchanged.
    pub fn copy_to(&self, dir: &Path, tag: &str) -> OciImage {
        skopeo_copy(
            &self.reference(),
            &format!("oci:{}:{tag}", dir.display()),
            &[],
        );
        OciImage::at(dir, tag)
    }

    /// `skopeo copy` to a docker-archive naming the image `name_tag`.
    pub fn to_docker_archive(&self, out: &Path, name_tag: &str) {
        to_docker_archive(&self.layout, &self.tag, out, name_tag);
    }

    /// `skopeo copy` to an oci-archive whose index names the image `name`.
    pub fn to_oci_archive(&self, out: &Path, name: &str) {
        to_oci_archive(&self.layout, &self.tag, out, name);
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[key].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn busybox_rootfs_layout() {
        let d = tempfile::tempdir().unwrap();
        busybox_rootfs(d.path());
        let meta = std::fs::metadata(d.path().join("tmp")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o1777);
        for a in BUSYBOX_APPLETS {
            assert_eq!(
                std::fs::read_link(d.path().join("bin").join(a)).unwrap(),
                Path::new("busybox")
            );
        }
        let passwd = std::fs::read_to_string(d.path().join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:") && passwd.contains("\nnobody:x:65534:65534:"));
        // The static binary runs with nothing else around it.
        let out = tools::run_stdout(Command::new(d.path().join("bin/echo")).arg("ok"));
        assert_eq!(out, "ok\n");
    }
}
