//! `/containers/…`: create, list, inspect, start, stop, kill, wait, logs, remove.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query as Q, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::ContainerCreateBody;
use kujira_engine::container::create::CreateRequest;
use kujira_engine::container::list::{ContainerFilters, ContainerListing};
use kujira_engine::container::logs::LogOptions;
use kujira_engine::container::status::unix_of;
use serde_json::{json, Value};

use crate::query::{filters, flag, Query};
use crate::{ApiError, AppState};

/// Docker's `ContainerSummary`.
pub fn summary_json(l: &ContainerListing) -> Value {
    let c = &l.container;
    let mut cmd = vec![c.config.path.clone()];
    cmd.extend(c.config.args.iter().cloned());
    let ports: Vec<Value> = if c.is_running() {
        c.config
            .ports
            .iter()
            .map(|p| {
                json!({"IP": if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip },
                       "PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto.as_str()})
            })
            .collect()
    } else {
        Vec::new()
    };
    let network = match c.config.network() {
        "" | "default" => "bridge",
        other => other,
    };
    let mut v = json!({
        "Id": c.id(),
        "Names": [format!("/{}", c.name())],
        "Image": c.config.image(),
        "ImageID": c.row.image_id,
        "Command": cmd.join(" "),
        "Created": unix_of(&c.row.created),
        "Ports": ports,
        "Labels": c.config.labels(),
        "State": c.status(),
        "Status": l.status_text(),
        "HostConfig": {"NetworkMode": network},
        "NetworkSettings": {"Networks": {}},
        "Mounts": c.config.mounts.iter().map(|m| json!({
            "Type": m.kind, "Name": m.name, "Source": m.source, "Destination": m.destination,
            "Mode": m.mode, "RW": m.rw, "Propagation": ""})).collect::<Vec<_>>(),
    });
    if let Some((rw, root)) = l.size {
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(root);
    }
    v
}

pub async fn list(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let args = filters(&q)?;
    let all = flag(&q, "all");
    let size = flag(&q, "size");
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let list = st
        .pool
        .run(move |e| {
            let f = ContainerFilters::parse(&args)?;
            let list = e.list_containers(all, limit, &f, size)?;
            Ok(list
                .iter()
                .map(|l| {
                    let mut v = summary_json(l);
                    v["NetworkSettings"]["Networks"] = e.container_networks(&l.container);
                    v
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(Value::Array(list)))
}

/// The create body, where `Cmd`, `Entrypoint`, `Shell` and `Healthcheck.Test`
/// may also be one string, as dockerd's `strslice` takes them (a single-element
/// list).
fn create_body(bytes: &[u8]) -> Result<ContainerCreateBody, ApiError> {
    let invalid = |e: serde_json::Error| ApiError::bad_request(format!("invalid JSON: {e}"));
    let mut v: Value = serde_json::from_slice(bytes).map_err(invalid)?;
    let one_string = |v: &mut Value| {
        if let Value::String(s) = v {
            *v = json!([std::mem::take(s)]);
        }
    };
    if let Some(o) = v.as_object_mut() {
        for key in ["Cmd", "Entrypoint", "Shell"] {
            if let Some(x) = o.get_mut(key) {
                one_string(x);
            }
        }
        if let Some(x) = o.get_mut("Healthcheck").and_then(|h| h.get_mut("Test")) {
            one_string(x);
        }
    }
    serde_json::from_value(v).map_err(invalid)
}

pub async fn create(
    State(st): State<AppState>,
    Q(q): Q<Query>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = create_body(&body)?;
    if let Some(image) = body.image.as_deref() {
        let is_id = image
            .strip_prefix("sha256:")
            .unwrap_or(image)
            .chars()
            .all(|c| c.is_ascii_hexdigit());
        if !is_id && kujira_reference::Reference::parse(image).is_err() {
            return Err(ApiError::bad_request("invalid reference format"));
        }
    }
    let req = CreateRequest {
        name: q.get("name").filter(|n| !n.is_empty()).cloned(),
        body,
        keep_mounted: false,
    };
    let id = st
        .pool
        .run(move |e| Ok(e.create_container(&req)?.id().to_string()))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warnings": []}))).into_response())
}

pub async fn inspect(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Json<Value>, ApiError> {
    let size = flag(&q, "size");
    let doc = st
        .pool
        .run(move |e| {
            let c = e.find_container(&id)?;
            Ok(e.inspect_container(&c, size))
        })
        .await?;
    Ok(Json(doc))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// dockerd's answer to a start or stop: 204, or 304 when it was already so.
fn changed(did: bool) -> Response {
    if did {
        no_content()
    } else {
        StatusCode::NOT_MODIFIED.into_response()
    }
}

pub async fn start(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let attaches = st.attaches.clone();
    let started = st
        .pool
        .run(move |e| {
            let c = e.find_container(&id)?;
            if c.is_running() {
                return Ok(false);
            }
            let started = e.start_container(&c, attaches.take(c.id()))?;
            // An attached start's monitor is this process's child: reaped when done.
            if started.monitor.is_some() {
                std::thread::spawn(move || started.wait());
            }
            Ok(true)
        })
        .await?;
    Ok(changed(started))
}

pub async fn stop(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let timeout = q.get("t").and_then(|t| t.parse::<i64>().ok());
    let signal = q.get("signal").filter(|s| !s.is_empty()).cloned();
    let stopped = st
        .pool
        .run(move |e| {
            let c = e.find_container(&id)?;
            if !c.is_running() {
                return Ok(false);
            }
            e.stop_container(&c, timeout, signal.as_deref())?;
            Ok(true)
        })
        .await?;
    Ok(changed(stopped))
}

pub async fn kill(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let signal = q
        .get("signal")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| "KILL".into());
    st.pool
        .on_container(id, move |e, c| Ok(e.kill_container(c, &signal)?))
        .await?;
    Ok(no_content())
}

pub async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force");
    let volumes = flag(&q, "v");
    st.pool
        .on_container(id, move |e, c| Ok(e.remove_container(c, force, volumes)?))
        .await?;
    Ok(no_content())
}

fn unix_param(v: Option<&String>) -> Option<f64> {
    v.and_then(|s| s.parse::<f64>().ok()).filter(|t| *t > 0.0)
}

pub async fn logs(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let opts = LogOptions {
        follow: flag(&q, "follow"),
        tail: q.get("tail").and_then(|t| t.parse::<usize>().ok()),
        since: unix_param(q.get("since")),
        until: unix_param(q.get("until")),
    };
    let (stdout, stderr) = (flag(&q, "stdout"), flag(&q, "stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let timestamps = flag(&q, "timestamps");
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<bool, ApiError>>();
    let pool = st.pool.clone();
    tokio::task::spawn(async move {
        let _ = pool
            .run(move |e| {
                let c = match e.find_container(&id) {
                    Ok(c) => c,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err.into()));
                        return Ok(());
                    }
                };
                let tty = c.config.tty();
                let _ = ready_tx.send(Ok(tty));
                let r = e.container_logs(&c, &opts, |entry| {
                    let is_err = entry.stream == "stderr";
                    if (is_err && !stderr) || (!is_err && !stdout) {
                        return true;
                    }
                    let mut line = Vec::new();
                    if timestamps {
                        line.extend_from_slice(entry.time.as_bytes());
                        line.push(b' ');
                    }
                    line.extend_from_slice(entry.log.as_bytes());
                    let chunk = if tty {
                        line
                    } else {
                        crate::hijack::frame(if is_err { 2 } else { 1 }, &line)
                    };
                    tx.blocking_send(Ok(Bytes::from(chunk))).is_ok()
                });
                if let Err(err) = r {
                    let _ = tx.blocking_send(Err(std::io::Error::other(err.to_string())));
                }
                Ok(())
            })
            .await;
    });
    let tty = ready_rx
        .await
        .map_err(|_| ApiError::server("the log reader stopped"))??;
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(([(header::CONTENT_TYPE, ctype)], Body::from_stream(stream)).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_string_command_is_a_one_word_list() {
        let b = super::create_body(br#"{"Image":"busybox","Cmd":"true","Entrypoint":["sh","-c"]}"#)
            .unwrap();
        assert_eq!(b.cmd, Some(vec!["true".to_string()]));
        assert_eq!(b.entrypoint, Some(vec!["sh".to_string(), "-c".into()]));
        for bad in [&b"{"[..], br#"{"Cmd": 3}"#, br#"[1]"#] {
            let e = super::create_body(bad).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
    }
}
