//! Downloading blobs as streams. A [`BlobReader`] hides the network's
//! failures from its consumer: when the connection drops mid-body it
//! reconnects with `Range: bytes=<received>-` and carries on, so the
//! engine's extractor sees one uninterrupted byte stream. Redirects to blob
//! storage are followed by hand, without the registry's Authorization
//! header. Digests are not checked here: the engine hashes while storing,
//! and hashing twice would cost a core.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{LOCATION, RANGE};
use reqwest::{Method, StatusCode};
use tokio::sync::OwnedSemaphorePermit;

use crate::auth::pull_scope;
use crate::client::{Client, Request};
use crate::endpoint::{authority, join_location, Endpoint};
use crate::error::{Error, Result};
use crate::manifest::sha256_digest;

/// Redirect hops followed before giving up (loops, misconfiguration).
const MAX_REDIRECTS: usize = 5;
/// Chunks buffered between the download task and a sync reader: enough to
/// keep the socket busy while the extractor works, little memory.
const SYNC_BUFFER_CHUNKS: usize = 16;

/// A repository at an endpoint: where blobs are fetched from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobSource {
    pub endpoint: Endpoint,
    pub repository: String,
}

/// A blob body being downloaded. Read it with [`BlobReader::chunk`] from
/// async code, or turn it into a `std::io::Read` with
/// [`BlobReader::into_sync`].
pub struct BlobReader {
    client: Client,
    source: BlobSource,
    digest: String,
    size: Option<u64>,
    /// Position in the blob of the next byte to yield.
    position: u64,
    offset: u64,
    response: Option<reqwest::Response>,
    /// Bytes the current response will send that precede `position`
    /// (a server that ignored the Range header).
    skip: u64,
    failures: u32,
    counter: Arc<AtomicU64>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("digest", &self.digest)
            .field("position", &self.position)
            .field("size", &self.size)
            .finish()
    }
}

impl Client {
    /// Opens `digest` (of `size` bytes, if known) from `source`, starting at
    /// byte `offset` (to resume a partial download). Waits for one of the
    /// `max_concurrent_downloads` slots, held until the reader is dropped.
    /// The first request is made here, so a missing blob or refused access
    /// fails now rather than at the first read.
    pub async fn open_blob(
        &self,
        source: &BlobSource,
        digest: &str,
        size: Option<u64>,
        offset: u64,
    ) -> Result<BlobReader> {
        let permit = self
            .inner
            .downloads
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Protocol {
                url: source.endpoint.base_url.clone(),
                reason: "download limiter closed".into(),
            })?;
        self.open_blob_inner(source, digest, size, offset, Some(permit))
            .await
    }

    async fn open_blob_inner(
        &self,
        source: &BlobSource,
        digest: &str,
        size: Option<u64>,
        offset: u64,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<BlobReader> {
        let mut r = BlobReader {
            client: self.clone(),
            source: source.clone(),
            digest: digest.to_string(),
            size,
            position: offset,
            offset,
            response: None,
            skip: 0,
            failures: 0,
            counter: Arc::new(AtomicU64::new(0)),
            _permit: permit,
        };
        if size.is_none_or(|s| offset < s) {
            r.connect().await?;
        }
        Ok(r)
    }

    /// A whole small blob (an image config), checked against its digest
    /// and size. Not counted against the download slots: it is part of
    /// resolving, which must not wait behind layer downloads.
    pub async fn fetch_blob_bytes(
        &self,
        source: &BlobSource,
        digest: &str,
        size: u64,
    ) -> Result<Vec<u8>> {
        let mut r = self
            .open_blob_inner(source, digest, Some(size), 0, None)
            .await?;
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20));
        while let Some(c) = r.chunk().await? {
            out.extend_from_slice(&c);
        }
        let actual = sha256_digest(&out);
        if actual != digest || out.len() as u64 != size {
            return Err(Error::DigestMismatch {
                registry: source.endpoint.registry.clone(),
                repository: source.repository.clone(),
                what: format!("blob {digest} ({size} bytes)"),
                expected: digest.to_string(),
                actual: format!("{actual} ({} bytes)", out.len()),
            });
        }
        Ok(out)
    }
}

impl BlobReader {
    /// The blob's digest, as asked for.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Bytes yielded so far by this reader (not counting the start
    /// offset).
    pub fn bytes_read(&self) -> u64 {
        self.counter.load(Ordering::Relaxed)
    }

