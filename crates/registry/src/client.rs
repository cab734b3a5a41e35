//! The [`Client`] and its request machinery: one HTTP client per host,
//! endpoint selection (mirrors, HTTPS/HTTP for insecure registries),
//! authentication on 401, and retries with backoff on connection errors
//! and 5xx answers. The operations themselves live in manifest.rs,
//! blob.rs, push.rs and search.rs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use tokio::sync::Semaphore;

use crate::auth::{self, AuthCache, Credentials};
use crate::config::{RegistryConfig, DOCKER_HUB, DOCKER_HUB_AUTH_KEY};
use crate::endpoint::{build_http, Endpoint};
use crate::error::{Error, Result};

/// A registry client. Cheap to clone (shared state behind an `Arc`); use
/// one per process so tokens, connections and the download limit are
/// shared.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: RegistryConfig,
    http: Mutex<HashMap<(String, bool), reqwest::Client>>,
    /// Scheme that answered for each insecure origin.
    schemes: Mutex<HashMap<String, &'static str>>,
    pub(crate) auth: AuthCache,
    pub(crate) downloads: Arc<Semaphore>,
}

/// One request as the retry/auth loop needs it: everything is cloneable so
/// it can be sent again.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: String,
    pub endpoint: &'a Endpoint,
    pub repository: Option<&'a str>,
    pub scopes: Vec<String>,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Option<Bytes>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(
        method: Method,
        url: String,
        endpoint: &'a Endpoint,
        repository: Option<&'a str>,
        scopes: Vec<String>,
    ) -> Request<'a> {
        Request {
            method,
            url,
            endpoint,
            repository,
            scopes,
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn method_word(m: &Method) -> &'static str {
    match *m {
        Method::GET => "Get",
        Method::HEAD => "Head",
        Method::POST => "Post",
        Method::PUT => "Put",
        Method::PATCH => "Patch",
        Method::DELETE => "Delete",
        _ => "Request",
    }
}

impl Client {
    /// A client with `config`.
    pub fn new(config: RegistryConfig) -> Client {
        let slots = config.max_concurrent_downloads.max(1);
        Client {
            inner: Arc::new(Inner {
                config,
                http: Mutex::new(HashMap::new()),
                schemes: Mutex::new(HashMap::new()),
                auth: AuthCache::default(),
                downloads: Arc::new(Semaphore::new(slots)),
            }),
        }
    }

    /// Uses `creds` for `server` (as `docker login` names it) for this client's
    /// requests, whatever `config.json` holds: an API client's `X-Registry-Auth`.
    pub fn with_credentials(self, server: &str, creds: Credentials) -> Client {
        let (_, key) = server_key(server);
        self.inner.auth.preset(&key, creds);
        self
    }

