//! Extraction of a layer tarball into a directory that overlayfs will use as
//! a lower directory as-is.
//!
//! The stream goes input → 256 KiB buffer → decoder → hashing (diff_id),
//! on the caller's thread, then → structure guard → tar parser → files on
//! a worker thread (see `pipe`); every byte is decompressed and hashed
//! exactly once. When a tar-split is wanted, a recorder sits between the
//! channel and the guard (see `split::record`). Every filesystem operation
//! is relative to a directory fd obtained through `resolve`, and the final
//! component is never followed, so nothing the archive says can make us
//! write outside `dest`.

use std::cell::RefCell;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timespec};
use rustix::io::Errno;
use tar::EntryType;

use crate::error::lossy;
use crate::guard::Guard;
use crate::meta::{Meta, Xattrs};
use crate::pipe::{self, ChannelReader};
use crate::resolve::{self, clean_into, split_parent, ResolveError, Resolver};
use crate::sparse::PaxSparse;
use crate::split::record::{Recorder, Recording, Shared, Sink};
use crate::stream::{classify, Decoder};
use crate::whiteout::{self, Kind};
use crate::{ArchiveError, ExtractOptions, LayerStats};

mod nodes;

/// Size of the buffer file contents are copied through.
const COPY_BUFFER: usize = 256 * 1024;
/// Buffer right below the tar parser, which reads headers 512 bytes at a time.
const TAR_BUFFER: usize = 64 * 1024;

/// Extracts the layer read from `input` (gzip, zstd or plain tar) into the
/// empty directory `dest`. See the crate documentation for the rules.
pub fn extract_layer<R: Read>(
    input: R,
    dest: &Path,
    opts: &ExtractOptions,
) -> Result<LayerStats, ArchiveError> {
    extract(input, dest, opts, None)
}

/// [`extract_layer`], also writing to `split` a tar-split description of
/// the uncompressed stream (see the `split` module for the format) from
/// which [`crate::reassemble_layer`] regenerates it byte for byte out of
/// `dest`. The split is only valid if `reproducible` is set in the returned
/// stats; otherwise the caller must keep the original tar. `split` is
/// written from the extraction thread, hence `Send`; it need not be
/// buffered.
pub fn extract_layer_with_split<R: Read, W: Write + Send>(
    input: R,
    dest: &Path,
    opts: &ExtractOptions,
    mut split: W,
) -> Result<LayerStats, ArchiveError> {
    extract(input, dest, opts, Some(&mut split))
}

fn extract<R: Read>(
    input: R,
    dest: &Path,
    opts: &ExtractOptions,
    split: Option<Sink<'_>>,
) -> Result<LayerStats, ArchiveError> {
    let dest_name = dest.as_os_str().as_encoded_bytes();
    let root = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ArchiveError::fs("open", dest_name, e))?;
    let limit = match opts.max_total_size {
        Some(bytes) => Limit::Fixed(bytes),
        None => {
            let vfs =
                rfs::fstatvfs(&root).map_err(|e| ArchiveError::fs("statvfs", dest_name, e))?;
            Limit::Free(vfs.f_bavail.saturating_mul(vfs.f_frsize))
        }
    };

    let decoder = Decoder::open(input)?;
    let max_entries = opts.max_entries;
    let whiteouts = opts.whiteouts;
    let (done, diff_id, tar_size) = pipe::run(decoder, move |reader| {
        extract_tar(reader, root, max_entries, whiteouts, limit, split)
    })?;
    Ok(LayerStats {
        diff_id,
        tar_size,
        size: done.size,
        entries: done.entries,
        warnings: done.warnings,
        reproducible: done.reproducible,
    })
}

/// What the worker hands back.
struct Done {
    size: u64,
    entries: u64,
    warnings: Vec<String>,
    reproducible: bool,
}

