//! Bringing layers into the store: each layer's bytes are streamed once, through the
//! blob writer (hashing the archive as stored) and the extractor (hashing the
//! uncompressed tar into the diff ID) at the same time. Layers go in parallel, each
//! into its own directory; a per-layer lock makes concurrent processes extract a
//! shared layer once.

use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use kujira_archive::{
    detect_compression, extract_layer, extract_layer_with_split, Compression, ExtractOptions,
};
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
    min_threads: usize,
) -> Result<Vec<NewLayer>, EngineError> {
    // One worker per core for local archives; a pull also keeps as many downloads
    // going as the registry configuration allows (Docker's default is 3), since a
    // download waiting on the network leaves its core idle.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4)
        .max(min_threads)
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
    let split_path = store.layers.split_path(&job.chain_id);

    if let (Some((diff_id, size, tar_size)), true) = (
        meta.layer(&job.chain_id)?,
        store.layers.exists(&job.chain_id),
    ) {
        // Already extracted (the tutorials' "Already exists"): keep only this
        // image's blob of it, if the store lacks that blob.
        let existing =
            |blob: Digest, blob_size: u64, media_type: String, in_layer: bool| NewLayer {
                chain_id: job.chain_id.clone(),
                diff_id: diff_id.clone(),
                size,
                tar_size,
                blob,
                blob_size,
                media_type,
                blob_in_layer: in_layer,
            };
        if let Some(exp) = &src.expected_blob {
            if let Some((size_b, mt)) = meta.blob(exp)? {
                if store.blobs.exists(exp) || (*exp == diff_id && split_path.is_file()) {
                    return Ok(existing(exp.clone(), size_b, mt, !store.blobs.exists(exp)));
                }
            }
        }
        let mut input = io::BufReader::with_capacity(256 * 1024, (src.open)().map_err(io_err)?);
        let plain = detect_compression(input.fill_buf().map_err(io_err)?) == Compression::None;
        if plain && split_path.is_file() {
            // The layer regenerates this very tar: check the bytes, store nothing.
            let mut hashed = kujira_store::DigestReader::new(input);
            io::copy(&mut hashed, &mut io::sink()).map_err(io_err)?;
            let (digest, n, _) = hashed.finish();
            check_blob(src.expected_blob.as_ref(), &digest)?;
            check_diff(src, &digest, &diff_id)?;
            created.blob(&digest);
            let layer = existing(digest, n, src.media_type.clone(), true);
            meta.add_layer_blob(&layer)?;
            return Ok(layer);
        }
        let mut w = store.blobs.writer()?;
        io::copy(&mut input, &mut w).map_err(io_err)?;
        let (blob, blob_size) = w.commit(src.expected_blob.as_ref())?;
        created.blob(&blob);
        meta.add_blob(&blob, blob_size, &src.media_type)?;
        return Ok(existing(blob, blob_size, src.media_type.clone(), false));
    }

    created.layer(&job.chain_id);
    let layer = store
        .layers
        .create(&job.chain_id, |dir| -> Result<NewLayer, EngineError> {
            let mut input = io::BufReader::with_capacity(256 * 1024, (src.open)().map_err(io_err)?);
            let plain = detect_compression(input.fill_buf().map_err(io_err)?) == Compression::None;
            let layer_err = |source| EngineError::Layer {
                layer: src.name.clone(),
                source,
            };
            if plain {
                // An uncompressed layer is stored once: extracted, plus a tar-split that
                // regenerates the exact tar (its digest is the diff ID) when needed.
                let split_tmp = dir.with_file_name("tar-split");
                let file = std::fs::File::create(&split_tmp).map_err(io_err)?;
                let mut split = io::BufWriter::with_capacity(64 * 1024, file);
                let stats = extract_layer_with_split(
                    &mut input,
                    dir,
                    &ExtractOptions::default(),
                    &mut split,
                )
                .map_err(layer_err)?;
                split.flush().map_err(io_err)?;
                drop(split);
                let digest = Digest::parse(&stats.diff_id)?;
                check_blob(src.expected_blob.as_ref(), &digest)?;
                check_diff(src, &digest, &job.diff_id)?;
                if stats.reproducible {
                    created.blob(&digest);
                    return Ok(new_layer(
                        job,
                        &stats,
                        digest,
                        stats.tar_size,
                        src.media_type.clone(),
                        true,
                    ));
                }
                // Rare (a path written twice, sparse files): keep the tar itself,
                // read a second time from the source.
                let _ = std::fs::remove_file(&split_tmp);
                let mut w = store.blobs.writer()?;
                io::copy(&mut (src.open)().map_err(io_err)?, &mut w).map_err(io_err)?;
                let (blob, blob_size) = w.commit(Some(&digest))?;
                created.blob(&blob);
                return Ok(new_layer(
                    job,
                    &stats,
                    blob,
                    blob_size,
                    src.media_type.clone(),
                    false,
                ));
            }
            let mut w = store.blobs.writer()?;
            let mut tee = Tee {
                inner: input,
                copy: &mut w,
            };
            let stats =
                extract_layer(&mut tee, dir, &ExtractOptions::default()).map_err(layer_err)?;
            // Whatever follows the compressed stream is still part of the stored blob.
            io::copy(&mut tee, &mut io::sink()).map_err(io_err)?;
            // The blob's own digest first: a tampered blob is named as such.
            let (blob, blob_size) = w.commit(src.expected_blob.as_ref())?;
            created.blob(&blob);
            let diff = Digest::parse(&stats.diff_id)?;
            check_diff(src, &diff, &job.diff_id)?;
            Ok(new_layer(
                job,
                &stats,
                blob,
                blob_size,
                src.media_type.clone(),
                false,
            ))
        })?;
    // Recorded now (unflushed, tagged with the boot ID) so a concurrent process
    // waiting on this layer reuses it; the image commit flushes once for all layers.
    meta.add_layer(&layer, job.parent.as_ref())?;
    Ok(layer)
}

/// A blob must have the digest its descriptor names.
fn check_blob(expected: Option<&Digest>, actual: &Digest) -> Result<(), EngineError> {
    match expected {
        Some(exp) if exp != actual => Err(StoreError::DigestMismatch {
            expected: exp.to_string(),
            actual: actual.to_string(),
        }
        .into()),
        _ => Ok(()),
    }
}

/// A layer must be what the image config says it is.
fn check_diff(src: &LayerSource, actual: &Digest, expected: &Digest) -> Result<(), EngineError> {
    if actual != expected {
        return Err(EngineError::InvalidArchive(format!(
            "layer {} has diff ID {actual} but the image config says {expected}",
            src.name
        )));
    }
    Ok(())
}

fn new_layer(
    job: &LayerJob,
    stats: &kujira_archive::LayerStats,
    blob: Digest,
    blob_size: u64,
    media_type: String,
    blob_in_layer: bool,
) -> NewLayer {
    NewLayer {
        chain_id: job.chain_id.clone(),
        diff_id: job.diff_id.clone(),
        size: stats.size,
        tar_size: stats.tar_size,
        blob,
        blob_size,
        media_type,
        blob_in_layer,
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
