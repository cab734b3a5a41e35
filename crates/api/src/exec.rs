//! `/containers/{id}/exec` and `/exec/{id}/…`: exec instances as dockerd keeps
//! them, in the server's memory (an exec ID means nothing to another server), each
//! started once; its process is spawned through the engine, its streams relayed
//! over the hijacked connection, its exit code kept for `inspect`.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query as Q, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{ExecConfig, ExecStartConfig};
use kujira_engine::container::exec::{spawn_failure, ExecRequest};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::hijack;
use crate::query::Query;
use crate::relay::{relay, Input, Source, Wanted};
use crate::{ApiError, AppState};

struct Instance {
    container: String,
    config: ExecConfig,
    started: bool,
    running: bool,
    exit_code: Option<i64>,
    pid: i64,
}

/// Exec instances by ID.
#[derive(Default)]
pub struct Execs(Mutex<HashMap<String, Instance>>);

/// Finished instances beyond this many are forgotten, oldest first.
const KEEP_FINISHED: usize = 1024;

impl Execs {
    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Instance) -> T) -> Result<T, ApiError> {
        let mut m = self
            .0
            .lock()
            .map_err(|_| ApiError::server("exec table poisoned"))?;
        let inst = m.get_mut(id).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No such exec instance: {id}"),
            )
        })?;
        Ok(f(inst))
    }

    fn insert(&self, id: String, inst: Instance) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() > KEEP_FINISHED {
                m.retain(|_, i| i.running || !i.started);
            }
            m.insert(id, inst);
        }
    }

    fn finish(&self, id: &str, code: i64) {
        let _ = self.with(id, |i| {
            i.running = false;
            i.exit_code = Some(code);
        });
    }
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

pub async fn create(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let config: ExecConfig = parse_json(&body)?;
    if config.cmd.as_ref().is_none_or(Vec::is_empty) {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    hijack::detach_keys(config.detach_keys.as_deref())?;
    let c = st.pool.run(move |e| Ok(e.find_container(&id)?)).await?;
    if c.status() != "running" {
        let what = if c.status() == "paused" {
            "paused"
        } else {
            "not running"
        };
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("container {} is {what}", c.id()),
        ));
    }
    let exec_id = kujira_engine::container::random_id();
    st.execs.insert(
        exec_id.clone(),
        Instance {
            container: c.id().to_string(),
            config,
            started: false,
            running: false,
            exit_code: None,
            pid: 0,
        },
    );
    Ok((StatusCode::CREATED, Json(json!({"Id": exec_id}))).into_response())
}

pub async fn inspect(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let doc = st.execs.with(&id, |i| {
        let cmd = i.config.cmd.clone().unwrap_or_default();
        json!({
            "ID": id,
            "Running": i.running,
            "ExitCode": i.exit_code,
            "ProcessConfig": {
                "tty": i.config.tty.unwrap_or(false),
                "entrypoint": cmd.first(),
                "arguments": cmd.get(1..).unwrap_or_default(),
                "privileged": i.config.privileged.unwrap_or(false),
                "user": i.config.user.clone().unwrap_or_default(),
            },
            "OpenStdin": i.config.attach_stdin.unwrap_or(false),
            "OpenStderr": i.config.attach_stderr.unwrap_or(false),
            "OpenStdout": i.config.attach_stdout.unwrap_or(false),
            "CanRemove": false,
            "ContainerID": i.container,
            "DetachKeys": i.config.detach_keys.clone().unwrap_or_default(),
            "Pid": i.pid,
        })
    })?;
    Ok(Json(doc))
}

/// A spawned exec: its streams for the relay (none when detached).
struct Spawned {
    input: Option<Input>,
    sources: Vec<Source>,
}