/// The worker side: tar parsing and filesystem writes.
fn extract_tar(
    reader: ChannelReader,
    root: OwnedFd,
    max_entries: u64,
    whiteouts: bool,
    limit: Limit,
    split: Option<Sink<'_>>,
) -> Result<Done, ArchiveError> {
    let eof = reader.eof();
    let recording = match split {
        Some(out) => Some(Rc::new(RefCell::new(
            Recording::new(out).map_err(split_write)?,
        ))),
        None => None,
    };
    let recorder = Recorder::new(reader, recording.clone());
    let mut archive = tar::Archive::new(BufReader::with_capacity(TAR_BUFFER, Guard::new(recorder)));
    let mut ex = Extractor {
        resolver: Resolver::new(root),
        max_entries,
        whiteouts,
        limit,
        declared: 0,
        size: 0,
        entries: 0,
        warnings: Vec::new(),
        dir_times: Vec::new(),
        raw: Vec::new(),
        path: Vec::new(),
        link: Vec::new(),
        xattrs: Vec::new(),
        buf: vec![0; COPY_BUFFER],
        eof: eof.clone(),
        split: recording.clone(),
        data_at: 0,
        data_size: 0,
    };
    let res = ex.run(&mut archive).and_then(|()| ex.finish_dirs());
    let Some(recording) = recording else {
        res?;
        return Ok(ex.done(false));
    };
    // The split covers the stream to EOF, past the end-of-archive blocks
    // where the parser stops.
    let res = res.and_then(|()| {
        io::copy(&mut archive.into_inner(), &mut io::sink())
            .map(drop)
            .map_err(|e| classify(e, eof.load(Ordering::Relaxed)))
    });
    let mut recording = recording.borrow_mut();
    // A failed write explains whatever error it caused further up.
    if let Some(e) = recording.take_error() {
        return Err(split_write(e));
    }
    res?;
    let (reproducible, _) = recording.finish().map_err(split_write)?;
    Ok(ex.done(reproducible))
}

fn split_write(source: io::Error) -> ArchiveError {
    ArchiveError::SplitIo {
        action: "write",
        source,
    }
}

/// How a regular file's data lands on disk.
enum Fill {
    Dense,
    /// Old GNU sparse entries: the tar crate expands holes to zeros, which
    /// are turned back into holes.
    ZeroScan,
    /// PAX sparse entries: regions written at their offsets.
    Map(PaxSparse),
}

enum Limit {
    /// From `ExtractOptions::max_total_size`.
    Fixed(u64),
    /// Free space of the destination filesystem.
    Free(u64),
}

struct Extractor<'w> {
    resolver: Resolver,
    max_entries: u64,
    whiteouts: bool,
    limit: Limit,
    /// Sum of declared data sizes so far, checked against `limit`.
    declared: u64,
    size: u64,
    entries: u64,
    warnings: Vec<String>,
    /// Directory mtimes, applied once all children are written.
    dir_times: Vec<(Vec<u8>, Timespec)>,
    // Per-entry scratch space, reused to avoid allocations.
    raw: Vec<u8>,
    path: Vec<u8>,
    link: Vec<u8>,
    xattrs: Xattrs,
    buf: Vec<u8>,
    eof: Arc<AtomicBool>,
    /// Set when a tar-split is being recorded.
    split: Option<Shared<'w>>,
    /// Stream offset and size of the current entry's data.
    data_at: u64,
    data_size: u64,
}

/// What an entry handler needs to know about the entry besides its data.
struct Item<'a> {
    /// Name as spelled in the archive, for messages.
    raw: &'a [u8],
    /// Clean relative path.
    path: &'a [u8],
    meta: Meta,
    xattrs: &'a Xattrs,
}

impl Item<'_> {
    fn name(&self) -> String {
        lossy(self.raw)
    }

    fn parts(&self) -> (&[u8], &[u8]) {
        split_parent(self.path)
    }
}

