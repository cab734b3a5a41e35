//! `/_ping`, `/version`, `/info`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;

use crate::version::{MAX, MIN};
use crate::{ApiError, AppState};

pub async fn ping() -> impl IntoResponse {
    let mut h = HeaderMap::new();
    h.insert("API-Version", axum::http::HeaderValue::from_static(MAX));
    h.insert(
        "Docker-Experimental",
        axum::http::HeaderValue::from_static("false"),
    );
    h.insert("OSType", axum::http::HeaderValue::from_static("linux"));
    h.insert("Builder-Version", axum::http::HeaderValue::from_static("1"));
    h.insert(
        "Cache-Control",
        axum::http::HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    (h, "OK")
}

pub async fn version() -> Json<serde_json::Value> {
    let (os, arch) = kujira_engine::image::config::host_platform();
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let v = env!("CARGO_PKG_VERSION");
    Json(serde_json::json!({
        "Platform": {"Name": "kujira"},
        "Components": [{"Name": "Engine", "Version": v, "Details": {"ApiVersion": MAX, "MinAPIVersion": MIN, "Os": os, "Arch": arch, "KernelVersion": kernel}}],
        "Version": v,
        "ApiVersion": MAX,
        "MinAPIVersion": MIN,
        "GitCommit": "",
        "GoVersion": "",
        "Os": os,
        "Arch": arch,
        "KernelVersion": kernel,
        "BuildTime": "",
    }))
}

pub async fn info(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let doc = st.pool.run(|e| Ok(e.info_document()?)).await?;
    Ok(Json(doc))
}

/// `GET /system/df`: what `docker system df` builds its table from.
pub async fn df(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let usage = st.pool.run(|e| Ok(e.disk_usage()?)).await?;
    let image_size: std::collections::HashMap<String, u64> = usage
        .images
        .iter()
        .map(|i| (i.summary.id.to_string(), i.summary.size))
        .collect();
    let images: Vec<serde_json::Value> = usage
        .images
        .iter()
        .map(|i| crate::images::summary_json(&i.summary, i.containers as i64, i.shared_size as i64))
        .collect();
    let containers: Vec<serde_json::Value> = usage
        .containers
        .into_iter()
        .map(|c| {
            let root = image_size
                .get(&c.container.row.image_id)
                .copied()
                .unwrap_or(0);
            let l = kujira_engine::container::list::ContainerListing {
                size: Some((c.rw_size, c.rw_size + root)),
                health: None,
                container: c.container,
            };
            crate::containers::summary_json(&l)
        })
        .collect();
    let volumes: Vec<serde_json::Value> = usage
        .volumes
        .iter()
        .map(|v| {
            let mut doc = v.volume.inspect_json();
            doc["UsageData"] =
                serde_json::json!({"Size": v.size, "RefCount": v.volume.users.len()});
            doc
        })
        .collect();
    let rfc = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    // The API's BuildCache records, as BuildKit's are listed.
    let build_cache: Vec<serde_json::Value> = usage
        .build_cache
        .iter()
        .map(|b| {
            serde_json::json!({
                "ID": b.record.key.trim_start_matches("sha256:"),
                "Parents": b.record.parent.iter().map(|p| p.trim_start_matches("sha256:")).collect::<Vec<_>>(),
                "Type": b.record.kind,
                "Description": b.record.description,
                "InUse": false,
                "Shared": b.shared,
                "Size": b.record.size,
                "CreatedAt": rfc(b.record.created_unix),
                "LastUsedAt": rfc(b.record.last_used_unix),
                "UsageCount": b.record.usage_count,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "LayersSize": usage.layers_size,
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": build_cache,
    })))
}

#[derive(serde::Deserialize)]
struct AuthBody {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "serveraddress")]
    server_address: String,
}

/// `POST /auth`: checks the credentials with the registry (and keeps them, so the
/// server's own pulls and pushes can use them).
pub async fn auth(
    State(st): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let b: AuthBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let server = if b.server_address.is_empty() {
        "docker.io".to_string()
    } else {
        b.server_address
    };
    st.pool
        .run(move |e| {
            e.login(&server, &b.username, &b.password)
                .map_err(|err| ApiError::new(axum::http::StatusCode::UNAUTHORIZED, err.to_string()))
        })
        .await?;
    Ok(Json(
        serde_json::json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}
