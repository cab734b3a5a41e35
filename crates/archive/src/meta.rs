//! Entry metadata: reading owner, mode, times, device numbers and xattrs out
//! of a tar header and its PAX records, and applying them to what extraction
//! created.
//!
//! The order of application matters and follows Docker: owner first (chown
//! clears setuid/setgid bits and `security.capability`), then xattrs, then
//! the mode, then times.

use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd};

use rustix::fs::{self as rfs, AtFlags, Gid, Mode, Timespec, Timestamps, Uid};
use rustix::io::Errno;

use crate::error::lossy;
use crate::sparse::{PaxSparse, Records as SparseRecords};
use crate::whiteout::is_overlay_xattr;
use crate::ArchiveError;

const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Metadata of one entry, owned so the entry can be read afterwards.
pub(crate) struct Meta {
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: Timespec,
    pub(crate) major: u32,
    pub(crate) minor: u32,
    /// Set for GNU sparse files in PAX form.
    pub(crate) sparse: Option<PaxSparse>,
}

/// Extended attributes of the current entry; reused across entries.
pub(crate) type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

impl Meta {
    /// Reads the header fields and PAX records of `entry`, filling `xattrs`.
    pub(crate) fn read<R: Read>(
        entry: &mut tar::Entry<'_, R>,
        name: &dyn Fn() -> String,
        xattrs: &mut Xattrs,
    ) -> Result<Meta, ArchiveError> {
        let bad = |reason: String| ArchiveError::InvalidEntry {
            entry: name(),
            reason,
        };
        let header = entry.header();
        let old = header.as_old();
        let mode = lenient(header.mode().map(u64::from), &old.mode).map_err(bad)? as u32 & 0o7777;
        // The tar crate has already applied PAX uid/gid records to the header.
        let uid = lenient(header.uid(), &old.uid).map_err(bad)?;
        let gid = lenient(header.gid(), &old.gid).map_err(bad)?;
        let uid = u32::try_from(uid).map_err(|_| bad(format!("owner id {uid} is out of range")))?;
        let gid = u32::try_from(gid).map_err(|_| bad(format!("group id {gid} is out of range")))?;
        let secs = lenient(header.mtime(), &old.mtime).map_err(bad)?;
        let mut mtime = Timespec {
            tv_sec: i64::try_from(secs).unwrap_or(i64::MAX),
            tv_nsec: 0,
        };
        // Only device entries carry meaningful device numbers; other
        // producers leave anything in those fields.
        let kind = header.entry_type();
        let (major, minor) = if kind.is_character_special() || kind.is_block_special() {
            let fields = header
                .as_gnu()
                .map(|g| (&g.dev_major[..], &g.dev_minor[..]))
                .or_else(|| {
                    header
                        .as_ustar()
                        .map(|u| (&u.dev_major[..], &u.dev_minor[..]))
                });
            match fields {
                Some((maj, min)) => (
                    device(header.device_major(), maj).map_err(bad)?,
                    device(header.device_minor(), min).map_err(bad)?,
                ),
                // Pre-POSIX headers have no device fields at all.
                None => (0, 0),
            }
        } else {
            // Other producers leave anything in these fields for non-devices.
            (0, 0)
        };

        xattrs.clear();
        let stored = entry.size();
        let mut sparse = SparseRecords::default();
        let pax = entry
            .pax_extensions()
            .map_err(|e| bad(format!("unreadable PAX records: {e}")))?;
        if let Some(pax) = pax {
            for ext in pax {
                let ext = ext.map_err(|e| bad(format!("malformed PAX record: {e}")))?;
                let key = ext.key_bytes();
                if let Some(attr) = key.strip_prefix(XATTR_PREFIX) {
                    if attr.is_empty() || attr.contains(&0) {
                        return Err(bad("empty or NUL-containing xattr name".into()));
                    }
                    if is_overlay_xattr(attr) {
                        return Err(ArchiveError::OverlayXattr {
                            entry: name(),
                            name: lossy(attr),
                        });
                    }
                    xattrs.push((attr.to_vec(), ext.value_bytes().to_vec()));
                } else if key == b"mtime" {
                    // Malformed precise times fall back to the header's seconds.
                    if let Some(t) = parse_pax_time(ext.value_bytes()) {
                        mtime = t;
                    }
                } else {
                    sparse.record(key, ext.value_bytes());
                }
            }
        }
        let sparse = sparse.finish(stored).map_err(bad)?;
        Ok(Meta {
            mode,
            uid,
            gid,
            mtime,
            major,
            minor,
            sparse,
        })
    }

    pub(crate) fn times(&self) -> Timestamps {
        // Docker sets atime to mtime when the archive carries none.
        Timestamps {
            last_access: self.mtime,
            last_modification: self.mtime,
        }
    }

    fn owner(&self) -> (Option<Uid>, Option<Gid>) {
        (Some(Uid::from_raw(self.uid)), Some(Gid::from_raw(self.gid)))
    }

