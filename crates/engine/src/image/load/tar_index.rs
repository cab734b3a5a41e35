//! Random access into an image archive (the outer tar of `docker save` or an OCI
//! layout): one pass over the headers records where each member's bytes are, so
//! layers can then be read in parallel straight from the file, with no copy.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::EngineError;

/// The largest JSON member (manifest, index, config) read into memory.
const MAX_JSON: u64 = 32 << 20;

#[derive(Debug, Clone)]
struct Member {
    offset: u64,
    size: u64,
    /// Target and whether it is a symlink (relative to its directory) rather than a
    /// hard link (relative to the archive root).
    link: Option<(String, bool)>,
}

pub struct TarIndex {
    file: Arc<File>,
    members: HashMap<String, Member>,
}

impl TarIndex {
    pub fn build(file: File) -> Result<TarIndex, EngineError> {
        let bad =
            |e: io::Error| EngineError::InvalidArchive(format!("not a valid tar archive: {e}"));
        let file = Arc::new(file);
        let mut members = HashMap::new();
        let mut archive = tar::Archive::new(&*file);
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            let link = if kind.is_symlink() || kind.is_hard_link() {
                entry
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
            } else {
                None
            };
            if kind.is_file() || link.is_some() {
                members.insert(
                    name,
                    Member {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                        link: link.map(|l| (l, kind.is_symlink())),
                    },
                );
            }
        }
        if members.is_empty() {
            return Err(EngineError::InvalidArchive(
                "the archive is empty or not a tar file".into(),
            ));
        }
        Ok(TarIndex { file, members })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Follows symlinks between members (old `docker save` links duplicate layers).
    fn find(&self, name: &str) -> Option<&Member> {
        let mut name = normalize(name);
        for _ in 0..16 {
            let m = self.members.get(&name)?;
            match &m.link {
                None => return Some(m),
                Some((target, is_symlink)) => {
                    name = if !is_symlink || target.starts_with('/') {
                        normalize(target)
                    } else {
                        let base = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        normalize(&format!("{base}/{target}"))
                    };
                }
            }
        }
        None
    }

    pub fn size(&self, name: &str) -> Option<u64> {
        self.find(name).map(|m| m.size)
    }

    /// A reader over one member's bytes.
    pub fn open(&self, name: &str) -> Result<MemberReader, EngineError> {
        let m = self.find(name).ok_or_else(|| missing(name))?;
        Ok(MemberReader {
            file: self.file.clone(),
            pos: m.offset,
            end: m.offset + m.size,
        })
    }

    /// A member read whole, refusing anything implausibly large for JSON.
    pub fn read_json_member(&self, name: &str) -> Result<Vec<u8>, EngineError> {
        let m = self.find(name).ok_or_else(|| missing(name))?;
        if m.size > MAX_JSON {
            return Err(EngineError::InvalidArchive(format!(
                "{name} is {} bytes, too large for a JSON document",
                m.size
            )));
        }
        let mut buf = Vec::with_capacity(m.size as usize);
        self.open(name)?
            .read_to_end(&mut buf)
            .map_err(|e| EngineError::io(format!("reading {name}"), e))?;
        Ok(buf)
    }
}

fn missing(name: &str) -> EngineError {
    EngineError::InvalidArchive(format!("{name} is referenced but not in the archive"))
}

/// `./a//b/` and `/a/b` both name `a/b`; `..` is resolved lexically (names here are
/// keys into the archive, never paths on the host).
fn normalize(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Reads a byte range of the archive with positioned reads, so several layers can
/// be read at once from one file.
#[derive(Clone)]
pub struct MemberReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for MemberReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end - self.pos;
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(left as usize);
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside a member",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn names_normalize() {
        assert_eq!(normalize("./manifest.json"), "manifest.json");
        assert_eq!(normalize("/blobs//sha256/ab"), "blobs/sha256/ab");
        assert_eq!(normalize("abc/../def/layer.tar"), "def/layer.tar");
        assert_eq!(normalize("../../x"), "x");
    }
}
