//! Engines for requests. An engine holds one SQLite connection and is not shared
//! between threads; the pool keeps the opened ones so a request costs no open.

use std::path::PathBuf;
use std::sync::Mutex;

use kujira_engine::{Engine, EngineError};

use crate::ApiError;

pub struct EnginePool {
    root: PathBuf,
    idle: Mutex<Vec<Engine>>,
}

/// How many idle engines are kept; more are opened under load and closed after.
const KEEP: usize = 8;

impl EnginePool {
    pub fn new(root: PathBuf) -> EnginePool {
        EnginePool {
            root,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Result<Engine, EngineError> {
        if let Some(e) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(e);
        }
        Engine::open(&self.root)
    }

    fn put(&self, e: Engine) {
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < KEEP {
                v.push(e);
            }
        }
    }

    /// Runs `f` on the container named `id` (404 when there is none).
    pub async fn on_container<T, F>(
        self: &std::sync::Arc<Self>,
        id: String,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Engine, &kujira_engine::container::Container) -> Result<T, ApiError>
            + Send
            + 'static,
    {
        self.run(move |e| {
            let c = e.find_container(&id)?;
            f(e, &c)
        })
        .await
    }

    /// Runs `f` with an engine on a blocking thread.
    pub async fn run<T, F>(self: &std::sync::Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let engine = pool.take()?;
            let out = f(&engine);
            pool.put(engine);
            out
        })
        .await
        .map_err(|e| ApiError::server(format!("request failed: {e}")))?
    }
}