impl Extractor<'_> {
    fn done(&mut self, reproducible: bool) -> Done {
        Done {
            size: self.size,
            entries: self.entries,
            warnings: std::mem::take(&mut self.warnings),
            reproducible,
        }
    }

    /// Tells the split recorder (if any) about the stream.
    fn record(
        &self,
        f: impl FnOnce(&mut Recording<'_>) -> io::Result<()>,
    ) -> Result<(), ArchiveError> {
        match &self.split {
            Some(rec) => f(&mut rec.borrow_mut()).map_err(split_write),
            None => Ok(()),
        }
    }

    fn run<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<(), ArchiveError> {
        let entries = archive
            .entries()
            .map_err(|e| classify(e, self.eof.load(Ordering::Relaxed)))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| classify(e, self.eof.load(Ordering::Relaxed)))?;
            self.entry(&mut entry)?;
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ArchiveError> {
        self.data_at = entry.raw_file_position();
        self.data_size = entry.size();
        let data_end = self.data_at.saturating_add(self.data_size);
        // Headers are raw; so is the data unless the entry announces it as
        // file content while being handled.
        self.record(|r| r.decide(self.data_at))?;
        self.entry_data(entry)?;
        self.record(|r| r.decide(data_end))
    }

    fn entry_data<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ArchiveError> {
        self.entries += 1;
        if self.entries > self.max_entries {
            return Err(ArchiveError::TooManyEntries(self.max_entries));
        }
        // Data of every entry passes through, skipped or not.
        self.charge(entry.size())?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        // Scratch buffers are moved out for the duration of the entry so
        // handlers can borrow them while `self` stays mutable.
        let mut raw = std::mem::take(&mut self.raw);
        let mut path = std::mem::take(&mut self.path);
        let mut xattrs = std::mem::take(&mut self.xattrs);
        let res = self.entry_inner(entry, kind, &mut raw, &mut path, &mut xattrs);
        self.raw = raw;
        self.path = path;
        self.xattrs = xattrs;
        res
    }

    fn entry_inner<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        kind: EntryType,
        raw: &mut Vec<u8>,
        path: &mut Vec<u8>,
        xattrs: &mut Xattrs,
    ) -> Result<(), ArchiveError> {
        raw.clear();
        raw.extend_from_slice(&entry.path_bytes());
        let mut meta = Meta::read(entry, &|| lossy(raw), xattrs)?;
        let sparse = meta.sparse.take();
        if let Some(sparse) = &sparse {
            if let Some(real) = &sparse.name {
                raw.clear();
                raw.extend_from_slice(real);
            }
            self.charge(sparse.real_size)?;
        }
        let name = || lossy(raw);
        check_name(raw, &name)?;
        if !clean_into(raw, path) {
            return Err(ArchiveError::Escape { entry: name() });
        }
        let item = Item {
            raw,
            path,
            meta,
            xattrs,
        };

        let (parent, base) = item.parts();
        // Contents of AUFS' hardlink directory (`.wh..wh.plnk/...`) are
        // bookkeeping too.
        let first = item.path.split(|&b| b == b'/').next().unwrap_or_default();
        if self.whiteouts && whiteout::classify(first) == Kind::AufsMeta {
            return Ok(());
        }
        let kind_of_name = if self.whiteouts {
            whiteout::classify(base)
        } else {
            Kind::Plain
        };
        match kind_of_name {
            Kind::Plain => {}
            Kind::AufsMeta => return Ok(()),
            Kind::Opaque => return self.opaque(&item, parent),
            Kind::Whiteout(target) => return self.whiteout(&item, parent, target),
            Kind::Invalid => {
                return Err(ArchiveError::InvalidName {
                    entry: item.name(),
                    reason: "whiteout without a name to delete",
                })
            }
        }

        if let Some(sparse) = sparse {
            if !matches!(kind, EntryType::Regular | EntryType::Continuous) {
                return Err(ArchiveError::InvalidEntry {
                    entry: item.name(),
                    reason: "sparse records on an entry that is not a regular file".into(),
                });
            }
            return self.regular(&item, entry, Fill::Map(sparse));
        }
        match kind {
            EntryType::Regular | EntryType::Continuous => self.regular(&item, entry, Fill::Dense),
            EntryType::GNUSparse => self.regular(&item, entry, Fill::ZeroScan),
            EntryType::Directory => self.directory(&item),
            EntryType::Symlink => {
                let mut link = std::mem::take(&mut self.link);
                let res =
                    link_target(entry, &item, &mut link).and_then(|()| self.symlink(&item, &link));
                self.link = link;
                res
            }
            EntryType::Link => {
                let mut link = std::mem::take(&mut self.link);
                let res =
                    link_target(entry, &item, &mut link).and_then(|()| self.hardlink(&item, &link));
                self.link = link;
                res
            }
            EntryType::Char => self.node(&item, FileType::CharacterDevice),
            EntryType::Block => self.node(&item, FileType::BlockDevice),
            EntryType::Fifo => self.node(&item, FileType::Fifo),
            other => Err(ArchiveError::UnsupportedEntry {
                entry: item.name(),
                kind: format!("{:?} ({:?})", other, other.as_byte() as char),
            }),
        }
    }

    /// Counts declared data against the size limit before anything is written.
    fn charge(&mut self, size: u64) -> Result<(), ArchiveError> {
        self.declared = self.declared.saturating_add(size);
        match self.limit {
            Limit::Fixed(limit) if self.declared > limit => Err(ArchiveError::TooLarge {
                needed: self.declared,
                limit,
            }),
            Limit::Free(available) if self.declared > available => Err(ArchiveError::NoSpace {
                needed: self.declared,
                available,
            }),
            _ => Ok(()),
        }
    }

    /// Opens (creating if needed) the directory an entry goes into.
    fn parent(&mut self, item: &Item<'_>, parent: &[u8]) -> Result<Rc<OwnedFd>, ArchiveError> {
        self.resolver
            .dir(parent)
            .map_err(|e| resolve_error(e, item, parent))
    }

    /// Clears the way for a new node at `base`: a directory over a directory
    /// merges (returns true), anything else replaces what was there — the
    /// old node itself, never what a symlink points to.
    fn make_room(
        &mut self,
        item: &Item<'_>,
        parent: &OwnedFd,
        base: &[u8],
        want_dir: bool,
    ) -> Result<bool, ArchiveError> {
        let st = match rfs::statat(parent, base, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(false),
            Err(e) => return Err(ArchiveError::entry("inspect", &item.name(), e)),
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        if is_dir && want_dir {
            return Ok(true);
        }
        if let Some(rec) = &self.split {
            let mut path = item.parts().0.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(base);
            rec.borrow_mut().removing(&path, is_dir);
        }
        if is_dir {
            self.resolver.forget();
            resolve::remove_all(parent.as_fd(), base)
        } else {
            rfs::unlinkat(parent, base, AtFlags::empty())
        }
        .map_err(|e| ArchiveError::entry("replace", &item.name(), e))?;
        Ok(false)
    }

    /// Runs `op` to create a node at `base`; if something is already there,
    /// clears it out of the way and tries once more. Trying first saves a
    /// stat per entry: names rarely repeat within a layer.
    fn create<T>(
        &mut self,
        item: &Item<'_>,
        parent: &OwnedFd,
        base: &[u8],
        mut op: impl FnMut() -> Result<T, Errno>,
    ) -> Result<T, ArchiveError> {
        match op() {
            Err(Errno::EXIST) => {
                self.make_room(item, parent, base, false)?;
                op()
            }
            other => other,
        }
        .map_err(|e| ArchiveError::entry("create", &item.name(), e))
    }
}

