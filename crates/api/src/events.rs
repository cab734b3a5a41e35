//! `GET /events`: the store's event log as dockerd streams it, one JSON object per
//! line, from `since` to `until` (Unix seconds) or for as long as the client stays.

use axum::body::{Body, Bytes};
use axum::extract::{Query as Q, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kujira_engine::system::events::{EventFilters, Until};

use crate::query::{filters, Query};
use crate::{ApiError, AppState};

fn nanos(q: &Query, key: &str) -> Result<Option<i64>, ApiError> {
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .map(|t| Some((t * 1e9) as i64))
            .map_err(|_| ApiError::bad_request(format!("invalid value for \"{key}\": {v}"))),
    }
}

pub async fn events(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Response, ApiError> {
    let f = EventFilters::parse(&filters(&q)?)?;
    let since = nanos(&q, "since")?;
    let until = nanos(&q, "until")?.map_or(Until::Forever, Until::Time);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let pool = st.pool.clone();
    tokio::spawn(async move {
        let _ = pool
            .run(move |e| {
                e.events(since, until, &f, |ev| match ev {
                    None => !tx.is_closed(),
                    Some(ev) => {
                        let mut line = serde_json::to_vec(ev).unwrap_or_default();
                        line.push(b'\n');
                        tx.blocking_send(Ok(Bytes::from(line))).is_ok()
                    }
                })?;
                Ok(())
            })
            .await;
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
