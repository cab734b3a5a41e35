//! Content-addressed blobs (`blobs/sha256/<hex>`): manifests, configs, layer archives.
//! Everything written is verified against its digest before it becomes visible.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use crate::{Digest, DigestWriter, StoreError, TmpArea};

pub struct BlobStore {
    dir: PathBuf,
    tmp: TmpArea,
}

/// A blob being written: bytes go to a temporary file while being hashed; `commit`
/// verifies and renames it into place.
pub struct BlobWriter {
    tmp_path: PathBuf,
    out: DigestWriter<BufWriter<File>>,
    dest_dir: PathBuf,
}

impl BlobStore {
    pub(crate) fn new(dir: PathBuf, tmp: TmpArea) -> BlobStore {
        BlobStore { dir, tmp }
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).exists()
    }

    pub fn open(&self, digest: &Digest) -> Result<File, StoreError> {
        let p = self.path(digest);
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobNotFound(digest.to_string()),
            _ => StoreError::io(&p, e),
        })
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut buf = Vec::new();
        let p = self.path(digest);
        self.open(digest)?
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io(&p, e))?;
        Ok(buf)
    }

    pub fn writer(&self) -> Result<BlobWriter, StoreError> {
        let tmp_path = self.tmp.path("blob")?;
        let file = File::create(&tmp_path).map_err(|e| StoreError::io(&tmp_path, e))?;
        Ok(BlobWriter {
            tmp_path,
            out: DigestWriter::new(BufWriter::with_capacity(256 * 1024, file)),
            dest_dir: self.dir.clone(),
        })
    }

    /// Stores `bytes`, verifying them against `expected` when given.
    pub fn put(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest, StoreError> {
        let actual = Digest::of(bytes);
        if let Some(exp) = expected {
            if *exp != actual {
                return Err(StoreError::DigestMismatch {
                    expected: exp.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        if self.exists(&actual) {
            return Ok(actual);
        }
        let mut w = self.writer()?;
        w.write_all(bytes)
            .map_err(|e| StoreError::io(&w.tmp_path, e))?;
        w.commit(Some(&actual)).map(|(d, _)| d)
    }

    /// Every blob file present, for consistency checks and garbage collection.
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        crate::digest::digests_in(&self.dir)
    }

    pub fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        let p = self.path(digest);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::io(&p, e)),
            _ => Ok(()),
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl BlobWriter {
    /// Stops hashing: for a blob whose exact bytes the caller hashes anyway (an
    /// uncompressed layer, whose diff ID is its digest), so they are hashed once.
    /// Finish such a blob with [`BlobWriter::commit_known`].
    pub fn hashed_by_caller(mut self) -> Self {
        self.out = self.out.without_hashing();
        self
    }

    /// Moves a blob written with [`BlobWriter::hashed_by_caller`] into place under
    /// the digest the caller computed over the same bytes.
    pub fn commit_known(self, digest: &Digest) -> Result<(Digest, u64), StoreError> {
        let (_, size, buf) = self.out.finish_parts();
        BlobWriter::finish_inner(
            self.tmp_path,
            self.dest_dir,
            digest.clone(),
            size,
            buf,
            None,
        )
    }

    /// Verifies the digest (when one is expected) and moves the blob into place.
    /// On mismatch the temporary file is deleted and nothing becomes visible.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64), StoreError> {
        let (digest, size, buf) = self.out.finish_parts();
        let digest = match digest {
            Some(d) => d,
            None => return Err(StoreError::Corrupt("blob written without a digest".into())),
        };
        BlobWriter::finish_inner(self.tmp_path, self.dest_dir, digest, size, buf, expected)
    }

    fn finish_inner(
        tmp_path: PathBuf,
        dest_dir: PathBuf,
        digest: Digest,
        size: u64,
        buf: BufWriter<File>,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), StoreError> {
        let result = (|| {
            let file = buf
                .into_inner()
                .map_err(|e| StoreError::io(&tmp_path, e.into_error()))?;
            drop(file);
            if let Some(exp) = expected {
                if *exp != digest {
                    return Err(StoreError::DigestMismatch {
                        expected: exp.to_string(),
                        actual: digest.to_string(),
                    });
                }
            }
            let dest = dest_dir.join(digest.hex());
            fs::rename(&tmp_path, &dest).map_err(|e| StoreError::io(&dest, e))?;
            Ok((digest, size))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp_path);
        }
        result
    }

    /// Abandons the blob.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.tmp_path);
    }
}
