//! The rest of a container's life over the API: restart, pause, unpause, rename,
//! top, changes, stats and commit.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query as Q, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kujira_engine::container::commit::CommitOptions;
use kujira_engine::container::start::Attach;
use kujira_engine::container::Container;
use kujira_engine::Engine;
use serde_json::{json, Value};

use crate::query::{all, flag, Query};
use crate::{ApiError, AppState};

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn on<T: Send + 'static>(
    st: &AppState,
    id: String,
    f: impl FnOnce(&Engine, &Container) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    st.pool.on_container(id, f).await
}

pub async fn restart(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let timeout = q.get("t").and_then(|t| t.parse::<i64>().ok());
    let signal = q.get("signal").filter(|s| !s.is_empty()).cloned();
    on(&st, id, move |e, c| {
        e.stop_container(c, timeout, signal.as_deref())?;
        let fresh = e.find_container(c.id())?;
        e.start_container(&fresh, Attach::No)?;
        Ok(())
    })
    .await?;
    Ok(no_content())
}

pub async fn pause(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    on(&st, id, |e, c| Ok(e.pause_container(c)?)).await?;
    Ok(no_content())
}

pub async fn unpause(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    on(&st, id, |e, c| Ok(e.unpause_container(c)?)).await?;
    Ok(no_content())
}

pub async fn rename(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("name is required"))?;
    on(&st, id, move |e, c| Ok(e.rename_container(c, &name)?)).await?;
    Ok(no_content())
}

pub async fn top(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Json<Value>, ApiError> {
    let ps_args: Vec<String> = q
        .get("ps_args")
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let top = on(&st, id, move |e, c| {
        if !c.is_running() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("container {} is not running", c.id()),
            ));
        }
        Ok(e.top(c, &ps_args)?)
    })
    .await?;
    serde_json::to_value(top)
        .map(Json)
        .map_err(|e| ApiError::server(e.to_string()))
}

pub async fn changes(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = on(&st, id, |e, c| Ok(e.container_changes(c)?)).await?;
    Ok(Json(Value::Array(
        list.iter()
            .map(|(k, p)| json!({"Path": p, "Kind": k.api_kind()}))
            .collect(),
    )))
}

/// Docker's stats document from two readings (`precpu_stats` is the earlier).
fn stats_json(
    c: &Container,
    now: &kujira_runtime::stats::Sample,
    pre: Option<&kujira_runtime::stats::Sample>,
) -> Value {
    let cpu = |s: &kujira_runtime::stats::Sample| {
        json!({
            "cpu_usage": {"total_usage": s.cpu_ns, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "system_cpu_usage": s.system_ns,
            "online_cpus": s.online_cpus,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        })
    };
    let empty_cpu = json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}});
    json!({
        "name": format!("/{}", c.name()),
        "id": c.id(),
        "read": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "preread": "0001-01-01T00:00:00Z",
        "pids_stats": {"current": now.pids},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": now.block_read},
            {"major": 0, "minor": 0, "op": "write", "value": now.block_write},
        ]},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(now),
        "precpu_stats": pre.map(cpu).unwrap_or(empty_cpu),
        "memory_stats": {"usage": now.memory, "limit": now.memory_limit, "stats": {}},
        "networks": {"eth0": {"rx_bytes": now.net_rx, "tx_bytes": now.net_tx,
            "rx_packets": 0, "tx_packets": 0, "rx_errors": 0, "tx_errors": 0,
            "rx_dropped": 0, "tx_dropped": 0}},
    })
}

/// `GET /containers/{id}/stats`: one document (`stream=false`, with a reading a
/// moment before as `precpu_stats` unless `one-shot`), or one per second.
pub async fn stats(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let stream = q
        .get("stream")
        .is_none_or(|s| matches!(s.as_str(), "1" | "true"));
    let one_shot = flag(&q, "one-shot");
    let c = st.pool.run(move |e| Ok(e.find_container(&id)?)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let pool = st.pool.clone();
    tokio::spawn(async move {
        let mut pre = None;
        if !stream && !one_shot {
            let c2 = c.clone();
            pre = pool
                .run(move |e| Ok(e.container_sample(&c2)))
                .await
                .ok()
                .flatten();
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        loop {
            let c2 = c.clone();
            let Some(now) = pool
                .run(move |e| {
                    let fresh = e.find_container(c2.id())?;
                    Ok(e.container_sample(&fresh))
                })
                .await
                .ok()
                .flatten()
            else {
                // A stopped container reads as zeros, once.
                let zero = kujira_runtime::stats::Sample::default();
                let doc = stats_json(&c, &zero, None);
                let _ = tx.send(Ok(Bytes::from(format!("{doc}\n")))).await;
                return;
            };
            let doc = stats_json(&c, &now, pre.as_ref());
            if tx.send(Ok(Bytes::from(format!("{doc}\n")))).await.is_err() || !stream {
                return;
            }
            pre = Some(now);
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `POST /commit?container=…&repo=…&tag=…&comment=…&author=…&pause=…&changes=…`.
pub async fn commit(
    State(st): State<AppState>,
    Q(q): Q<Query>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        // The body is a container config merged into the image's: refused rather
        // than silently dropped.
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
        if v.as_object()
            .is_some_and(|o| o.values().any(|x| !x.is_null()))
        {
            return Err(ApiError::bad_request(
                "a config body on commit is not applied by kujira; pass it as changes",
            ));
        }
    }
    let id = q
        .get("container")
        .filter(|c| !c.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("container is required"))?;
    let reference = q.get("repo").filter(|r| !r.is_empty()).map(|r| {
        match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{r}:{t}"),
            None => r.clone(),
        }
    });
    let opts = CommitOptions {
        reference,
        changes: all(&q, "changes")
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect(),
        message: q.get("comment").filter(|m| !m.is_empty()).cloned(),
        author: q.get("author").filter(|a| !a.is_empty()).cloned(),
        pause: q
            .get("pause")
            .is_none_or(|p| matches!(p.as_str(), "1" | "true")),
    };
    let registered = on(&st, id, move |e, c| Ok(e.commit_container(c, &opts)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": registered.id.to_string()})),
    )
        .into_response())
}

/// `POST /containers/{id}/update`: resources and restart policy.
pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b: bollard_stubs::models::ContainerUpdateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    on(&st, id, move |e, c| Ok(e.update_container(c, &b)?)).await?;
    Ok(Json(json!({"Warnings": []})))
}
