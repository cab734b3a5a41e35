//! `COPY`/`ADD` into a step's mounted rootfs, with Docker's rules: a directory's
//! contents (not the directory) are copied; a file goes to `dest/NAME` when `dest`
//! ends with `/` or is a directory, else to `dest`; context files are owned by root
//! unless `--chown` says otherwise, files from another stage keep their owners;
//! modes and mtimes are kept, `--chmod` overrides the mode.

use std::io::Read;
use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::rootfs;

/// One entry of a source: its path under the source (`""` is the source itself),
/// where it is on the host, and what it is.
pub struct SourceEntry {
    pub rel: String,
    pub host: PathBuf,
    pub meta: std::fs::Metadata,
}

/// One source: a tree, or bytes (a heredoc, a download).
pub enum Source {
    Tree {
        name: String,
        entries: Vec<SourceEntry>,
        /// An `ADD` of a local archive: extract it rather than copy it.
        extract: bool,
    },
    Bytes {
        name: String,
        data: Vec<u8>,
        mode: u32,
        mtime: Option<i64>,
    },
}

pub struct Target {
    /// Absolute path in the container.
    pub dest: String,
    /// `--chown`, resolved.
    pub owner: Option<(u32, u32)>,
    /// `--chmod`.
    pub mode: Option<u32>,
    /// Keep the source's owners (`--from`); else root's.
    pub keep_owner: bool,
    /// A layer of this same step's last run: a file found there unchanged (same
    /// bytes, mode, owner and mtime) is hard-linked rather than written anew.
    pub link_from: Option<PathBuf>,
}

/// A parent directory of the destination as the image has it, to be made in the
/// step's upper directory as overlayfs's copy-up would.
pub struct Parent {
    path: String,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// When the destination is not in the image (nothing there, no symlink on the way
/// to it) and every source is a tree of plain entries, nothing written can shadow
/// or replace anything below: the copy can go straight into the step's upper
/// directory. Returns the destination's existing parents for that (from `root`, the
/// merged view), or `None` when the copy must go through the overlay.
pub fn direct_parents(root: &Path, sources: &[Source], t: &Target) -> Option<Vec<Parent>> {
    let extracting = sources
        .iter()
        .any(|s| matches!(s, Source::Tree { extract: true, .. }));
    if extracting || t.dest.trim_matches('/').is_empty() {
        return None;
    }
    let dest = t.dest.trim_end_matches('/');
    if std::fs::symlink_metadata(root.join(dest.trim_start_matches('/'))).is_ok() {
        return None;
    }
    let mut parents = Vec::new();
    let mut at = String::new();
    let parts: Vec<&str> = dest.split('/').filter(|p| !p.is_empty()).collect();
    for part in &parts[..parts.len() - 1] {
        at.push('/');
        at.push_str(part);
        match std::fs::symlink_metadata(root.join(at.trim_start_matches('/'))) {
            Ok(m) if m.is_dir() => parents.push(Parent {
                path: at.clone(),
                mode: m.permissions().mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
            }),
            Ok(_) => return None,
            Err(_) => break,
        }
    }
    Some(parents)
}

/// Makes `parents` in `upper` with the image's modes and owners.
pub fn make_parents(upper: &Path, parents: &[Parent]) -> Result<(), String> {
    for p in parents {
        let host = upper.join(p.path.trim_start_matches('/'));
        if std::fs::symlink_metadata(&host).is_err() {
            std::fs::create_dir(&host).map_err(|e| err(&p.path, e))?;
        }
        lchown(&host, Some(p.uid), Some(p.gid)).map_err(|e| err(&p.path, e))?;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(p.mode))
            .map_err(|e| err(&p.path, e))?;
    }
    Ok(())
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// Copies `sources` into `root` as `t` says.
pub fn apply(root: &Path, sources: &[Source], t: &Target) -> Result<(), String> {
    let dest_dir_wanted = t.dest.ends_with('/') || sources.len() > 1;
    let dest_host = rootfs::resolve(root, &t.dest, true).map_err(|e| err(&t.dest, e))?;
    let dest_is_dir = dest_dir_wanted || dest_host.is_dir();
    for s in sources {
        match s {
            Source::Bytes {
                name,
                data,
                mode,
                mtime,
            } => {
                let path = if dest_is_dir {
                    format!("{}/{name}", t.dest.trim_end_matches('/'))
                } else {
                    t.dest.clone()
                };
                let host = place(root, &path)?;
                std::fs::write(&host, data).map_err(|e| err(&path, e))?;
                finish(
                    &host,
                    t.mode.unwrap_or(*mode),
                    t.owner.unwrap_or((0, 0)),
                    *mtime,
                    &path,
                )?;
            }
            Source::Tree {
                name,
                entries,
                extract,
            } => {
                let Some(top) = entries.first() else { continue };
                if *extract && top.meta.is_file() && is_archive(&top.host) {
                    let dir =
                        rootfs::mkdir_all(root, &t.dest, t.owner).map_err(|e| err(&t.dest, e))?;
                    std::fs::File::open(&top.host)
                        .and_then(|f| crate::context::unpack_tar(f, &dir))
                        .map_err(|e| err(name, e))?;
                    continue;
                }
                let base = if top.meta.is_dir() || !dest_is_dir {
                    t.dest.trim_end_matches('/').to_string()
                } else {
                    format!("{}/{name}", t.dest.trim_end_matches('/'))
                };
                let base = if base.is_empty() {
                    "/".to_string()
                } else {
                    base
                };
                let mut dirs = Dirs::default();
                for e in entries {
                    let path = if e.rel.is_empty() {
                        base.clone()
                    } else {
                        format!("{}/{}", base.trim_end_matches('/'), e.rel)
                    };
                    copy_entry(root, &mut dirs, e, &path, t)?;
                }
            }
        }
    }
    Ok(())
}

/// The host path for container path `path`, its parent made.
fn place(root: &Path, path: &str) -> Result<PathBuf, String> {
    let parent = Path::new(path)
        .parent()
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_else(|| "/".into());
    rootfs::mkdir_all(root, &parent, None).map_err(|e| err(&parent, e))?;
    rootfs::resolve(root, path, false).map_err(|e| err(path, e))
}

fn finish(
    host: &Path,
    mode: u32,
    owner: (u32, u32),
    mtime: Option<i64>,
    path: &str,
) -> Result<(), String> {
    lchown(host, Some(owner.0), Some(owner.1)).map_err(|e| err(path, e))?;
    std::fs::set_permissions(host, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| err(path, e))?;
    if let Some(t) = mtime {
        set_mtime(host, t, 0, false).map_err(|e| err(path, e))?;
    }
    Ok(())
}

fn set_mtime(host: &Path, secs: i64, nanos: i64, nofollow: bool) -> std::io::Result<()> {
    use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD};
    let ts = Timespec {
        tv_sec: secs,
        tv_nsec: nanos as _,
    };
    let flags = if nofollow {
        AtFlags::SYMLINK_NOFOLLOW
    } else {
        AtFlags::empty()
    };
    utimensat(
        CWD,
        host,
        &Timestamps {
            last_access: ts,
            last_modification: ts,
        },
        flags,
    )
    .map_err(std::io::Error::from)
}

