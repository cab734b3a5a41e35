//! `/containers/{id}/archive` (HEAD, GET, PUT) and `/export`: tar streams out of
//! and into a container, paths resolved inside its root by the engine. The path's
//! stat travels base64-encoded in `X-Docker-Container-Path-Stat`, as dockerd's.

use axum::body::Body;
use axum::extract::{Path, Query as Q, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::query::Query;
use crate::streams::{written_by, BodyReader};
use crate::{ApiError, AppState};

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn path_of(q: &Query) -> Result<String, ApiError> {
    q.get("path")
        .filter(|p| !p.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("path is required"))
}

async fn stat_header(st: &AppState, id: String, path: String) -> Result<HeaderValue, ApiError> {
    let stat = st
        .pool
        .run(move |e| {
            let c = e.find_container(&id)?;
            Ok(e.stat_in_container(&c, &path)?)
        })
        .await?;
    let json = serde_json::to_vec(&stat).map_err(|e| ApiError::server(e.to_string()))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(json);
    HeaderValue::from_str(&b64).map_err(|e| ApiError::server(e.to_string()))
}

pub async fn head(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let h = stat_header(&st, id, path_of(&q)?).await?;
    Ok(([(STAT_HEADER, h)], StatusCode::OK).into_response())
}

pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let path = path_of(&q)?;
    let h = stat_header(&st, id.clone(), path.clone()).await?;
    let body = written_by(&st.pool, move |e, w| {
        let c = e.find_container(&id)?;
        e.copy_from_container(&c, &path, w)
    });
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-tar"),
            ),
            (
                header::HeaderName::from_static("x-docker-container-path-stat"),
                h,
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn put(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
    body: Body,
) -> Result<Response, ApiError> {
    let path = path_of(&q)?;
    let reader = BodyReader::new(body);
    st.pool
        .run(move |e| {
            let c = e.find_container(&id)?;
            // dockerd's PUT extracts into an existing directory.
            let stat = e.stat_in_container(&c, &path)?;
            if stat.mode & (1 << 31) == 0 {
                return Err(ApiError::bad_request(format!(
                    "extraction point is not a directory: {path}"
                )));
            }
            Ok(e.copy_into_container(&c, &path, reader)?)
        })
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /containers/{id}/export`: the container's whole filesystem as one tar.
pub async fn export(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cid = id.clone();
    st.pool
        .run(move |e| Ok(e.find_container(&cid).map(drop)?))
        .await?;
    let body = written_by(&st.pool, move |e, w| {
        let c = e.find_container(&id)?;
        e.export_container(&c, w)
    });
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}
