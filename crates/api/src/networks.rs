//! `/networks`: the predefined `bridge`, `host` and `none` networks, listed and
//! inspected as dockerd shows them. Their IDs are fixed (the SHA-256 of the name),
//! so every server and CLI sharing a store gives the same ones.

use axum::extract::{Path, Query as Q, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use sha2::Digest;

use crate::query::{all_keys_match, filters, Query};
use crate::{ApiError, AppState};

const PREDEFINED: [(&str, &str); 3] = [("bridge", "bridge"), ("host", "host"), ("none", "null")];

fn network_id(name: &str) -> String {
    hex::encode(sha2::Sha256::digest(
        format!("kujira-network:{name}").as_bytes(),
    ))
}

fn doc(name: &str, driver: &str) -> Value {
    json!({
        "Name": name,
        "Id": network_id(name),
        "Created": "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": driver,
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": {},
        "Options": {},
        "Labels": {},
    })
}

fn matches(name: &str, driver: &str, filters: &[String]) -> Result<bool, ApiError> {
    all_keys_match(filters, |k, vals| {
        Ok(match k {
            "name" => vals.iter().any(|v| name.contains(v)),
            "id" => vals.iter().any(|v| network_id(name).starts_with(v)),
            "driver" => vals.contains(&driver),
            "type" => vals.contains(&"builtin"),
            "scope" => vals.contains(&"local"),
            "label" | "dangling" => false,
            other => return Err(ApiError::bad_request(format!("invalid filter '{other}'"))),
        })
    })
}

pub async fn list(State(_st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let f = filters(&q)?;
    let mut out = Vec::new();
    for (name, driver) in PREDEFINED {
        if matches(name, driver, &f)? {
            out.push(doc(name, driver));
        }
    }
    Ok(Json(Value::Array(out)))
}

pub async fn inspect(Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    PREDEFINED
        .iter()
        .find(|(name, _)| *name == id || (id.len() >= 12 && network_id(name).starts_with(&id)))
        .map(|(name, driver)| Json(doc(name, driver)))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("network {id} not found")))
}
