//! Content digests (`sha256:<hex>`), and readers/writers that compute them as bytes pass.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::StoreError;

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Result<Digest, StoreError> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| StoreError::InvalidDigest(s.to_string()))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(StoreError::InvalidDigest(s.to_string()));
        }
        Ok(Digest(s.to_string()))
    }

    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(h: Sha256) -> Digest {
        Digest(format!("sha256:{}", hex::encode(h.finalize())))
    }

    /// The 64 hex digits without the algorithm.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }

    /// The 12-hex short form Docker prints.
    pub fn short(&self) -> &str {
        &self.0[7..19]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Digest, StoreError> {
        Digest::parse(s)
    }
}

/// The digests named by the entries of a content directory (`<hex>` names); other
/// entries are ignored.
pub(crate) fn digests_in(dir: &std::path::Path) -> Result<Vec<Digest>, StoreError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            if let Ok(d) = Digest::parse(&format!("sha256:{name}")) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// Chain IDs per the OCI image spec: the first layer's chain ID is its diff ID, each
/// next one is `sha256(parent_chain + " " + diff_id)`. Layers are stored by chain ID so a
/// layer directory is shared exactly when the whole stack below it is the same.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Passes reads through while hashing and counting them.
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> DigestReader<R> {
    pub fn new(inner: R) -> Self {
        DigestReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn finish(self) -> (Digest, u64, R) {
        (Digest::from_hasher(self.hasher), self.count, self.inner)
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Passes writes through while hashing and counting them.
pub struct DigestWriter<W> {
    inner: W,
    /// None when the caller hashes the same bytes elsewhere already.
    hasher: Option<Sha256>,
    count: u64,
}

impl<W: Write> DigestWriter<W> {
    pub fn new(inner: W) -> Self {
        DigestWriter {
            inner,
            hasher: Some(Sha256::new()),
            count: 0,
        }
    }

    /// Stops hashing (before anything was written): the caller knows the digest.
    pub fn without_hashing(mut self) -> Self {
        self.hasher = None;
        self
    }

    /// The digest (None if hashing was turned off), the byte count and the inner writer.
    pub fn finish_parts(self) -> (Option<Digest>, u64, W) {
        (self.hasher.map(Digest::from_hasher), self.count, self.inner)
    }

    pub fn finish(self) -> (Digest, u64, W) {
        let (d, n, w) = self.finish_parts();
        (d.unwrap_or_else(|| Digest::of(b"")), n, w)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.short(), "e3b0c44298fc");
        assert!(Digest::parse(d.as_str()).is_ok());
        for bad in [
            "",
            "sha256:",
            "sha256:E3B0",
            "md5:00",
            &format!("sha256:{}g", &d.hex()[1..]),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn reader_and_writer_hash_what_passes() {
        let mut r = DigestReader::new(&b"hello"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let (d, n, _) = r.finish();
        assert_eq!((d, n), (Digest::of(b"hello"), 5));
        let mut w = DigestWriter::new(Vec::new());
        w.write_all(b"hello").unwrap();
        let (d, n, v) = w.finish();
        assert_eq!((d, n, v), (Digest::of(b"hello"), 5, b"hello".to_vec()));
    }
}
