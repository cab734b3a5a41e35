//! kujira's builder: a Dockerfile and a context into an image in the store.
//!
//! * [`dockerfile`]: the file parsed into stages of instructions (positions kept),
//!   and BuildKit's variable expansion.
//! * [`context`]: the build context filtered by `.dockerignore`, hashed on demand.
//! * [`plan`]: which stages the target needs, and what each waits for.
//! * [`exec`]: running a stage step by step, each step cached by its content key.
//! * [`progress`]: what a build reports, and BuildKit's plain rendering.
//! * [`prune`]: `builder prune`.
//!
//! `RUN` steps run as engine step containers (the built-in runtime, copy-on-write over
//! the previous step); `COPY`/`ADD`/`WORKDIR` write into the same kind of overlay. A
//! step's upper directory becomes its layer, recorded in the build cache under its key.

pub mod context;
pub mod dockerfile;
mod error;
pub mod exec;
pub mod plan;
pub mod progress;
pub mod prune;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kujira_engine::{Digest, Engine};
use kujira_reference::Reference;
use kujira_runtime::NetworkMode;

pub use error::BuildError;
pub use progress::{Event, Plain, Progress, Quiet, Tty};

/// Where the Dockerfile comes from.
#[derive(Debug, Clone)]
pub enum DockerfileSource {
    /// A path: relative ones are under the context (`-f`'s default `Dockerfile`).
    Path(PathBuf),
    /// The text itself (`-f -`, or a Dockerfile piped as the context).
    Text(String),
}

/// `kujira build`'s options, with Docker's meaning.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The context directory.
    pub context: PathBuf,
    pub dockerfile: DockerfileSource,
    pub tags: Vec<String>,
    pub target: Option<String>,
    /// `--build-arg K=V` (`None`: take K from the environment).
    pub build_args: Vec<(String, Option<String>)>,
    pub no_cache: bool,
    pub pull: bool,
    pub platform: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub network: NetworkMode,
    /// `--secret id=ID,src=PATH`.
    pub secrets: BTreeMap<String, PathBuf>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            context: PathBuf::from("."),
            dockerfile: DockerfileSource::Path(PathBuf::from("Dockerfile")),
            tags: Vec::new(),
            target: None,
            build_args: Vec::new(),
            no_cache: false,
            pull: false,
            platform: None,
            labels: BTreeMap::new(),
            network: NetworkMode::Private,
            secrets: BTreeMap::new(),
        }
    }
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct Built {
    pub id: Digest,
    pub tags: Vec<Reference>,
}

/// Builds the image; the Dockerfile's text comes back with an error so the caller
/// can show the lines it names.
pub fn build(
    engine: &Engine,
    opts: &BuildOptions,
    progress: &dyn Progress,
) -> Result<Built, (BuildError, Option<String>)> {
    let mut text = None;
    let r = build_inner(engine, opts, progress, &mut text);
    r.map_err(|e| (e, text))
}

fn build_inner(
    engine: &Engine,
    opts: &BuildOptions,
    progress: &dyn Progress,
    text_out: &mut Option<String>,
) -> Result<Built, BuildError> {
    let tags = opts
        .tags
        .iter()
        .map(|t| {
            let r = Reference::parse(t).map_err(|e| {
                BuildError::Invalid(format!(
                    "invalid argument \"{t}\" for \"-t, --tag\" flag: {e}"
                ))
            })?;
            if r.digest().is_some() {
                return Err(BuildError::Invalid(format!(
                    "invalid argument \"{t}\" for \"-t, --tag\" flag: a tag cannot hold a digest"
                )));
            }
            Ok(r.or_latest())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let vertices = exec::Vertices::default();
    let (text, name) = read_dockerfile(opts, progress, &vertices)?;
    *text_out = Some(text.clone());
    let df = dockerfile::parse(&text)?;
    let ignore_text = read_ignore(opts, &name, progress, &vertices)?;
    let ctx = context::Context::new(&opts.context, ignore_text.as_deref())?;
    let plan = plan::Plan::new(&df, opts.target.as_deref(), &opts.build_args)?;
    let shared = exec::Shared {
        root: engine.root(),
        opts,
        progress,
        df: &df,
        ctx: &ctx,
        plan: &plan,
        vertices,
        results: Default::default(),
    };
    let final_state = exec::run_stages(&shared)?;
    let final_state = Arc::try_unwrap(final_state).unwrap_or_else(|a| (*a).clone());
    exec::export(&shared, final_state, &tags)
}

/// A `-f` path: relative ones are under the context.
fn dockerfile_path(opts: &BuildOptions, p: &std::path::Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        opts.context.join(p)
    }
}

fn read_dockerfile(
    opts: &BuildOptions,
    progress: &dyn Progress,
    vertices: &exec::Vertices,
) -> Result<(String, String), BuildError> {
    let v = vertices.next();
    let (text, name) = match &opts.dockerfile {
        DockerfileSource::Text(t) => (t.clone(), "Dockerfile".to_string()),
        DockerfileSource::Path(p) => {
            let full = dockerfile_path(opts, p);
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "Dockerfile".into());
            progress.event(Event::Start {
                vertex: v,
                name: &format!("[internal] load build definition from {name}"),
            });
            let text = std::fs::read_to_string(&full).map_err(|e| {
                let msg = if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "failed to read dockerfile: open {}: no such file or directory",
                        full.display()
                    )
                } else {
                    format!("failed to read dockerfile {}: {e}", full.display())
                };
                progress.event(Event::Error {
                    vertex: v,
                    message: &msg,
                });
                BuildError::Invalid(msg)
            })?;
            (text, name)
        }
    };
    if matches!(opts.dockerfile, DockerfileSource::Text(_)) {
        progress.event(Event::Start {
            vertex: v,
            name: "[internal] load build definition from Dockerfile",
        });
    }
    progress.event(Event::Status {
        vertex: v,
        text: &format!("transferring dockerfile: {}B done", text.len()),
    });
    progress.event(Event::Done {
        vertex: v,
        seconds: 0.0,
    });
    Ok((text, name))
}

/// `FILE.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`.
fn read_ignore(
    opts: &BuildOptions,
    dockerfile_name: &str,
    progress: &dyn Progress,
    vertices: &exec::Vertices,
) -> Result<Option<String>, BuildError> {
    let v = vertices.next();
    progress.event(Event::Start {
        vertex: v,
        name: "[internal] load .dockerignore",
    });
    let mut candidates = Vec::new();
    if let DockerfileSource::Path(p) = &opts.dockerfile {
        let full = dockerfile_path(opts, p);
        candidates.push(full.with_file_name(format!("{dockerfile_name}.dockerignore")));
    }
    candidates.push(opts.context.join(".dockerignore"));
    let mut found = None;
    for c in candidates {
        match std::fs::read_to_string(&c) {
            Ok(t) => {
                found = Some(t);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BuildError::io(format!("reading {}", c.display()), e)),
        }
    }
    progress.event(Event::Status {
        vertex: v,
        text: &format!(
            "transferring context: {}B done",
            found.as_ref().map_or(2, |t| t.len())
        ),
    });
    progress.event(Event::Done {
        vertex: v,
        seconds: 0.0,
    });
    Ok(found)
}
