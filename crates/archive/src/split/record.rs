//! Recording a split while a layer is extracted.
//!
//! [`Recorder`] sits right above the channel from the decompressing thread,
//! so it sees every byte of the uncompressed stream exactly once and knows
//! its absolute offset. It cannot tell on its own which bytes are file
//! content: the tar parser reads through a 64 KiB buffer, so bytes arrive
//! before the header that says what they are has been parsed. It therefore
//! holds undecided bytes in a window, and the extractor, which sees each
//! header, tells it where file contents that went to disk lie
//! ([`Recording::file`]) and up to where everything else is raw
//! ([`Recording::decide`]). The window stays bounded by the read-ahead plus
//! one entry's headers; the content of files is never held once announced.
//!
//! It also tracks whether the directory will still hold every recorded file
//! unchanged at the end, which is what `LayerStats::reproducible` reports.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::rc::Rc;

use super::Encoder;

/// Shared between the reader stack and the extractor, both on the worker.
pub(crate) type Shared<'w> = Rc<RefCell<Recording<'w>>>;

/// Where the split goes; `Send` because the worker thread writes it.
pub(crate) type Sink<'w> = &'w mut (dyn Write + Send);

pub(crate) struct Recording<'w> {
    enc: Encoder<Sink<'w>>,
    /// Stream offset of the next byte to arrive.
    pos: u64,
    /// Undecided bytes: the stream range `[pos - pending.len(), pos)`.
    pending: Window,
    /// Bytes before this offset are raw unless announced as file content.
    decided: u64,
    /// Incoming bytes before this offset are content of an announced file.
    file_end: u64,
    /// Clean paths of the files recorded so far, to notice their removal.
    files: BTreeSet<Box<[u8]>>,
    reproducible: bool,
    /// First failure to write the split; extraction stops with it.
    failed: Option<io::Error>,
}

impl<'w> Recording<'w> {
    pub(crate) fn new(out: Sink<'w>) -> io::Result<Self> {
        Ok(Recording {
            enc: Encoder::new(out)?,
            pos: 0,
            pending: Window::default(),
            decided: 0,
            file_end: 0,
            files: BTreeSet::new(),
            reproducible: true,
            failed: None,
        })
    }

    /// Takes the error that stopped recording, if any.
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.failed.take()
    }

    fn start(&self) -> u64 {
        self.pos - self.pending.len() as u64
    }

    /// Bytes just passed up to the parser.
    fn observe(&mut self, mut data: &[u8]) -> io::Result<()> {
        if self.pos < self.file_end {
            // Announced content goes to disk; nothing to keep. The window is
            // empty here: the announcement consumed it.
            let k = (self.file_end - self.pos).min(data.len() as u64);
            self.pos += k;
            data = &data[k as usize..];
        }
        self.pending.push(data);
        self.pos += data.len() as u64;
        self.flush()
    }

    /// Everything before `offset` that was not announced as file content is
    /// raw; called as entries go by so the window does not grow.
    pub(crate) fn decide(&mut self, offset: u64) -> io::Result<()> {
        self.decided = self.decided.max(offset);
        self.flush()
    }

    /// The `size` bytes at `offset` are about to be written to the regular
    /// file at the clean relative path `path`. Their header has been parsed,
    /// so they have not been flushed as raw yet, though some may be waiting.
    pub(crate) fn file(&mut self, offset: u64, size: u64, path: &[u8]) -> io::Result<()> {
        let start = self.start();
        if offset < start || offset > self.pos {
            // The parser and this recorder disagree about the stream; record
            // the bytes as raw and let the caller keep the original.
            self.reproducible = false;
            return self.decide(offset.saturating_add(size));
        }
        let before = (offset - start) as usize;
        self.enc.raw(&self.pending.bytes()[..before])?;
        let end = offset.saturating_add(size);
        if end <= self.pos {
            // Small file: read ahead entirely.
            self.pending.consume((end - start) as usize);
        } else {
            self.pending.clear();
            self.file_end = end;
        }
        self.enc.file(path, size)?;
        self.decided = self.decided.max(end);
        if !self.files.insert(path.into()) {
            // The earlier content is gone from the directory.
            self.reproducible = false;
        }
        Ok(())
    }

    /// The node at clean path `path` is about to be removed (replaced by a
    /// later entry); `dir` if it is a directory, removed with its contents.
    pub(crate) fn removing(&mut self, path: &[u8], dir: bool) {
        let gone = if dir {
            let mut prefix = path.to_vec();
            prefix.push(b'/');
            // Paths under `prefix` sort right after it.
            self.files
                .range::<[u8], _>((
                    std::ops::Bound::Included(&prefix[..]),
                    std::ops::Bound::Unbounded,
                ))
                .next()
                .is_some_and(|p| p.starts_with(&prefix))
        } else {
            self.files.contains(path)
        };
        if gone {
            self.reproducible = false;
        }
    }

    /// Something was written that the split cannot describe (sparse files).
    pub(crate) fn unreproducible(&mut self) {
        self.reproducible = false;
    }

    /// The stream has been read to EOF: the rest is raw. Returns whether the
    /// split reproduces the stream, and its length.
    pub(crate) fn finish(&mut self) -> io::Result<(bool, u64)> {
        self.enc.raw(self.pending.bytes())?;
        self.pending.clear();
        if self.file_end > self.pos {
            self.reproducible = false;
        }
        let total = self.enc.finish()?;
        Ok((self.reproducible && total == self.pos, total))
    }

    fn flush(&mut self) -> io::Result<()> {
        let start = self.start();
        if self.decided <= start || self.pending.is_empty() {
            return Ok(());
        }
        let k = (self.decided - start).min(self.pending.len() as u64) as usize;
        self.enc.raw(&self.pending.bytes()[..k])?;
        self.pending.consume(k);
        Ok(())
    }
}

/// A byte queue consumed from the front. Entries are announced every few
/// KiB while the window holds up to the parser's 64 KiB read-ahead, so
/// shifting the rest down at each step would copy it over and over.
#[derive(Default)]
struct Window {
    buf: Vec<u8>,
    head: usize,
}

impl Window {
    fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    fn push(&mut self, data: &[u8]) {
        // Moving the live part down once it is at most half of the buffer
        // costs at most one copy per byte pushed.
        if self.head > 0 && self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.extend_from_slice(data);
    }

    fn consume(&mut self, k: usize) {
        self.head += k.min(self.len());
        if self.head == self.buf.len() {
            self.clear();
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
    }
}

/// Passes the stream through, showing every byte to the recording (if any).
pub(crate) struct Recorder<'w, R> {
    inner: R,
    state: Option<Shared<'w>>,
}

impl<'w, R> Recorder<'w, R> {
    pub(crate) fn new(inner: R, state: Option<Shared<'w>>) -> Self {
        Recorder { inner, state }
    }
}

impl<R: Read> Read for Recorder<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(state) = &self.state {
            let mut state = state.borrow_mut();
            if let Err(e) = state.observe(&buf[..n]) {
                let msg = e.to_string();
                state.failed.get_or_insert(e);
                return Err(io::Error::other(msg));
            }
        }
        Ok(n)
    }
}
