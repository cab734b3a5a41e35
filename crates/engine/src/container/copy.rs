//! `cp` between a container and the host, through tar streams as Docker's is. Paths
//! inside the container resolve against its own root (`openat2` with
//! `RESOLVE_IN_ROOT`), so a symlink in the container can never point the copy at the
//! host. A running container is reached through `/proc/<pid>/root` (its volumes
//! included); a stopped one through its overlay, mounted for the copy.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};

use super::Container;
use crate::{Engine, EngineError};

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(msg.into())
}

/// The container's root for the length of a copy.
pub(crate) struct Root {
    fd: OwnedFd,
    unmount: Option<kujira_runtime::Bundle>,
}

impl Drop for Root {
    fn drop(&mut self) {
        if let Some(b) = self.unmount.take() {
            let _ = b.unmount();
        }
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd, EngineError> {
    rfs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EngineError::io(format!("opening {}", path.display()), e.into()))
}

/// `/proc/self/fd/N`: a path naming exactly the file behind `fd`.
fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

impl Root {
    /// Resolves `inner` inside the root; the last component is not followed.
    pub(crate) fn open(&self, inner: &str, extra: OFlags) -> Result<OwnedFd, EngineError> {
        let rel = inner.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        rfs::openat2(
            &self.fd,
            rel,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC | extra,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| {
            if e == rustix::io::Errno::NOENT {
                bad(format!("Could not find the file {inner} in container"))
            } else {
                EngineError::io(format!("resolving {inner} in the container"), e.into())
            }
        })
    }
}

/// Copies directory `inner` of the root filesystem at `rootfs` (resolved inside it,
/// symlinks and all) into `dest`, keeping owners and modes: a new volume's first
/// contents. Nothing there, or not a directory, copies nothing.
pub(crate) fn copy_dir_out(rootfs: &Path, inner: &str, dest: &Path) -> Result<(), EngineError> {
    let root = Root {
        fd: open_dir(rootfs)?,
        unmount: None,
    };
    let Ok(dir) = root.open(inner, OFlags::DIRECTORY) else {
        return Ok(());
    };
    let dir = rfs::openat(
        &dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EngineError::io("opening the image's directory", e.into()))?;
    let (reader, writer) =
        std::io::pipe().map_err(|e| EngineError::io("copying into the volume", e))?;
    let dest_owned = dest.to_path_buf();
    let unpacker = std::thread::spawn(move || {
        let mut ar = tar::Archive::new(reader);
        ar.set_preserve_permissions(true);
        ar.set_preserve_ownerships(true);
        ar.set_overwrite(true);
        ar.unpack(&dest_owned)
    });
    let packed = (|| -> std::io::Result<()> {
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(false);
        b.append_dir_all(".", fd_path(&dir))?;
        b.into_inner()?.flush()
    })();
    let unpacked = unpacker
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("unpacker panicked")));
    packed
        .and(unpacked)
        .map_err(|e| EngineError::io(format!("copying {inner} into the volume"), e))
}

impl Engine {
    pub(crate) fn copy_root(&self, c: &Container) -> Result<Root, EngineError> {
        if c.is_running() && c.row.state.pid > 0 {
            let fd = open_dir(Path::new(&format!("/proc/{}/root", c.row.state.pid)))?;
            return Ok(Root { fd, unmount: None });
        }
        self.overlay_root(c)
    }

    /// The container's own filesystem (its overlay, without the mounts a running
    /// process sees: volumes, /proc, /dev), mounted for the copy when it is not.
    fn overlay_root(&self, c: &Container) -> Result<Root, EngineError> {
        let paths = self.container_paths(c.id());
        let was_mounted = kujira_runtime::bundle::is_mountpoint(&paths.rootfs());
        let bundle = self.mount_rootfs(c, &paths)?;
        let fd = open_dir(bundle.rootfs())?;
        Ok(Root {
            fd,
            unmount: (!was_mounted).then_some(bundle),
        })
    }

    /// Writes a tar of `src` (a path in the container) to `out`, its top entry named
    /// as `src`'s last component (or, for `dir/.`, its contents at the top).
    pub fn copy_from_container(
        &self,
        c: &Container,
        src: &str,
        out: impl Write,
    ) -> Result<(), EngineError> {
        let root = self.copy_root(c)?;
        self.copy_tree(&root, src, out)
    }

