//! Bearer tokens from a registry's token service (the `realm` of its
//! challenge), anonymous or with basic credentials, and the `/v2/` check
//! `login` uses to prove credentials before storing them.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{basic_header, CachedToken, Challenge, Credentials};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};

/// Tokens are refreshed this long before the registry says they expire,
/// so one is never sent just as it lapses.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// Token service answers are small; anything bigger is not one.
const MAX_TOKEN_RESPONSE: usize = 1 << 20;

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// Asks `realm` for a token for `scopes`.
pub(super) async fn fetch(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    creds: Option<&Credentials>,
) -> Result<CachedToken> {
    let mut url = reqwest::Url::parse(realm).map_err(|e| Error::Protocol {
        url: endpoint.base_url.clone(),
        reason: format!("invalid token realm {realm:?}: {e}"),
    })?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = service {
            q.append_pair("service", s);
        }
        for s in scopes {
            q.append_pair("scope", s);
        }
        if let Some(c) = creds {
            q.append_pair("account", &c.username);
        }
    }
    let url = url.to_string();
    let mut req = http.get(&url);
    if let Some(c) = creds {
        req = req.header(reqwest::header::AUTHORIZATION, basic_header(c));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| Error::connection("Get", &url, &e))?;
    let status = resp.status();
    let body = crate::client::read_limited(resp, MAX_TOKEN_RESPONSE, &url).await?;
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(Error::Unauthorized {
            registry: endpoint.registry.clone(),
            repository: None,
            detail: if creds.is_some() {
                "incorrect username or password".to_string()
            } else {
                crate::client::error_detail(status, &body)
            },
        });
    }
    if !status.is_success() {
        return Err(Error::Registry {
            registry: endpoint.registry.clone(),
            repository: None,
            status: status.as_u16(),
            detail: format!(
                "token service {realm}: {}",
                crate::client::error_detail(status, &body)
            ),
        });
    }
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
        url: url.clone(),
        reason: format!("token response is not JSON: {e}"),
    })?;
    let value = parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Protocol {
            url,
            reason: "token response has no token".to_string(),
        })?;
    // The distribution spec says to assume 60 s when the service says less
    // or nothing.
    let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(60).max(60));
    Ok(CachedToken {
        value,
        expires: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
    })
}

/// Proves `creds` against `endpoint`'s `/v2/`, following whatever challenge
/// it answers with.
pub(crate) async fn verify_login(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    creds: &Credentials,
) -> Result<()> {
    let url = format!("{}/v2/", endpoint.base_url);
    let get = |auth: Option<String>| {
        let mut r = http.get(&url);
        if let Some(a) = auth {
            r = r.header(reqwest::header::AUTHORIZATION, a);
        }
        r.send()
    };
    let first = get(None)
        .await
        .map_err(|e| Error::connection("Get", &url, &e))?;
    if first.status().is_success() {
        return Ok(());
    }
    let challenge = first
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(Challenge::parse);
    let auth = match challenge {
        Some(Challenge::Basic) => basic_header(creds),
        Some(Challenge::Bearer { realm, service }) => {
            match fetch(http, endpoint, &realm, service.as_deref(), &[], Some(creds)).await {
                Ok(t) => format!("Bearer {}", t.value),
                Err(Error::Unauthorized { .. }) => {
                    return Err(Error::LoginFailed {
                        registry: endpoint.registry.clone(),
                    })
                }
                Err(e) => return Err(e),
            }
        }
        None => {
            return Err(Error::Registry {
                registry: endpoint.registry.clone(),
                repository: None,
                status: first.status().as_u16(),
                detail: format!("unexpected answer to {url}"),
            })
        }
    };
    let second = get(Some(auth))
        .await
        .map_err(|e| Error::connection("Get", &url, &e))?;
    match second.status() {
        s if s.is_success() => Ok(()),
        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN => {
            Err(Error::LoginFailed {
                registry: endpoint.registry.clone(),
            })
        }
        s => Err(Error::Registry {
            registry: endpoint.registry.clone(),
            repository: None,
            status: s.as_u16(),
            detail: format!("unexpected answer to {url}"),
        }),
    }
}
