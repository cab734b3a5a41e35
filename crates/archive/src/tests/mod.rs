//! Tests against the real filesystem, in temporary directories. They expect
//! to run as root (device nodes, trusted.* xattrs, chown), as the engine does.

mod bench;
mod hostile;
mod normal;
mod roundtrip;
mod split;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use crate::{extract_layer, ArchiveError, ExtractOptions, LayerStats};

/// Builds test archives; `raw_*` methods bypass the `tar` crate's name
/// validation to produce the hostile names a real attacker would.
pub(crate) struct Tar {
    b: tar::Builder<Vec<u8>>,
}

pub(crate) const MTIME: u64 = 1_600_000_000;

impl Tar {
    pub(crate) fn new() -> Self {
        Tar {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h
    }

    /// Appends an entry with the name (and link name) copied verbatim.
    /// Names longer than a header field go first in GNU long name/link entries.
    pub(crate) fn raw(
        &mut self,
        mut h: Header,
        name: &[u8],
        link: &[u8],
        data: &[u8],
    ) -> &mut Self {
        for (kind, value) in [
            (EntryType::GNULongName, name),
            (EntryType::GNULongLink, link),
        ] {
            if value.len() > 100 {
                let mut l = Header::new_gnu();
                l.set_entry_type(kind);
                l.set_size(value.len() as u64 + 1);
                l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
                l.set_cksum();
                let mut v = value.to_vec();
                v.push(0);
                self.b.append(&l, v.as_slice()).unwrap();
            }
        }
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        old.linkname = [0; 100];
        old.linkname[..link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub(crate) fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        let h = Self::header(EntryType::Regular, mode, 0);
        self.raw(h, name.as_bytes(), b"", data)
    }

    pub(crate) fn file_owned(
        &mut self,
        name: &str,
        mode: u32,
        uid: u64,
        gid: u64,
        data: &[u8],
    ) -> &mut Self {
        let mut h = Self::header(EntryType::Regular, mode, 0);
        h.set_uid(uid);
        h.set_gid(gid);
        self.raw(h, name.as_bytes(), b"", data)
    }

    pub(crate) fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let h = Self::header(EntryType::Directory, mode, 0);
        self.raw(h, name.as_bytes(), b"", b"")
    }

    pub(crate) fn dir_at(&mut self, name: &str, mode: u32, mtime: u64) -> &mut Self {
        let mut h = Self::header(EntryType::Directory, mode, 0);
        h.set_mtime(mtime);
        self.raw(h, name.as_bytes(), b"", b"")
    }

    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = Self::header(EntryType::Symlink, 0o777, 0);
        self.raw(h, name.as_bytes(), target.as_bytes(), b"")
    }

    /// Hardlink headers carry the inode's metadata, which Docker applies.
    pub(crate) fn hardlink(&mut self, name: &str, target: &str, mode: u32) -> &mut Self {
        let h = Self::header(EntryType::Link, mode, 0);
        self.raw(h, name.as_bytes(), target.as_bytes(), b"")
    }

    pub(crate) fn node(
        &mut self,
        name: &str,
        kind: EntryType,
        major: u32,
        minor: u32,
    ) -> &mut Self {
        let mut h = Self::header(kind, 0o640, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.raw(h, name.as_bytes(), b"", b"")
    }

    /// A PAX record block describing the next entry.
    pub(crate) fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.b
            .append_pax_extensions(records.iter().map(|(k, v)| (*k, *v)))
            .unwrap();
        self
    }

