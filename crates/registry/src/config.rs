//! What the client needs to know about registries that is not in a
//! reference: mirrors, which registries may be spoken to over plain HTTP,
//! where extra CA certificates and credentials live, and how many blobs may
//! download at once. [`RegistryConfig::load`] reads it the way the engine's
//! users configure it (`/etc/kujira/config.toml`, a per-user file, and
//! `KUJIRA_REGISTRY_MIRROR`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The registry a reference without a domain names, as references spell it.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's v2 API actually is.
pub const DOCKER_HUB_ORIGIN: &str = "https://registry-1.docker.io";
/// The key Docker's `config.json` stores Docker Hub credentials under.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";
/// Docker Hub's search API.
pub const DOCKER_HUB_SEARCH: &str = "https://index.docker.io/v1/search";
/// System-wide configuration file.
pub const SYSTEM_CONFIG: &str = "/etc/kujira/config.toml";
/// Environment variable with comma-separated docker.io mirrors; it wins
/// over both files.
pub const MIRROR_ENV: &str = "KUJIRA_REGISTRY_MIRROR";

/// Registry client configuration. `Default` is what a machine without any
/// configuration gets.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// Mirror base URLs (`https://mirror.example`, `http://127.0.0.1:5000`)
    /// per registry (as references spell it: `docker.io`, `ghcr.io`),
    /// tried in order before the registry itself, for pulls only.
    pub mirrors: HashMap<String, Vec<String>>,
    /// Registries (`host[:port]`, or a CIDR such as `10.0.0.0/8`) that may
    /// be reached over plain HTTP, and whose TLS certificates are not
    /// verified, as Docker treats `insecure-registries`.
    pub insecure_registries: Vec<String>,
    /// Whether 127.0.0.0/8, ::1 and `localhost` are insecure without being
    /// listed, as Docker does. Tests of TLS verification turn it off.
    pub loopback_insecure: bool,
    /// Directories holding `<host[:port]>/ca.crt` (and any other `*.crt`)
    /// trusted in addition to the system roots, searched in order.
    pub certs_dirs: Vec<PathBuf>,
    /// Docker's `config.json`: credentials and credential helpers.
    pub docker_config: PathBuf,
    /// How many blobs [`crate::Client::open_blob`] lets download at once.
    pub max_concurrent_downloads: usize,
    /// Attempts per request (and per reconnect of a blob body) on
    /// connection errors and 5xx answers, with exponential backoff.
    pub max_attempts: u32,
    /// The first backoff delay; doubled after each failed attempt.
    pub retry_delay: std::time::Duration,
    /// Docker Hub's search endpoint; overridable so it can be tested.
    pub search_url: String,
    /// Blobs larger than this are uploaded in chunks of this size (PATCH),
    /// smaller ones in a single PUT.
    pub upload_chunk_size: usize,
    /// User-Agent sent with every request.
    pub user_agent: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            mirrors: HashMap::new(),
            insecure_registries: Vec::new(),
            loopback_insecure: true,
            certs_dirs: vec![
                PathBuf::from("/etc/kujira/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ],
            docker_config: default_docker_config(),
            max_concurrent_downloads: 3,
            max_attempts: 5,
            retry_delay: std::time::Duration::from_millis(250),
            search_url: DOCKER_HUB_SEARCH.to_string(),
            upload_chunk_size: 16 << 20,
            user_agent: format!("kujira/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The subset of `config.toml` this crate reads; other keys belong to
/// other parts of kujira and are ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    registry_mirrors: Option<Vec<String>>,
    insecure_registries: Option<Vec<String>>,
    max_concurrent_downloads: Option<usize>,
}

impl RegistryConfig {
    /// Reads `/etc/kujira/config.toml`, then `~/.config/kujira/config.toml`
    /// (`$XDG_CONFIG_HOME` honoured; its keys replace the system file's),
    /// then `KUJIRA_REGISTRY_MIRROR`. Missing files are fine; unreadable or
    /// malformed ones are an error rather than silently ignored.
    pub fn load() -> Result<RegistryConfig> {
        let env = std::env::var(MIRROR_ENV).ok();
        RegistryConfig::load_from(&config_files(), env.as_deref())
    }

    /// [`RegistryConfig::load`] with explicit files (later ones win) and
    /// mirror variable value.
    pub fn load_from(files: &[PathBuf], mirror_env: Option<&str>) -> Result<RegistryConfig> {
        let mut cfg = RegistryConfig::default();
        for path in files {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::Config {
                        path: path.clone(),
                        reason: e.to_string(),
                    })
                }
            };
            let file: FileConfig = toml::from_str(&text).map_err(|e| Error::Config {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if let Some(m) = file.registry_mirrors {
                cfg.mirrors.insert(DOCKER_HUB.to_string(), m);
            }
            if let Some(i) = file.insecure_registries {
                cfg.insecure_registries = i;
            }
            if let Some(n) = file.max_concurrent_downloads {
                cfg.max_concurrent_downloads = n.max(1);
            }
        }
        if let Some(env) = mirror_env {
            let list: Vec<String> = env
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if !list.is_empty() {
                cfg.mirrors.insert(DOCKER_HUB.to_string(), list);
            }
        }
        Ok(cfg)
    }

    /// Whether `registry` (`host[:port]`) may be used over plain HTTP and
    /// without verifying its certificate.
    pub fn is_insecure(&self, registry: &str) -> bool {
        let host = host_of(registry);
        if self.loopback_insecure {
            if host == "localhost" {
                return true;
            }
            if let Ok(ip) = host.parse::<IpAddr>() {
                if ip.is_loopback() {
                    return true;
                }
            }
        }
        self.insecure_registries.iter().any(|entry| {
            let entry = entry
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/');
            entry == registry || entry == host || cidr_contains(entry, host)
        })
    }

    /// Mirrors configured for `registry`, in order.
    pub fn mirrors_for(&self, registry: &str) -> &[String] {
        self.mirrors.get(registry).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The PEM files to trust for `registry` (`host[:port]`): every `*.crt`
    /// in `<certs_dir>/<registry>/`, as Docker reads its certs.d.
    pub fn ca_files(&self, registry: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in &self.certs_dirs {
            let Ok(rd) = std::fs::read_dir(dir.join(registry)) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                .collect();
            files.sort();
            out.extend(files);
        }
        out
    }
}

/// The `config.toml` files kujira reads, later ones winning: the system's, the
/// user's, then `$KUJIRA_CONFIG` (one more file, for a store with settings of its
/// own, such as a test's private bridge).
pub fn config_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from(SYSTEM_CONFIG)];
    if let Some(user) = user_config_path() {
        files.push(user);
    }
    if let Some(extra) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        files.push(PathBuf::from(extra));
    }
    files
}

