//! kujira's embedded store: three stores side by side, as containerd keeps them —
//! content-addressed blobs ([`blobs`]), extracted layer directories keyed by chain ID
//! ([`layers`]) and the SQLite metadata that names and references them ([`metadata`]).
//!
//! Crash safety comes from ordering: content is written under a temporary name,
//! flushed (`syncfs`) and renamed into place *before* the metadata transaction that
//! makes it visible commits. A crash therefore leaves at worst unreferenced content,
//! which [`Store::check`] reports and garbage collection removes.

pub mod blobs;
pub mod check;
pub mod digest;
mod error;
pub mod gc;
pub mod layers;
pub mod lock;
pub mod metadata;
pub mod tmp;

use std::fs;
use std::path::{Path, PathBuf};

pub use blobs::BlobStore;
pub use digest::{chain_ids, Digest, DigestReader, DigestWriter};
pub use error::StoreError;
pub use layers::LayerStore;
pub use lock::StoreLock;
pub use metadata::Metadata;
pub use tmp::TmpArea;

/// An open store rooted at one directory (default `/var/lib/kujira`).
pub struct Store {
    root: PathBuf,
    pub blobs: BlobStore,
    pub layers: LayerStore,
    pub meta: Metadata,
    pub tmp: TmpArea,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for sub in ["", "blobs/sha256", "layers", "tmp", "locks"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        let tmp = TmpArea::new(root.join("tmp"))?;
        Ok(Store {
            blobs: BlobStore::new(root.join("blobs/sha256"), tmp.clone()),
            layers: LayerStore::new(root.join("layers"), root.join("locks"), tmp.clone()),
            meta: Metadata::open(&root.join("kujira.db"))?,
            tmp,
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Shared lock held while content is being added: garbage collection takes the
    /// exclusive one, so it never deletes a layer a concurrent load is about to reference.
    pub fn lock_shared(&self) -> Result<StoreLock, StoreError> {
        StoreLock::shared(&self.root.join("locks/store.lock"))
    }

    pub fn lock_exclusive(&self) -> Result<StoreLock, StoreError> {
        StoreLock::exclusive(&self.root.join("locks/store.lock"))
    }

    /// Flushes everything written to the store's filesystem so far. One `syncfs` is far
    /// cheaper than an fsync per extracted file and gives the same guarantee at the point
    /// that matters: right before metadata makes new content visible.
    pub fn sync(&self) -> Result<(), StoreError> {
        let dir = fs::File::open(&self.root).map_err(|e| StoreError::io(&self.root, e))?;
        nix::unistd::syncfs(&dir).map_err(|e| StoreError::io(&self.root, e.into()))
    }
}