    /// Applies owner, xattrs and mode to an open file or directory; times
    /// are left to the caller (directories get theirs at the very end).
    pub(crate) fn apply_fd(
        &self,
        fd: BorrowedFd<'_>,
        xattrs: &Xattrs,
        name: &dyn Fn() -> String,
        warnings: &mut Vec<String>,
    ) -> Result<(), ArchiveError> {
        let (uid, gid) = self.owner();
        rfs::fchown(fd, uid, gid).map_err(|e| ArchiveError::entry("chown", &name(), e))?;
        for (key, value) in xattrs {
            let res = rfs::fsetxattr(fd, key.as_slice(), value, rfs::XattrFlags::empty());
            xattr_result(res, key, name, warnings)?;
        }
        rfs::fchmod(fd, Mode::from_raw_mode(self.mode))
            .map_err(|e| ArchiveError::entry("chmod", &name(), e))
    }

    /// Applies everything to `name` in `parent` without following it: for
    /// nodes that cannot (devices, fifos) or need not be opened.
    pub(crate) fn apply_at(
        &self,
        parent: BorrowedFd<'_>,
        base: &[u8],
        symlink: bool,
        xattrs: &Xattrs,
        name: &dyn Fn() -> String,
        warnings: &mut Vec<String>,
    ) -> Result<(), ArchiveError> {
        let (uid, gid) = self.owner();
        rfs::chownat(parent, base, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| ArchiveError::entry("chown", &name(), e))?;
        if !xattrs.is_empty() {
            // There is no lsetxattrat before Linux 6.13; going through the
            // parent's fd keeps the lookup relative to a directory we
            // already resolved safely, and lsetxattr does not follow `base`.
            let mut path = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
            path.extend_from_slice(base);
            for (key, value) in xattrs {
                let res = rfs::lsetxattr(
                    path.as_slice(),
                    key.as_slice(),
                    value,
                    rfs::XattrFlags::empty(),
                );
                xattr_result(res, key, name, warnings)?;
            }
        }
        if !symlink {
            // Just created by us in a directory nobody else writes to, so
            // following is moot; symlinks have no mode of their own.
            rfs::chmodat(
                parent,
                base,
                Mode::from_raw_mode(self.mode),
                AtFlags::empty(),
            )
            .map_err(|e| ArchiveError::entry("chmod", &name(), e))?;
        }
        rfs::utimensat(parent, base, &self.times(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| ArchiveError::entry("set times of", &name(), e))
    }
}

/// Docker skips xattrs the filesystem does not support (ENOTSUP) or the
/// caller may not set (EPERM, e.g. `user.*` on a symlink); so do we, but
/// loudly, through the warnings of [`crate::LayerStats`].
fn xattr_result(
    res: Result<(), Errno>,
    key: &[u8],
    name: &dyn Fn() -> String,
    warnings: &mut Vec<String>,
) -> Result<(), ArchiveError> {
    match res {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::OPNOTSUPP || e == Errno::PERM => {
            warnings.push(format!(
                "layer entry {:?}: extended attribute {:?} not applied: {}",
                name(),
                lossy(key),
                std::io::Error::from(e)
            ));
            Ok(())
        }
        Err(e) => Err(ArchiveError::entry(
            "set extended attributes of",
            &name(),
            e,
        )),
    }
}

/// Go's archive/tar (and so Docker) reads an empty numeric field as 0; the
/// tar crate calls it an error. Side with Docker.
fn lenient(parsed: std::io::Result<u64>, field: &[u8]) -> Result<u64, String> {
    match parsed {
        Ok(v) => Ok(v),
        Err(_) if field.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        Err(e) => Err(e.to_string()),
    }
}

fn device(parsed: std::io::Result<Option<u32>>, field: &[u8]) -> Result<u32, String> {
    let n = lenient(parsed.map(|d| u64::from(d.unwrap_or(0))), field)?;
    u32::try_from(n).map_err(|_| format!("device number {n} is out of range"))
}

/// Parses a PAX time ("1700000000.5", "-1.25") into a timespec.
pub(crate) fn parse_pax_time(value: &[u8]) -> Option<Timespec> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut nanos: i64 = 0;
    for (i, digit) in frac.bytes().take(9).enumerate() {
        nanos += i64::from(digit - b'0') * 10i64.pow(8 - i as u32);
    }
    Some(if !negative {
        Timespec {
            tv_sec: secs,
            tv_nsec: nanos,
        }
    } else if nanos == 0 {
        Timespec {
            tv_sec: -secs,
            tv_nsec: 0,
        }
    } else {
        Timespec {
            tv_sec: -secs - 1,
            tv_nsec: 1_000_000_000 - nanos,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        let t = parse_pax_time(b"1700000000.25").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 250_000_000));
        let t = parse_pax_time(b"-1.25").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (-2, 750_000_000));
        let t = parse_pax_time(b"42").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (42, 0));
        assert!(parse_pax_time(b"x").is_none());
        assert!(parse_pax_time(b"1.2.3").is_none());
    }
}
