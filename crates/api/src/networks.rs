//! `/networks`: list (filters), inspect, create, connect, disconnect, remove and
//! prune, over the engine's networks, as dockerd answers them.

use axum::body::Bytes;
use axum::extract::{Path, Query as Q, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use serde_json::{json, Value};

use kujira_engine::network::{group_filters, CreateNetwork};

use crate::query::{filters, Query};
use crate::{ApiError, AppState};

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

pub async fn list(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let f = group_filters(&filters(&q)?)?;
    let docs = st
        .pool
        .run(move |e| {
            let _ = e.sweep_endpoints();
            let mut out = Vec::new();
            for n in e.networks()? {
                if e.network_matches(&n, &f)? {
                    out.push(e.inspect_network(&n)?);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Json(Value::Array(docs)))
}

pub async fn inspect(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let doc = st
        .pool
        .run(move |e| {
            let _ = e.sweep_endpoints();
            let n = e.find_network(&id)?;
            Ok(e.inspect_network(&n)?)
        })
        .await?;
    Ok(Json(doc))
}

pub async fn create(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let b: NetworkCreateRequest = parse(&body)?;
    let ipam = b.ipam.clone().unwrap_or_default();
    if let Some(d) = ipam
        .driver
        .as_deref()
        .filter(|d| !d.is_empty() && *d != "default")
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("plugin \"{d}\" not found"),
        ));
    }
    let configs = ipam.config.unwrap_or_default();
    if configs.len() > 1 {
        return Err(ApiError::bad_request(
            "kujira networks take one IPv4 subnet",
        ));
    }
    let first = configs.into_iter().next().unwrap_or_default();
    let empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let req = CreateNetwork {
        name: b.name.clone(),
        driver: b.driver.clone().unwrap_or_default(),
        subnet: empty(first.subnet),
        gateway: empty(first.gateway),
        ip_range: empty(first.ip_range),
        internal: b.internal.unwrap_or(false),
        attachable: b.attachable.unwrap_or(false),
        enable_ipv6: b.enable_ipv6.unwrap_or(false),
        options: b.options.clone().unwrap_or_default().into_iter().collect(),
        labels: b.labels.clone().unwrap_or_default().into_iter().collect(),
    };
    if req.subnet.is_none() && (req.gateway.is_some() || req.ip_range.is_some()) {
        return Err(ApiError::bad_request(
            "every ip-range or gateway must have a corresponding subnet",
        ));
    }
    let id = st.pool.run(move |e| Ok(e.create_network(&req)?.id)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warning": ""}))).into_response())
}

pub async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.pool
        .run(move |e| {
            let n = e.find_network(&id)?;
            Ok(e.remove_network(&n)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn connect(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let b: NetworkConnectRequest = parse(&body)?;
    let container = b
        .container
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("no container given"))?;
    let ep = b.endpoint_config.unwrap_or_default();
    let aliases = ep.aliases.unwrap_or_default();
    let ip = ep
        .ipam_config
        .and_then(|c| c.ipv4_address)
        .filter(|s| !s.is_empty());
    st.pool
        .run(move |e| {
            let n = e.find_network(&id)?;
            let c = e.find_container(&container)?;
            Ok(e.connect_network(&n, &c, aliases, ip)?)
        })
        .await?;
    Ok(StatusCode::OK)
}

pub async fn disconnect(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let b: NetworkDisconnectRequest = parse(&body)?;
    let container = b
        .container
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("no container given"))?;
    st.pool
        .run(move |e| {
            let n = e.find_network(&id)?;
            let c = e.find_container(&container)?;
            Ok(e.disconnect_network(&n, &c)?)
        })
        .await?;
    Ok(StatusCode::OK)
}

pub async fn prune(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let f = group_filters(&filters(&q)?)?;
    let gone = st.pool.run(move |e| Ok(e.prune_networks(&f)?)).await?;
    Ok(Json(json!({"NetworksDeleted": gone})))
}
