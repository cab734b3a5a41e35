//! Creating a layer tarball from a directory (a container's upper directory
//! for `commit`, an extracted layer for `save`).
//!
//! Overlayfs whiteouts are turned back into their OCI spelling, entries are
//! emitted in a deterministic order (names sorted bytewise, each directory
//! before its contents) and owners, modes, mtimes and xattrs are kept. The
//! walk is fd-based and never follows symlinks, because the directory may
//! belong to a container that is still able to change it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use tar::{EntryType, Header};

use crate::digest::HashingWriter;
use crate::meta::Xattrs;
use crate::resolve::{open_beneath, ResolveError};
use crate::whiteout::{self, is_overlay_xattr};
use crate::{ArchiveError, LayerStats};

const OUTPUT_BUFFER: usize = 256 * 1024;
/// What fits in the name and linkname fields of a tar header.
const NAME_FIELD: usize = 100;

/// Writes an uncompressed tar of `dir` to `out` and returns its diff_id,
/// size and entry count (see [`LayerStats`]); `dir` itself is not an entry.
pub fn write_layer<W: Write>(dir: &Path, out: W) -> Result<LayerStats, ArchiveError> {
    write_layer_clamped(dir, out, None)
}

/// [`write_layer`] with every mtime later than `clamp` (seconds) written as `clamp`:
/// `SOURCE_DATE_EPOCH` builds, whose layers are then the same bytes on every
/// rebuild of the same inputs.
pub fn write_layer_clamped<W: Write>(
    dir: &Path,
    out: W,
    clamp: Option<u64>,
) -> Result<LayerStats, ArchiveError> {
    let dir_name = dir.as_os_str().as_encoded_bytes();
    let root = rfs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ArchiveError::fs("open", dir_name, e))?;
    let mut w = Writer {
        builder: tar::Builder::new(BufWriter::with_capacity(
            OUTPUT_BUFFER,
            HashingWriter::new(out),
        )),
        links: HashMap::new(),
        clamp,
        size: 0,
        entries: 0,
        warnings: Vec::new(),
    };
    w.walk(&root)?;
    let buffered = w.builder.into_inner().map_err(ArchiveError::Write)?;
    let hashing = buffered
        .into_inner()
        .map_err(|e| ArchiveError::Write(e.into_error()))?;
    let (diff_id, tar_size) = hashing.finish().map_err(ArchiveError::Write)?;
    Ok(LayerStats {
        diff_id,
        tar_size,
        size: w.size,
        entries: w.entries,
        warnings: w.warnings,
        // Nothing was recorded to rebuild this tar from.
        reproducible: false,
    })
}

struct Writer<W: Write> {
    builder: tar::Builder<BufWriter<HashingWriter<W>>>,
    /// First path seen for each multiply-linked inode.
    links: HashMap<(u64, u64), Vec<u8>>,
    clamp: Option<u64>,
    size: u64,
    entries: u64,
    warnings: Vec<String>,
}

/// A directory being listed: its path and its remaining sorted children.
struct Frame {
    path: Vec<u8>,
    names: std::vec::IntoIter<Vec<u8>>,
}

