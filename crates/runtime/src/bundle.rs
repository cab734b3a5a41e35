//! A bundle directory: `config.json` plus `rootfs/`, an overlay of the image's layers
//! (read-only lowers) and the container's own upper directory (copy-on-write).
//!
//! Mount data is limited to one page. When the absolute lowerdir list would not fit,
//! the bundle gets a directory of short links `l/0`, `l/1`, … (one per lower) and the
//! overlay is mounted by a forked child that `chdir`s into the bundle and names the
//! lowers relatively (`l/0:l/1:…`), which fits about 500 layers, the kernel's own
//! limit on overlay lower layers.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::RuntimeError;

/// A prepared bundle.
#[derive(Debug)]
pub struct Bundle {
    dir: PathBuf,
    rootfs: PathBuf,
}

const LINK_DIR: &str = "l";

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

fn cstring(s: impl AsRef<[u8]>, what: &Path) -> Result<CString, RuntimeError> {
    CString::new(s.as_ref()).map_err(|_| RuntimeError::Mount {
        path: what.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })
}

fn check_overlay_path(p: &Path) -> Result<(), RuntimeError> {
    // overlayfs splits its options on ',' and lowerdir on ':' (escapable, but layer
    // paths of kujira never need it): refuse rather than mis-mount.
    let bytes = p.as_os_str().as_bytes();
    if bytes.iter().any(|b| matches!(b, b',' | b':' | b'\\')) || !p.is_absolute() {
        return Err(RuntimeError::Mount {
            path: p.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "overlay layer paths must be absolute and free of ',', ':' and '\\'",
            ),
        });
    }
    Ok(())
}

impl Bundle {
    /// Writes `dir/config.json` (its `root.path` is `rootfs`) and mounts `dir/rootfs`
    /// as an overlay of `lowers` (topmost first) with `upper` and `work` (which must be
    /// on the same filesystem as `upper`).
    pub fn create(
        dir: &Path,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        spec: &Spec,
    ) -> Result<Bundle, RuntimeError> {
        let bundle = Bundle::mount(dir, lowers, upper, work, false)?;
        if let Err(e) = bundle.write_config(spec) {
            let _ = bundle.unmount();
            return Err(e);
        }
        Ok(bundle)
    }

    /// Writes `config.json` (with `root.path` set to `rootfs`), atomically.
    pub fn write_config(&self, spec: &Spec) -> Result<(), RuntimeError> {
        let config = self.config_path();
        let tmp = self.dir.join("config.json.tmp");
        let mut spec = spec.clone();
        if let Some(root) = spec.root_mut() {
            root.set_path(PathBuf::from("rootfs"));
        }
        spec.save(&tmp)
            .map_err(|e| RuntimeError::Spec(format!("writing {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &config).map_err(|e| RuntimeError::io("writing", &config, e))
    }

    /// Mounts `dir/rootfs` as an overlay of `lowers` (topmost first) with `upper` and
    /// `work`; a rootfs already mounted is left as it is. `volatile`: the overlay
    /// never flushes its upper layer (no sync at unmount), for a container whose
    /// layer is thrown away when it exits (`--rm`); after a crash such a layer is
    /// unusable, which for a thrown-away layer does not matter.
    pub fn mount(
        dir: &Path,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        volatile: bool,
    ) -> Result<Bundle, RuntimeError> {
        if lowers.is_empty() {
            return Err(RuntimeError::InvalidOption {
                what: "bundle",
                reason: "an overlay needs at least one lower layer".into(),
            });
        }
        for p in lowers.iter().map(PathBuf::as_path).chain([upper, work]) {
            check_overlay_path(p)?;
        }
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&rootfs).map_err(|e| RuntimeError::io("creating", &rootfs, e))?;
        for d in [upper, work] {
            std::fs::create_dir_all(d).map_err(|e| RuntimeError::io("creating", d, e))?;
        }
        let bundle = Bundle {
            dir: dir.to_path_buf(),
            rootfs,
        };
        if is_mountpoint(&bundle.rootfs) {
            return Ok(bundle);
        }
        let rootfs = &bundle.rootfs;
        let join = |ls: Vec<String>| ls.join(":");
        let absolute = join(lowers.iter().map(|l| l.display().to_string()).collect());
        let mut tail = format!(",upperdir={},workdir={}", upper.display(), work.display());
        if volatile {
            // A volatile mount leaves this marker and the kernel refuses the next
            // mount while it is there. The layer is one kujira itself unmounted (a
            // container created, unmounted, then started); being thrown away at
            // exit, a crash in between costs nothing worth keeping.
            let _ = std::fs::remove_dir_all(work.join("work").join("incompat"));
            tail.push_str(",volatile");
        }
        let data = format!("lowerdir={absolute}{tail}");
        if data.len() < page_size() {
            mount_overlay(rootfs, &data, None)?;
        } else {
            let links = dir.join(LINK_DIR);
            let _ = std::fs::remove_dir_all(&links);
            std::fs::create_dir(&links).map_err(|e| RuntimeError::io("creating", &links, e))?;
            let mut relative = Vec::with_capacity(lowers.len());
            for (n, lower) in lowers.iter().enumerate() {
                let link = links.join(n.to_string());
                std::os::unix::fs::symlink(lower, &link)
                    .map_err(|e| RuntimeError::io("linking", &link, e))?;
                relative.push(format!("{LINK_DIR}/{n}"));
            }
            let data = format!("lowerdir={}{tail}", join(relative));
            if data.len() >= page_size() {
                return Err(RuntimeError::Mount {
                    path: rootfs.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "{} layers do not fit in one page of overlay options",
                            lowers.len()
                        ),
                    ),
                });
            }
            mount_overlay(rootfs, &data, Some(dir))?;
        }
        Ok(bundle)
    }

