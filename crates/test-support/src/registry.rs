//! A real registry for tests: Debian's `docker-registry` (distribution 2.8)
//! on a free loopback port with its own temporary storage, optionally
//! behind htpasswd basic auth, TLS signed by a test CA, or bearer tokens
//! from a token issuer in this crate that signs real JWTs. Images are put
//! into it with skopeo, an independent client, so a bug in kujira's
//! registry client cannot be masked by the same bug in the fixture.
//!
//! Also here: [`CutProxy`], which cuts one blob download mid-body, and the
//! small [`http`] server the token issuer is built on (usable for other
//! fakes of services that cannot be run locally, e.g. Docker Hub search).

pub mod http;
pub mod proxy;
pub mod tls;
pub mod token;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use http::{HttpRequest, HttpResponse, HttpServer};
pub use proxy::CutProxy;
pub use tls::TestCa;
pub use token::{TokenIssuer, TokenOptions};

use crate::image::{skopeo_copy, skopeo_inspect, ImageSpec, LayerSpec, OciImage};
use crate::tools::{self, run};

/// How the registry is protected.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Serve HTTPS with a certificate from a fresh [`TestCa`].
    pub tls: bool,
    /// htpasswd users (basic auth).
    pub htpasswd: Vec<(String, String)>,
    /// Bearer token auth through a [`TokenIssuer`].
    pub token: Option<TokenOptions>,
}

impl RegistryOptions {
    /// Plain HTTP, no authentication.
    pub fn plain() -> RegistryOptions {
        RegistryOptions::default()
    }

    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    pub fn htpasswd(mut self, user: &str, password: &str) -> Self {
        self.htpasswd.push((user.into(), password.into()));
        self
    }

    /// Token auth: `users` get what they ask for, anonymous requests get
    /// pull access if `anonymous_pull`.
    pub fn token(mut self, users: &[(&str, &str)], anonymous_pull: bool) -> Self {
        self.token = Some(TokenOptions {
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            anonymous_pull,
        });
        self
    }
}

/// A running `docker-registry`; killed (and its storage removed) on drop.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    ca: Option<TestCa>,
    issuer: Option<TokenIssuer>,
    creds: Option<(String, String)>,
}

