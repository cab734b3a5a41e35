//! Registry authentication: the `WWW-Authenticate` challenge a registry
//! answers 401 with decides between basic auth and bearer tokens
//! (anonymous, or obtained with the user's credentials). Challenges,
//! credentials and tokens are cached so each (registry, scope) costs one
//! token request per token lifetime, not one per HTTP request.

pub mod credentials;
mod token;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine as _;

pub use credentials::Credentials;

use crate::config::RegistryConfig;
use crate::endpoint::Endpoint;
use crate::error::Result;

/// What a registry asked for in `WWW-Authenticate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

impl Challenge {
    /// Parses the first challenge of a `WWW-Authenticate` value; unknown
    /// schemes give `None`.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_params(rest);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => Some(Challenge::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
            }),
            _ => None,
        }
    }
}

/// `key="value", key2=value2` into a map (keys lower-cased); quoted values
/// may contain commas and backslash escapes.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_string();
        }
        out.insert(key, value);
    }
    out
}

struct CachedToken {
    value: String,
    expires: Instant,
}

/// Per-client authentication state.
#[derive(Default)]
pub(crate) struct AuthCache {
    /// Challenge per endpoint host, learnt from the first 401.
    challenges: Mutex<HashMap<String, Challenge>>,
    /// Credentials per `config.json` key; `None` once looked up and absent,
    /// so helpers run once per key and process.
    credentials: Mutex<HashMap<String, Option<Credentials>>>,
    /// Bearer tokens per (endpoint host, scopes).
    tokens: Mutex<HashMap<(String, String), CachedToken>>,
}

/// Scope for pulling from `repository`.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// Scope for pushing to `repository`.
pub(crate) fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding a cache lock leaves the cache usable:
    // its entries are replaced whole, never half-written.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AuthCache {
    /// Records the challenge from a 401 answer; returns whether it is one
    /// the client can act on.
    pub(crate) fn learn(&self, host: &str, www_authenticate: Option<&str>) -> bool {
        match www_authenticate.and_then(Challenge::parse) {
            Some(c) => {
                lock(&self.challenges).insert(host.to_string(), c);
                true
            }
            None => false,
        }
    }

    /// Forgets a token the registry refused, so the next attempt asks for
    /// a fresh one.
    pub(crate) fn forget_token(&self, host: &str, scopes: &[String]) {
        lock(&self.tokens).remove(&(host.to_string(), scopes.join(" ")));
    }

    /// Credentials for an endpoint, from the cache or `config.json` (and
    /// its helpers).
    pub(crate) async fn credentials(
        &self,
        config: &RegistryConfig,
        auth_key: &str,
    ) -> Result<Option<Credentials>> {
        if let Some(c) = lock(&self.credentials).get(auth_key) {
            return Ok(c.clone());
        }
        let found = credentials::lookup(&config.docker_config, auth_key).await?;
        lock(&self.credentials).insert(auth_key.to_string(), found.clone());
        Ok(found)
    }

    /// Uses `creds` for `auth_key` instead of what `config.json` says.
    pub(crate) fn preset(&self, auth_key: &str, creds: Credentials) {
        lock(&self.credentials).insert(auth_key.to_string(), Some(creds));
    }

    /// Drops cached credentials and tokens, after `login`/`logout` changed
    /// them.
    pub(crate) fn reset(&self) {
        lock(&self.credentials).clear();
        lock(&self.tokens).clear();
    }

    /// The `Authorization` value for a request to `endpoint` needing
    /// `scopes`, when the endpoint is known to want one. Fetches a bearer
    /// token if none is cached.
    pub(crate) async fn header(
        &self,
        config: &RegistryConfig,
        http: &reqwest::Client,
        endpoint: &Endpoint,
        scopes: &[String],
    ) -> Result<Option<String>> {
        let challenge = lock(&self.challenges).get(&endpoint.host).cloned();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self
                .credentials(config, &endpoint.auth_key)
                .await?
                .map(|c| basic_header(&c))),
            Some(Challenge::Bearer { realm, service }) => {
                let key = (endpoint.host.clone(), scopes.join(" "));
                if let Some(t) = lock(&self.tokens).get(&key) {
                    if t.expires > Instant::now() {
                        return Ok(Some(format!("Bearer {}", t.value)));
                    }
                }
                let creds = self.credentials(config, &endpoint.auth_key).await?;
                let t = token::fetch(
                    http,
                    endpoint,
                    &realm,
                    service.as_deref(),
                    scopes,
                    creds.as_ref(),
                )
                .await?;
                let header = format!("Bearer {}", t.value);
                lock(&self.tokens).insert(key, t);
                Ok(Some(header))
            }
        }
    }
}

pub(crate) fn basic_header(c: &Credentials) -> String {
    let raw = format!("{}:{}", c.username, c.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

pub(crate) use token::verify_login;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse("Bearer realm=http://a/t, service = x "),
            Some(Challenge::Bearer {
                realm: "http://a/t".into(),
                service: Some("x".into()),
            })
        );
        assert_eq!(Challenge::parse("Bearer service=x"), None);
        assert_eq!(Challenge::parse("Negotiate"), None);
    }
}
