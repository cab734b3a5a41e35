//! Ready-made images shared by many tests, each built once per test process
//! behind a `OnceLock` in a per-process cache directory. Statics are never
//! dropped, so instead of relying on `TempDir` cleanup each process removes
//! the cache directories of processes that no longer exist.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::{familiarize_docker_archive, ImageSpec, LayerSpec, OciImage, FIXTURE_CREATED};

/// The per-process fixture cache directory (see the module comment).
pub fn cache_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let parent = std::env::temp_dir().join("kujira-test-fixtures");
        std::fs::create_dir_all(&parent).unwrap();
        if let Ok(rd) = std::fs::read_dir(&parent) {
            for e in rd.flatten() {
                let stale = e
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
                if stale {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = parent.join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A fresh directory inside [`cache_dir`]: a fixture whose build panicked
/// half-way is retried in a new place, not on top of the debris.
fn fresh_cache_subdir(name: &str) -> PathBuf {
    let d = tempfile::Builder::new()
        .prefix(&format!("{name}."))
        .tempdir_in(cache_dir())
        .unwrap();
    d.keep()
}

/// `busybox:latest`: one busybox layer, `Cmd ["sh"]`, Docker's PATH.
pub fn busybox() -> &'static OciImage {
    static IMG: OnceLock<OciImage> = OnceLock::new();
    IMG.get_or_init(|| {
        let dir = fresh_cache_subdir("busybox");
        ImageSpec::busybox()
            .created(FIXTURE_CREATED)
            .build_at(&dir.join("layout"), "latest")
    })
}

/// A three-layer image exercising the config: busybox; `/app` files and
/// `/etc/motd`; then `/etc/motd` removed (a whiteout) and `/app/run.sh`
/// added. Entrypoint `["/app/run.sh"]`, Cmd `["hello"]`, Env `PATH` and
/// `GREETING=hi`, port `80/tcp`, labels `org.kujira.test=layered` and
/// `maintainer=kujira`, workdir `/app`, volume `/data`, stop signal SIGTERM.
pub fn layered() -> &'static OciImage {
    static IMG: OnceLock<OciImage> = OnceLock::new();
    IMG.get_or_init(|| {
        let dir = fresh_cache_subdir("layered");
        layered_spec().build_at(&dir.join("layout"), "latest")
    })
}

/// The spec behind [`layered`], for tests that want a variation of it.
pub fn layered_spec() -> ImageSpec {
    ImageSpec::busybox()
        .layer(
            LayerSpec::new()
                .file("app/hello.txt", "hello from layer 2\n")
                .file("etc/motd", "welcome\n")
                .created_by("COPY app /app"),
        )
        .layer(
            LayerSpec::new()
                .remove("etc/motd")
                .file_mode("app/run.sh", "#!/bin/sh\necho \"$GREETING $*\"\n", 0o755)
                .created_by("RUN rm /etc/motd && install run.sh"),
        )
        .entrypoint(&["/app/run.sh"])
        .cmd(&["hello"])
        .env("GREETING=hi")
        .expose("80/tcp")
        .label("org.kujira.test", "layered")
        .label("maintainer", "kujira")
        .workdir("/app")
        .volume("/data")
        .stop_signal("SIGTERM")
        .created(FIXTURE_CREATED)
}

/// `(base, child)` in one layout, tags `base` and `child`: base is busybox
/// plus an `/etc/base-release` layer; child adds `/child.txt` on top, so its
/// first two layers are byte-identical blobs to base's.
pub fn shared_pair() -> (&'static OciImage, &'static OciImage) {
    static PAIR: OnceLock<(OciImage, OciImage)> = OnceLock::new();
    let (b, c) = PAIR.get_or_init(|| {
        let dir = fresh_cache_subdir("shared");
        let base = ImageSpec::busybox()
            .layer(LayerSpec::files([("etc/base-release", "base 1\n")]))
            .label("role", "base")
            .created(FIXTURE_CREATED)
            .build_at(&dir.join("layout"), "base");
        let child = base.derive(
            "child",
            &ImageSpec::new()
                .layer(LayerSpec::files([("child.txt", "child\n")]))
                .label("role", "child")
                .cmd(&["cat", "/child.txt"])
                .created(FIXTURE_CREATED),
        );
        (base, child)
    });
    (b, c)
}

/// [`busybox`] as a docker-archive naming it `busybox:latest` the way
/// `docker save busybox` does.
pub fn busybox_docker_archive() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let p = fresh_cache_subdir("busybox-docker").join("busybox.tar");
        busybox().to_docker_archive(&p, "busybox:latest");
        familiarize_docker_archive(&p);
        p
    })
}