    /// A bundle that already exists (for example after the CLI re-executes itself).
    pub fn open(dir: &Path) -> Bundle {
        Bundle {
            dir: dir.to_path_buf(),
            rootfs: dir.join("rootfs"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Unmounts the rootfs; not being mounted is fine.
    pub fn unmount(&self) -> Result<(), RuntimeError> {
        let target = cstring(self.rootfs.as_os_str().as_bytes(), &self.rootfs)?;
        // SAFETY: a valid NUL-terminated path.
        let rc = unsafe { libc::umount2(target.as_ptr(), 0) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOENT) => Ok(()),
            Some(libc::EBUSY) => {
                // Something still holds it (a straggling process): detach it lazily.
                // SAFETY: as above.
                if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } == 0 {
                    Ok(())
                } else {
                    Err(RuntimeError::io(
                        "unmounting",
                        &self.rootfs,
                        std::io::Error::last_os_error(),
                    ))
                }
            }
            _ => Err(RuntimeError::io("unmounting", &self.rootfs, err)),
        }
    }

    /// Unmounts and deletes the bundle directory (never the layers or the upper dir,
    /// which live elsewhere). Refuses to delete while the rootfs is still mounted.
    pub fn remove(self) -> Result<(), RuntimeError> {
        self.unmount()?;
        if is_mountpoint(&self.rootfs) {
            return Err(RuntimeError::io(
                "removing",
                &self.dir,
                std::io::Error::other("the rootfs is still mounted"),
            ));
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RuntimeError::io("removing", &self.dir, e)),
        }
    }
}

/// Whether `path` is a mount point (its device differs from its parent's).
pub fn is_mountpoint(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(me), Some(parent)) = (std::fs::metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != me.dev())
}

/// Mounts an overlay at `target`; with `cwd`, in a forked child that first changes
/// into `cwd` (so relative layer paths resolve there) without touching the caller's
/// working directory, which the other threads share.
fn mount_overlay(target: &Path, data: &str, cwd: Option<&Path>) -> Result<(), RuntimeError> {
    let c_target = cstring(target.as_os_str().as_bytes(), target)?;
    let c_data = cstring(data, target)?;
    let c_type = c"overlay";
    let fail = |source| RuntimeError::Mount {
        path: target.to_path_buf(),
        source,
    };
    let Some(cwd) = cwd else {
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                c_type.as_ptr(),
                c_target.as_ptr(),
                c_type.as_ptr(),
                0,
                c_data.as_ptr().cast(),
            )
        };
        return if rc == 0 {
            Ok(())
        } else {
            Err(fail(std::io::Error::last_os_error()))
        };
    };
    let c_cwd = cstring(cwd.as_os_str().as_bytes(), cwd)?;
    // SAFETY: the child only makes async-signal-safe system calls on memory prepared
    // before the fork, then exits with the errno.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    if pid == 0 {
        unsafe {
            if libc::chdir(c_cwd.as_ptr()) != 0 {
                libc::_exit(*libc::__errno_location());
            }
            let rc = libc::mount(
                c_type.as_ptr(),
                c_target.as_ptr(),
                c_type.as_ptr(),
                0,
                c_data.as_ptr().cast(),
            );
            libc::_exit(if rc == 0 {
                0
            } else {
                *libc::__errno_location()
            });
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(fail(err));
        }
    }
    match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
        (true, 0) => Ok(()),
        (true, errno) => Err(fail(std::io::Error::from_raw_os_error(errno))),
        _ => Err(fail(std::io::Error::other("the mounting child died"))),
    }
}
