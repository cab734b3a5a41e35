//! Bringing layers into the store: each layer's bytes are streamed once, through the
//! blob writer (hashing the archive as stored) and the extractor (hashing the
//! uncompressed tar into the diff ID) at the same time. Layers go in parallel, each
//! into its own directory; a per-layer lock makes concurrent processes extract a
//! shared layer once.

use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use kujira_archive::{detect_compression, extract_layer, Compression, ExtractOptions};
use kujira_store::metadata::NewLayer;
use kujira_store::{Content, Digest, Metadata, StoreError};

use super::rollback::Created;
use crate::EngineError;

type Opener = Box<dyn Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync>;

/// Where a layer's bytes come from, and what they must hash to.
pub struct LayerSource {
    /// Opens the layer's byte stream (compressed or not), from its start.
    pub open: Opener,
    /// The digest the stored bytes must have (an OCI descriptor's), when known.
    pub expected_blob: Option<Digest>,
    pub media_type: String,
    /// How to name the layer in messages (its path in the archive).
    pub name: String,
}

/// Progress of one layer job, for `pull`'s per-layer lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerProgress {
    /// Stored (downloaded, verified and extracted, or found present).
    Done,
}

pub(crate) type ProgressFn<'a> = &'a (dyn Fn(usize, LayerProgress) + Sync);

pub(crate) struct LayerJob {
    pub chain_id: Digest,
    pub parent: Option<Digest>,
    pub diff_id: Digest,
    pub source: LayerSource,
}

/// Ingests every job, in parallel. Returns the layers in job order.
pub(crate) fn ingest_layers(
    store: Content<'_>,
    jobs: Vec<LayerJob>,
    created: &Created,
    progress: Option<ProgressFn<'_>>,
) -> Result<Vec<NewLayer>, EngineError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4)
        .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<NewLayer, EngineError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let meta = match store.metadata() {
                    Ok(m) => m,
                    Err(e) => {
                        failed.store(true, Ordering::SeqCst);
                        if let Ok(mut r) = results.lock() {
                            r[0] = Some(Err(e.into()));
                        }
                        return;
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= jobs.len() || failed.load(Ordering::SeqCst) {
                        return;
                    }
                    let out = ingest_one(&store, &meta, &jobs[i], created);
                    if out.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    } else if let Some(p) = progress {
                        p(i, LayerProgress::Done);
                    }
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(out);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| EngineError::InvalidArchive("a layer worker panicked".into()))?;
    // Report the first real error in layer order.
    let mut layers = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Some(Ok(l)) => layers.push(l),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    if layers.len() != jobs.len() {
        return Err(EngineError::InvalidArchive(
            "layer ingestion stopped early".into(),
        ));
    }
    Ok(layers)
}

fn ingest_one(
    store: &Content<'_>,
    meta: &Metadata,
    job: &LayerJob,
    created: &Created,
) -> Result<NewLayer, EngineError> {
    let _lock = store.layers.lock(&job.chain_id)?;
    let src = &job.source;
    let io_err = |e: io::Error| EngineError::io(format!("reading layer {}", src.name), e);

    if let (Some((diff_id, size, tar_size)), true) = (
        meta.layer(&job.chain_id)?,
        store.layers.exists(&job.chain_id),
    ) {
        // Already extracted (the tutorials' "Already exists"): keep only this
        // image's blob of it, if the store lacks that blob.
        if let Some(exp) = &src.expected_blob {
            if let Some((size_b, mt)) = meta.blob(exp)? {
                if store.blobs.exists(exp) {
                    return Ok(new_layer(
                        job,
                        diff_id,
                        size,
                        tar_size,
                        exp.clone(),
                        size_b,
                        mt,
                    ));
                }
            }
        }
        let mut w = store.blobs.writer()?;
        io::copy(&mut (src.open)().map_err(io_err)?, &mut w).map_err(io_err)?;
        let (blob, blob_size) = w.commit(src.expected_blob.as_ref())?;
        created.blob(&blob);
        meta.add_blob(&blob, blob_size, &src.media_type)?;
        return Ok(new_layer(
            job,
            diff_id,
            size,
            tar_size,
            blob,
            blob_size,
            src.media_type.clone(),
        ));
    }

    created.layer(&job.chain_id);
    let (stats, blob, blob_size) = store.layers.create(&job.chain_id, |dir| {
        let mut input = io::BufReader::with_capacity(256 * 1024, (src.open)().map_err(io_err)?);
        let plain = detect_compression(input.fill_buf().map_err(io_err)?) == Compression::None;
        let mut w = store.blobs.writer()?;
        if plain {
            // An uncompressed layer's digest is its diff ID: hash it once.
            w = w.hashed_by_caller();
        }
        let mut tee = Tee {
            inner: input,
            copy: &mut w,
        };
        let stats = extract_layer(&mut tee, dir, &ExtractOptions::default()).map_err(|source| {
            EngineError::Layer {
                layer: src.name.clone(),
                source,
            }
        })?;
        // Whatever follows the compressed stream is still part of the stored blob.
        io::copy(&mut tee, &mut io::sink()).map_err(io_err)?;
        // The blob's own digest first: a tampered blob is named as such.
        let (blob, blob_size) = if plain {
            let digest = Digest::parse(&stats.diff_id)?;
            if let Some(exp) = &src.expected_blob {
                if *exp != digest {
                    return Err(StoreError::DigestMismatch {
                        expected: exp.to_string(),
                        actual: digest.to_string(),
                    }
                    .into());
                }
            }
            w.commit_known(&digest)?
        } else {
            w.commit(src.expected_blob.as_ref())?
        };
        created.blob(&blob);
        if stats.diff_id != job.diff_id.as_str() {
            return Err(EngineError::InvalidArchive(format!(
                "layer {} has diff ID {} but the image config says {}",
                src.name, stats.diff_id, job.diff_id
            )));
        }
        Ok((stats, blob, blob_size))
    })?;
    // The layer's files must be on disk before metadata points at them.
    store.sync()?;
    let layer = new_layer(
        job,
        job.diff_id.clone(),
        stats.size,
        stats.tar_size,
        blob,
        blob_size,
        src.media_type.clone(),
    );
    meta.add_layer(&layer, job.parent.as_ref())?;
    Ok(layer)
}

fn new_layer(
    job: &LayerJob,
    diff_id: Digest,
    size: u64,
    tar_size: u64,
    blob: Digest,
    blob_size: u64,
    media_type: String,
) -> NewLayer {
    NewLayer {
        chain_id: job.chain_id.clone(),
        diff_id,
        size,
        tar_size,
        blob,
        blob_size,
        media_type,
    }
}

/// Copies what is read into a second writer: the blob being stored.
pub(crate) struct Tee<'a, R, W> {
    pub inner: R,
    pub copy: &'a mut W,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}
