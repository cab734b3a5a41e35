//! `POST /build`, dockerd's legacy builder endpoint (what the docker CLI uses when no
//! buildx is installed, and docker-py's `images.build`): the context arrives as a
//! tar, the build runs in kujira's builder, and progress goes out as the legacy
//! builder's JSON stream (`Step N/M : …`, ` ---> id`, `aux.ID`,
//! `Successfully built …`). `POST /build/prune` empties the build cache.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Query as Q, State};
use axum::response::Response;
use axum::Json;
use kujira_build::{BuildError, BuildOptions, DockerfileSource, Event};
use kujira_runtime::NetworkMode;
use serde_json::{json, Value};

use crate::progress::{self, Progress};
use crate::query::{all, flag, Query};
use crate::streams::BodyReader;
use crate::{ApiError, AppState};

/// The legacy builder's messages, from the builder's events.
struct Legacy<'a>(&'a Progress);

impl kujira_build::Progress for Legacy<'_> {
    /// dockerd's legacy builder runs the stages in order; its clients read the
    /// stream that way.
    fn sequential(&self) -> bool {
        true
    }

    fn event(&self, e: Event<'_>) {
        match e {
            Event::Step { step, total, text } => self
                .0
                .send(json!({"stream": format!("Step {step}/{total} : {text}\n")})),
            Event::StepResult { cached: true, .. } => {
                self.0.send(json!({"stream": " ---> Using cache\n"}))
            }
            Event::StepResult { id, .. } => self.0.send(json!({"stream": format!(" ---> {id}\n")})),
            Event::Output { data, .. } => self
                .0
                .send(json!({"stream": String::from_utf8_lossy(data)})),
            _ => {}
        }
    }
}

/// A JSON object query value (`buildargs`, `labels`).
fn json_map(q: &Query, key: &str) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(v) => serde_json::from_str(v)
            .map_err(|e| ApiError::bad_request(format!("invalid {key} value: {e}"))),
    }
}

pub async fn build(
    State(st): State<AppState>,
    Q(q): Q<Query>,
    body: Body,
) -> Result<Response, ApiError> {
    if q.get("version").is_some_and(|v| v == "2") {
        return Err(ApiError::bad_request(
            "BuildKit sessions are not offered; the legacy builder (version=1) runs kujira's builder",
        ));
    }
    if let Some(r) = q.get("remote").filter(|r| !r.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "remote build contexts are not supported: {r}"
        )));
    }
    let network = match q.get("networkmode").map(String::as_str) {
        None | Some("") | Some("default") | Some("bridge") => NetworkMode::Private,
        Some("none") => NetworkMode::None,
        Some("host") => NetworkMode::Host,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "network mode \"{other}\" is not supported for builds"
            )))
        }
    };
    let dockerfile = q
        .get("dockerfile")
        .filter(|d| !d.is_empty())
        .cloned()
        .unwrap_or_else(|| "Dockerfile".into());
    let build_args = json_map(&q, "buildargs")?.into_iter().collect();
    let labels = json_map(&q, "labels")?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    let quiet = flag(&q, "q");
    let mut opts = BuildOptions {
        tags: all(&q, "t"),
        target: q.get("target").filter(|t| !t.is_empty()).cloned(),
        build_args,
        no_cache: flag(&q, "nocache"),
        pull: flag(&q, "pull"),
        platform: q.get("platform").filter(|p| !p.is_empty()).cloned(),
        labels,
        network,
        ..BuildOptions::default()
    };
    let reader = BodyReader::new(body);
    progress::stream(&st, move |e, p| {
        let dir = tempfile::Builder::new()
            .prefix("kujira-build-context-")
            .tempdir()
            .map_err(|err| ApiError::server(format!("creating the context directory: {err}")))?;
        kujira_build::context::unpack_tar(reader, dir.path()).map_err(|err| {
            ApiError::bad_request(format!("failed to read the build context: {err}"))
        })?;
        opts.context = dir.path().to_path_buf();
        // `-f` outside the context comes as a path inside the tar too.
        opts.dockerfile = DockerfileSource::Path(dockerfile.trim_start_matches("./").into());
        let legacy = Legacy(p);
        let quiet_sink = kujira_build::Quiet;
        let sink: &dyn kujira_build::Progress = if quiet { &quiet_sink } else { &legacy };
        match kujira_build::build(e, &opts, sink) {
            Ok(built) => {
                p.send(json!({"aux": {"ID": built.id.to_string()}}));
                if quiet {
                    // What the docker CLI prints for `-q`: dockerd's quiet stream.
                    p.send(json!({"stream": format!("{}\n", built.id)}));
                } else {
                    p.send(json!({"stream": format!("Successfully built {}\n", &built.id.hex()[..12])}));
                    for t in &built.tags {
                        p.send(json!({"stream": format!("Successfully tagged {}\n", t.familiar_string())}));
                    }
                }
                Ok(())
            }
            Err((err, _)) => {
                let code = match &err {
                    BuildError::Step {
                        exit_code: Some(c), ..
                    } => *c,
                    _ => 1,
                };
                let message = legacy_message(&err);
                p.send(json!({
                    "errorDetail": {"code": code, "message": message},
                    "error": message,
                }));
                Ok(())
            }
        }
    })
    .await
}

/// The legacy builder's wording where it differs from BuildKit's.
fn legacy_message(err: &BuildError) -> String {
    match err {
        BuildError::Step {
            message,
            exit_code: Some(code),
            ..
        } => {
            let cmd = message
                .strip_prefix("process \"")
                .and_then(|m| m.split_once("\" did not complete"))
                .map(|(c, _)| c.to_string())
                .unwrap_or_default();
            format!("The command '{cmd}' returned a non-zero code: {code}")
        }
        BuildError::Step { line, message, .. } => format!("Dockerfile:{line}: {message}"),
        other => other.to_string(),
    }
}

/// `POST /build/prune` (`all`, `filters` with `until`).
pub async fn prune(State(st): State<AppState>, Q(q): Q<Query>) -> Result<Json<Value>, ApiError> {
    let mut until = None;
    for f in crate::query::filters(&q)? {
        if let Some(v) = f.strip_prefix("until=") {
            let d = kujira_engine::duration::parse_go_duration(v)
                .ok_or_else(|| ApiError::bad_request(format!("invalid filter until={v}")))?;
            until = Some(chrono::Utc::now().timestamp() - d / 1_000_000_000);
        }
    }
    let opts = kujira_build::prune::PruneOptions {
        all: flag(&q, "all"),
        until,
    };
    st.pool
        .run(move |e| {
            let pruned = kujira_build::prune::prune(e, &opts)?;
            Ok(Json(json!({
                "CachesDeleted": pruned.ids,
                "SpaceReclaimed": pruned.reclaimed,
            })))
        })
        .await
}