    /// Writes a tar of `src` resolved inside `root` (see [`Engine::copy_from_container`]).
    fn copy_tree(&self, root: &Root, src: &str, out: impl Write) -> Result<(), EngineError> {
        let contents_only = src.ends_with("/.");
        let fd = root.open(src, OFlags::empty())?;
        let st = rfs::fstat(&fd).map_err(|e| EngineError::io("reading the source", e.into()))?;
        let name = Path::new(src.trim_end_matches("/."))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".into());
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        let ftype = rfs::FileType::from_raw_mode(st.st_mode);
        if ftype == rfs::FileType::Directory {
            // Opened again for reading: an O_PATH descriptor cannot be listed.
            let dir = root.open(src, OFlags::DIRECTORY)?;
            let dir = rfs::openat(
                &dir,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| EngineError::io("opening the source", e.into()))?;
            let prefix = if contents_only {
                PathBuf::from(".")
            } else {
                PathBuf::from(&name)
            };
            builder
                .append_dir_all(&prefix, fd_path(&dir))
                .map_err(|e| EngineError::io(format!("copying {src}"), e))?;
        } else if ftype == rfs::FileType::Symlink {
            let target = rfs::readlinkat(&fd, "", Vec::new())
                .map_err(|e| EngineError::io("reading the link", e.into()))?;
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            h.set_mtime(st.st_mtime as u64);
            builder
                .append_link(&mut h, &name, Path::new(&*target.to_string_lossy()))
                .map_err(|e| EngineError::io(format!("copying {src}"), e))?;
        } else if ftype == rfs::FileType::RegularFile {
            let file = rfs::openat(&fd, "", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .or_else(|_| {
                    rfs::open(
                        fd_path(&fd),
                        OFlags::RDONLY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                })
                .map_err(|e| EngineError::io("opening the source", e.into()))?;
            let mut file = std::fs::File::from(file);
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(st.st_size as u64);
            h.set_mode(st.st_mode & 0o7777);
            h.set_uid(st.st_uid as u64);
            h.set_gid(st.st_gid as u64);
            h.set_mtime(st.st_mtime as u64);
            builder
                .append_data(&mut h, &name, &mut file)
                .map_err(|e| EngineError::io(format!("copying {src}"), e))?;
        } else {
            return Err(bad(format!("{src}: cannot copy a special file")));
        }
        builder
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| EngineError::io("writing the archive", e))?;
        Ok(())
    }

    /// Extracts the tar stream `input` into directory `dest` of the container.
    pub fn copy_into_container(
        &self,
        c: &Container,
        dest: &str,
        input: impl Read,
    ) -> Result<(), EngineError> {
        if c.config.read_only() && c.is_running() {
            return Err(bad("container rootfs is marked read-only"));
        }
        let root = self.copy_root(c)?;
        let dir = root.open(dest, OFlags::DIRECTORY).map_err(|_| {
            bad(format!(
                "Could not find the file {dest} in container {}",
                c.name()
            ))
        })?;
        let real = rfs::openat(
            &dir,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| EngineError::io("opening the destination", e.into()))?;
        // The layer extractor never leaves the directory it is given, whatever the
        // archive says, and replaces what is already there. A `.wh.` name in a copy
        // is a file like any other, not a whiteout.
        kujira_archive::extract_layer(
            input,
            &fd_path(&real),
            &kujira_archive::ExtractOptions {
                whiteouts: false,
                ..Default::default()
            },
        )
        .map_err(|source| EngineError::Layer {
            layer: "the copied archive".into(),
            source,
        })?;
        Ok(())
    }

    /// `export`: the container's whole filesystem as one tar, entries at the top.
    pub fn export_container(&self, c: &Container, out: impl Write) -> Result<(), EngineError> {
        let root = self.overlay_root(c)?;
        self.copy_tree(&root, "/.", out)
    }

    /// Where a copy into the container lands: `(directory, name)` by Docker's rules —
    /// into `dest` when it is a directory, else as `dest` itself.
    pub fn copy_target(
        &self,
        c: &Container,
        dest: &str,
    ) -> Result<(String, Option<String>), EngineError> {
        let root = self.copy_root(c)?;
        if dest.ends_with('/') || root.open(dest, OFlags::DIRECTORY).is_ok() {
            return Ok((dest.to_string(), None));
        }
        let p = Path::new(dest);
        let parent = p
            .parent()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into());
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        root.open(&parent, OFlags::DIRECTORY).map_err(|_| {
            bad(format!(
                "Could not find the file {parent} in container {}",
                c.name()
            ))
        })?;
        Ok((
            if parent.is_empty() {
                "/".into()
            } else {
                parent
            },
            name,
        ))
    }
}
