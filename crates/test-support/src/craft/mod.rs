//! Hand-made tar layers and image archives for hostile-input tests.
//!
//! Well-behaved tools refuse to produce `../` names, absolute paths, devices
//! in layers, wrong diff_ids or truncated blobs, which are exactly what a
//! loader must survive. So every header here is written byte by byte: names
//! go straight into the header's name field (with GNU long-name records when
//! they do not fit), bypassing `tar::Builder`'s path sanitising. Output is
//! deterministic (fixed mtime, uid/gid 0) so digests are stable across runs.
//!
//! For images that *should* be valid prefer [`crate::image`], built by
//! umoci/skopeo; use this module when the archive itself is the test input.
//! Layers are written here; whole `docker save`/OCI archives around them in
//! [`archive`] (re-exported).

pub mod archive;

pub use archive::*;

use std::io::{self, Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use tar::{EntryType, Header};

/// Modification time stamped on every crafted entry (2020-09-13): fixed so
/// archives are reproducible, not 0 so nothing mistakes it for "unset".
pub const MTIME: u64 = 1_600_000_000;

/// One member of a crafted tar stream. Paths are written verbatim, so
/// `File { path: "../../etc/passwd".into(), .. }` is a traversal attempt.
#[derive(Clone, Debug)]
pub enum Entry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        path: String,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
    /// `target` is the name of an earlier member, as tar hard links are.
    Hardlink {
        path: String,
        target: String,
    },
    CharDev {
        path: String,
        major: u32,
        minor: u32,
    },
    BlockDev {
        path: String,
        major: u32,
        minor: u32,
    },
    Fifo {
        path: String,
    },
    /// Overlay-style deletion of `path` from lower layers: `dir/.wh.name`.
    Whiteout {
        path: String,
    },
    /// Hides everything lower layers put in `dir`: `dir/.wh..wh..opq`.
    Opaque {
        dir: String,
    },
    /// A regular file of `size` zero bytes, streamed rather than held in
    /// memory, for size bombs.
    Zeros {
        path: String,
        size: u64,
    },
    /// Arbitrary name/link bytes (non-UTF-8, NUL-free or not) and type.
    RawName {
        name: Vec<u8>,
        kind: EntryType,
        data: Vec<u8>,
        link: Vec<u8>,
        mode: u32,
    },
    /// A PAX extended header (`x` record) applying to the entry that follows
    /// it, e.g. `("path", b"../x")` or `("SCHILY.xattr.user.k", b"v")`.
    Pax {
        records: Vec<(String, Vec<u8>)>,
        entry: Box<Entry>,
    },
    /// Overrides the owner of `entry` (everything else is uid/gid 0).
    Owned {
        uid: u64,
        gid: u64,
        entry: Box<Entry>,
    },
    /// A header taken as-is (checksum included: call `set_cksum` yourself,
    /// or don't, to test checksum validation) followed by `data`.
    Header {
        header: Box<Header>,
        data: Vec<u8>,
    },
}

/// Regular file, mode 0644.
pub fn file(path: &str, data: impl Into<Vec<u8>>) -> Entry {
    Entry::File {
        path: path.into(),
        data: data.into(),
        mode: 0o644,
    }
}

/// Regular file with an explicit mode (setuid bits and all).
pub fn file_mode(path: &str, data: impl Into<Vec<u8>>, mode: u32) -> Entry {
    Entry::File {
        path: path.into(),
        data: data.into(),
        mode,
    }
}

/// Directory, mode 0755.
pub fn dir(path: &str) -> Entry {
    Entry::Dir {
        path: path.into(),
        mode: 0o755,
    }
}

pub fn symlink(path: &str, target: &str) -> Entry {
    Entry::Symlink {
        path: path.into(),
        target: target.into(),
    }
}

pub fn hardlink(path: &str, target: &str) -> Entry {
    Entry::Hardlink {
        path: path.into(),
        target: target.into(),
    }
}

pub fn whiteout(path: &str) -> Entry {
    Entry::Whiteout { path: path.into() }
}

pub fn opaque(dir: &str) -> Entry {
    Entry::Opaque { dir: dir.into() }
}

/// Streams `entries` as a tar archive (with the end-of-archive blocks) into
/// `w`, returning `w`. Entries are pulled one at a time, so an iterator of
/// millions of entries or a [`Entry::Zeros`] of gigabytes costs no memory.
pub fn write_tar<W: Write>(w: W, entries: impl IntoIterator<Item = Entry>) -> io::Result<W> {
    let mut b = tar::Builder::new(w);
    for e in entries {
        append(&mut b, &e)?;
    }
    b.into_inner()
}

