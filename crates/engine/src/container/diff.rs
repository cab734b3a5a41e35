//! `diff`: what the container changed, read from its upper directory. A whiteout
//! (a 0:0 character device) is a deletion; anything else is a change when a lower
//! layer has the path and an addition when none does.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::Container;
use crate::{Digest, Engine, EngineError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified,
    Added,
    Deleted,
}

impl ChangeKind {
    pub fn letter(&self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }

    /// The Docker API's numbers (0 modified, 1 added, 2 deleted).
    pub fn api_kind(&self) -> u8 {
        match self {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

impl Engine {
    /// The changes, sorted by path.
    pub fn container_changes(
        &self,
        c: &Container,
    ) -> Result<Vec<(ChangeKind, String)>, EngineError> {
        let upper = self.container_paths(c.id()).upper();
        let lowers: Vec<PathBuf> = c
            .config
            .layers
            .iter()
            .filter_map(|l| Digest::parse(l).ok())
            .map(|d| self.store.layers.diff_dir(&d))
            .collect();
        let mut out = Vec::new();
        walk(&upper, Path::new("/"), &lowers, &mut out)?;
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }
}

fn in_lowers(lowers: &[PathBuf], rel: &Path) -> bool {
    let inner = rel.strip_prefix("/").unwrap_or(rel);
    lowers
        .iter()
        .any(|l| std::fs::symlink_metadata(l.join(inner)).is_ok())
}

fn walk(
    dir: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<(ChangeKind, String)>,
) -> Result<(), EngineError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(EngineError::io(format!("reading {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| EngineError::io(format!("reading {}", dir.display()), e))?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
        let child = rel.join(entry.file_name());
        let name = child.to_string_lossy().into_owned();
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push((ChangeKind::Deleted, name));
            continue;
        }
        let kind = if in_lowers(lowers, &child) {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push((kind, name));
        if meta.is_dir() {
            walk(&path, &child, lowers, out)?;
        }
    }
    Ok(())
}
