//! `/images/…`: list, inspect, history and delete. Image names hold slashes, so the
//! named routes are one wildcard split here, as dockerd's `{name:.*}` routes are.

use axum::extract::{Path, Query as Q, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kujira_engine::image::list::{ImageFilters, ImageSummary};
use kujira_engine::image::remove::RemoveEvent;
use serde_json::{json, Value};

use crate::query::{filters, flag, Query};
use crate::{ApiError, AppState};

/// Docker's `ImageSummary`.
pub fn summary_json(s: &ImageSummary, containers: i64, shared: i64) -> Value {
    json!({
        "Id": s.id.to_string(),
        "ParentId": s.parent,
        "RepoTags": s.tags.iter().map(|t| t.familiar_string()).collect::<Vec<_>>(),
        "RepoDigests": s.digests.iter().map(|(r, d)| format!("{}@{d}", familiar_repo(r))).collect::<Vec<_>>(),
        "Created": s.created_unix,
        "Size": s.size,
        "SharedSize": shared,
        "Labels": s.labels,
        "Containers": containers,
    })
}

fn familiar_repo(r: &str) -> String {
    kujira_reference::Reference::parse(r)
        .map(|x| x.familiar_name())
        .unwrap_or_else(|_| r.to_string())
}

pub async fn list(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let args = filters(&q)?;
    let all = flag(&q, "all");
    let list = st
        .pool
        .run(move |e| {
            let f = ImageFilters::parse(&args)?;
            Ok(e.list_images(all, &f)?)
        })
        .await?;
    Ok(Json(Value::Array(
        list.iter().map(|s| summary_json(s, -1, -1)).collect(),
    )))
}

pub async fn get_named(
    State(st): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(name) = rest.strip_suffix("/get") {
        return crate::image_transfer::save(st, vec![name.to_string()]).await;
    }
    get_doc(st, rest).await.map(IntoResponse::into_response)
}

async fn get_doc(st: AppState, rest: String) -> Result<Json<Value>, ApiError> {
    if let Some(name) = rest.strip_suffix("/json") {
        let name = name.to_string();
        let doc = st
            .pool
            .run(move |e| {
                let i = e.inspect_image(&name)?;
                Ok(kujira_engine::image::inspect::to_json_value(&i))
            })
            .await?;
        return Ok(Json(doc));
    }
    if let Some(name) = rest.strip_suffix("/history") {
        let name = name.to_string();
        let h = st.pool.run(move |e| Ok(e.history(&name)?)).await?;
        return serde_json::to_value(h)
            .map(Json)
            .map_err(|e| ApiError::server(e.to_string()));
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("page not found: /images/{rest}"),
    ))
}

/// `POST /images/{name}/tag` and `/images/{name}/push`.
pub async fn post_named(
    State(st): State<AppState>,
    Path(rest): Path<String>,
    Q(q): Q<Query>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(name) = rest.strip_suffix("/tag") {
        let source = name.to_string();
        let repo = q
            .get("repo")
            .filter(|r| !r.is_empty())
            .ok_or_else(|| ApiError::bad_request("repo is required"))?;
        let target = match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.clone(),
        };
        st.pool.run(move |e| Ok(e.tag(&source, &target)?)).await?;
        return Ok(StatusCode::CREATED.into_response());
    }
    if let Some(name) = rest.strip_suffix("/push") {
        return crate::image_transfer::push(st, name.to_string(), q, &headers).await;
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("page not found: /images/{rest}"),
    ))
}

/// `GET /images/search?term=…&limit=…`.
pub async fn search(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let term = q
        .get("term")
        .filter(|t| !t.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("term is required"))?;
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
    let results = st.pool.run(move |e| Ok(e.search(&term, limit)?)).await?;
    Ok(Json(Value::Array(
        results
            .iter()
            .map(|r| {
                json!({"name": r.name, "description": r.description, "star_count": r.stars,
                       "is_official": r.official, "is_automated": r.automated})
            })
            .collect(),
    )))
}

pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Q(q): Q<Query>,
) -> Result<Json<Value>, ApiError> {
    let force = flag(&q, "force");
    let events = st
        .pool
        .run(move |e| Ok(e.remove_image(&name, force)?))
        .await?;
    Ok(Json(Value::Array(events.iter().map(event_json).collect())))
}

pub fn event_json(ev: &RemoveEvent) -> Value {
    match ev {
        RemoveEvent::Untagged(r) => json!({ "Untagged": r }),
        RemoveEvent::Deleted(d) => json!({ "Deleted": d.to_string() }),
    }
}

/// `GET /distribution/{name}/json`.
pub async fn distribution(
    State(st): State<AppState>,
    Path(rest): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let name = rest
        .strip_suffix("/json")
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("page not found: /distribution/{rest}"),
            )
        })?
        .to_string();
    let auth = crate::image_transfer::registry_auth(&headers)?;
    let doc = st
        .pool
        .run(move |e| Ok(e.distribution(&name, auth.as_ref())?))
        .await?;
    Ok(Json(doc))
}
