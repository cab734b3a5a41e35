//! API versions as dockerd takes them: paths with or without `/v1.NN`, from the
//! minimum up to the maximum this server speaks; a newer one gets dockerd's 400.

use axum::body::Body;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use axum::Router;
use tower::ServiceExt;

use crate::ApiError;

/// `kujira serve --debug`: one stderr line per request, as dockerd's debug log.
pub static DEBUG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The newest API version served (what Docker CLI 28 asks for).
pub const MAX: &str = "1.50";
pub const MIN: &str = "1.24";

fn parse(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Strips a version prefix, refusing versions out of range, then routes.
pub async fn dispatch(
    app: Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    crate::footprint::note_request();
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let debug = DEBUG
        .load(std::sync::atomic::Ordering::Relaxed)
        .then(|| format!("{} {}", parts.method, parts.uri));
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some((ver, tail)) = rest.split_once('/') {
            if let Some(v) = parse(ver) {
                let max = parse(MAX).unwrap_or((1, 50));
                let min = parse(MIN).unwrap_or((1, 24));
                if v > max {
                    return Ok(ApiError::bad_request(format!(
                        "client version {ver} is too new. Maximum supported API version is {MAX}"
                    ))
                    .into_response());
                }
                if v < min {
                    return Ok(ApiError::bad_request(format!(
                        "client version {ver} is too old. Minimum supported API version is {MIN}, please upgrade your client to a newer version"
                    ))
                    .into_response());
                }
                let q = parts
                    .uri
                    .query()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                if let Ok(uri) = format!("/{tail}{q}").parse() {
                    parts.uri = uri;
                }
            }
        }
    }
    let req = Request::from_parts(parts, Body::new(body));
    let mut resp = match app.oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    if let Some(line) = debug {
        eprintln!("{line} -> {}", resp.status().as_u16());
    }
    let h = resp.headers_mut();
    h.insert("Api-Version", axum::http::HeaderValue::from_static(MAX));
    h.insert("Server", axum::http::HeaderValue::from_static("kujira"));
    Ok(resp)
}