/// Directories of the destination already resolved (container path → host path),
/// so that a tree of thousands of files resolves each directory once, not each
/// file's every component.
#[derive(Default)]
struct Dirs(std::collections::HashMap<String, PathBuf>);

impl Dirs {
    /// The host path for container path `path`: its parent resolved inside the
    /// rootfs (and made) once, the last component joined as is — never followed,
    /// since what is there gets replaced.
    fn host_for(&mut self, root: &Path, path: &str) -> Result<PathBuf, String> {
        let (parent, name) = match path.trim_end_matches('/').rsplit_once('/') {
            Some(("", n)) => ("/", n),
            Some((p, n)) => (p, n),
            None => ("/", path),
        };
        let host_parent = match self.0.get(parent) {
            Some(h) => h.clone(),
            None => {
                let h = rootfs::mkdir_all(root, parent, None).map_err(|e| err(parent, e))?;
                self.0.insert(parent.to_string(), h.clone());
                h
            }
        };
        Ok(host_parent.join(name))
    }
}

fn copy_entry(
    root: &Path,
    dirs: &mut Dirs,
    e: &SourceEntry,
    path: &str,
    t: &Target,
) -> Result<(), String> {
    let owner = t.owner.unwrap_or(if t.keep_owner {
        (e.meta.uid(), e.meta.gid())
    } else {
        (0, 0)
    });
    let ft = e.meta.file_type();
    let mode = t.mode.unwrap_or(e.meta.permissions().mode() & 0o7777);
    if ft.is_dir() {
        let mut host = if path == "/" {
            root.to_path_buf()
        } else {
            dirs.host_for(root, path)?
        };
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.is_dir() => {}
            // A link in the image: followed inside the rootfs, as Docker does.
            Ok(m) if m.file_type().is_symlink() => {
                host = rootfs::mkdir_all(root, path, None).map_err(|x| err(path, x))?;
            }
            Ok(_) => {
                std::fs::remove_file(&host).map_err(|x| err(path, x))?;
                std::fs::create_dir(&host).map_err(|x| err(path, x))?;
            }
            Err(_) => std::fs::create_dir(&host).map_err(|x| err(path, x))?,
        }
        lchown(&host, Some(owner.0), Some(owner.1)).map_err(|x| err(path, x))?;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode))
            .map_err(|x| err(path, x))?;
        dirs.0.insert(path.trim_end_matches('/').to_string(), host);
        return Ok(());
    }
    let host = dirs.host_for(root, path)?;
    if let Ok(m) = std::fs::symlink_metadata(&host) {
        if m.is_dir() {
            std::fs::remove_dir_all(&host).map_err(|x| err(path, x))?;
        } else {
            std::fs::remove_file(&host).map_err(|x| err(path, x))?;
        }
    }
    if ft.is_symlink() {
        let target = std::fs::read_link(&e.host).map_err(|x| err(path, x))?;
        std::os::unix::fs::symlink(&target, &host).map_err(|x| err(path, x))?;
        lchown(&host, Some(owner.0), Some(owner.1)).map_err(|x| err(path, x))?;
        return set_mtime(&host, e.meta.mtime(), e.meta.mtime_nsec(), true)
            .map_err(|x| err(path, x));
    }
    if !ft.is_file() {
        // Devices, fifos and sockets in a context are not copied (BuildKit skips them).
        return Ok(());
    }
    if let Some(prev) = &t.link_from {
        let candidate = prev.join(path.trim_start_matches('/'));
        if unchanged(&candidate, &e.host, owner, mode, &e.meta)
            && std::fs::hard_link(&candidate, &host).is_ok()
        {
            return Ok(());
        }
    }
    copy_file(&e.host, &host, owner, mode, &e.meta).map_err(|x| err(path, x))
}