/// A layer (uncompressed tar) made of `entries`.
pub fn layer(entries: &[Entry]) -> Vec<u8> {
    write_tar(Vec::new(), entries.iter().cloned()).expect("writing to memory")
}

/// A layer holding a copy of the directory tree at `dir` (e.g. a
/// [`crate::image::busybox_rootfs`]), for crafted images that still need to
/// run. Symlinks are stored as symlinks; modes, owners and mtimes come from
/// the files (`HeaderMode::Deterministic` would flatten `/tmp`'s 1777).
/// Names are relative without a `./` prefix, as Docker writes them.
pub fn layer_from_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    b.append_dir_all("", dir)
        .unwrap_or_else(|e| panic!("tar {}: {e}", dir.display()));
    b.into_inner().expect("writing to memory")
}

/// gzip `data` (the usual layer compression).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

/// Decompresses gzip (all members); `None` if `data` is not valid gzip.
pub fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(data).read_to_end(&mut out).ok()?;
    Some(out)
}

/// The first `n` bytes of `data` (all of it if shorter): a transfer cut short.
pub fn truncate(data: &[u8], n: usize) -> Vec<u8> {
    data[..n.min(data.len())].to_vec()
}

/// Streams a tar bomb made of `entries` into `w` (see [`bomb`] for
/// generators); same as [`write_tar`], named for intent at call sites.
pub fn tar_bomb<W: Write>(w: W, entries: impl IntoIterator<Item = Entry>) -> io::Result<W> {
    write_tar(w, entries)
}

/// [`tar_bomb`] through gzip, so a tiny download expands enormously.
pub fn tar_bomb_gz<W: Write>(w: W, entries: impl IntoIterator<Item = Entry>) -> io::Result<W> {
    write_tar(GzEncoder::new(w, Compression::best()), entries)?.finish()
}

/// Entry generators for [`tar_bomb`]; all lazy.
pub mod bomb {
    use super::Entry;

    /// `n` one-byte files spread over directories of 1000, so the test
    /// exercises entry count rather than one huge directory.
    pub fn many_files(n: u64) -> impl Iterator<Item = Entry> {
        (0..n).flat_map(|i| {
            let d = format!("d{:06}", i / 1000);
            let f = Entry::File {
                path: format!("{d}/f{i:09}"),
                data: vec![b'x'],
                mode: 0o644,
            };
            let first = (i % 1000 == 0).then(|| super::dir(&d));
            first.into_iter().chain(std::iter::once(f))
        })
    }

    /// Nested directories `d/d/d/...` `depth` deep, then a file at the bottom.
    pub fn deep_dirs(depth: usize) -> impl Iterator<Item = Entry> {
        (1..=depth)
            .map(|i| super::dir(&vec!["d"; i].join("/")))
            .chain(std::iter::once(super::file(
                &format!("{}/bottom", vec!["d"; depth].join("/")),
                "x",
            )))
    }

    /// One file of `size` zero bytes; gzipped it shrinks ~1000:1.
    pub fn zeros(size: u64) -> impl Iterator<Item = Entry> {
        std::iter::once(Entry::Zeros {
            path: "zeros".into(),
            size,
        })
    }

    /// `n` hard links to one small file, for link-count and dedup bugs.
    pub fn hardlinks(n: u64) -> impl Iterator<Item = Entry> {
        std::iter::once(super::file("target", "x"))
            .chain((0..n).map(|i| super::hardlink(&format!("link{i:09}"), "target")))
    }
}

/// Gzipped tar of one `size`-byte file of zeros, built in a stream: a
/// compression bomb as a layer blob.
pub fn gzip_bomb(size: u64) -> Vec<u8> {
    tar_bomb_gz(Vec::new(), bomb::zeros(size)).expect("writing to memory")
}

fn append<W: Write>(b: &mut tar::Builder<W>, e: &Entry) -> io::Result<()> {
    append_owned(b, e, 0, 0)
}

