//! The store's scratch area. Each process gets its own directory under `tmp/`, locked
//! for as long as the process lives; whatever a killed process left there is found by
//! its free lock and removed by the next cleanup. Temporary files live on the store's
//! filesystem so that finishing them is a rename.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::{StoreError, StoreLock};

#[derive(Clone)]
pub struct TmpArea {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    mine: OnceLock<(PathBuf, StoreLock)>,
}

impl TmpArea {
    pub fn new(root: PathBuf) -> Result<TmpArea, StoreError> {
        Ok(TmpArea {
            inner: Arc::new(Inner {
                root,
                mine: OnceLock::new(),
            }),
        })
    }

    /// This process's scratch directory, created on first use.
    pub fn dir(&self) -> Result<&Path, StoreError> {
        if let Some((p, _)) = self.inner.mine.get() {
            return Ok(p);
        }
        let name = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        let dir = self.inner.root.join(name);
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let lock = StoreLock::exclusive(&dir.join(".lock"))?;
        let _ = self.inner.mine.set((dir, lock));
        match self.inner.mine.get() {
            Some((p, _)) => Ok(p),
            None => Err(StoreError::Corrupt("scratch directory vanished".into())),
        }
    }

    /// A fresh, unique path inside this process's scratch directory (not created).
    pub fn path(&self, hint: &str) -> Result<PathBuf, StoreError> {
        Ok(self
            .dir()?
            .join(format!("{hint}-{:016x}", rand::random::<u64>())))
    }

    /// Removes scratch directories of processes that are gone. Returns how many.
    pub fn clean_stale(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        let entries = match fs::read_dir(&self.inner.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::io(&self.inner.root, e)),
        };
        let mine = self.inner.mine.get().map(|(p, _)| p.clone());
        for entry in entries.flatten() {
            let path = entry.path();
            if Some(&path) == mine.as_ref() {
                continue;
            }
            if !path.is_dir() {
                let _ = fs::remove_file(&path);
                continue;
            }
            if let Some(_held) = StoreLock::try_exclusive(&path.join(".lock"))? {
                // A killed build leaves its step's overlay mounted here.
                unmount_below(&path);
                remove_tree(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Leftover scratch directories of dead processes (for `system check`).
    pub fn stale(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut out = Vec::new();
        let mine = self.inner.mine.get().map(|(p, _)| p.clone());
        if let Ok(entries) = fs::read_dir(&self.inner.root) {
            for entry in entries.flatten() {
                let path = entry.path();
                if Some(&path) == mine.as_ref() || !path.is_dir() {
                    continue;
                }
                if StoreLock::try_exclusive(&path.join(".lock"))?.is_some() {
                    out.push(path);
                }
            }
        }
        Ok(out)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some((p, _)) = self.mine.get() {
            let _ = remove_tree(p);
        }
    }
}

/// Detaches every mount at or below `dir` (deepest first), so that removing the
/// tree deletes the scratch files and never reaches through a mount.
pub fn unmount_below(dir: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().to_string();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        // mountinfo escapes spaces and the like as octal; scratch paths have none.
        .filter(|p| *p == prefix || p.starts_with(&format!("{prefix}/")))
        .map(str::to_string)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Removes a directory tree, first making directories writable so a layer with
/// read-only directories can still be deleted.
pub fn remove_tree(path: &Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}