/// Whether `old` (a file of an earlier layer) is what copying `src` would make:
/// same owner, mode, mtime, size and bytes.
fn unchanged(
    old: &Path,
    src: &Path,
    owner: (u32, u32),
    mode: u32,
    meta: &std::fs::Metadata,
) -> bool {
    let Ok(o) = std::fs::symlink_metadata(old) else {
        return false;
    };
    let same_meta = o.is_file()
        && o.len() == meta.len()
        && (o.uid(), o.gid()) == owner
        && o.permissions().mode() & 0o7777 == mode
        && o.mtime() == meta.mtime()
        && o.mtime_nsec() == meta.mtime_nsec();
    same_meta
        && matches!(
            (std::fs::read(old), std::fs::read(src)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// One file's bytes, owner, mode and mtime, all through the open descriptors (the
/// overlay's paths are looked up once).
fn copy_file(
    src: &Path,
    dst: &Path,
    owner: (u32, u32),
    mode: u32,
    meta: &std::fs::Metadata,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut from = std::fs::File::open(src)?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)?;
    // Small files are the rule in a context: one read, one write.
    let mut buf = vec![0u8; (meta.len() as usize).clamp(1, 1 << 20)];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n])?;
    }
    std::os::unix::fs::fchown(&to, Some(owner.0), Some(owner.1))?;
    to.set_permissions(std::fs::Permissions::from_mode(mode))?;
    let ts = rustix::fs::Timespec {
        tv_sec: meta.mtime(),
        tv_nsec: meta.mtime_nsec() as _,
    };
    rustix::fs::futimens(
        &to,
        &rustix::fs::Timestamps {
            last_access: ts,
            last_modification: ts,
        },
    )
    .map_err(std::io::Error::from)
}

/// A tar, plain or gzip'd, as `ADD` extracts (others are copied as files).
fn is_archive(p: &Path) -> bool {
    let mut head = [0u8; 512];
    let Ok(mut f) = std::fs::File::open(p) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) || (n >= 262 && &head[257..262] == b"ustar")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<SourceEntry> {
        let mut out = vec![SourceEntry {
            rel: String::new(),
            host: dir.to_path_buf(),
            meta: std::fs::metadata(dir).unwrap(),
        }];
        for n in ["a", "b"] {
            out.push(SourceEntry {
                rel: n.into(),
                host: dir.join(n),
                meta: std::fs::symlink_metadata(dir.join(n)).unwrap(),
            });
        }
        out
    }

    #[test]
    fn directory_contents_and_files() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a"), "A").unwrap();
        std::os::unix::fs::symlink("a", src.path().join("b")).unwrap();
        let root = tempfile::tempdir().unwrap();
        let t = Target {
            dest: "/app".into(),
            owner: Some((5, 6)),
            mode: None,
            keep_owner: false,
            link_from: None,
        };
        let tree = Source::Tree {
            name: "src".into(),
            entries: entries(src.path()),
            extract: false,
        };
        apply(root.path(), &[tree], &t).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("app/a")).unwrap(),
            "A"
        );
        assert_eq!(
            std::fs::read_link(root.path().join("app/b")).unwrap(),
            Path::new("a")
        );
        assert_eq!(
            std::fs::metadata(root.path().join("app/a")).unwrap().uid(),
            5
        );
        let bytes = Source::Bytes {
            name: "f".into(),
            data: b"hi".to_vec(),
            mode: 0o644,
            mtime: None,
        };
        let t = Target {
            dest: "/etc/".into(),
            owner: None,
            mode: Some(0o600),
            keep_owner: false,
            link_from: None,
        };
        apply(root.path(), &[bytes], &t).unwrap();
        let m = std::fs::metadata(root.path().join("etc/f")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
    }
}
