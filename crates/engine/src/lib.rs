#![recursion_limit = "256"]
//! kujira's engine: the image and container services that the CLI and the
//! Docker API server both call. Neither adapter holds logic the other lacks; they
//! translate flags or HTTP into these calls and format what comes back.

pub mod container;
pub mod duration;
mod error;
pub mod image;
pub mod network;
pub mod system;

use std::path::{Path, PathBuf};

pub use error::EngineError;
pub use kujira_store::{Digest, Store};

/// The engine over one store.
pub struct Engine {
    pub store: Store,
}

/// The default store location, as Docker's `/var/lib/docker`.
pub const DEFAULT_ROOT: &str = "/var/lib/kujira";

impl Engine {
    pub fn open(root: &Path) -> Result<Engine, EngineError> {
        Ok(Engine {
            store: Store::open(root)?,
        })
    }

    pub fn root(&self) -> PathBuf {
        self.store.root().to_path_buf()
    }
}
