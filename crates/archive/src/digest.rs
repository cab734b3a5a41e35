//! Hashing adaptors: the diff_id of a layer is the sha256 of its uncompressed
//! tar stream, so the bytes are hashed while they pass between the decoder
//! and the tar parser (or between the tar builder and the output) instead of
//! being read a second time.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// Formats a finished hash the way image configs spell diff_ids.
pub(crate) fn format_digest(hasher: Sha256) -> String {
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Read adaptor that hashes everything read through it and remembers whether
/// the underlying stream reached its end, which tells a truncated archive
/// apart from a malformed one when the tar parser gives up.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    eof: Rc<Cell<bool>>,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R, eof: Rc<Cell<bool>>) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            eof,
        }
    }

    pub(crate) fn finish(self) -> String {
        format_digest(self.hasher)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof.set(true);
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Write adaptor that hashes everything written through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
        }
    }

    pub(crate) fn finish(mut self) -> io::Result<String> {
        self.inner.flush()?;
        Ok(format_digest(self.hasher))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