    /// The configuration the client was made with.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    pub(crate) fn http(&self, host: &str, insecure: bool) -> Result<reqwest::Client> {
        let key = (host.to_string(), insecure);
        if let Some(c) = lock(&self.inner.http).get(&key) {
            return Ok(c.clone());
        }
        let c = build_http(&self.inner.config, host, insecure)?;
        lock(&self.inner.http).insert(key, c.clone());
        Ok(c)
    }

    /// The registry itself. Secure registries are HTTPS; an insecure one is
    /// probed once with HTTPS (certificate unchecked) and falls back to
    /// plain HTTP when that gets no HTTP answer at all, as Docker does.
    pub async fn origin(&self, registry: &str) -> Result<Endpoint> {
        let config = &self.inner.config;
        if registry == DOCKER_HUB || !config.is_insecure(registry) {
            return Ok(Endpoint::origin(registry, "https", config));
        }
        if let Some(s) = lock(&self.inner.schemes).get(registry) {
            return Ok(Endpoint::origin(registry, s, config));
        }
        let https = Endpoint::origin(registry, "https", config);
        let http = self.http(&https.host, true)?;
        let probe = http
            .get(format!("{}/v2/", https.base_url))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let scheme = if probe.is_ok() { "https" } else { "http" };
        lock(&self.inner.schemes).insert(registry.to_string(), scheme);
        Ok(Endpoint::origin(registry, scheme, config))
    }

    /// The endpoints a pull from `registry` tries, in order: its mirrors,
    /// then the registry itself.
    pub async fn pull_endpoints(&self, registry: &str) -> Result<Vec<Endpoint>> {
        let config = &self.inner.config;
        let mut out: Vec<Endpoint> = config
            .mirrors_for(registry)
            .iter()
            .map(|m| Endpoint::mirror(registry, m, config))
            .collect();
        out.push(self.origin(registry).await?);
        Ok(out)
    }

    /// Sends `req`, authenticating when the registry asks (once per call)
    /// and retrying connection errors and 5xx/429 answers with backoff.
    /// Returns the final answer whatever its status, so callers can map
    /// statuses to their own errors.
    pub(crate) async fn send(&self, req: &Request<'_>) -> Result<reqwest::Response> {
        let ep = req.endpoint;
        let http = self.http(&ep.host, ep.insecure)?;
        let config = &self.inner.config;
        let attempts = config.max_attempts.max(1);
        let mut delay = config.retry_delay;
        let mut authenticated = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let auth = self
                .inner
                .auth
                .header(config, &http, ep, &req.scopes)
                .await?;
            let mut b = http.request(req.method.clone(), &req.url);
            let mut headers = HeaderMap::new();
            for (k, v) in &req.headers {
                if let Ok(v) = HeaderValue::from_str(v) {
                    headers.append(k.clone(), v);
                }
            }
            if let Some(a) = &auth {
                if let Ok(v) = HeaderValue::from_str(a) {
                    headers.insert(AUTHORIZATION, v);
                }
            }
            b = b.headers(headers);
            if let Some(body) = &req.body {
                b = b.body(body.clone());
            }
            let resp = match b.send().await {
                Ok(r) => r,
                Err(e) => {
                    if attempt < attempts {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                        continue;
                    }
                    return Err(Error::connection(method_word(&req.method), &req.url, &e));
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !authenticated {
                authenticated = true;
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok());
                if auth.is_some() {
                    // The token was refused (expired early, or too narrow):
                    // get a new one rather than resending it.
                    self.inner.auth.forget_token(&ep.host, &req.scopes);
                }
                if self.inner.auth.learn(&ep.host, challenge) {
                    attempt -= 1;
                    continue;
                }
                return Ok(resp);
            }
            if (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS)
                && attempt < attempts
            {
                tokio::time::sleep(delay).await;
                delay *= 2;
                continue;
            }
            return Ok(resp);
        }
    }

    /// Maps a non-success answer to an error naming the registry and
    /// repository; 401/403 become [`Error::Unauthorized`].
    pub(crate) async fn fail(&self, req: &Request<'_>, resp: reqwest::Response) -> Error {
        let status = resp.status();
        let body = read_limited(resp, 64 << 10, &req.url)
            .await
            .unwrap_or_default();
        let detail = error_detail(status, &body);
        let registry = req.endpoint.registry.clone();
        let repository = req.repository.map(String::from);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            Error::Unauthorized {
                registry,
                repository,
                detail,
            }
        } else {
            Error::Registry {
                registry,
                repository,
                status: status.as_u16(),
                detail,
            }
        }
    }

    /// Checks `username`/`password` against `server` (`docker.io` when
    /// empty; `https://index.docker.io/v1/`, `host[:port]` and URLs are
    /// accepted like `docker login` does), then stores them in
    /// `config.json` (through its credential helper if one is
    /// configured). Returns the `config.json` key used.
    pub async fn login(&self, server: &str, username: &str, password: &str) -> Result<String> {
        let (registry, key) = server_key(server);
        let endpoint = self.origin(&registry).await?;
        let creds = Credentials {
            username: username.to_string(),
            password: password.to_string(),
        };
        let http = self.http(&endpoint.host, endpoint.insecure)?;
        auth::verify_login(&http, &endpoint, &creds).await?;
        auth::credentials::store(&self.inner.config.docker_config, &key, &creds).await?;
        self.inner.auth.reset();
        Ok(key)
    }

    /// Removes stored credentials for `server`. Returns whether there were
    /// any (Docker prints `Not logged in to …` otherwise).
    pub async fn logout(&self, server: &str) -> Result<bool> {
        let (_, key) = server_key(server);
        let found = auth::credentials::erase(&self.inner.config.docker_config, &key).await?;
        self.inner.auth.reset();
        Ok(found)
    }

    /// The stored credentials `server` would be accessed with.
    pub async fn credentials(&self, server: &str) -> Result<Option<Credentials>> {
        let (_, key) = server_key(server);
        auth::credentials::lookup(&self.inner.config.docker_config, &key).await
    }
}

/// `(registry as references spell it, config.json key)` for a server as
/// given to `login`/`logout`.
pub fn server_key(server: &str) -> (String, String) {
    let s = server.trim();
    let host = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        ""
        | "docker.io"
        | "index.docker.io"
        | "registry-1.docker.io"
        | "registry.hub.docker.com" => (DOCKER_HUB.to_string(), DOCKER_HUB_AUTH_KEY.to_string()),
        h => (h.to_string(), h.to_string()),
    }
}

/// Reads a whole body, refusing more than `limit` bytes so a hostile or
/// broken registry cannot make the client buffer without bound.
pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
    url: &str,
) -> Result<Vec<u8>> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Error::Protocol {
            url: url.to_string(),
            reason: format!("answer larger than {limit} bytes"),
        });
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::connection("Get", url, &e))?
    {
        if out.len() + chunk.len() > limit {
            return Err(Error::Protocol {
                url: url.to_string(),
                reason: format!("answer larger than {limit} bytes"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The registry's own explanation of an error answer, Docker-style:
/// `manifest unknown: manifest unknown`, else the status line.
pub(crate) fn error_detail(status: StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body) {
        let parts: Vec<String> = e
            .errors
            .iter()
            .map(|e| {
                let code = e
                    .code
                    .as_deref()
                    .unwrap_or("")
                    .to_ascii_lowercase()
                    .replace('_', " ");
                match e.message.as_deref() {
                    Some(m) if !m.is_empty() && !code.is_empty() => format!("{code}: {m}"),
                    Some(m) if !m.is_empty() => m.to_string(),
                    _ => code,
                }
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    match status {
        StatusCode::UNAUTHORIZED => "authentication required".to_string(),
        StatusCode::FORBIDDEN => "requested access to the resource is denied".to_string(),
        s => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers() {
        for s in [
            "",
            "docker.io",
            "https://index.docker.io/v1/",
            "index.docker.io",
        ] {
            assert_eq!(
                server_key(s),
                ("docker.io".into(), "https://index.docker.io/v1/".into())
            );
        }
        assert_eq!(
            server_key("http://127.0.0.1:5000/"),
            ("127.0.0.1:5000".into(), "127.0.0.1:5000".into())
        );
    }

    #[test]
    fn registry_errors() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(
            error_detail(StatusCode::NOT_FOUND, body),
            "manifest unknown: manifest unknown"
        );
        assert_eq!(
            error_detail(StatusCode::UNAUTHORIZED, b""),
            "authentication required"
        );
        assert_eq!(
            error_detail(StatusCode::BAD_GATEWAY, b"x"),
            "502 Bad Gateway"
        );
    }
}
