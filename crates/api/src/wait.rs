//! `POST /containers/{id}/wait`. dockerd answers the headers at once and the body
//! when the condition holds: the docker CLI sends `start` only after it has the
//! headers of its `wait?condition=next-exit`, so the body must come later.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query as Q, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kujira_engine::container::Container;
use kujira_engine::EngineError;
use serde_json::json;

use crate::query::Query;
use crate::{ApiError, AppState};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

fn condition(q: &Query) -> Result<Condition, ApiError> {
    match q.get("condition").map(String::as_str) {
        None | Some("") | Some("not-running") => Ok(Condition::NotRunning),
        Some("next-exit") => Ok(Condition::NextExit),
        Some("removed") => Ok(Condition::Removed),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid condition: \"{other}\""
        ))),
    }
}

/// The exit code once `cond` holds for the container as it is now (`None`:
/// removed), given how it was when the wait began.
fn settled(cond: Condition, first: &Container, now: Option<&Container>) -> Option<i64> {
    match (cond, now) {
        (_, None) => Some(first.row.state.exit_code),
        (Condition::NotRunning, Some(c)) if !c.is_running() => Some(c.row.state.exit_code),
        (Condition::NextExit, Some(c))
            if !c.is_running() && c.row.state.finished_at != first.row.state.finished_at =>
        {
            Some(c.row.state.exit_code)
        }
        _ => None,
    }
}

pub async fn wait(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let cond = condition(&q)?;
    let first = st.pool.run(move |e| Ok(e.find_container(&id)?)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let pool = st.pool.clone();
    tokio::spawn(async move {
        let mut last = first.clone();
        let mut step = Duration::from_millis(3);
        let started = std::time::Instant::now();
        let code = loop {
            if tx.is_closed() {
                return;
            }
            let cid = first.id().to_string();
            let now = pool
                .run(move |e| match e.find_container(&cid) {
                    Ok(c) => Ok(Some(c)),
                    Err(EngineError::NoSuchContainer(_)) => Ok(None),
                    Err(err) => Err(err.into()),
                })
                .await;
            let now = match now {
                Ok(n) => n,
                Err(err) => {
                    let body = json!({"StatusCode": -1, "Error": {"Message": err.message}});
                    let _ = tx.send(Ok(Bytes::from(format!("{body}\n")))).await;
                    return;
                }
            };
            if let Some(code) = settled(cond, &first, now.as_ref()) {
                if now.is_some() {
                    break code;
                }
                // Removed (perhaps by its own monitor before a look saw it exit):
                // the code it last died with is in the event log.
                let cid = first.id().to_string();
                let fallback = last.row.state.exit_code;
                break pool
                    .run(move |e| Ok(e.last_exit_code(&cid)))
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(fallback);
            }
            if let Some(c) = now {
                last = c;
            }
            tokio::time::sleep(step).await;
            // A look costs a pooled engine and one indexed read: look every 3 ms
            // for the first seconds (a `run --rm true` ends in tens of them), then
            // back off for long runners.
            if started.elapsed() > Duration::from_secs(3) {
                step = (step * 2).min(Duration::from_millis(100));
            }
        };
        let body = json!({"StatusCode": code, "Error": null});
        let _ = tx.send(Ok(Bytes::from(format!("{body}\n")))).await;
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
