//! Safe path resolution beneath the layer root.
//!
//! Entry names are cleaned lexically (leading '/' dropped as Docker does,
//! `..` that would climb out refused), then opened component by component
//! relative to a directory fd of the layer root, never following a symlink:
//! an earlier entry may have planted `a -> /` precisely so that `a/etc/passwd`
//! lands on the host. `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` does
//! the walk in one syscall; the manual walk is the fallback, and also what
//! creates missing parents and names the culprit when something is in the
//! way.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Longest entry name accepted. Docker joins names onto the destination and
/// the kernel refuses paths past PATH_MAX, so nothing real is longer; the cap
/// also bounds directory depth, which keeps removal and walks cheap.
pub(crate) const MAX_NAME: usize = 4095;

/// Mode of parent directories the archive does not list (Docker's choice).
const IMPLIED_DIR_MODE: u32 = 0o755;

static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Lexically normalises an entry name into `out` ("a/b/c", empty for the
/// root). Returns false if a `..` climbs above the root.
pub(crate) fn clean_into(raw: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if out.is_empty() {
                    return false;
                }
                let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(cut);
            }
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(comp);
            }
        }
    }
    true
}

/// Splits a clean path into (parent, last component).
pub(crate) fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// Why a directory path could not be opened.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// The prefix ending at this index is a symlink.
    Symlink(usize),
    /// The prefix ending at this index exists but is not a directory.
    NotDir(usize),
    /// The prefix ending at this index does not exist.
    Missing(usize),
    Io(Errno),
}

const WALK: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Opens directory `path` (clean, relative) beneath `base` with `flags`
/// (which must include O_DIRECTORY), following no symlink anywhere.
pub(crate) fn open_beneath(
    base: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
) -> Result<OwnedFd, ResolveError> {
    open_or_create(base, path, flags, false)
}

/// [`open_beneath`], creating missing directories (mode 0755) when `create`.
fn open_or_create(
    base: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
    create: bool,
) -> Result<OwnedFd, ResolveError> {
    let flags = flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if path.is_empty() {
        return rfs::openat(base, c".", flags, Mode::empty()).map_err(ResolveError::Io);
    }
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rfs::openat2(base, path, flags, Mode::empty(), resolve) {
            Ok(fd) => return Ok(fd),
            // Kernels before 5.6, or seccomp filters that do not know it.
            Err(Errno::NOSYS) | Err(Errno::PERM) => NO_OPENAT2.store(true, Ordering::Relaxed),
            // Anything else gets the slow walk, which says precisely what is wrong.
            Err(_) => {}
        }
    }
    walk(base, path, flags, create)
}

/// Component-by-component walk; creates missing directories when `create`.
fn walk(
    base: BorrowedFd<'_>,
    path: &[u8],
    last_flags: OFlags,
    create: bool,
) -> Result<OwnedFd, ResolveError> {
    let mut cur: Option<OwnedFd> = None;
    let mut start = 0;
    while start <= path.len() {
        let end = path[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(path.len(), |i| start + i);
        let comp = &path[start..end];
        let flags = if end == path.len() { last_flags } else { WALK };
        let dir = cur.as_ref().map_or(base, |fd| fd.as_fd());
        let mut created = false;
        let fd = loop {
            match rfs::openat(dir, comp, flags, Mode::empty()) {
                Ok(fd) => break fd,
                Err(Errno::NOENT) if create && !created => {
                    match rfs::mkdirat(dir, comp, Mode::from_raw_mode(IMPLIED_DIR_MODE)) {
                        Ok(()) => {
                            // The umask must not decide the mode of implied dirs.
                            rfs::chmodat(
                                dir,
                                comp,
                                Mode::from_raw_mode(IMPLIED_DIR_MODE),
                                AtFlags::empty(),
                            )
                            .map_err(ResolveError::Io)?;
                        }
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(ResolveError::Io(e)),
                    }
                    created = true;
                }
                Err(Errno::NOENT) => return Err(ResolveError::Missing(end)),
                Err(Errno::NOTDIR) | Err(Errno::LOOP) => {
                    return Err(match rfs::statat(dir, comp, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                            ResolveError::Symlink(end)
                        }
                        Ok(_) => ResolveError::NotDir(end),
                        Err(e) => ResolveError::Io(e),
                    });
                }
                Err(e) => return Err(ResolveError::Io(e)),
            }
        };
        cur = Some(fd);
        start = end + 1;
    }
    cur.ok_or(ResolveError::Io(Errno::INVAL))
}

/// Directory handles for extraction, with a one-entry cache: tar streams
/// list siblings together, so most entries share the previous parent.
pub(crate) struct Resolver {
    root: Rc<OwnedFd>,
    cached_path: Vec<u8>,
    cached: Option<Rc<OwnedFd>>,
}

impl Resolver {
    pub(crate) fn new(root: OwnedFd) -> Self {
        Resolver {
            root: Rc::new(root),
            cached_path: Vec::new(),
            cached: None,
        }
    }

    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Opens directory `path`, creating missing components.
    pub(crate) fn dir(&mut self, path: &[u8]) -> Result<Rc<OwnedFd>, ResolveError> {
        if path.is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(fd) = &self.cached {
            if self.cached_path == path {
                return Ok(fd.clone());
            }
        }
        let fd = open_or_create(self.root.as_fd(), path, OFlags::PATH, true)?;
        let fd = Rc::new(fd);
        self.remember(path, fd.clone());
        Ok(fd)
    }

