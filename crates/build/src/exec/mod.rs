//! Running the plan: each needed stage on a thread of its own (a stage waits only for
//! the stages it reads from, so independent stages run side by side), each step
//! looked up in the build cache by its key before it runs.
//!
//! A step's key is the hash of its parent's key, the instruction with its arguments
//! expanded, and the content of what it reads (context files, another stage's key, a
//! downloaded file) — never mtimes — so an unchanged rebuild runs nothing and a
//! changed file reruns from the step that copies it.

mod config;
mod copy;
mod rootfs;
mod run;
mod steps;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use kujira_engine::Engine;
use kujira_reference::Reference;
use kujira_store::metadata::NewLayer;
use sha2::{Digest as _, Sha256};

use crate::context::Context;
use crate::dockerfile::Dockerfile;
use crate::plan::Plan;
use crate::progress::{Event, Progress};
use crate::{BuildError, BuildOptions, Built};

pub use config::StageState;

/// Numbers BuildKit's `#N` vertices across the whole build.
#[derive(Default)]
pub struct Vertices(AtomicUsize);

impl Vertices {
    pub fn next(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

type StageResult = Result<Arc<StageState>, String>;

/// What every stage thread shares.
pub struct Shared<'a> {
    /// The store's root: each stage thread opens the engine there (a metadata
    /// connection is not shared between threads).
    pub root: std::path::PathBuf,
    pub opts: &'a BuildOptions,
    pub progress: &'a dyn Progress,
    pub df: &'a Dockerfile,
    pub ctx: &'a Context,
    pub plan: &'a Plan,
    pub vertices: Vertices,
    pub results: (Mutex<HashMap<usize, StageResult>>, Condvar),
}

thread_local! {
    static ENGINE: std::cell::RefCell<Option<(std::path::PathBuf, std::rc::Rc<Engine>)>> =
        const { std::cell::RefCell::new(None) };
}

impl Shared<'_> {
    /// This thread's engine over the build's store (with relaxed durability: see
    /// below).
    pub(crate) fn engine(&self) -> Result<std::rc::Rc<Engine>, BuildError> {
        ENGINE.with(|cell| {
            let mut c = cell.borrow_mut();
            if let Some((root, e)) = c.as_ref() {
                if *root == self.root {
                    return Ok(e.clone());
                }
            }
            let e = Engine::open(&self.root)?;
            // A step's rows (cache records, its layer, use counts) need not be on
            // disk at commit: a lost one is a cache miss, and the image that names a
            // layer is registered by a fully durable transaction after a sync.
            e.store.meta.relax_durability()?;
            let e = std::rc::Rc::new(e);
            *c = Some((self.root.clone(), e.clone()));
            Ok(e)
        })
    }

    /// Waits for stage `i` to finish.
    pub(crate) fn stage_result(&self, i: usize) -> Result<Arc<StageState>, BuildError> {
        let (lock, cv) = &self.results;
        let mut g = lock
            .lock()
            .map_err(|_| BuildError::Invalid("build state poisoned".into()))?;
        loop {
            if let Some(r) = g.get(&i) {
                return r.clone().map_err(|_| {
                    BuildError::Invalid(format!(
                        "stage {} failed",
                        self.df.stages[i].display_name()
                    ))
                });
            }
            g = cv
                .wait(g)
                .map_err(|_| BuildError::Invalid("build state poisoned".into()))?;
        }
    }

    fn publish(&self, i: usize, r: StageResult) {
        let (lock, cv) = &self.results;
        if let Ok(mut g) = lock.lock() {
            g.insert(i, r);
        }
        cv.notify_all();
    }

    /// `SOURCE_DATE_EPOCH` from the build args or the environment.
    pub(crate) fn epoch(&self) -> Option<i64> {
        self.plan
            .build_args
            .get("SOURCE_DATE_EPOCH")
            .cloned()
            .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok())
            .and_then(|v| v.trim().parse().ok())
    }
}

/// A cache key: the parent's and the parts, each length-prefixed so that no two
/// different part lists hash alike.
pub(crate) fn key(parent: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Runs every needed stage and returns the target's final state.
pub fn run_stages(sh: &Shared<'_>) -> Result<Arc<StageState>, BuildError> {
    if sh.progress.sequential() {
        // One stage after the other, in file order (dependencies come first).
        for &i in &sh.plan.needed {
            let state = steps::run_stage(sh, i)?;
            sh.publish(i, Ok(Arc::new(state)));
        }
        return sh.stage_result(sh.plan.target);
    }
    let errors: Mutex<Vec<(usize, BuildError)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for &i in &sh.plan.needed {
            let errors = &errors;
            scope.spawn(move || {
                let r = steps::run_stage(sh, i);
                match r {
                    Ok(state) => sh.publish(i, Ok(Arc::new(state))),
                    Err(e) => {
                        sh.publish(i, Err(e.to_string()));
                        if let Ok(mut g) = errors.lock() {
                            g.push((i, e));
                        }
                    }
                }
            });
        }
    });
    let mut errs = errors.into_inner().unwrap_or_default();
    // The error that caused the others (a stage failing because its dependency did
    // says only "stage X failed"): the earliest stage's.
    errs.sort_by_key(|(i, _)| *i);
    if let Some((_, e)) = errs.into_iter().next() {
        return Err(e);
    }
    sh.stage_result(sh.plan.target)
}

/// Writes the image: the target stage's config with `--label`s, its layers, and the
/// tags; BuildKit's "exporting to image" vertex.
pub fn export(sh: &Shared<'_>, state: StageState, tags: &[Reference]) -> Result<Built, BuildError> {
    let v = sh.vertices.next();
    sh.progress.event(Event::Start {
        vertex: v,
        name: "exporting to image",
    });
    let started = std::time::Instant::now();
    sh.progress.event(Event::Status {
        vertex: v,
        text: "exporting layers done",
    });
    let mut doc = state.config.clone();
    config::finish(&mut doc, &state, &sh.opts.labels, sh.epoch());
    let bytes = serde_json::to_vec(&doc)
        .map_err(|e| BuildError::Invalid(format!("writing the image config: {e}")))?;
    let layers: Vec<NewLayer> = state.layers.clone();
    // Its own engine: the image row is written with full durability.
    let engine = Engine::open(&sh.root)?;
    let registered = engine.register_built(&bytes, layers, tags)?;
    sh.progress.event(Event::Status {
        vertex: v,
        text: &format!("writing image {} done", registered.id),
    });
    for t in &registered.tags {
        sh.progress.event(Event::Status {
            vertex: v,
            text: &format!("naming to {t} done"),
        });
    }
    sh.progress.event(Event::Done {
        vertex: v,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(Built {
        id: registered.id,
        tags: registered.tags,
    })
}

/// The variables an instruction's arguments expand with: the stage's `ENV` first,
/// then its `ARG`s.
pub(crate) fn lookup<'s>(state: &'s StageState) -> impl Fn(&str) -> Option<String> + 's {
    move |k: &str| {
        state
            .env()
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(str::to_string)
            .or_else(|| state.args.get(k).cloned())
    }
}

/// Where a `RUN --mount=type=cache` directory with this id lives.
pub fn cache_mount_dir(store_root: &std::path::Path, id: &str) -> std::path::PathBuf {
    run::cache_dir(store_root, id)
}
