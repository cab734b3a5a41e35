//! dockerd's JSON message streams (pull, push, load, import): one JSON object per
//! line. An operation that fails before its first message gets a plain error
//! status, as dockerd answers before it has written anything; after that, the
//! error is the stream's last message (`errorDetail`).

use std::io::Write;
use std::sync::Mutex;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::streams::BodyWriter;
use crate::{ApiError, AppState};

/// The writing side handed to the blocking operation.
pub struct Progress {
    out: Mutex<BodyWriter>,
    first: Mutex<Option<oneshot::Sender<Result<(), ApiError>>>>,
}

impl Progress {
    /// Sends one message (the first one commits the response to 200).
    pub fn send(&self, msg: Value) {
        if let Some(tx) = self.first.lock().ok().and_then(|mut f| f.take()) {
            let _ = tx.send(Ok(()));
        }
        if let Ok(mut out) = self.out.lock() {
            let mut line = msg.to_string().into_bytes();
            line.push(b'\n');
            let _ = out.write_all(&line);
            let _ = out.flush();
        }
    }

    pub fn status(&self, text: impl Into<String>) {
        self.send(json!({ "status": text.into() }));
    }

    fn fail(&self, err: ApiError) {
        match self.first.lock().ok().and_then(|mut f| f.take()) {
            Some(tx) => {
                let _ = tx.send(Err(err));
            }
            None => self.send(json!({
                "errorDetail": { "message": err.message },
                "error": err.message,
            })),
        }
    }
}

/// Runs `op` on an engine with a progress stream; the response once the first
/// message (or the error that came before it) is known.
pub async fn stream<F>(st: &AppState, op: F) -> Result<Response, ApiError>
where
    F: FnOnce(&kujira_engine::Engine, &Progress) -> Result<(), ApiError> + Send + 'static,
{
    let (w, body) = BodyWriter::new();
    let (tx, rx) = oneshot::channel();
    let progress = Progress {
        out: Mutex::new(w),
        first: Mutex::new(Some(tx)),
    };
    let pool = st.pool.clone();
    tokio::spawn(async move {
        let _ = pool
            .run(move |e| {
                if let Err(err) = op(e, &progress) {
                    progress.fail(err);
                } else if let Some(tx) = progress.first.lock().ok().and_then(|mut f| f.take()) {
                    let _ = tx.send(Ok(()));
                }
                Ok(())
            })
            .await;
    });
    match rx.await {
        Ok(Ok(())) => Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ApiError::server("the operation stopped before it answered")),
    }
}
