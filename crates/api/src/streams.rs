//! Bridges between HTTP bodies and the engine's blocking readers and writers: a
//! request body read as `std::io::Read` (load, import, archive uploads) and a
//! response body written as `std::io::Write` (save, export, archive downloads,
//! progress messages). Both are bounded, so a slow side slows the other.

use std::io::{Read, Write};

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// A request body for a blocking reader.
pub struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    chunk: Bytes,
}

impl BodyReader {
    pub fn new(body: Body) -> BodyReader {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        BodyReader {
            rx,
            chunk: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// A response body fed by a blocking writer; writes fail once the client is gone.
pub struct BodyWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

/// Writes are batched up to this size before they go to the client.
const BATCH: usize = 64 * 1024;

impl BodyWriter {
    /// The writer and the body it feeds.
    pub fn new() -> (BodyWriter, Body) {
        let (tx, rx) = mpsc::channel(16);
        let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
        (
            BodyWriter {
                tx,
                buf: Vec::new(),
            },
            body,
        )
    }

    /// Ends the body with an error (the client sees a broken chunked stream).
    pub fn fail(self, message: String) {
        let _ = self.tx.blocking_send(Err(std::io::Error::other(message)));
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BATCH {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// A response body written by `f` on an engine: an engine error after the first
/// bytes ends the body broken, which is all HTTP can say by then.
pub fn written_by<F>(pool: &std::sync::Arc<crate::pool::EnginePool>, f: F) -> Body
where
    F: FnOnce(&kujira_engine::Engine, &mut BodyWriter) -> Result<(), kujira_engine::EngineError>
        + Send
        + 'static,
{
    let (mut w, body) = BodyWriter::new();
    let pool = pool.clone();
    tokio::spawn(async move {
        let _ = pool
            .run(move |e| {
                if let Err(err) = f(e, &mut w) {
                    w.fail(err.to_string());
                }
                Ok(())
            })
            .await;
    });
    body
}
