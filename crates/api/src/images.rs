//! `/images/…`: list, inspect, history and delete. Image names hold slashes, so the
//! named routes are one wildcard split here, as dockerd's `{name:.*}` routes are.

use axum::extract::{Path, Query as Q, State};
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
) -> Result<Json<Value>, ApiError> {
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
        axum::http::StatusCode::NOT_FOUND,
        format!("page not found: /images/{rest}"),
    ))
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