/// [`busybox`] as an oci-archive with ref name `latest`.
pub fn busybox_oci_archive() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let p = fresh_cache_subdir("busybox-oci").join("busybox-oci.tar");
        busybox().to_oci_archive(&p, "latest");
        p
    })
}

/// Deterministic xorshift64* stream: incompressible enough that gzip does
/// not shrink benchmark layers to nothing, and identical on every run.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Writes `size` pseudo-random bytes to `path` in 1 MiB chunks.
pub fn write_random_file(path: &Path, size: u64, seed: u64) {
    let mut rng = XorShift::new(seed);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

/// Small files per [`big_image`] layer, so unpacking cost is not all bytes.
pub const BIG_IMAGE_SMALL_FILES: usize = 500;

/// A benchmark image: busybox base plus `layers` layers sharing `size_mb`
/// MiB of pseudo-random data (`/big/<n>/blob`), each layer also holding
/// [`BIG_IMAGE_SMALL_FILES`] small files (`/big/<n>/small/<k>`). Cached per
/// `(size_mb, layers)` for the process.
pub fn big_image(size_mb: u64, layers: usize) -> OciImage {
    static CACHE: OnceLock<Mutex<HashMap<(u64, usize), OciImage>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // Held across the build: two benchmarks wanting the same image should
    // wait for one build, not race two.
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(img) = cache.get(&(size_mb, layers)) {
        return img.clone();
    }
    let layers = layers.max(1);
    let per_layer = (size_mb << 20) / layers as u64;
    let mut spec = ImageSpec::busybox().created(FIXTURE_CREATED);
    for n in 0..layers {
        spec = spec.layer(
            LayerSpec::new()
                .with(move |rootfs| {
                    let d = rootfs.join(format!("big/{n}"));
                    std::fs::create_dir_all(d.join("small")).unwrap();
                    write_random_file(&d.join("blob"), per_layer, n as u64 + 1);
                    let mut rng = XorShift::new(1000 + n as u64);
                    for k in 0..BIG_IMAGE_SMALL_FILES {
                        let len = 64 + (rng.next_u64() % 4000) as usize;
                        let mut buf = vec![0u8; len];
                        rng.fill(&mut buf);
                        std::fs::write(d.join(format!("small/{k}")), buf).unwrap();
                    }
                })
                .created_by(&format!("big layer {n}")),
        );
    }
    let dir = fresh_cache_subdir(&format!("big-{size_mb}-{layers}"));
    let img = spec.build_at(&dir.join("layout"), "latest");
    cache.insert((size_mb, layers), img.clone());
    img
}

/// Applets the container tests need beyond [`super::BUSYBOX_APPLETS`], added by the
/// second layer of [`web`].
pub const EXTRA_APPLETS: &[&str] = &[
    "head", "tr", "dd", "mount", "insmod", "ps", "grep", "kill", "nc", "wc", "seq", "ln", "stat",
    "tail", "printf", "test", "[", "hostname", "chown", "pwd",
];

/// `web:latest`: busybox plus `/www/index.html` ("Welcome to kujira!"), extra applets,
/// and `CMD` busybox httpd on port 80 under a shell that exits on SIGTERM (so `stop`
/// is prompt, as it is for nginx). Exposes 80/tcp.
pub fn web() -> &'static OciImage {
    static IMG: OnceLock<OciImage> = OnceLock::new();
    IMG.get_or_init(|| {
        let dir = fresh_cache_subdir("web");
        let mut site = LayerSpec::new()
            .dir("www", 0o755)
            .file("www/index.html", "Welcome to kujira!\n")
            .created_by("COPY index.html /www/");
        for a in EXTRA_APPLETS {
            site = site.symlink(&format!("bin/{a}"), "busybox");
        }
        ImageSpec::busybox()
            .layer(site)
            .cmd(&[
                "sh",
                "-c",
                "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait",
            ])
            .expose("80/tcp")
            .created(FIXTURE_CREATED)
            .build_at(&dir.join("layout"), "latest")
    })
}

