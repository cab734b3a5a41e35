//! The prune endpoints: `/containers/prune`, `/images/prune`, `/networks/prune`
//! (`/volumes/prune` is with the volumes, `/build/prune` with the builder).

use axum::extract::{Query as Q, State};
use axum::Json;
use kujira_engine::image::list::ImageFilters;
use serde_json::{json, Value};

use crate::images::event_json;
use crate::query::{filters, Query};
use crate::{ApiError, AppState};

pub async fn containers(
    State(st): State<AppState>,
    Q(q): Q<Query>,
) -> Result<Json<Value>, ApiError> {
    if let Some(f) = filters(&q)?.into_iter().next() {
        return Err(ApiError::bad_request(format!(
            "invalid filter '{f}' for container prune (kujira prunes every stopped container)"
        )));
    }
    let (ids, bytes) = st.pool.run(|e| Ok(e.prune_containers()?)).await?;
    Ok(Json(
        json!({"ContainersDeleted": ids, "SpaceReclaimed": bytes}),
    ))
}

pub async fn images(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    // `image prune -a` is `dangling=false`: every unused image, not only dangling ones.
    let mut all = false;
    let mut rest = Vec::new();
    for f in filters(&q)? {
        match f.split_once('=') {
            Some(("dangling", v)) => all = matches!(v, "false" | "0"),
            _ => rest.push(f),
        }
    }
    let report = st
        .pool
        .run(move |e| {
            let f = ImageFilters::parse(&rest)?;
            Ok(e.prune_images(all, &f)?)
        })
        .await?;
    Ok(Json(json!({
        "ImagesDeleted": report.events.iter().map(event_json).collect::<Vec<_>>(),
        "SpaceReclaimed": report.reclaimed,
    })))
}
