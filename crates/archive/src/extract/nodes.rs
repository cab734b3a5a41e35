//! Creating each kind of node for extraction: regular files (dense or
//! sparse), directories, links, device nodes and fifos, and the overlayfs
//! forms of whiteouts. Every call is relative to a directory fd from the
//! resolver and creates with O_EXCL semantics, so an existing node is
//! replaced, never written through.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timestamps};
use rustix::io::Errno;

use super::{resolve_error, Extractor, Fill, Item};
use crate::error::lossy;
use crate::resolve::{clean_into, open_beneath, split_parent, ResolveError};
use crate::sparse::{self, MapError, PaxSparse};
use crate::stream::classify;
use crate::whiteout;
use crate::ArchiveError;

impl Extractor<'_> {
    pub(super) fn regular<R: Read>(
        &mut self,
        item: &Item<'_>,
        data: &mut R,
        fill: Fill,
    ) -> Result<(), ArchiveError> {
        let (parent_path, base) = item.parts();
        if base.is_empty() {
            return Err(ArchiveError::ReplacesRoot { entry: item.name() });
        }
        let parent = self.parent(item, parent_path)?;
        // O_EXCL: never open an existing node, in particular not through a
        // symlink an earlier entry left at this name.
        let fd = self.create(item, &parent, base, || {
            rfs::openat(
                &*parent,
                base,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
        })?;
        let file = File::from(fd);
        let (at, size) = (self.data_at, self.data_size);
        match fill {
            Fill::Dense => self.record(|r| r.file(at, size, item.path))?,
            // The data is not what ends up in the file; it stays raw, and the
            // caller keeps the original tar rather than a split that would
            // hold the whole data.
            Fill::ZeroScan | Fill::Map(_) => self.record(|r| {
                r.unreproducible();
                r.decide(at.saturating_add(size))
            })?,
        }
        let written = match fill {
            Fill::Dense => self.copy(item, data, &file, false)?,
            Fill::ZeroScan => self.copy(item, data, &file, true)?,
            Fill::Map(sparse) => self.copy_map(item, data, &file, sparse)?,
        };
        self.size += written;
        item.meta.apply_fd(
            file.as_fd(),
            item.xattrs,
            &|| item.name(),
            &mut self.warnings,
        )?;
        rfs::futimens(&file, &item.meta.times())
            .map_err(|e| ArchiveError::entry("set times of", &item.name(), e))
    }

    /// Copies entry data into `file`; holes of sparse entries stay holes.
    fn copy<R: Read>(
        &mut self,
        item: &Item<'_>,
        data: &mut R,
        file: &File,
        sparse: bool,
    ) -> Result<u64, ArchiveError> {
        let mut offset = 0u64;
        loop {
            let n = match data.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify(e, self.eof.load(Ordering::Relaxed))),
            };
            let chunk = &self.buf[..n];
            if !(sparse && is_zero(chunk)) {
                file.write_all_at(chunk, offset)
                    .map_err(|e| ArchiveError::entry("write", &item.name(), e))?;
            }
            offset += n as u64;
        }
        if sparse {
            file.set_len(offset)
                .map_err(|e| ArchiveError::entry("write", &item.name(), e))?;
        }
        Ok(offset)
    }

    fn copy_map<R: Read>(
        &mut self,
        item: &Item<'_>,
        data: &mut R,
        file: &File,
        sparse: PaxSparse,
    ) -> Result<u64, ArchiveError> {
        let res = match sparse.map {
            Some(map) => Ok(map),
            None => sparse::read_map_v1(data),
        }
        .and_then(|map| sparse::copy_map(data, file, &map, sparse.real_size, &mut self.buf));
        match res {
            Ok(()) => Ok(sparse.real_size),
            Err(MapError::Read(e)) => Err(classify(e, self.eof.load(Ordering::Relaxed))),
            Err(MapError::Write(e)) => Err(ArchiveError::entry("write", &item.name(), e)),
            Err(MapError::Invalid(reason)) => Err(ArchiveError::InvalidEntry {
                entry: item.name(),
                reason,
            }),
        }
    }

    pub(super) fn directory(&mut self, item: &Item<'_>) -> Result<(), ArchiveError> {
        let (parent_path, base) = item.parts();
        let fd = if base.is_empty() {
            // "./" describes the layer root itself.
            rfs::openat(
                self.resolver.root(),
                c".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| ArchiveError::entry("open", &item.name(), e))?
        } else {
            let parent = self.parent(item, parent_path)?;
            let mkdir = || rfs::mkdirat(&*parent, base, Mode::from_raw_mode(0o700));
            match mkdir() {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    if !self.make_room(item, &parent, base, true)? {
                        mkdir().map_err(|e| ArchiveError::entry("create", &item.name(), e))?;
                    }
                }
                Err(e) => return Err(ArchiveError::entry("create", &item.name(), e)),
            }
            rfs::openat(
                &*parent,
                base,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| ArchiveError::entry("open", &item.name(), e))?
        };
        item.meta
            .apply_fd(fd.as_fd(), item.xattrs, &|| item.name(), &mut self.warnings)?;
        // Its children usually come next.
        self.resolver.remember(item.path, Rc::new(fd));
        self.dir_times.push((item.path.to_vec(), item.meta.mtime));
        Ok(())
    }

    pub(super) fn symlink(&mut self, item: &Item<'_>, target: &[u8]) -> Result<(), ArchiveError> {
        let (parent_path, base) = item.parts();
        if base.is_empty() {
            return Err(ArchiveError::ReplacesRoot { entry: item.name() });
        }
        let parent = self.parent(item, parent_path)?;
        // The target is only a value stored in the link; nothing here
        // resolves it.
        self.create(item, &parent, base, || {
            rfs::symlinkat(target, &*parent, base)
        })?;
        item.meta.apply_at(
            parent.as_fd(),
            base,
            true,
            item.xattrs,
            &|| item.name(),
            &mut self.warnings,
        )?;
        self.size += target.len() as u64;
        Ok(())
    }

    pub(super) fn hardlink(
        &mut self,
        item: &Item<'_>,
        target_raw: &[u8],
    ) -> Result<(), ArchiveError> {
        let (parent_path, base) = item.parts();
        if base.is_empty() {
            return Err(ArchiveError::ReplacesRoot { entry: item.name() });
        }
        let target_name = || lossy(target_raw);
        let mut target = Vec::with_capacity(target_raw.len());
        if !clean_into(target_raw, &mut target) {
            return Err(ArchiveError::HardlinkEscape {
                entry: item.name(),
                target: target_name(),
            });
        }
        let missing = || ArchiveError::HardlinkMissing {
            entry: item.name(),
            target: target_name(),
        };
        let (target_dir, target_base) = split_parent(&target);
        if target_base.is_empty() {
            return Err(ArchiveError::HardlinkToDirectory {
                entry: item.name(),
                target: target_name(),
            });
        }
        // The target must already be in the layer, so nothing is created
        // while resolving it.
        let target_parent = match open_beneath(self.resolver.root(), target_dir, OFlags::PATH) {
            Ok(fd) => fd,
            Err(ResolveError::Symlink(end)) => {
                return Err(ArchiveError::HardlinkThroughSymlink {
                    entry: item.name(),
                    target: target_name(),
                    link: lossy(&target_dir[..end]),
                })
            }
            Err(ResolveError::Missing(_)) | Err(ResolveError::NotDir(_)) => return Err(missing()),
            Err(ResolveError::Io(e)) => {
                return Err(ArchiveError::entry("resolve", &item.name(), e))
            }
        };
        let st = match rfs::statat(&target_parent, target_base, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Err(missing()),
            Err(e) => return Err(ArchiveError::entry("inspect", &item.name(), e)),
        };
        let target_type = FileType::from_raw_mode(st.st_mode);
        if target_type == FileType::Directory {
            return Err(ArchiveError::HardlinkToDirectory {
                entry: item.name(),
                target: target_name(),
            });
        }
        let parent = self.parent(item, parent_path)?;
        // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
        let res = self.create(item, &parent, base, || {
            rfs::linkat(
                &target_parent,
                target_base,
                &*parent,
                base,
                AtFlags::empty(),
            )
        });
        match res {
            // Replacing the new name removed the target (a link to itself,
            // or into a directory the new name replaced).
            Err(ArchiveError::Entry { ref source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                return Err(missing())
            }
            other => other?,
        }
        // Docker applies the link header's metadata to the shared inode.
        item.meta.apply_at(
            parent.as_fd(),
            base,
            target_type == FileType::Symlink,
            item.xattrs,
            &|| item.name(),
            &mut self.warnings,
        )
    }

    pub(super) fn node(&mut self, item: &Item<'_>, kind: FileType) -> Result<(), ArchiveError> {
        let (parent_path, base) = item.parts();
        if base.is_empty() {
            return Err(ArchiveError::ReplacesRoot { entry: item.name() });
        }
        let parent = self.parent(item, parent_path)?;
        let dev = rfs::makedev(item.meta.major, item.meta.minor);
        self.create(item, &parent, base, || {
            rfs::mknodat(&*parent, base, kind, Mode::from_raw_mode(0o600), dev)
        })?;
        item.meta.apply_at(
            parent.as_fd(),
            base,
            false,
            item.xattrs,
            &|| item.name(),
            &mut self.warnings,
        )
    }

    /// `.wh.<target>` becomes the overlayfs whiteout: a 0/0 character device.
    pub(super) fn whiteout(
        &mut self,
        item: &Item<'_>,
        parent_path: &[u8],
        target: &[u8],
    ) -> Result<(), ArchiveError> {
        let parent = self.parent(item, parent_path)?;
        self.create(item, &parent, target, || {
            rfs::mknodat(
                &*parent,
                target,
                FileType::CharacterDevice,
                Mode::empty(),
                rfs::makedev(0, 0),
            )
        })?;
        let (uid, gid) = (
            Some(rfs::Uid::from_raw(item.meta.uid)),
            Some(rfs::Gid::from_raw(item.meta.gid)),
        );
        rfs::chownat(&*parent, target, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| ArchiveError::entry("chown", &item.name(), e))?;
        // Docker leaves the time of creation; the entry's time makes
        // extraction reproducible and survives a write_layer round trip.
        rfs::utimensat(
            &*parent,
            target,
            &item.meta.times(),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| ArchiveError::entry("set times of", &item.name(), e))
    }

    /// `.wh..wh..opq` marks its directory opaque.
    pub(super) fn opaque(
        &mut self,
        item: &Item<'_>,
        parent_path: &[u8],
    ) -> Result<(), ArchiveError> {
        self.parent(item, parent_path)?;
        let dir = open_beneath(self.resolver.root(), parent_path, OFlags::RDONLY)
            .map_err(|e| resolve_error(e, item, parent_path))?;
        rfs::fsetxattr(
            &dir,
            whiteout::OPAQUE_XATTR,
            whiteout::OPAQUE_VALUE,
            rfs::XattrFlags::empty(),
        )
        .map_err(|e| ArchiveError::entry("mark opaque", &item.name(), e))
    }

    /// Directory mtimes go last: creating children would change them.
    pub(super) fn finish_dirs(&mut self) -> Result<(), ArchiveError> {
        for (path, mtime) in &self.dir_times {
            let dir = match open_beneath(self.resolver.root(), path, OFlags::RDONLY) {
                Ok(fd) => fd,
                // Replaced by a later entry; its own metadata stands.
                Err(ResolveError::Io(Errno::NOENT)) | Err(ResolveError::Io(Errno::NOTDIR)) => {
                    continue
                }
                Err(ResolveError::Io(e)) => return Err(ArchiveError::fs("open", path, e)),
                Err(_) => continue,
            };
            let times = Timestamps {
                last_access: *mtime,
                last_modification: *mtime,
            };
            rfs::futimens(&dir, &times).map_err(|e| ArchiveError::fs("set times of", path, e))?;
        }
        Ok(())
    }
}

fn is_zero(data: &[u8]) -> bool {
    // OR-folding fixed chunks lets the compiler vectorise; `all` alone exits
    // early byte by byte.
    data.chunks(64)
        .all(|chunk| chunk.iter().fold(0u8, |acc, &b| acc | b) == 0)
}