/// The variable naming one more `config.toml`.
pub const CONFIG_ENV: &str = "KUJIRA_CONFIG";

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn default_docker_config() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    home().join(".docker/config.json")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

fn user_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".config"));
    let p = base.join("kujira/config.toml");
    // The system file may already be this one (root with XDG pointing at
    // /etc); reading it twice would be harmless but confusing in errors.
    (p != Path::new(SYSTEM_CONFIG)).then_some(p)
}

/// The host part of `host[:port]`, IPv6 brackets removed.
pub(crate) fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    }
}

fn cidr_contains(cidr: &str, host: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits), Ok(ip)) = (
        net.parse::<IpAddr>(),
        bits.parse::<u32>(),
        host.parse::<IpAddr>(),
    ) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_insecure_by_default() {
        let c = RegistryConfig::default();
        assert!(c.is_insecure("127.0.0.1:5000"));
        assert!(c.is_insecure("127.1.2.3"));
        assert!(c.is_insecure("[::1]:5000"));
        assert!(c.is_insecure("localhost:5000"));
        assert!(!c.is_insecure("docker.io"));
        assert!(!c.is_insecure("10.1.2.3:5000"));
    }

    #[test]
    fn insecure_list_and_cidr() {
        let c = RegistryConfig {
            insecure_registries: vec!["reg.lan:5000".into(), "10.0.0.0/8".into()],
            loopback_insecure: false,
            ..Default::default()
        };
        assert!(c.is_insecure("reg.lan:5000"));
        assert!(!c.is_insecure("reg.lan:5001"));
        assert!(c.is_insecure("10.9.8.7:443"));
        assert!(!c.is_insecure("11.0.0.1"));
        assert!(!c.is_insecure("127.0.0.1:5000"));
    }

    #[test]
    fn files_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys.toml");
        let user = dir.path().join("user.toml");
        std::fs::write(
            &sys,
            "registry-mirrors = [\"https://m1\"]\ninsecure-registries = [\"a:1\"]\nother = 3\n",
        )
        .unwrap();
        std::fs::write(&user, "registry-mirrors = [\"https://m2\"]\n").unwrap();
        let c = RegistryConfig::load_from(&[sys.clone(), user.clone()], None).unwrap();
        assert_eq!(c.mirrors_for("docker.io"), ["https://m2"]);
        assert_eq!(c.insecure_registries, ["a:1"]);
        let c = RegistryConfig::load_from(&[sys, user], Some("http://x:1, http://y:2")).unwrap();
        assert_eq!(c.mirrors_for("docker.io"), ["http://x:1", "http://y:2"]);
        assert!(c.mirrors_for("ghcr.io").is_empty());
    }

    #[test]
    fn malformed_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "registry-mirrors = 3\n").unwrap();
        let e = RegistryConfig::load_from(&[p], None).unwrap_err();
        assert!(e.to_string().contains("c.toml"), "{e}");
    }

    #[test]
    fn host_parts() {
        assert_eq!(host_of("a:5000"), "a");
        assert_eq!(host_of("[::1]:5000"), "::1");
        assert_eq!(host_of("docker.io"), "docker.io");
    }
}