fn check_name(raw: &[u8], name: &dyn Fn() -> String) -> Result<(), ArchiveError> {
    if raw.contains(&0) {
        return Err(ArchiveError::InvalidName {
            entry: name(),
            reason: "it contains a NUL byte",
        });
    }
    if raw.len() > resolve::MAX_NAME {
        return Err(ArchiveError::InvalidName {
            entry: name(),
            reason: "it is longer than 4095 bytes",
        });
    }
    Ok(())
}

fn link_target<R: Read>(
    entry: &tar::Entry<'_, R>,
    item: &Item<'_>,
    out: &mut Vec<u8>,
) -> Result<(), ArchiveError> {
    out.clear();
    if let Some(target) = entry.link_name_bytes() {
        out.extend_from_slice(&target);
    }
    let reason = if out.is_empty() {
        "link without a target"
    } else if out.contains(&0) {
        "link target contains a NUL byte"
    } else if out.len() > resolve::MAX_NAME {
        "link target is longer than 4095 bytes"
    } else {
        return Ok(());
    };
    Err(ArchiveError::InvalidEntry {
        entry: item.name(),
        reason: reason.into(),
    })
}

fn resolve_error(err: ResolveError, item: &Item<'_>, dir: &[u8]) -> ArchiveError {
    match err {
        ResolveError::Symlink(end) => ArchiveError::ThroughSymlink {
            entry: item.name(),
            link: lossy(&dir[..end]),
        },
        ResolveError::NotDir(end) => ArchiveError::NotADirectory {
            entry: item.name(),
            component: lossy(&dir[..end]),
        },
        ResolveError::Missing(end) => ArchiveError::entry(
            "find the parent of",
            &item.name(),
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{:?} does not exist", lossy(&dir[..end])),
            ),
        ),
        ResolveError::Io(e) => ArchiveError::entry("resolve the parent of", &item.name(), e),
    }
}