    /// A live counter of [`BlobReader::bytes_read`] for progress display
    /// from another task or thread; it keeps counting after
    /// [`BlobReader::into_sync`].
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.counter.clone()
    }

    /// The offset the reader started at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next piece of the body; `None` at the end. Connection failures
    /// are retried from the current position, up to the client's
    /// `max_attempts` consecutive failures without progress.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            if self.size.is_some_and(|s| self.position >= s) && self.skip == 0 {
                if self.position > self.size.unwrap_or(0) {
                    return Err(self.too_long());
                }
                // Extra bytes past the declared size are the registry's
                // problem to report, not data: look at the rest of the body
                // only to refuse it.
                if let Some(resp) = self.response.as_mut() {
                    if let Ok(Some(extra)) = resp.chunk().await {
                        if !extra.is_empty() {
                            return Err(self.too_long());
                        }
                    }
                }
                self.response = None;
                return Ok(None);
            }
            if self.response.is_none() {
                self.connect().await?;
            }
            let Some(resp) = self.response.as_mut() else {
                continue;
            };
            match resp.chunk().await {
                Ok(Some(mut b)) => {
                    if self.skip > 0 {
                        let n = self.skip.min(b.len() as u64) as usize;
                        self.skip -= n as u64;
                        b = b.slice(n..);
                        if b.is_empty() {
                            continue;
                        }
                    }
                    self.failures = 0;
                    self.position += b.len() as u64;
                    self.counter.fetch_add(b.len() as u64, Ordering::Relaxed);
                    if self.size.is_some_and(|s| self.position > s) {
                        return Err(self.too_long());
                    }
                    return Ok(Some(b));
                }
                Ok(None) => {
                    self.response = None;
                    if self.size.is_none_or(|s| self.position >= s) {
                        return Ok(None);
                    }
                    // The body ended early without an error (no
                    // Content-Length): resume like a cut connection.
                    self.note_failure(None).await?;
                }
                Err(e) => {
                    self.response = None;
                    self.note_failure(Some(e)).await?;
                }
            }
        }
    }

    fn too_long(&self) -> Error {
        Error::Protocol {
            url: self.blob_url(),
            reason: format!(
                "blob is longer than the {} bytes its descriptor says",
                self.size.unwrap_or(0)
            ),
        }
    }

    fn blob_url(&self) -> String {
        self.source
            .endpoint
            .repo_url(&self.source.repository, &format!("blobs/{}", self.digest))
    }

    /// Counts a failed body read; sleeps the backoff or gives up.
    async fn note_failure(&mut self, e: Option<reqwest::Error>) -> Result<()> {
        self.failures += 1;
        let config = self.client.config();
        if self.failures >= config.max_attempts.max(1) {
            return Err(match e {
                Some(e) => Error::connection("Get", &self.blob_url(), &e),
                None => Error::Connection {
                    method: "Get",
                    url: self.blob_url(),
                    detail: format!("body ended at byte {}", self.position),
                },
            });
        }
        let delay = config.retry_delay * 2u32.saturating_pow(self.failures - 1).min(64);
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// (Re)connects at `position`, following redirects without credentials.
    async fn connect(&mut self) -> Result<()> {
        let ep = &self.source.endpoint;
        let repo = self.source.repository.as_str();
        let mut req = Request::new(
            Method::GET,
            self.blob_url(),
            ep,
            Some(repo),
            vec![pull_scope(repo)],
        );
        if self.position > 0 {
            req = req.header(RANGE, format!("bytes={}-", self.position));
        }
        let mut resp = self.client.send(&req).await?;
        let mut url = req.url.clone();
        let mut hops = 0;
        while resp.status().is_redirection() {
            hops += 1;
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Protocol {
                    url: url.clone(),
                    reason: format!("{} without Location", resp.status()),
                })?;
            if hops > MAX_REDIRECTS {
                return Err(Error::Protocol {
                    url,
                    reason: "too many redirects".into(),
                });
            }
            url = join_location(&url, location)?;
            let host = authority(&url).to_string();
            let insecure = self.client.config().is_insecure(&host);
            let http = self.client.http(&host, insecure)?;
            let mut b = http.get(&url);
            if self.position > 0 {
                b = b.header(RANGE, format!("bytes={}-", self.position));
            }
            resp = b
                .send()
                .await
                .map_err(|e| Error::connection("Get", &url, &e))?;
        }
        match resp.status() {
            StatusCode::OK => {
                // The server ignored the Range: skip what we already have.
                self.skip = self.position;
            }
            StatusCode::PARTIAL_CONTENT => {
                let start = content_range_start(&resp);
                if start != Some(self.position) {
                    return Err(Error::Protocol {
                        url,
                        reason: format!(
                            "asked for bytes from {}, got Content-Range starting at {start:?}",
                            self.position
                        ),
                    });
                }
                self.skip = 0;
            }
            StatusCode::RANGE_NOT_SATISFIABLE if self.size.is_some_and(|s| self.position >= s) => {
                self.skip = 0;
                self.response = None;
                return Ok(());
            }
            StatusCode::NOT_FOUND => {
                return Err(Error::BlobUnknown {
                    registry: ep.registry.clone(),
                    repository: repo.to_string(),
                    digest: self.digest.clone(),
                })
            }
            _ => return Err(self.client.fail(&req, resp).await),
        }
        self.response = Some(resp);
        Ok(())
    }

    /// A blocking `std::io::Read` of the rest of the blob. The download
    /// runs as a task on `handle`, a few chunks ahead of the reader, so
    /// network and extraction overlap. Read it from a blocking thread
    /// (`spawn_blocking` or a plain thread), never from async code: each
    /// read may block. Errors arrive as `io::Error`s wrapping
    /// [`crate::Error`].
    pub fn into_sync(self, handle: tokio::runtime::Handle) -> SyncBlobReader {
        let (tx, rx) = tokio::sync::mpsc::channel(SYNC_BUFFER_CHUNKS);
        let counter = self.counter.clone();
        let mut reader = self;
        handle.spawn(async move {
            loop {
                let item = reader.chunk().await;
                let done = !matches!(item, Ok(Some(_)));
                let item = item.transpose();
                let Some(item) = item else { break };
                // The reader was dropped: stop downloading.
                if tx.send(item).await.is_err() || done {
                    break;
                }
            }
        });
        SyncBlobReader {
            rx,
            current: Bytes::new(),
            counter,
            done: false,
        }
    }
}

fn content_range_start(resp: &reqwest::Response) -> Option<u64> {
    let v = resp
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let range = v.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

/// The synchronous side of [`BlobReader::into_sync`].
pub struct SyncBlobReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes>>,
    current: Bytes,
    counter: Arc<AtomicU64>,
    done: bool,
}

impl SyncBlobReader {
    /// Bytes downloaded so far (may run ahead of what was read).
    pub fn bytes_downloaded(&self) -> u64 {
        self.counter.load(Ordering::Relaxed)
    }
}

impl Read for SyncBlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(std::io::Error::other(e));
                }
                None => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
