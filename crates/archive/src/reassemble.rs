//! Regenerating a layer's original tar stream from its extracted directory
//! and the tar-split recorded during extraction (see `split`), so the store
//! can drop the tar and still serve `save`/`push` with the same diff_id.
//!
//! The directory may have been tampered with since extraction, so files are
//! opened exactly like extraction creates them: relative to a directory fd
//! of the layer root, never following a symlink in any component, and only
//! regular files of the recorded size are read. A changed size is reported;
//! same-size changes are caught by the caller hashing the output against
//! the diff_id.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use rustix::fs::{self as rfs, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::error::lossy;
use crate::resolve::{self, clean_into, open_beneath, split_parent, ResolveError};
use crate::split::{read_magic, read_record, ReadError, Record};
use crate::ArchiveError;

/// Output buffer: coalesces tar headers, which come 512 bytes at a time.
const OUT_BUFFER: usize = 64 * 1024;
const SPLIT_BUFFER: usize = 64 * 1024;
/// Copy buffer; writes this large go straight through the output buffer.
const COPY_BUFFER: usize = 256 * 1024;

/// Writes to `out` the exact tar stream that was extracted into `dir` while
/// `split` was recorded by [`crate::extract_layer_with_split`], and returns
/// its length. Fails if the split is malformed or a file it refers to is
/// missing, no longer a regular file, reached through a symlink, or of a
/// different size.
pub fn reassemble_layer<R: Read, W: Write>(
    dir: &Path,
    split: R,
    out: W,
) -> Result<u64, ArchiveError> {
    let dir_name = dir.as_os_str().as_encoded_bytes();
    let root = rfs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ArchiveError::fs("open", dir_name, e))?;
    let mut split = BufReader::with_capacity(SPLIT_BUFFER, split);
    let mut out = BufWriter::with_capacity(OUT_BUFFER, out);
    read_magic(&mut split).map_err(split_error)?;
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut written = 0u64;
    loop {
        match read_record(&mut split).map_err(split_error)? {
            Record::Raw(len) => {
                let n = copy(&mut split, len, &mut out, &mut buf).map_err(|e| match e {
                    CopyError::Read(source) => ArchiveError::SplitIo {
                        action: "read",
                        source,
                    },
                    CopyError::Write(e) => ArchiveError::Write(e),
                })?;
                if n != len {
                    return Err(ArchiveError::InvalidSplit(
                        "it ends in the middle of a raw record".into(),
                    ));
                }
                written += n;
            }
            Record::File { path, size } => {
                written += copy_file(root.as_fd(), &path, size, &mut out, &mut buf)?;
            }
            Record::End(total) => {
                if total != written {
                    return Err(ArchiveError::InvalidSplit(format!(
                        "it describes {written} bytes but says the tar has {total}"
                    )));
                }
                let rest = split.fill_buf().map_err(|source| ArchiveError::SplitIo {
                    action: "read",
                    source,
                })?;
                if !rest.is_empty() {
                    return Err(ArchiveError::InvalidSplit(
                        "there is data after its end record".into(),
                    ));
                }
                out.flush().map_err(ArchiveError::Write)?;
                return Ok(written);
            }
        }
    }
}

/// Copies the recorded file at `path` (exactly `size` bytes) to `out`.
fn copy_file<W: Write>(
    root: BorrowedFd<'_>,
    path: &[u8],
    size: u64,
    out: &mut W,
    buf: &mut [u8],
) -> Result<u64, ArchiveError> {
    let mut clean = Vec::with_capacity(path.len());
    if path.contains(&0)
        || path.len() > resolve::MAX_NAME
        || !clean_into(path, &mut clean)
        || clean != path
    {
        return Err(ArchiveError::InvalidSplit(format!(
            "file path {:?} is not a clean relative path",
            lossy(path)
        )));
    }
    let modified = |reason: String| ArchiveError::LayerModified {
        path: lossy(path),
        reason,
    };
    let (parent, base) = split_parent(path);
    let parent_fd = open_beneath(root, parent, OFlags::PATH).map_err(|e| match e {
        ResolveError::Symlink(end) => {
            modified(format!("{:?} is now a symlink", lossy(&parent[..end])))
        }
        ResolveError::NotDir(end) => modified(format!(
            "{:?} is no longer a directory",
            lossy(&parent[..end])
        )),
        ResolveError::Missing(end) => modified(format!("{:?} is gone", lossy(&parent[..end]))),
        ResolveError::Io(e) => ArchiveError::fs("open", parent, e),
    })?;
    // NONBLOCK: a fifo planted in its place must not hang us; NOFOLLOW: nor
    // may a symlink lead anywhere.
    let fd = rfs::openat(
        &parent_fd,
        base,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP => modified("it is now a symlink".into()),
        Errno::NOENT => modified("it is gone".into()),
        e => ArchiveError::fs("open", path, e),
    })?;
    let st = rfs::fstat(&fd).map_err(|e| ArchiveError::fs("inspect", path, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(modified("it is no longer a regular file".into()));
    }
    if st.st_size as u64 != size {
        return Err(modified(format!(
            "it is {} bytes, {size} were extracted",
            st.st_size
        )));
    }
    let mut file = File::from(fd);
    let n = copy(&mut file, size, out, buf).map_err(|e| match e {
        CopyError::Read(e) => ArchiveError::fs("read", path, e),
        CopyError::Write(e) => ArchiveError::Write(e),
    })?;
    if n != size {
        return Err(modified(format!("it shrank to {n} bytes while being read")));
    }
    Ok(n)
}

fn split_error(e: ReadError) -> ArchiveError {
    match e {
        ReadError::Io(source) => ArchiveError::SplitIo {
            action: "read",
            source,
        },
        ReadError::Invalid(msg) => ArchiveError::InvalidSplit(msg),
    }
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies up to `len` bytes (fewer at EOF) from `from` to `to`; unlike
/// `io::copy` it says which side failed, and its buffer is big enough for
/// writes to bypass the output buffer.
fn copy<R: Read, W: Write>(
    from: &mut R,
    len: u64,
    to: &mut W,
    buf: &mut [u8],
) -> Result<u64, CopyError> {
    let mut done = 0u64;
    while done < len {
        let want = (len - done).min(buf.len() as u64) as usize;
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        done += n as u64;
    }
    Ok(done)
}