    /// Appends raw bytes (hand-made headers, garbage).
    pub(crate) fn bytes(&mut self, data: &[u8]) -> &mut Self {
        self.b.get_mut().extend_from_slice(data);
        self
    }

    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

pub(crate) fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A scratch area: `dest` is where layers go, `outer` surrounds it so
/// escapes can be detected.
pub(crate) struct Scratch {
    pub(crate) _tmp: tempfile::TempDir,
    pub(crate) outer: PathBuf,
    pub(crate) dest: PathBuf,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let outer = tmp.path().join("outer");
        let dest = outer.join("a").join("b").join("dest");
        fs::create_dir_all(&dest).unwrap();
        fs::create_dir_all(outer.join("host/etc")).unwrap();
        fs::write(
            outer.join("host/etc/passwd"),
            b"root:x:0:0::/root:/bin/sh\n",
        )
        .unwrap();
        fs::write(outer.join("host/etc/shadow"), b"root:secret\n").unwrap();
        Scratch {
            _tmp: tmp,
            outer,
            dest,
        }
    }

    pub(crate) fn extract(&self, data: &[u8]) -> Result<LayerStats, ArchiveError> {
        self.extract_with(data, &ExtractOptions::default())
    }

    pub(crate) fn extract_with(
        &self,
        data: &[u8],
        opts: &ExtractOptions,
    ) -> Result<LayerStats, ArchiveError> {
        extract_layer(data, &self.dest, opts)
    }

    /// Everything under `outer` except `dest`, with contents.
    pub(crate) fn outside(&self) -> BTreeMap<PathBuf, Node> {
        let mut all = snapshot(&self.outer);
        let rel = self.dest.strip_prefix(&self.outer).unwrap().to_path_buf();
        all.retain(|p, _| !p.starts_with(&rel) || p == &rel);
        all.remove(&rel);
        all
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }
}

/// Everything observable about one node, for tree comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) kind: &'static str,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: i64,
    pub(crate) size: u64,
    pub(crate) rdev: u64,
    pub(crate) content: Vec<u8>,
    pub(crate) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// First path (in walk order) sharing this inode, for hardlinks.
    pub(crate) link_group: Option<PathBuf>,
}

/// Snapshot of a tree (root excluded), keyed by relative path.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, PathBuf> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let md = fs::symlink_metadata(&path).unwrap();
            let ft = md.file_type();
            let (kind, content) = if ft.is_dir() {
                stack.push(path.clone());
                ("dir", Vec::new())
            } else if ft.is_symlink() {
                let t = fs::read_link(&path).unwrap();
                ("symlink", t.as_os_str().as_bytes().to_vec())
            } else if ft.is_file() {
                ("file", fs::read(&path).unwrap())
            } else if ft.is_char_device() {
                ("char", Vec::new())
            } else if ft.is_block_device() {
                ("block", Vec::new())
            } else if ft.is_fifo() {
                ("fifo", Vec::new())
            } else {
                ("other", Vec::new())
            };
            let link_group = if !ft.is_dir() && md.nlink() > 1 {
                Some(inodes.entry(md.ino()).or_insert(rel.clone()).clone())
            } else {
                None
            };
            out.insert(
                rel,
                Node {
                    kind,
                    mode: md.mode() & 0o7777,
                    uid: md.uid(),
                    gid: md.gid(),
                    mtime: md.mtime(),
                    size: if ft.is_dir() { 0 } else { md.size() },
                    rdev: md.rdev(),
                    content,
                    xattrs: xattrs(&path),
                    link_group,
                },
            );
        }
    }
    out
}

/// [`snapshot`] with directory mtimes zeroed: implied parents get the time
/// of extraction, which differs between two extractions a second apart.
pub(crate) fn snapshot_timeless_dirs(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut tree = snapshot(root);
    tree.values_mut()
        .filter(|n| n.kind == "dir")
        .for_each(|n| n.mtime = 0);
    tree
}

pub(crate) fn xattrs(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(path, &mut names[..]).unwrap_or(0);
    names.truncate(n);
    let mut out = Vec::new();
    for key in names.split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let mut value = vec![0u8; 4096];
        let n = rustix::fs::lgetxattr(path, key, &mut value[..]).unwrap();
        value.truncate(n);
        out.push((key.to_vec(), value));
    }
    out.sort();
    out
}

pub(crate) fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    xattrs(path)
        .into_iter()
        .find(|(k, _)| k == name.as_bytes())
        .map(|(_, v)| v)
}
