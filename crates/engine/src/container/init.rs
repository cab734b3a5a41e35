//! The init layer (see [`super::ContainerPaths::init`]): a lower directory, above the
//! image's, holding just the container's mount points. Parent directories take the
//! mode and owner the image gives them, so the merged view looks like the image's.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::EngineError;

/// Creates `points` (absolute paths; `true` for a file) under `init`, with parents
/// shaped after the topmost of `lowers` (top first) that has them.
pub fn build(
    init: &Path,
    lowers: &[PathBuf],
    points: &[(String, bool)],
) -> Result<(), EngineError> {
    let io = |p: &Path, e| EngineError::io(format!("preparing {}", p.display()), e);
    std::fs::create_dir_all(init).map_err(|e| io(init, e))?;
    for (point, is_file) in points {
        let rel: PathBuf = Path::new(point)
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        if rel.as_os_str().is_empty() {
            continue;
        }
        let mut at = PathBuf::new();
        let parts: Vec<_> = rel.components().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let target = init.join(&at);
            let last = i + 1 == parts.len();
            let in_image = lowers
                .iter()
                .find_map(|l| std::fs::symlink_metadata(l.join(&at)).ok());
            if let Some(m) = &in_image {
                // A symlink in the image (say /dev/shm -> /run/shm) is left for the
                // runtime to resolve inside the container; nothing under it here.
                if m.file_type().is_symlink() {
                    break;
                }
                if last && !m.is_dir() && !*is_file {
                    break;
                }
            }
            if std::fs::symlink_metadata(&target).is_ok() {
                continue;
            }
            if last && *is_file {
                std::fs::write(&target, b"").map_err(|e| io(&target, e))?;
                continue;
            }
            std::fs::create_dir(&target).map_err(|e| io(&target, e))?;
            if let Some(m) = in_image {
                let _ = std::fs::set_permissions(
                    &target,
                    std::fs::Permissions::from_mode(m.mode() & 0o7777),
                );
                let _ = std::os::unix::fs::lchown(&target, Some(m.uid()), Some(m.gid()));
            } else {
                let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755));
            }
        }
    }
    Ok(())
}
