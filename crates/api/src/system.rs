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
