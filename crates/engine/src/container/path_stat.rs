//! What dockerd says of a path in a container before an archive copy (the
//! `X-Docker-Container-Path-Stat` header): name, size, Go's file mode bits, mtime
//! and a symlink's target, resolved inside the container's root.

use rustix::fs::{self as rfs, FileType, OFlags};

use super::Container;
use crate::{Engine, EngineError};

#[derive(Debug, Clone, serde::Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode`: permission bits plus its type bits.
    pub mode: u32,
    /// RFC 3339.
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's `os.FileMode` type bits.
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHARDEV: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;

fn go_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    m |= match FileType::from_raw_mode(st_mode) {
        FileType::Directory => GO_DIR,
        FileType::Symlink => GO_SYMLINK,
        FileType::BlockDevice => GO_DEVICE,
        FileType::CharacterDevice => GO_DEVICE | GO_CHARDEV,
        FileType::Fifo => GO_PIPE,
        FileType::Socket => GO_SOCKET,
        _ => 0,
    };
    if st_mode & 0o4000 != 0 {
        m |= GO_SETUID;
    }
    if st_mode & 0o2000 != 0 {
        m |= GO_SETGID;
    }
    if st_mode & 0o1000 != 0 {
        m |= GO_STICKY;
    }
    m
}

impl Engine {
    /// The stat of `path` in `c` (a last symlink is described, not followed).
    pub fn stat_in_container(&self, c: &Container, path: &str) -> Result<PathStat, EngineError> {
        let root = self.copy_root(c)?;
        let fd = root.open(path, OFlags::empty()).map_err(|_| {
            EngineError::NoSuchPath(format!(
                "Could not find the file {path} in container {}",
                c.name()
            ))
        })?;
        let st = rfs::fstat(&fd).map_err(|e| EngineError::io("stat in the container", e.into()))?;
        let link_target = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            rfs::readlinkat(&fd, "", Vec::new())
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let name = std::path::Path::new(path.trim_end_matches('/'))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into());
        let mtime = chrono::DateTime::from_timestamp(st.st_mtime, st.st_mtime_nsec as u32)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_default();
        Ok(PathStat {
            name,
            size: st.st_size,
            mode: go_mode(st.st_mode),
            mtime,
            link_target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes_carry_the_type_bits() {
        assert_eq!(go_mode(0o040755), GO_DIR | 0o755);
        assert_eq!(go_mode(0o100644), 0o644);
        assert_eq!(go_mode(0o120777), GO_SYMLINK | 0o777);
        assert_eq!(go_mode(0o104755), GO_SETUID | 0o755);
    }
}