/// The digests of an image pushed by [`Registry::push_multiarch`].
#[derive(Clone, Debug)]
pub struct MultiArch {
    pub index_digest: String,
    /// `(platform, manifest digest, layer digests)`, amd64 first.
    pub manifests: Vec<(String, String, Vec<String>)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl Registry {
    /// Starts a registry and waits until it accepts connections.
    pub fn start(opts: RegistryOptions) -> Registry {
        let bin = tools::require("docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("kujira-registry.")
            .tempdir()
            .unwrap();
        let port = free_port();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: kujira-test-secret\n",
            storage.display()
        );
        let ca = opts.tls.then(|| TestCa::create(dir.path()));
        if let Some(ca) = &ca {
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                ca.server_cert.display(),
                ca.server_key.display()
            ));
        }
        let mut creds = None;
        if !opts.htpasswd.is_empty() {
            let mut lines = String::new();
            for (u, p) in &opts.htpasswd {
                lines.push_str(
                    run(tools::command("htpasswd").args(["-Bbn", u, p]))
                        .stdout
                        .as_slice()
                        .iter()
                        .map(|&b| b as char)
                        .collect::<String>()
                        .trim(),
                );
                lines.push('\n');
            }
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, lines).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                path.display()
            ));
            creds = opts.htpasswd.first().cloned();
        }
        let issuer = opts.token.as_ref().map(|t| {
            let issuer = TokenIssuer::start(dir.path(), t.clone());
            cfg.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                issuer.realm(),
                token::SERVICE,
                token::ISSUER,
                issuer.cert().display()
            ));
            creds = t.users.first().cloned();
            issuer
        });
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = std::process::Command::new(bin)
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut reg = Registry {
            child,
            dir,
            port,
            ca,
            issuer,
            creds,
        };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("docker-registry exited ({status}):\n{}", self.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {}:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`, as references spell it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://…`.
    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// The test CA's certificate, for a TLS registry.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.ca.as_ref().map(|c| c.ca_cert.as_path())
    }

    /// A fresh certs.d-style directory with `<host>/ca.crt` for this
    /// registry (TLS registries only).
    pub fn certs_dir(&self) -> PathBuf {
        let ca = self.ca_cert().expect("not a TLS registry");
        let d = self.dir.path().join("certs.d");
        std::fs::create_dir_all(d.join(self.host())).unwrap();
        std::fs::copy(ca, d.join(self.host()).join("ca.crt")).unwrap();
        d
    }

    /// The token issuer, for a token-auth registry.
    pub fn issuer(&self) -> Option<&TokenIssuer> {
        self.issuer.as_ref()
    }

    /// The first configured user, used by the helpers below.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Root of the registry's filesystem storage.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry keeps blob `digest`'s bytes (to corrupt it).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn skopeo_auth(&self, prefix: &str) -> Vec<String> {
        let mut v = vec![format!("--{prefix}tls-verify=false")];
        if let Some((u, p)) = self.credentials() {
            v.push(format!("--{prefix}creds={u}:{p}"));
        }
        v
    }

    /// `docker://HOST/<repo_tag>`
    pub fn docker_ref(&self, repo_tag: &str) -> String {
        format!("docker://{}/{repo_tag}", self.host())
    }

    /// Pushes `layout:tag` as `repo_tag` (`repo:tag`) with skopeo.
    pub fn push_oci(&self, layout: &Path, tag: &str, repo_tag: &str) {
        let extra = self.skopeo_auth("dest-");
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        skopeo_copy(
            &format!("oci:{}:{tag}", layout.display()),
            &self.docker_ref(repo_tag),
            &extra,
        );
    }

    /// Pushes an [`OciImage`] as `repo_tag`.
    pub fn push_image(&self, img: &OciImage, repo_tag: &str) {
        self.push_oci(&img.layout, &img.tag, repo_tag);
    }

    /// `skopeo inspect [extra] docker://HOST/<repo_tag>` as JSON.
    pub fn inspect(&self, repo_tag: &str, extra: &[&str]) -> Value {
        let mut args = self.skopeo_auth("");
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        skopeo_inspect(&self.docker_ref(repo_tag), &args)
    }

    /// Builds two small images (linux/amd64 and linux/arm64/v8, each with
    /// an `/arch` file naming it, so their layers differ), writes an OCI
    /// index of them and pushes it all as `repo_tag` with `skopeo copy
    /// --all`.
    pub fn push_multiarch(&self, repo_tag: &str) -> MultiArch {
        let layout = self
            .dir
            .path()
            .join(format!("multi-{}", crate::sha256_hex(repo_tag.as_bytes())));
        let mut manifests = Vec::new();
        let mut entries = Vec::new();
        for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
            let mut spec = ImageSpec::new()
                .layer(LayerSpec::files([("arch", format!("{arch}\n"))]))
                .cmd(&["/bin/true"])
                .created(crate::image::FIXTURE_CREATED);
            spec.architecture = Some(arch.to_string());
            spec.os = Some("linux".to_string());
            let img = spec.build_at(&layout, arch);
            let digest = img.manifest_digest();
            let size = img.blob(&digest).len();
            let mut platform = json!({"architecture": arch, "os": "linux"});
            if let Some(v) = variant {
                platform["variant"] = json!(v);
            }
            entries.push(json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": size,
                "platform": platform,
            }));
            let name = match variant {
                Some(v) => format!("linux/{arch}/{v}"),
                None => format!("linux/{arch}"),
            };
            manifests.push((name, digest, img.layer_digests()));
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        });
        let bytes = serde_json::to_vec(&index).unwrap();
        let index_digest = crate::digest(&bytes);
        std::fs::write(
            layout
                .join("blobs/sha256")
                .join(index_digest.trim_start_matches("sha256:")),
            &bytes,
        )
        .unwrap();
        let index_json = layout.join("index.json");
        let mut top: Value = serde_json::from_slice(&std::fs::read(&index_json).unwrap()).unwrap();
        top["manifests"].as_array_mut().unwrap().push(json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest,
            "size": bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }));
        std::fs::write(&index_json, serde_json::to_vec(&top).unwrap()).unwrap();
        let mut extra = self.skopeo_auth("dest-");
        extra.push("--all".into());
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        skopeo_copy(
            &format!("oci:{}:multi", layout.display()),
            &self.docker_ref(repo_tag),
            &extra,
        );
        MultiArch {
            index_digest,
            manifests,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