fn append_owned<W: Write>(
    b: &mut tar::Builder<W>,
    e: &Entry,
    uid: u64,
    gid: u64,
) -> io::Result<()> {
    let simple = |b: &mut tar::Builder<W>, name: &[u8], kind, mode, data: &[u8], link: &[u8]| {
        raw(
            b,
            name,
            kind,
            mode,
            uid,
            gid,
            data.len() as u64,
            link,
            (0, 0),
            data,
        )
    };
    match e {
        Entry::File { path, data, mode } => {
            simple(b, path.as_bytes(), EntryType::Regular, *mode, data, b"")
        }
        Entry::Dir { path, mode } => {
            simple(b, path.as_bytes(), EntryType::Directory, *mode, b"", b"")
        }
        Entry::Symlink { path, target } => simple(
            b,
            path.as_bytes(),
            EntryType::Symlink,
            0o777,
            b"",
            target.as_bytes(),
        ),
        Entry::Hardlink { path, target } => simple(
            b,
            path.as_bytes(),
            EntryType::Link,
            0o644,
            b"",
            target.as_bytes(),
        ),
        Entry::CharDev { path, major, minor } => raw(
            b,
            path.as_bytes(),
            EntryType::Char,
            0o666,
            uid,
            gid,
            0,
            b"",
            (*major, *minor),
            &b""[..],
        ),
        Entry::BlockDev { path, major, minor } => raw(
            b,
            path.as_bytes(),
            EntryType::Block,
            0o660,
            uid,
            gid,
            0,
            b"",
            (*major, *minor),
            &b""[..],
        ),
        Entry::Fifo { path } => simple(b, path.as_bytes(), EntryType::Fifo, 0o644, b"", b""),
        Entry::Whiteout { path } => {
            let (parent, name) = split_parent(path);
            let wh = format!("{parent}.wh.{name}");
            simple(b, wh.as_bytes(), EntryType::Regular, 0o644, b"", b"")
        }
        Entry::Opaque { dir } => {
            let d = dir.trim_end_matches('/');
            let wh = if d.is_empty() {
                ".wh..wh..opq".to_string()
            } else {
                format!("{d}/.wh..wh..opq")
            };
            simple(b, wh.as_bytes(), EntryType::Regular, 0o644, b"", b"")
        }
        Entry::Zeros { path, size } => raw(
            b,
            path.as_bytes(),
            EntryType::Regular,
            0o644,
            uid,
            gid,
            *size,
            b"",
            (0, 0),
            io::repeat(0).take(*size),
        ),
        Entry::RawName {
            name,
            kind,
            data,
            link,
            mode,
        } => simple(b, name, *kind, *mode, data, link),
        Entry::Pax { records, entry } => {
            let mut body = Vec::new();
            for (k, v) in records {
                body.extend(pax_record(k, v));
            }
            simple(
                b,
                b"PaxHeaders/entry",
                EntryType::XHeader,
                0o644,
                &body,
                b"",
            )?;
            append_owned(b, entry, uid, gid)
        }
        Entry::Owned { uid, gid, entry } => append_owned(b, entry, *uid, *gid),
        Entry::Header { header, data } => b.append(header, data.as_slice()),
    }
}