pub async fn start(
    State(st): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let on = hijack::upgrade_of(&mut req).ok();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request: {e}")))?;
    let start: ExecStartConfig = parse_json(&body)?;
    let detach = start.detach.unwrap_or(false);
    let (container, config) = st.execs.with(&id, |i| {
        if i.started {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Error: Exec command {id} has already run"),
            ));
        }
        i.started = true;
        i.running = true;
        Ok((i.container.clone(), i.config.clone()))
    })??;
    let tty = config.tty.unwrap_or(false);
    let keys = hijack::detach_keys(config.detach_keys.as_deref())?;
    let wanted = Wanted {
        stdin: config.attach_stdin.unwrap_or(false) && !detach,
        stdout: config.attach_stdout.unwrap_or(false),
        stderr: config.attach_stderr.unwrap_or(false),
    };
    // Looked up once, before the 101: a stopped container is dockerd's 409.
    let c = st
        .pool
        .run(move |e| {
            let c = e.find_container(&container)?;
            if c.status() != "running" {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("container {} is not running", c.id()),
                ));
            }
            Ok(c)
        })
        .await?;
    let console = start.console_size.clone().or(config.console_size.clone());
    let execs = st.execs.clone();
    let exec_id = id.clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    // The process starts only once the client has its 101 (when not detached):
    // output written right behind the headers can be swallowed by a client's
    // buffered header reader (docker-py's is), which dockerd's ordering avoids.
    let pool = st.pool.clone();
    let spawn = async move {
        pool.run(move |e| {
            let cmd = config.cmd.clone().unwrap_or_default();
            let req = ExecRequest {
                cmd: cmd.clone(),
                tty,
                detach,
                env: config.env.clone().unwrap_or_default(),
                user: config.user.clone(),
                workdir: config.working_dir.clone().filter(|w| !w.is_empty()),
                privileged: config.privileged.unwrap_or(false),
            };
            let mut command = e.exec_command(&c, &req)?;
            let relays = command.relays_terminal();
            // A relayed terminal's slave is already the process's stdio.
            if !relays {
                let cm = command.command_mut();
                cm.stdin(if wanted.stdin {
                    Stdio::piped()
                } else {
                    Stdio::null()
                });
                if detach {
                    cm.stdout(Stdio::null()).stderr(Stdio::null());
                } else {
                    cm.stdout(Stdio::piped()).stderr(Stdio::piped());
                }
            }
            let (mut child, master) = match command.spawn() {
                Ok(x) => x,
                Err(err) => {
                    let (code, message) = spawn_failure(&err, &cmd);
                    execs.finish(&exec_id, code as i64);
                    return Ok(Err(message));
                }
            };
            let _ = execs.with(&exec_id, |i| i.pid = child.id() as i64);
            let size: Option<[usize; 2]> = console.as_deref().and_then(|c| c.try_into().ok());
            if let (Some([h, w]), true) = (size, tty) {
                let _ = kujira_engine::container::resize::resize_process(
                    child.id() as i64,
                    h as u16,
                    w as u16,
                );
            }
            let mut spawned = Spawned {
                input: None,
                sources: Vec::new(),
            };
            if !detach {
                if let (Some(m), true) = (master, relays) {
                    let writer = std::fs::File::from(
                        m.try_clone()
                            .map_err(|e| ApiError::server(format!("exec terminal: {e}")))?,
                    );
                    let reader = std::fs::File::from(m);
                    spawned
                        .sources
                        .push(Source::Raw(1, Box::new(tokio::fs::File::from_std(reader))));
                    if wanted.stdin {
                        spawned.input = Some(Box::new(tokio::fs::File::from_std(writer)));
                    }
                } else {
                    if let Some(i) = child.stdin.take() {
                        spawned.input = Some(Box::new(pipe_sender(i.into())?));
                    }
                    if let Some(o) = child.stdout.take() {
                        spawned
                            .sources
                            .push(Source::Raw(1, Box::new(pipe_receiver(o.into())?)));
                    }
                    if let Some(o) = child.stderr.take() {
                        spawned
                            .sources
                            .push(Source::Raw(2, Box::new(pipe_receiver(o.into())?)));
                    }
                }
            }
            std::thread::spawn(move || {
                let code = match child.wait() {
                    Ok(s) => kujira_engine::container::exec::exit_code(s, "") as i64,
                    Err(_) => 126,
                };
                execs.finish(&exec_id, code);
                let _ = done_tx.send(());
            });
            Ok(Ok(spawned))
        })
        .await
    };
    if detach {
        return match spawn.await? {
            Ok(_) => Ok(StatusCode::OK.into_response()),
            Err(message) => Err(ApiError::new(StatusCode::BAD_REQUEST, message)),
        };
    }
    let on =
        on.ok_or_else(|| ApiError::bad_request("exec start needs an upgradable connection"))?;
    tokio::spawn(async move {
        let Some(io) = hijack::io(on).await else {
            return;
        };
        let spawned = spawn.await.unwrap_or_else(|e| Err(e.message));
        match spawned {
            Ok(s) => relay(io, s.input, s.sources, tty, wanted, keys, Some(done_rx)).await,
            Err(message) => {
                // dockerd tells a client whose command could not start on the stream.
                let (_, mut w) = tokio::io::split(io);
                let text = format!("{message}\r\n");
                let bytes = if tty {
                    text.into_bytes()
                } else {
                    hijack::frame(2, text.as_bytes())
                };
                let _ = w.write_all(&bytes).await;
                let _ = w.shutdown().await;
            }
        }
    });
    Ok(hijack::switching(tty))
}

fn pipe_sender(fd: OwnedFd) -> Result<tokio::net::unix::pipe::Sender, ApiError> {
    tokio::net::unix::pipe::Sender::from_owned_fd(fd)
        .map_err(|e| ApiError::server(format!("exec pipes: {e}")))
}

fn pipe_receiver(fd: OwnedFd) -> Result<tokio::net::unix::pipe::Receiver, ApiError> {
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
        .map_err(|e| ApiError::server(format!("exec pipes: {e}")))
}

pub async fn resize(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let dim = |k: &str| q.get(k).and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
    let (h, w) = (dim("h"), dim("w"));
    let pid = st.execs.with(&id, |i| i.pid)?;
    if pid > 0 {
        kujira_engine::container::resize::resize_process(pid, h, w)?;
    }
    Ok(StatusCode::OK.into_response())
}

/// Shared by the exec handlers.
pub type ExecTable = Arc<Execs>;
