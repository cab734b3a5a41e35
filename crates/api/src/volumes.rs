//! `/volumes`: create (driver `local`), list with filters, inspect, remove, prune.

use axum::body::Bytes;
use axum::extract::{Path, Query as Q, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::query::{all_keys_match, filters, flag, Query};
use crate::{ApiError, AppState};

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: Option<String>,
    driver: Option<String>,
    #[serde(default)]
    driver_opts: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

pub async fn create(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let b: CreateBody = if body.is_empty() {
        CreateBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    if let Some(d) = b
        .driver
        .as_deref()
        .filter(|d| !d.is_empty() && *d != "local")
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("plugin \"{d}\" not found"),
        ));
    }
    if let Some(k) = b.driver_opts.keys().next() {
        return Err(ApiError::bad_request(format!(
            "invalid option key: \"{k}\" (kujira's local driver takes no mount options)"
        )));
    }
    let labels: Vec<String> = b.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let name = b.name.filter(|n| !n.is_empty());
    let doc = st
        .pool
        .run(move |e| {
            let n = e.create_volume(name.as_deref(), &labels)?;
            Ok(e.volume(&n)?.inspect_json())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// `dangling`, `name`, `label` and `driver` filters, as dockerd applies them.
fn keep(
    v: &kujira_engine::container::volume::Volume,
    filters: &[String],
) -> Result<bool, ApiError> {
    let labels: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&v.labels).unwrap_or_default();
    all_keys_match(filters, |k, vals| {
        Ok(match k {
            "dangling" => vals.iter().any(|x| {
                let want = matches!(*x, "true" | "1");
                v.users.is_empty() == want
            }),
            "name" => vals.iter().any(|x| v.name.contains(x)),
            "driver" => vals.contains(&"local"),
            "label" => vals.iter().all(|x| match x.split_once('=') {
                Some((lk, lv)) => labels.get(lk).map(String::as_str) == Some(lv),
                None => labels.contains_key(*x),
            }),
            other => return Err(ApiError::bad_request(format!("invalid filter '{other}'"))),
        })
    })
}

pub async fn list(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let f = filters(&q)?;
    let vols = st.pool.run(|e| Ok(e.volumes()?)).await?;
    let mut out = Vec::new();
    for v in &vols {
        if keep(v, &f)? {
            out.push(v.inspect_json());
        }
    }
    Ok(Json(json!({"Volumes": out, "Warnings": []})))
}

pub async fn inspect(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let doc = st
        .pool
        .run(move |e| Ok(e.volume(&name)?.inspect_json()))
        .await?;
    Ok(Json(doc))
}

pub async fn remove(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force");
    st.pool
        .run(move |e| Ok(e.remove_volume(&name, force)?))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn prune(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let mut all = false;
    for f in filters(&q)? {
        match f.split_once('=') {
            Some(("all", v)) => all = matches!(v, "true" | "1"),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter '{f}' for volume prune"
                )))
            }
        }
    }
    let (names, bytes) = st.pool.run(move |e| Ok(e.prune_volumes(all)?)).await?;
    Ok(Json(
        json!({"VolumesDeleted": names, "SpaceReclaimed": bytes}),
    ))
}
