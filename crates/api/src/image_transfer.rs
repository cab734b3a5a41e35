//! Images in and out of the store over the API: `/images/create` (pull, or import
//! with `fromSrc`), `/images/{name}/push`, `/images/load`, `/images/get` and
//! `/images/{name}/get`, with dockerd's JSON progress messages.

use axum::body::Body;
use axum::extract::{Query as Q, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use kujira_engine::image::import::ImportOptions;
use kujira_engine::image::pull::{LayerStatus, PullEvent, PullOptions};
use kujira_engine::image::push::PushEvent;
use kujira_engine::image::RegistryAuth;
use serde_json::json;

use crate::progress::{self, Progress};
use crate::query::{flag, Query};
use crate::streams::{written_by, BodyReader};
use crate::{ApiError, AppState};

/// `X-Registry-Auth`: base64url JSON of Docker's `AuthConfig` (padded or not).
/// An empty or `{}` header is no credentials.
pub fn registry_auth(headers: &HeaderMap) -> Result<Option<RegistryAuth>, ApiError> {
    let Some(v) = headers.get("x-registry-auth") else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::bad_request("invalid X-Registry-Auth header: not base64 JSON");
    let trimmed = text.trim_end_matches('=');
    let data = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|_| bad())?;
    let doc: serde_json::Value = serde_json::from_slice(&data).map_err(|_| bad())?;
    let field = |k: &str| {
        doc.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (username, password) = (field("username"), field("password"));
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(RegistryAuth {
        server: field("serveraddress"),
        credentials: kujira_registry::Credentials { username, password },
    }))
}

/// `fromImage` and `tag` as one reference (a `tag` may be a digest).
fn reference(image: &str, tag: Option<&String>) -> String {
    match tag.filter(|t| !t.is_empty()) {
        Some(t) if t.contains(':') => format!("{image}@{t}"),
        Some(t) => format!("{image}:{t}"),
        None => image.to_string(),
    }
}

fn pull_message(p: &Progress, ev: PullEvent) {
    match ev {
        PullEvent::PullingFrom {
            tag_or_digest,
            repository,
        } => p.send(json!({"status": format!("Pulling from {repository}"), "id": tag_or_digest})),
        PullEvent::Layer { id, status } => {
            let detail = match &status {
                LayerStatus::Downloading { current, total } => {
                    json!({"current": current, "total": total})
                }
                _ => json!({}),
            };
            p.send(json!({"status": status.text(), "progressDetail": detail, "id": id}));
        }
    }
}

pub async fn create(
    State(st): State<AppState>,
    Q(q): Q<Query>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if let Some(src) = q.get("fromSrc").cloned() {
        return import(st, q, src, body).await;
    }
    let image = q
        .get("fromImage")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("fromImage or fromSrc is required"))?;
    let name = reference(image, q.get("tag"));
    // Every tag of a repository (`pull -a`) is not offered: refuse it plainly.
    if !name.contains(':') && !name.contains('@') && q.contains_key("tag") {
        return Err(ApiError::bad_request(
            "pulling every tag of a repository is not supported; name a tag",
        ));
    }
    let opts = PullOptions {
        platform: q.get("platform").filter(|p| !p.is_empty()).cloned(),
        auth: registry_auth(&headers)?,
    };
    progress::stream(&st, move |e, p| {
        let pulled = e.pull(&name, &opts, &|ev| pull_message(p, ev))?;
        p.status(format!("Digest: {}", pulled.digest));
        let familiar = pulled.reference.familiar_string();
        if pulled.newer {
            p.status(format!("Status: Downloaded newer image for {familiar}"));
        } else {
            p.status(format!("Status: Image is up to date for {familiar}"));
        }
        Ok(())
    })
    .await
}

async fn import(st: AppState, q: Query, src: String, body: Body) -> Result<Response, ApiError> {
    if src != "-" {
        return Err(ApiError::bad_request(format!(
            "fromSrc={src}: only an uploaded tarball (fromSrc=-) is imported; fetch the URL and send it"
        )));
    }
    let repo = q.get("repo").filter(|r| !r.is_empty()).cloned();
    let reference = repo.map(|r| reference(&r, q.get("tag")));
    let changes = crate::query::all(&q, "changes");
    let opts = ImportOptions {
        changes,
        message: q.get("message").filter(|m| !m.is_empty()).cloned(),
        source: src,
        reference,
    };
    let reader = BodyReader::new(body);
    progress::stream(&st, move |e, p| {
        let registered = e.import(reader, &opts)?;
        p.status(registered.id.to_string());
        Ok(())
    })
    .await
}

pub async fn push(
    st: AppState,
    name: String,
    q: Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let name = reference(&name, q.get("tag"));
    let auth = registry_auth(headers)?;
    progress::stream(&st, move |e, p| {
        let pushed = e.push_with(&name, auth.as_ref(), &|ev| match ev {
            PushEvent::Repository(r) => p.status(format!("The push refers to repository [{r}]")),
            PushEvent::Layer { id, status } => {
                p.send(json!({"status": status.text(), "progressDetail": {}, "id": id}))
            }
        })?;
        p.status(format!(
            "{}: digest: {} size: {}",
            pushed.tag, pushed.digest, pushed.size
        ));
        p.send(json!({
            "progressDetail": {},
            "aux": {"Tag": pushed.tag, "Digest": pushed.digest, "Size": pushed.size},
        }));
        Ok(())
    })
    .await
}

pub async fn load(
    State(st): State<AppState>,
    Q(q): Q<Query>,
    body: Body,
) -> Result<Response, ApiError> {
    let quiet = flag(&q, "quiet");
    let reader = BodyReader::new(body);
    progress::stream(&st, move |e, p| {
        let loaded = e.load_stream(reader)?;
        for r in loaded {
            if r.tags.is_empty() {
                p.send(json!({"stream": format!("Loaded image ID: {}\n", r.id)}));
            }
            for t in &r.tags {
                p.send(json!({"stream": format!("Loaded image: {}\n", t.familiar_string())}));
            }
        }
        let _ = quiet;
        Ok(())
    })
    .await
}

/// `GET /images/get?names=…` and `/images/{name}/get`: a `docker save` tarball.
pub async fn save(st: AppState, names: Vec<String>) -> Result<Response, ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given"));
    }
    // Names are checked before the 200 goes out.
    let check = names.clone();
    st.pool
        .run(move |e| {
            for n in &check {
                e.inspect_image(n)?;
            }
            Ok(())
        })
        .await?;
    let body = written_by(&st.pool, move |e, w| e.save(&names, w));
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

pub async fn save_many(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Response, ApiError> {
    save(st, crate::query::all(&q, "names")).await
}
