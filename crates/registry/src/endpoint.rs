//! Where requests for a registry go: its mirrors (pulls only), then the
//! registry itself, over HTTPS or — for insecure registries — over HTTP
//! when HTTPS does not answer. Also builds the HTTP clients, one per host,
//! because each host may trust its own extra CA certificates.

use std::time::Duration;

use crate::config::{RegistryConfig, DOCKER_HUB, DOCKER_HUB_AUTH_KEY, DOCKER_HUB_ORIGIN};
use crate::error::{Error, Result};

/// One place that serves a registry's v2 API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The registry as references spell it (`docker.io`,
    /// `127.0.0.1:5000`), whichever endpoint serves it.
    pub registry: String,
    /// Base URL without a trailing slash; requests go to
    /// `<base_url>/v2/...`.
    pub base_url: String,
    /// `host[:port]` of `base_url`: what TLS, certs.d and authentication
    /// caches are keyed by.
    pub host: String,
    /// Whether this is a configured mirror rather than the registry.
    pub mirror: bool,
    /// Key of the credentials in Docker's `config.json`.
    pub auth_key: String,
    /// Whether TLS certificates of this endpoint are not verified.
    pub insecure: bool,
}

impl Endpoint {
    /// A mirror from its configured URL (`https://m.example[/prefix]`;
    /// `https://` assumed when no scheme is given).
    pub(crate) fn mirror(registry: &str, url: &str, config: &RegistryConfig) -> Endpoint {
        let url = url.trim_end_matches('/');
        let base_url = if url.contains("://") {
            url.to_string()
        } else {
            format!("https://{url}")
        };
        let host = authority(&base_url).to_string();
        Endpoint {
            registry: registry.to_string(),
            insecure: config.is_insecure(&host),
            auth_key: host.clone(),
            base_url,
            host,
            mirror: true,
        }
    }

    /// The registry itself with the given scheme.
    pub(crate) fn origin(registry: &str, scheme: &str, config: &RegistryConfig) -> Endpoint {
        if registry == DOCKER_HUB {
            return Endpoint {
                registry: registry.to_string(),
                base_url: DOCKER_HUB_ORIGIN.to_string(),
                host: authority(DOCKER_HUB_ORIGIN).to_string(),
                mirror: false,
                auth_key: DOCKER_HUB_AUTH_KEY.to_string(),
                insecure: false,
            };
        }
        Endpoint {
            registry: registry.to_string(),
            base_url: format!("{scheme}://{registry}"),
            host: registry.to_string(),
            mirror: false,
            auth_key: registry.to_string(),
            insecure: config.is_insecure(registry),
        }
    }

    /// `<base_url>/v2/<repository>/<rest>`.
    pub(crate) fn repo_url(&self, repository: &str, rest: &str) -> String {
        format!("{}/v2/{repository}/{rest}", self.base_url)
    }
}

/// `host[:port]` of a URL.
pub(crate) fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..end];
    // Userinfo is never legitimately in a registry URL, but must not end
    // up as the host.
    auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth)
}

/// Resolves a possibly relative `Location` header against the request URL.
pub(crate) fn join_location(base: &str, location: &str) -> Result<String> {
    let base = reqwest::Url::parse(base).map_err(|e| Error::Protocol {
        url: base.to_string(),
        reason: format!("invalid URL: {e}"),
    })?;
    base.join(location)
        .map(String::from)
        .map_err(|e| Error::Protocol {
            url: base.to_string(),
            reason: format!("invalid Location {location:?}: {e}"),
        })
}

/// Builds the HTTP client for `host`: system roots plus the host's certs.d
/// files; no automatic redirects (blob redirects are followed by hand so
/// the Authorization header is never forwarded); certificate checks off
/// only for insecure registries.
pub(crate) fn build_http(
    config: &RegistryConfig,
    host: &str,
    insecure: bool,
) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .user_agent(config.user_agent.clone())
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        // A stalled body must fail so the blob reader can resume it.
        .read_timeout(Duration::from_secs(60))
        .tcp_nodelay(true);
    for file in config.ca_files(host) {
        let pem = std::fs::read(&file).map_err(|e| Error::Config {
            path: file.clone(),
            reason: e.to_string(),
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Config {
            path: file.clone(),
            reason: format!("not a PEM certificate bundle: {e}"),
        })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| Error::Config {
        path: config.certs_dirs.first().cloned().unwrap_or_default(),
        reason: format!("cannot set up TLS for {host}: {}", crate::error::chain(&e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let c = RegistryConfig::default();
        let hub = Endpoint::origin("docker.io", "https", &c);
        assert_eq!(hub.base_url, "https://registry-1.docker.io");
        assert_eq!(hub.auth_key, "https://index.docker.io/v1/");
        let local = Endpoint::origin("127.0.0.1:5000", "http", &c);
        assert_eq!(local.base_url, "http://127.0.0.1:5000");
        assert!(local.insecure);
        assert_eq!(
            local.repo_url("a/b", "manifests/latest"),
            "http://127.0.0.1:5000/v2/a/b/manifests/latest"
        );
        let m = Endpoint::mirror("docker.io", "http://127.0.0.1:9/prefix/", &c);
        assert_eq!(m.base_url, "http://127.0.0.1:9/prefix");
        assert_eq!(m.host, "127.0.0.1:9");
        assert!(m.mirror);
    }

    #[test]
    fn locations() {
        assert_eq!(
            join_location("http://a:1/v2/x/blobs/sha256:0", "/store/b?sig=1").unwrap(),
            "http://a:1/store/b?sig=1"
        );
        assert_eq!(
            join_location("http://a:1/v2/x", "https://s3.example/o").unwrap(),
            "https://s3.example/o"
        );
        assert_eq!(authority("https://u:p@h:5/x"), "h:5");
    }
}