    /// Records `fd` as the directory at `path` (e.g. one just created by a
    /// directory entry, whose children usually follow).
    pub(crate) fn remember(&mut self, path: &[u8], fd: Rc<OwnedFd>) {
        self.cached_path.clear();
        self.cached_path.extend_from_slice(path);
        self.cached = Some(fd);
    }

    /// Must be called whenever a directory is removed: the cached fd could
    /// be that directory or inside it.
    pub(crate) fn forget(&mut self) {
        self.cached = None;
    }
}

/// Removes `name` in `parent`, recursively if it is a directory, without
/// following symlinks and holding at most two fds at a time: depth is bounded
/// only by [`MAX_NAME`], which is far more than the fd limit.
pub(crate) fn remove_all(parent: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    let st = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return rfs::unlinkat(parent, name, AtFlags::empty());
    }
    let mut rel = name.to_vec();
    loop {
        let dir = open_beneath(parent, &rel, OFlags::RDONLY).map_err(|e| match e {
            ResolveError::Io(e) => e,
            _ => Errno::NOTDIR,
        })?;
        match empty_dir(&dir)? {
            Some(sub) => {
                rel.push(b'/');
                rel.extend_from_slice(&sub);
            }
            None => {
                drop(dir);
                let (up, last) = split_parent(&rel);
                if up.is_empty() {
                    return rfs::unlinkat(parent, last, AtFlags::REMOVEDIR);
                }
                let up_fd = open_beneath(parent, up, OFlags::PATH).map_err(|e| match e {
                    ResolveError::Io(e) => e,
                    _ => Errno::NOTDIR,
                })?;
                rfs::unlinkat(&up_fd, last, AtFlags::REMOVEDIR)?;
                let keep = up.len();
                rel.truncate(keep);
            }
        }
    }
}

/// Unlinks every non-directory in `dir`; returns the name of a remaining
/// subdirectory, if any.
fn empty_dir(dir: &OwnedFd) -> Result<Option<Vec<u8>>, Errno> {
    let mut entries = rfs::Dir::read_from(dir)?;
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => {
                let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                FileType::from_raw_mode(st.st_mode) == FileType::Directory
            }
            _ => false,
        };
        if is_dir {
            return Ok(Some(name.to_vec()));
        }
        rfs::unlinkat(dir, name, AtFlags::empty())?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn clean(raw: &str) -> Option<String> {
        let mut out = Vec::new();
        clean_into(raw.as_bytes(), &mut out).then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("/etc/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(clean("./a//b/./c/").as_deref(), Some("a/b/c"));
        assert_eq!(clean("a/b/../c").as_deref(), Some("a/c"));
        assert_eq!(clean("./").as_deref(), Some(""));
        assert_eq!(clean("a/.."), Some(String::new()));
        assert_eq!(clean("a/../.."), None);
        assert_eq!(clean("../x"), None);
        assert_eq!(clean("/.."), None);
        assert_eq!(split_parent(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split_parent(b"c"), (&b""[..], &b"c"[..]));
    }

    fn root(dir: &std::path::Path) -> OwnedFd {
        rfs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    /// The manual walk is what runs where openat2 is unavailable; it must
    /// refuse the same things.
    #[test]
    fn manual_walk_refuses_symlinks_and_creates_parents() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("real/dir")).unwrap();
        fs::write(tmp.path().join("file"), b"").unwrap();
        symlink("/", tmp.path().join("real/link")).unwrap();
        let fd = root(tmp.path());

        assert!(walk(fd.as_fd(), b"real/dir", WALK, false).is_ok());
        assert!(matches!(
            walk(fd.as_fd(), b"real/link/etc", WALK, true),
            Err(ResolveError::Symlink(9))
        ));
        assert!(matches!(
            walk(fd.as_fd(), b"file/x", WALK, true),
            Err(ResolveError::NotDir(4))
        ));
        assert!(matches!(
            walk(fd.as_fd(), b"real/nope/x", WALK, false),
            Err(ResolveError::Missing(9))
        ));
        walk(fd.as_fd(), b"new/a/b", WALK, true).unwrap();
        assert!(tmp.path().join("new/a/b").is_dir());

        // openat2 agrees.
        assert!(matches!(
            open_beneath(fd.as_fd(), b"real/link/etc", OFlags::PATH),
            Err(ResolveError::Symlink(9))
        ));
    }

    #[test]
    fn remove_all_handles_deep_trees_and_does_not_follow_links() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), b"k").unwrap();
        let layer = tmp.path().join("layer");
        fs::create_dir(&layer).unwrap();
        let fd = root(&layer);
        // Deeper than the default fd limit of 1024, within MAX_NAME.
        let deep: Vec<u8> = b"t/".repeat(1500)[..2999].to_vec();
        walk(fd.as_fd(), &deep, WALK, true).unwrap();
        let leaf = walk(fd.as_fd(), &deep, WALK, false).unwrap();
        rfs::symlinkat(outside.as_path(), &leaf, "link").unwrap();
        fs::write(layer.join("t/file"), b"f").unwrap();
        symlink(&outside, layer.join("t/dirlink")).unwrap();

        remove_all(fd.as_fd(), b"t").unwrap();
        assert!(!layer.join("t").exists());
        assert_eq!(fs::read(outside.join("keep")).unwrap(), b"k");
        // Removing something absent is not an error.
        remove_all(fd.as_fd(), b"t").unwrap();
    }
}
