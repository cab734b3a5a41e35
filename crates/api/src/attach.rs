//! `POST /containers/{id}/attach` and `/resize`. A running container is reached
//! through its monitor's attach socket. A created one (the docker CLI attaches
//! before it starts) gets pipes that wait here until `start` hands them to the
//! monitor, so not a byte of its first output is lost.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query as Q, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kujira_engine::container::start::Attach;
use tokio::net::unix::pipe;

use crate::hijack;
use crate::query::{flag, Query};
use crate::relay::{relay, Input, Source, Wanted};
use crate::{ApiError, AppState};

/// Pipes of clients attached to created containers, by container ID, until start.
#[derive(Default)]
pub struct PendingAttaches(Mutex<HashMap<String, Attach>>);

impl PendingAttaches {
    fn put(&self, id: &str, a: Attach) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id.to_string(), a);
        }
    }

    /// What `start` gives the monitor for this container.
    pub fn take(&self, id: &str) -> Attach {
        self.0
            .lock()
            .ok()
            .and_then(|mut m| m.remove(id))
            .unwrap_or(Attach::No)
    }
}

fn pipe_pair() -> Result<(OwnedFd, OwnedFd), ApiError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| ApiError::server(format!("creating attach pipes: {e}")))
}

/// The container's streams for one attach client: where its input goes and where
/// its output comes from. A running container is reached through its monitor's
/// socket; a created one gets pipes its `start` hands to the monitor.
async fn streams(
    st: &AppState,
    id: String,
    wanted: Wanted,
) -> Result<(bool, Option<Input>, Vec<Source>), ApiError> {
    let c = st.pool.run(move |e| Ok(e.find_container(&id)?)).await?;
    let tty = c.config.tty();
    if c.is_running() {
        let sock = st.pool.run(move |e| Ok(e.attach_socket(&c)?)).await?;
        let sock = sock
            .set_nonblocking(true)
            .and_then(|_| tokio::net::UnixStream::from_std(sock))
            .map_err(|e| ApiError::server(format!("attaching: {e}")))?;
        let (srd, swr) = sock.into_split();
        let input = wanted.stdin.then(|| Box::new(swr) as Input);
        return Ok((tty, input, vec![Source::Framed(Box::new(srd))]));
    }
    let stdin = if wanted.stdin && c.config.open_stdin() {
        Some(pipe_pair()?)
    } else {
        None
    };
    let (out_r, out_w) = pipe_pair()?;
    let (err_r, err_w) = pipe_pair()?;
    let (stdin_r, stdin_w) = match stdin {
        Some((r, w)) => (Some(r), Some(w)),
        None => (None, None),
    };
    st.attaches.put(
        c.id(),
        Attach::Pipes {
            stdin: stdin_r,
            stdout: out_w,
            stderr: err_w,
        },
    );
    let to_pipe = |fd: OwnedFd| pipe::Sender::from_owned_fd(fd);
    let from_pipe = |fd: OwnedFd| pipe::Receiver::from_owned_fd(fd);
    let (input, out, err) = match (
        stdin_w.map(to_pipe).transpose(),
        from_pipe(out_r),
        from_pipe(err_r),
    ) {
        (Ok(i), Ok(o), Ok(e)) => (i, o, e),
        _ => return Err(ApiError::server("attaching: the pipes could not be polled")),
    };
    let input = input.map(|i| Box::new(i) as Input);
    let sources = vec![Source::Raw(1, Box::new(out)), Source::Raw(2, Box::new(err))];
    Ok((tty, input, sources))
}

fn wanted(q: &Query) -> Wanted {
    Wanted {
        stdin: flag(q, "stdin"),
        stdout: flag(q, "stdout"),
        stderr: flag(q, "stderr"),
    }
}

pub async fn attach(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let on = hijack::upgrade_of(&mut req)?;
    let keys = hijack::detach_keys(q.get("detachKeys").map(String::as_str))?;
    let wanted = wanted(&q);
    let (tty, input, sources) = streams(&st, id, wanted).await?;
    tokio::spawn(async move {
        let Some(io) = hijack::io(on).await else {
            return;
        };
        relay(io, input, sources, tty, wanted, keys, None).await;
    });
    Ok(hijack::switching(tty))
}

/// `GET /containers/{id}/attach/ws`: the same streams over a WebSocket, as
/// dockerd serves them: output as binary messages of raw bytes (stdout and stderr
/// alike, never multiplexed), every message from the client as input.
pub async fn attach_ws(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let keys = hijack::detach_keys(q.get("detachKeys").map(String::as_str))?;
    let wanted = wanted(&q);
    let (_, input, sources) = streams(&st, id, wanted).await?;
    Ok(ws.on_upgrade(move |socket| async move {
        // The relay speaks bytes; a duplex pipe turns them into messages and back.
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let relayed = tokio::spawn(relay(ours, input, sources, true, wanted, keys, None));
        crate::websocket::bridge(socket, theirs).await;
        relayed.abort();
    }))
}

pub async fn resize(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let dim = |k: &str| -> Result<u16, ApiError> {
        q.get(k)
            .map(|v| v.parse::<u16>())
            .transpose()
            .map_err(|_| ApiError::bad_request(format!("invalid {k}: not a number")))
            .map(|v| v.unwrap_or(0))
    };
    let (h, w) = (dim("h")?, dim("w")?);
    st.pool
        .run(move |e| {
            let c = e.find_container(&id)?;
            Ok(e.resize_container(&c, h, w)?)
        })
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// Shared by the attach handlers so `start` can find pending pipes.
pub type Attaches = Arc<PendingAttaches>;