impl<W: Write> Writer<W> {
    /// Depth-first walk holding one directory fd at a time, so depth is not
    /// limited by the fd limit; a parent is reopened (one openat2) when the
    /// walk climbs back to it.
    fn walk(&mut self, root: &OwnedFd) -> Result<(), ArchiveError> {
        let root_fd = rfs::openat(
            root,
            c".",
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .map_err(|e| ArchiveError::fs("open", b".", e))?;
        if let Some(true) = opaque(root_fd.as_fd()) {
            self.opaque_marker(
                b"",
                &rfs::fstat(&root_fd).map_err(|e| ArchiveError::fs("stat", b".", e))?,
            )?;
        }
        let mut stack = vec![Frame {
            path: Vec::new(),
            names: list(&root_fd, b"")?.into_iter(),
        }];
        let mut cur = root_fd;
        while let Some(frame) = stack.last_mut() {
            let Some(name) = frame.names.next() else {
                stack.pop();
                if let Some(parent) = stack.last() {
                    cur = open_beneath(root.as_fd(), &parent.path, OFlags::RDONLY)
                        .map_err(|e| walk_error(e, &parent.path))?;
                }
                continue;
            };
            let mut path = frame.path.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            let st = match rfs::statat(&cur, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // Deleted while we walk (a running container): nothing to archive.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(ArchiveError::fs("stat", &path, e)),
            };
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                let fd = rfs::openat(
                    &cur,
                    name.as_slice(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| ArchiveError::fs("open", &path, e))?;
                self.directory(fd.as_fd(), &path, &st)?;
                let names = list(&fd, &path)?;
                cur = fd;
                stack.push(Frame {
                    path,
                    names: names.into_iter(),
                });
            } else {
                self.non_directory(cur.as_fd(), &name, &path, &st)?;
            }
        }
        Ok(())
    }

    fn directory(
        &mut self,
        fd: BorrowedFd<'_>,
        path: &[u8],
        st: &Stat,
    ) -> Result<(), ArchiveError> {
        let xattrs = read_xattrs(Source::Fd(fd), path)?;
        let mut header = self.header(st, EntryType::Directory);
        let mut name = path.to_vec();
        name.push(b'/');
        self.append(&mut header, &name, None, &xattrs, io::empty())?;
        if opaque(fd) == Some(true) {
            self.opaque_marker(path, st)?;
        }
        Ok(())
    }

    /// `<dir>/.wh..wh..opq`, as Docker writes it for an opaque directory.
    fn opaque_marker(&mut self, dir: &[u8], st: &Stat) -> Result<(), ArchiveError> {
        let mut header = self.header(st, EntryType::Regular);
        header.set_mode(st.st_mode & 0o777);
        let mut name = dir.to_vec();
        if !name.is_empty() {
            name.push(b'/');
        }
        name.extend_from_slice(whiteout::OPAQUE_MARKER);
        self.append(&mut header, &name, None, &[], io::empty())
    }

    fn non_directory(
        &mut self,
        dir: BorrowedFd<'_>,
        base: &[u8],
        path: &[u8],
        st: &Stat,
    ) -> Result<(), ArchiveError> {
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::CharacterDevice && st.st_rdev == 0 {
            return self.whiteout(path, st);
        }
        if kind == FileType::Socket {
            self.warnings.push(format!(
                "{:?} is a socket, which a layer cannot hold; skipped",
                String::from_utf8_lossy(path)
            ));
            return Ok(());
        }
        let proc = proc_path(dir, base);
        let xattrs = read_xattrs(Source::Path(&proc), path)?;
        if st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                let first = first.clone();
                let mut header = self.header(st, EntryType::Link);
                return self.append(&mut header, path, Some(&first), &xattrs, io::empty());
            }
            self.links.insert(key, path.to_vec());
        }
        match kind {
            FileType::RegularFile => self.regular(dir, base, path, st, &xattrs),
            FileType::Symlink => {
                let target = rfs::readlinkat(dir, base, Vec::new())
                    .map_err(|e| ArchiveError::fs("read link", path, e))?;
                let target = target.into_bytes();
                self.size += target.len() as u64;
                let mut header = self.header(st, EntryType::Symlink);
                self.append(&mut header, path, Some(&target), &xattrs, io::empty())
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                let entry_type = match kind {
                    FileType::CharacterDevice => EntryType::Char,
                    FileType::BlockDevice => EntryType::Block,
                    _ => EntryType::Fifo,
                };
                let mut header = self.header(st, entry_type);
                if kind != FileType::Fifo {
                    let (major, minor) = (rfs::major(st.st_rdev), rfs::minor(st.st_rdev));
                    header
                        .set_device_major(major)
                        .and_then(|()| header.set_device_minor(minor))
                        .map_err(|e| ArchiveError::fs("archive", path, e))?;
                }
                self.append(&mut header, path, None, &xattrs, io::empty())
            }
            _ => Ok(()),
        }
    }

    fn regular(
        &mut self,
        dir: BorrowedFd<'_>,
        base: &[u8],
        path: &[u8],
        st: &Stat,
        xattrs: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), ArchiveError> {
        let fd = rfs::openat(
            dir,
            base,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(|e| ArchiveError::fs("open", path, e))?;
        let file = File::from(fd);
        let size = st.st_size.max(0) as u64;
        self.size += size;
        let mut header = self.header(st, EntryType::Regular);
        header.set_size(size);
        let data = Exact {
            inner: (&file).take(size),
            left: size,
        };
        self.append(&mut header, path, None, xattrs, data)
    }

    /// A 0/0 character device is an overlayfs whiteout: `.wh.<name>`.
    fn whiteout(&mut self, path: &[u8], st: &Stat) -> Result<(), ArchiveError> {
        let (dir, base) = crate::resolve::split_parent(path);
        let mut name = dir.to_vec();
        if !name.is_empty() {
            name.push(b'/');
        }
        name.extend_from_slice(whiteout::PREFIX);
        name.extend_from_slice(base);
        let mut header = self.header(st, EntryType::Regular);
        header.set_mode(0o600);
        self.append(&mut header, &name, None, &[], io::empty())
    }

    /// Appends one entry, preceded by GNU long name/link entries and a PAX
    /// block for xattrs when needed. Names are raw bytes, as on disk.
    fn append(
        &mut self,
        header: &mut Header,
        name: &[u8],
        link: Option<&[u8]>,
        xattrs: &[(Vec<u8>, Vec<u8>)],
        data: impl Read,
    ) -> Result<(), ArchiveError> {
        let b = &mut self.builder;
        if !xattrs.is_empty() {
            let mut pax = Vec::new();
            for (key, value) in xattrs {
                let mut record_key = b"SCHILY.xattr.".to_vec();
                record_key.extend_from_slice(key);
                pax_record(&mut pax, &record_key, value);
            }
            let mut h = Header::new_ustar();
            h.set_entry_type(EntryType::XHeader);
            h.set_size(pax.len() as u64);
            h.set_mode(0o644);
            set_field(&mut h.as_old_mut().name, b"PaxHeader");
            h.set_cksum();
            b.append(&h, pax.as_slice()).map_err(ArchiveError::Write)?;
        }
        if name.len() > NAME_FIELD {
            long_entry(b, EntryType::GNULongName, name)?;
        }
        set_field(&mut header.as_old_mut().name, name);
        if let Some(link) = link {
            if link.len() > NAME_FIELD {
                long_entry(b, EntryType::GNULongLink, link)?;
            }
            set_field(&mut header.as_old_mut().linkname, link);
        }
        header.set_cksum();
        b.append(header, data).map_err(ArchiveError::Write)?;
        self.entries += 1;
        Ok(())
    }
}

