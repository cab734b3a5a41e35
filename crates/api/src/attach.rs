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
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::pipe;

use crate::hijack::{self, DetachScanner};
use crate::query::{flag, Query};
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

/// Which of the container's streams the client asked for.
#[derive(Clone, Copy)]
struct Wanted {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

pub async fn attach(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let on = hijack::upgrade_of(&mut req)?;
    let keys = hijack::detach_keys(q.get("detachKeys").map(String::as_str))?;
    let wanted = Wanted {
        stdin: flag(&q, "stdin"),
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
    };
    let c = st.pool.run(move |e| Ok(e.find_container(&id)?)).await?;
    let tty = c.config.tty;
    if c.is_running() {
        let sock = st.pool.run(move |e| Ok(e.attach_socket(&c)?)).await?;
        let sock = sock
            .set_nonblocking(true)
            .and_then(|_| tokio::net::UnixStream::from_std(sock))
            .map_err(|e| ApiError::server(format!("attaching: {e}")))?;
        tokio::spawn(async move {
            let Some(io) = hijack::io(on).await else {
                return;
            };
            let (srd, swr) = sock.into_split();
            let input = wanted.stdin.then_some(swr);
            relay(io, input, vec![Source::Framed(srd)], tty, wanted, keys).await;
        });
    } else {
        let stdin = if wanted.stdin && c.config.open_stdin {
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
        tokio::spawn(async move {
            let Some(io) = hijack::io(on).await else {
                return;
            };
            let sources: Vec<Source<pipe::Receiver>> =
                vec![Source::Raw(1, out), Source::Raw(2, err)];
            relay(io, input, sources, tty, wanted, keys).await;
        });
    }
    Ok(hijack::switching(tty))
}

/// Where output comes from: the monitor's framed socket, or one raw pipe.
enum Source<R> {
    Framed(R),
    Raw(u8, pipe::Receiver),
}

/// Reads one chunk: `(stream, data)`, or `None` at the end.
async fn next_chunk<R: AsyncRead + Unpin>(src: &mut Source<R>) -> Option<(u8, Vec<u8>)> {
    match src {
        Source::Framed(r) => {
            let mut head = [0u8; 8];
            r.read_exact(&mut head).await.ok()?;
            let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
            let mut data = vec![0u8; len];
            r.read_exact(&mut data).await.ok()?;
            Some((head[0], data))
        }
        Source::Raw(stream, r) => {
            let mut buf = vec![0u8; 32 * 1024];
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((*stream, buf))
                }
            }
        }
    }
}

/// Copies the container's output to the client until it ends, and the client's
/// input (when asked) to the container until it ends or the detach keys come.
async fn relay<R, W>(
    io: hijack::Io,
    input: Option<W>,
    mut sources: Vec<Source<R>>,
    tty: bool,
    wanted: Wanted,
    keys: Vec<u8>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (mut crd, mut cwr) = tokio::io::split(io);
    let (detach_tx, detach_rx) = tokio::sync::oneshot::channel::<()>();
    let input_task = input.map(|mut to| {
        tokio::spawn(async move {
            let mut scan = DetachScanner::new(keys);
            let mut buf = vec![0u8; 8192];
            loop {
                match crd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (pass, detach) = scan.feed(&buf[..n]);
                        if !pass.is_empty() && to.write_all(&pass).await.is_err() {
                            break;
                        }
                        if detach {
                            let _ = detach_tx.send(());
                            return;
                        }
                    }
                }
            }
            // The client's end of input is the container's.
            let _ = to.shutdown().await;
        })
    });
    let output = async {
        let mut live: Vec<bool> = sources.iter().map(|_| true).collect();
        while live.iter().any(|l| *l) {
            let chunk = {
                let futs = sources
                    .iter_mut()
                    .zip(live.iter())
                    .enumerate()
                    .filter(|(_, (_, l))| **l)
                    .map(|(i, (s, _))| Box::pin(async move { (i, next_chunk(s).await) }));
                futures_util::future::select_all(futs).await.0
            };
            match chunk {
                (i, None) => live[i] = false,
                (_, Some((stream, data))) => {
                    let keep = if stream == 2 {
                        wanted.stderr
                    } else {
                        wanted.stdout
                    };
                    if !keep {
                        continue;
                    }
                    let bytes = if tty {
                        data
                    } else {
                        hijack::frame(stream, &data)
                    };
                    if cwr.write_all(&bytes).await.is_err() || cwr.flush().await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    // A dropped sender (no input, or input ended) is no detach.
    let detached = async {
        if detach_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = output => {}
        _ = detached => {}
    }
    let _ = cwr.shutdown().await;
    if let Some(t) = input_task {
        t.abort();
    }
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