/// [`web`] as a docker-archive naming it `web:latest`.
pub fn web_docker_archive() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let p = fresh_cache_subdir("web-docker").join("web.tar");
        web().to_docker_archive(&p, "web:latest");
        familiarize_docker_archive(&p);
        p
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::DEFAULT_PATH;

    #[test]
    fn busybox_fixture_inspects() {
        let img = busybox();
        let inspect = img.inspect();
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
        let cfg = img.config();
        assert_eq!(cfg["config"]["Cmd"], serde_json::json!(["sh"]));
        assert_eq!(cfg["created"], FIXTURE_CREATED);
        assert_eq!(img.diff_ids().len(), 1);
        assert!(img.image_id().starts_with("sha256:"));
        assert_eq!(crate::digest(&img.blob(&img.image_id())), img.image_id());
        assert!(img.manifest_digest().starts_with("sha256:"));
    }

    #[test]
    fn layered_fixture_config_and_history() {
        let img = layered();
        assert_eq!(img.layer_digests().len(), 3);
        let cfg = img.config();
        let c = &cfg["config"];
        assert_eq!(c["Entrypoint"], serde_json::json!(["/app/run.sh"]));
        assert_eq!(c["Cmd"], serde_json::json!(["hello"]));
        assert_eq!(c["WorkingDir"], "/app");
        assert_eq!(c["Labels"]["org.kujira.test"], "layered");
        assert!(c["ExposedPorts"]["80/tcp"].is_object());
        assert!(c["Volumes"]["/data"].is_object());
        assert_eq!(c["StopSignal"], "SIGTERM");
        let env: Vec<&str> = c["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(env, [DEFAULT_PATH, "GREETING=hi"]);
        let hist: Vec<&str> = cfg["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["created_by"].as_str().unwrap())
            .collect();
        assert_eq!(
            hist,
            [
                "busybox rootfs",
                "COPY app /app",
                "RUN rm /etc/motd && install run.sh"
            ]
        );
        // The third layer really holds a whiteout for /etc/motd.
        let top = img.blob(&img.layer_digests()[2]);
        let raw = crate::craft::gunzip(&top).unwrap();
        let names: Vec<String> = tar::Archive::new(raw.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(
            names.iter().any(|n| n.ends_with("etc/.wh.motd")),
            "{names:?}"
        );
    }

    #[test]
    fn shared_base_layers_have_equal_digests() {
        let (base, child) = shared_pair();
        let b = base.layer_digests();
        let c = child.layer_digests();
        assert_eq!(b.len(), 2);
        assert_eq!(c.len(), 3);
        assert_eq!(b[..], c[..2]);
        assert_ne!(base.image_id(), child.image_id());
        assert_eq!(child.config()["config"]["Labels"]["role"], "child");
        // Copying to another layout keeps every digest.
        let d = tempfile::tempdir().unwrap();
        let copy = child.copy_to(&d.path().join("other"), "copy");
        assert_eq!(copy.layer_digests(), c);
        assert_eq!(copy.image_id(), child.image_id());
    }

    #[test]
    fn xorshift_is_deterministic_and_incompressible() {
        let mut a = vec![0u8; 1 << 16];
        let mut b = vec![0u8; 1 << 16];
        XorShift::new(7).fill(&mut a);
        XorShift::new(7).fill(&mut b);
        assert_eq!(a, b);
        assert!(crate::craft::gzip(&a).len() > a.len() * 99 / 100);
    }

    #[test]
    fn big_image_small() {
        let img = big_image(2, 2);
        assert_eq!(img.layer_digests().len(), 3);
        let size: u64 = img.manifest()["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["size"].as_u64().unwrap())
            .sum();
        assert!(size > 2 << 20, "{size}");
        assert_eq!(big_image(2, 2).layout, img.layout);
    }
}