/// `"a/b/c"` → `("a/b/", "c")`, keeping whatever prefix style the caller used.
fn split_parent(path: &str) -> (&str, &str) {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

/// One PAX record: `"<len> <key>=<value>\n"` where len counts itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len = len.to_string().len() + rest;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

#[allow(clippy::too_many_arguments)]
fn raw<W: Write>(
    b: &mut tar::Builder<W>,
    name: &[u8],
    kind: EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    link: &[u8],
    dev: (u32, u32),
    data: impl Read,
) -> io::Result<()> {
    // GNU long-name/long-link records precede the entry when a field
    // overflows; the entry's own field then holds the truncated name, as GNU
    // tar writes it.
    if link.len() > 100 {
        long_record(b, EntryType::GNULongLink, link)?;
    }
    if name.len() > 100 {
        long_record(b, EntryType::GNULongName, name)?;
    }
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_mtime(MTIME);
    h.set_size(size);
    {
        let old = h.as_old_mut();
        let n = name.len().min(100);
        old.name = [0; 100];
        old.name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(100);
        old.linkname = [0; 100];
        old.linkname[..l].copy_from_slice(&link[..l]);
    }
    if matches!(kind, EntryType::Char | EntryType::Block) {
        h.set_device_major(dev.0)?;
        h.set_device_minor(dev.1)?;
    }
    h.set_cksum();
    b.append(&h, data)
}

fn long_record<W: Write>(b: &mut tar::Builder<W>, kind: EntryType, value: &[u8]) -> io::Result<()> {
    let mut data = value.to_vec();
    data.push(0);
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_size(data.len() as u64);
    let name = b"././@LongLink";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    b.append(&h, data.as_slice())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tools;
    use std::process::Command;

    pub(crate) fn tar_tv(data: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tar");
        std::fs::write(&p, data).unwrap();
        tools::run_stdout(Command::new("tar").arg("-tvf").arg(&p).env("TZ", "UTC"))
    }

    pub(crate) fn tar_t(data: &[u8]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tar");
        std::fs::write(&p, data).unwrap();
        tools::run_stdout(Command::new("tar").arg("-tf").arg(&p))
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn layer_entries_listed_by_tar() {
        let long = format!("{}/file", "x".repeat(150));
        let l = layer(&[
            dir("etc"),
            file_mode("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o4755),
            symlink("etc/link", "/etc/passwd"),
            hardlink("etc/hard", "etc/passwd"),
            Entry::CharDev {
                path: "dev/null".into(),
                major: 1,
                minor: 3,
            },
            Entry::Fifo {
                path: "fifo".into(),
            },
            whiteout("usr/bin/gone"),
            opaque("var/"),
            file("../../escape", "x"),
            file("/abs", "x"),
            file(&long, "long"),
            symlink("longlink", &long),
            Entry::RawName {
                name: b"bad\xffname".to_vec(),
                kind: EntryType::Regular,
                data: b"x".to_vec(),
                link: vec![],
                mode: 0o600,
            },
            Entry::Owned {
                uid: 1000,
                gid: 1000,
                entry: Box::new(file("owned", "x")),
            },
        ]);
        let names = tar_t(&l);
        assert_eq!(
            names[..10],
            [
                "etc",
                "etc/passwd",
                "etc/link",
                "etc/hard",
                "dev/null",
                "fifo",
                "usr/bin/.wh.gone",
                "var/.wh..wh..opq",
                "../../escape",
                "/abs",
            ]
        );
        assert_eq!(names[10], long);
        assert_eq!(names[11], "longlink");
        assert_eq!(names[12].as_bytes(), b"bad\\377name");
        let tv = tar_tv(&l);
        assert!(tv.contains("-rwsr-xr-x 0/0"), "{tv}");
        assert!(
            tv.contains("crw-rw-rw- 0/0") && tv.contains(" 1,3 "),
            "{tv}"
        );
        assert!(tv.contains(&format!("longlink -> {long}")), "{tv}");
        assert!(tv.contains("etc/hard link to etc/passwd"), "{tv}");
        assert!(tv.contains("1000/1000"), "{tv}");
        // tar crate can read it back too, names raw.
        let mut a = tar::Archive::new(l.as_slice());
        let n = a.entries().unwrap().count();
        assert_eq!(n, 14);
    }

    #[test]
    fn layer_from_busybox_rootfs() {
        let d = tempfile::tempdir().unwrap();
        crate::image::busybox_rootfs(d.path());
        let l = layer_from_dir(d.path());
        let names = tar_t(&l);
        assert!(names.contains(&"bin/busybox".to_string()), "{names:?}");
        assert!(names.iter().all(|n| !n.starts_with("./")), "{names:?}");
        let tv = tar_tv(&l);
        assert!(tv.contains("drwxrwxrwt"), "{tv}");
        assert!(tv.contains("bin/sh -> busybox"), "{tv}");
    }

    #[test]
    fn pax_records() {
        assert_eq!(pax_record("path", b"abc"), b"12 path=abc\n");
        // 99 bytes of payload: the length field's own digits push the
        // total over a power of ten (2 digits would give 101, so 3: 102).
        let r = pax_record("k", &[b'v'; 95]);
        assert_eq!(r.len(), 102);
        assert!(r.starts_with(b"102 k="));
        let l = layer(&[Entry::Pax {
            records: vec![("path".into(), b"pax/name".to_vec())],
            entry: Box::new(file("short", "x")),
        }]);
        assert_eq!(tar_t(&l), ["pax/name"]);
    }

    #[test]
    fn gzip_truncate_diff_id() {
        let l = layer(&[file("a", "hello")]);
        let gz = gzip(&l);
        assert_eq!(gunzip(&gz).unwrap(), l);
        assert_eq!(diff_id(&gz), crate::digest(&l));
        assert_eq!(truncate(&gz, 10).len(), 10);
        assert_eq!(truncate(&gz, 1 << 30), gz);
        assert!(gunzip(&truncate(&gz, 20)).is_none());
        assert_eq!(
            layer_media_type(&gz),
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(
            layer_media_type(&l),
            "application/vnd.oci.image.layer.v1.tar"
        );
    }

    #[test]
    fn bombs_stream() {
        struct Count(u64);
        impl Write for Count {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0 += b.len() as u64;
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let c = tar_bomb(Count(0), bomb::many_files(10_000)).unwrap();
        // 10 dirs + 10k files, 512-byte header + 512-byte data each file.
        assert_eq!(c.0, 10 * 512 + 10_000 * 1024 + 1024);
        let gz = gzip_bomb(64 << 20);
        assert!(gz.len() < 200_000, "{}", gz.len());
        assert_eq!(tar_t(&gunzip(&gz).unwrap()), ["zeros"]);
        let deep: Vec<_> = bomb::deep_dirs(3).collect();
        assert_eq!(deep.len(), 4);
        assert_eq!(tar_t(&layer(&deep))[3], "d/d/d/bottom");
        assert_eq!(bomb::hardlinks(5).count(), 6);
    }
}
