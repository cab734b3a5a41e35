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
pub use tmp::{remove_tree, TmpArea};

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
        for sub in [
            "",
            "blobs/sha256",
            "layers",
            "tmp",
            "run/locks",
            "containers",
            "volumes",
        ] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        let tmp = TmpArea::new(root.join("tmp"))?;
        Ok(Store {
            blobs: BlobStore::new(root.join("blobs/sha256"), tmp.clone()),
            layers: LayerStore::new(root.join("layers"), root.join("run/locks"), tmp.clone()),
            meta: Metadata::open(&root.join("kujira.db"))?,
            tmp,
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A container's own directory: its copy-on-write layer, bundle, log and locks.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// A named volume's data directory.
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.root.join("volumes").join(name).join("_data")
    }

    /// Shared lock held while content is being added: garbage collection takes the
    /// exclusive one, so it never deletes a layer a concurrent load is about to reference.
    pub fn lock_shared(&self) -> Result<StoreLock, StoreError> {
        StoreLock::shared(&self.root.join("run/locks/store.lock"))
    }

    pub fn lock_exclusive(&self) -> Result<StoreLock, StoreError> {
        StoreLock::exclusive(&self.root.join("run/locks/store.lock"))
    }

    pub fn sync(&self) -> Result<(), StoreError> {
        sync_fs(&self.root)
    }

    /// The content stores without the metadata connection, shareable across the
    /// threads that extract layers in parallel (each opens its own connection).
    pub fn content(&self) -> Content<'_> {
        Content {
            root: &self.root,
            blobs: &self.blobs,
            layers: &self.layers,
        }
    }
}

/// Blobs and layers of one store, `Sync`.
#[derive(Clone, Copy)]
pub struct Content<'a> {
    pub root: &'a Path,
    pub blobs: &'a BlobStore,
    pub layers: &'a LayerStore,
}

impl Content<'_> {
    /// A new metadata connection to the same store.
    pub fn metadata(&self) -> Result<Metadata, StoreError> {
        Metadata::open(&self.root.join("kujira.db"))
    }

    pub fn sync(&self) -> Result<(), StoreError> {
        sync_fs(self.root)
    }
}

/// Flushes everything written to the store's filesystem so far. One `syncfs` is far
/// cheaper than an fsync per extracted file and gives the same guarantee at the point
/// that matters: right before metadata makes new content visible.
fn sync_fs(root: &Path) -> Result<(), StoreError> {
    let dir = fs::File::open(root).map_err(|e| StoreError::io(root, e))?;
    nix::unistd::syncfs(&dir).map_err(|e| StoreError::io(root, e.into()))
}