/// Reads exactly `left` bytes, failing instead of producing a short entry
/// (which would corrupt the archive) if the file shrank while being read.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl<W: Write> Writer<W> {
    fn header(&self, st: &Stat, kind: EntryType) -> Header {
        let mut h = base_header(st, kind);
        if let Some(c) = self.clamp {
            if h.mtime().unwrap_or(0) > c {
                h.set_mtime(c);
            }
        }
        h
    }
}

fn base_header(st: &Stat, kind: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    // Whole seconds, as Docker writes them.
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

/// Copies a name into a header field, truncating: the full name then comes
/// from the preceding GNU long name entry.
fn set_field(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
    field[n..].fill(0);
}

fn long_entry<W: Write>(
    b: &mut tar::Builder<W>,
    kind: EntryType,
    value: &[u8],
) -> Result<(), ArchiveError> {
    let mut h = Header::new_gnu();
    set_field(&mut h.as_old_mut().name, b"././@LongLink");
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(value.len() as u64 + 1);
    h.set_cksum();
    b.append(&h, value.chain(&[0u8][..]))
        .map_err(ArchiveError::Write)
}

/// One "<len> <key>=<value>\n" record, where len counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Sorted child names of a directory.
fn list(dir: &OwnedFd, path: &[u8]) -> Result<Vec<Vec<u8>>, ArchiveError> {
    let mut entries = rfs::Dir::read_from(dir).map_err(|e| ArchiveError::fs("list", path, e))?;
    let mut names = Vec::new();
    while let Some(entry) = entries.read() {
        let entry = entry.map_err(|e| ArchiveError::fs("list", path, e))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// `/proc/self/fd/N/base`: a path for the l*xattr calls that is resolved
/// through a directory fd we hold, and does not follow `base` itself.
fn proc_path(dir: BorrowedFd<'_>, base: &[u8]) -> Vec<u8> {
    let mut p = format!("/proc/self/fd/{}", dir.as_raw_fd()).into_bytes();
    if !base.is_empty() {
        p.push(b'/');
        p.extend_from_slice(base);
    }
    p
}

/// Whether a directory carries `trusted.overlay.opaque=y`.
fn opaque(dir: BorrowedFd<'_>) -> Option<bool> {
    let mut buf = [0u8; 8];
    match rfs::fgetxattr(dir, whiteout::OPAQUE_XATTR, &mut buf[..]) {
        Ok(n) => Some(&buf[..n] == whiteout::OPAQUE_VALUE),
        Err(_) => None,
    }
}

/// Where to read xattrs from: an open fd, or a path not to follow.
#[derive(Clone, Copy)]
enum Source<'a> {
    Fd(BorrowedFd<'a>),
    Path(&'a [u8]),
}

impl Source<'_> {
    /// Size query when `buf` is None (rustix has separate calls for it).
    fn list(self, buf: Option<&mut [u8]>) -> Result<usize, Errno> {
        match (self, buf) {
            (Source::Fd(fd), None) => rfs::flistxattr_query(fd),
            (Source::Fd(fd), Some(buf)) => rfs::flistxattr(fd, buf),
            (Source::Path(p), None) => rfs::llistxattr_query(p),
            (Source::Path(p), Some(buf)) => rfs::llistxattr(p, buf),
        }
    }

    fn get(self, key: &[u8], buf: Option<&mut [u8]>) -> Result<usize, Errno> {
        match (self, buf) {
            (Source::Fd(fd), None) => rfs::fgetxattr_query(fd, key),
            (Source::Fd(fd), Some(buf)) => rfs::fgetxattr(fd, key, buf),
            (Source::Path(p), None) => rfs::lgetxattr_query(p, key),
            (Source::Path(p), Some(buf)) => rfs::lgetxattr(p, key, buf),
        }
    }
}

/// Xattrs of a node except overlayfs' own, sorted by name.
fn read_xattrs(source: Source<'_>, path: &[u8]) -> Result<Xattrs, ArchiveError> {
    let fail = |e: Errno| ArchiveError::fs("read extended attributes of", path, e);
    let Some(names) = sized_read(|buf| source.list(buf)).map_err(fail)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for key in names.split(|&b| b == 0).filter(|k| !k.is_empty()) {
        if is_overlay_xattr(key) {
            continue;
        }
        // None: removed between listing and reading.
        if let Some(value) = sized_read(|buf| source.get(key, buf)).map_err(fail)? {
            out.push((key.to_vec(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// The size-query-then-read dance of the xattr syscalls, retried if the
/// value grows in between. None when there is nothing (or no support).
fn sized_read(
    mut call: impl FnMut(Option<&mut [u8]>) -> Result<usize, Errno>,
) -> Result<Option<Vec<u8>>, Errno> {
    loop {
        let need = match call(None) {
            Ok(n) => n,
            Err(Errno::NODATA) | Err(Errno::OPNOTSUPP) => return Ok(None),
            Err(e) => return Err(e),
        };
        if need == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut buf = vec![0u8; need];
        match call(Some(&mut buf)) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(Errno::RANGE) => continue,
            Err(Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

fn walk_error(err: ResolveError, path: &[u8]) -> ArchiveError {
    let errno = match err {
        ResolveError::Io(e) => e,
        ResolveError::Symlink(_) => Errno::LOOP,
        ResolveError::NotDir(_) => Errno::NOTDIR,
        ResolveError::Missing(_) => Errno::NOENT,
    };
    ArchiveError::fs("reopen", path, errno)
}
