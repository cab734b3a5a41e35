//! Two-thread extraction pipeline.
//!
//! The caller's thread reads the input, decompresses it and hashes the
//! uncompressed bytes (the diff_id); a worker thread parses the tar and
//! writes files. Decompression and hashing then overlap the filesystem work
//! instead of adding to it. The split is this way round because the input
//! need not be `Send` (`load` hands over an entry of the outer archive),
//! while everything the worker needs can be moved to it.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;

use sha2::{Digest, Sha256};

use crate::digest::format_digest;
use crate::stream::classify_ref;
use crate::ArchiveError;

/// Bytes per message: large enough to keep per-message costs negligible.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight; bounds memory to about 1 MiB per extraction.
const DEPTH: usize = 4;

enum Msg {
    Data(Vec<u8>),
    End,
    Fail(io::Error),
}

/// The worker's view of the uncompressed stream.
pub(crate) struct ChannelReader {
    rx: Receiver<Msg>,
    /// Drained chunks go back to the producer for reuse.
    spare: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
    eof: Arc<AtomicBool>,
}

impl ChannelReader {
    /// Set once the whole stream has been delivered: an error after that is
    /// a truncated archive rather than a malformed one.
    pub(crate) fn eof(&self) -> Arc<AtomicBool> {
        self.eof.clone()
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            if self.cur.capacity() > 0 {
                let _ = self.spare.try_send(std::mem::take(&mut self.cur));
            }
            self.pos = 0;
            match self.rx.recv() {
                Ok(Msg::Data(chunk)) => self.cur = chunk,
                // A vanished producer means no more input, like End.
                Ok(Msg::End) | Err(_) => {
                    self.done = true;
                    self.eof.store(true, Ordering::Relaxed);
                }
                Ok(Msg::Fail(e)) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Feeds `input` to `worker` on another thread, hashing every byte read
/// until EOF (also past the point where the worker stops reading), and
/// returns the worker's result with the `sha256:` digest and the byte count.
pub(crate) fn run<R, T, F>(mut input: R, worker: F) -> Result<(T, String, u64), ArchiveError>
where
    R: Read,
    T: Send,
    F: FnOnce(ChannelReader) -> Result<T, ArchiveError> + Send,
{
    let (tx, rx) = sync_channel(DEPTH);
    let (spare_tx, spare_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
    let reader = ChannelReader {
        rx,
        spare: spare_tx,
        cur: Vec::new(),
        pos: 0,
        done: false,
        eof: Arc::new(AtomicBool::new(false)),
    };
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let outcome = thread::scope(|scope| {
        let mut worker = Some(scope.spawn(move || worker(reader)));
        let join = |handle: thread::ScopedJoinHandle<'_, Result<T, ArchiveError>>| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        let mut outcome = None;
        loop {
            let mut buf = spare_rx.try_recv().unwrap_or_default();
            buf.resize(CHUNK, 0);
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let err = classify_ref(&e);
                    // Stop a still-running worker the way it would have
                    // stopped by itself; an earlier error of its own wins.
                    if let Some(handle) = worker.take() {
                        let _ = tx.send(Msg::Fail(e));
                        drop(tx);
                        join(handle)?;
                    }
                    return Err(err);
                }
            };
            hasher.update(&buf[..n]);
            total += n as u64;
            if let Some(handle) = worker.take() {
                buf.truncate(n);
                if tx.send(Msg::Data(buf)).is_ok() {
                    worker = Some(handle);
                } else {
                    // The worker stopped reading: finished with the tar
                    // (keep hashing to EOF) or failed (stop right here).
                    outcome = Some(join(handle)?);
                }
            }
        }
        if let Some(handle) = worker.take() {
            let _ = tx.send(Msg::End);
            drop(tx);
            outcome = Some(join(handle)?);
        }
        outcome.ok_or_else(|| ArchiveError::InvalidTar("extraction did not finish".into()))
    })?;
    Ok((outcome, format_digest(hasher), total))
}
