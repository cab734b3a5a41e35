//! Extracted layers, one directory per chain ID (`layers/<hex>/diff`), used directly as
//! overlayfs lower directories. A layer directory appears only complete: it is built in
//! the scratch area and renamed into place, and removed by renaming it away first.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::tmp::remove_tree;
use crate::{Digest, StoreError, StoreLock, TmpArea};

pub struct LayerStore {
    dir: PathBuf,
    locks: PathBuf,
    tmp: TmpArea,
}

impl LayerStore {
    pub(crate) fn new(dir: PathBuf, locks: PathBuf, tmp: TmpArea) -> LayerStore {
        LayerStore { dir, locks, tmp }
    }

    /// The directory holding the layer's files (the overlayfs lower dir).
    pub fn diff_dir(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex()).join("diff")
    }

    /// The layer's tar-split: what regenerates its original tar from `diff/`.
    pub fn split_path(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex()).join("tar-split")
    }

    pub fn exists(&self, chain_id: &Digest) -> bool {
        self.dir.join(chain_id.hex()).is_dir()
    }

    /// Takes the per-layer lock. Whoever holds it decides whether the layer must be
    /// extracted, so two processes needing the same layer extract it once.
    pub fn lock(&self, chain_id: &Digest) -> Result<StoreLock, StoreError> {
        StoreLock::exclusive(&self.locks.join(format!("layer-{}.lock", chain_id.hex())))
    }

    /// Builds the layer by running `fill` on an empty directory in the scratch area,
    /// then renames it into place. Any directory already under that name (left by a
    /// crash before its metadata was written) is replaced. Call with the layer locked.
    pub fn create<T, E>(
        &self,
        chain_id: &Digest,
        fill: impl FnOnce(&Path) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let work = self.tmp.path("layer")?;
        let diff = work.join("diff");
        fs::create_dir_all(&diff).map_err(|e| StoreError::io(&diff, e))?;
        let value = match fill(&diff) {
            Ok(v) => v,
            Err(e) => {
                let _ = remove_tree(&work);
                return Err(e);
            }
        };
        self.install(chain_id, &work)?;
        Ok(value)
    }

    /// Moves a directory built in the scratch area (holding `diff/`) into place as
    /// the layer `chain_id`. Call with the layer locked.
    pub fn install(&self, chain_id: &Digest, work: &Path) -> Result<(), StoreError> {
        self.remove(chain_id)?;
        let dest = self.dir.join(chain_id.hex());
        if let Err(e) = fs::rename(work, &dest) {
            let _ = remove_tree(work);
            return Err(StoreError::io(&dest, e));
        }
        Ok(())
    }

    /// Removes a layer directory: renamed out of sight first, so a crash mid-delete
    /// never leaves a half-empty layer under its name.
    pub fn remove(&self, chain_id: &Digest) -> Result<(), StoreError> {
        let src = self.dir.join(chain_id.hex());
        if !src.exists() {
            return Ok(());
        }
        let away = self.tmp.path("deleted-layer")?;
        fs::rename(&src, &away).map_err(|e| StoreError::io(&src, e))?;
        remove_tree(&away)?;
        Ok(())
    }

    /// Chain IDs of every layer directory present.
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        crate::digest::digests_in(&self.dir)
    }
}

/// Docker's size of a directory tree: the apparent sizes of everything but
/// directories, each hard-linked inode counted once (what `docker images` reports).
pub fn tree_size(root: &Path) -> Result<u64, StoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
            let md = entry
                .metadata()
                .map_err(|e| StoreError::io(&entry.path(), e))?;
            if md.is_dir() {
                stack.push(entry.path());
            } else if md.size() > 0 && seen.insert(md.ino()) {
                total += md.size();
            }
        }
    }
    Ok(total)
}
