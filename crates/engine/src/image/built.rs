//! What a builder needs of the image store: a step's changes made into a layer and
//! recorded in the build cache in one go, cache lookups, and the finished image
//! registered under its tags. Each is crash-safe in the store's usual way: content is
//! written first and becomes visible in one metadata transaction, and what a failure
//! leaves is removed again.

use std::path::Path;

use kujira_archive::{extract_layer, write_layer_clamped, ExtractOptions};
use kujira_reference::Reference;
use kujira_store::metadata::{CacheRecord, NewLayer};

use super::config::ImageConfig;
use super::register::Candidate;
use super::rollback::Created;
use super::Registered;
use crate::{Digest, Engine, EngineError};

impl Engine {
    /// Writes `dir` (an overlay upper directory or a plain tree) as a layer on top of
    /// `parent` (bottom first): the tar blob, and the layer's directory extracted
    /// from it unless the store already has that chain.
    ///
    /// With `take`, `dir` itself (an unmounted overlay upper directory, already in
    /// the layer store's format, on the store's filesystem) becomes the layer's
    /// directory: one rename instead of extracting the tar just written.
    pub(crate) fn store_layer(
        &self,
        created: &Created,
        dir: &Path,
        parent: &[NewLayer],
        clamp: Option<u64>,
        take: bool,
    ) -> Result<NewLayer, EngineError> {
        let mut blob = self.store.blobs.writer()?;
        let stats =
            write_layer_clamped(dir, &mut blob, clamp).map_err(|source| EngineError::Layer {
                layer: dir.display().to_string(),
                source,
            })?;
        let (blob_digest, blob_size) = blob.commit(None)?;
        created.blob(&blob_digest);
        let diff_id = Digest::parse(&stats.diff_id)?;
        let mut diff_ids: Vec<Digest> = parent.iter().map(|l| l.diff_id.clone()).collect();
        diff_ids.push(diff_id.clone());
        let chain_id = kujira_store::chain_ids(&diff_ids)
            .pop()
            .ok_or_else(|| EngineError::InvalidArgument("no layers".into()))?;
        let layer = NewLayer {
            chain_id: chain_id.clone(),
            diff_id,
            size: stats.size,
            tar_size: stats.tar_size,
            blob: blob_digest.clone(),
            blob_size,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            blob_in_layer: false,
        };
        let _layer_lock = self.store.layers.lock(&chain_id)?;
        if self.store.meta.layer(&chain_id)?.is_none() || !self.store.layers.exists(&chain_id) {
            created.layer(&chain_id);
            if take {
                let work = self.store.tmp.path("step-layer")?;
                std::fs::create_dir_all(&work)
                    .map_err(|e| EngineError::io(format!("creating {}", work.display()), e))?;
                let diff = work.join("diff");
                std::fs::rename(dir, &diff)
                    .map_err(|e| EngineError::io(format!("moving {}", dir.display()), e))?;
                self.store.layers.install(&chain_id, &work)?;
                self.store
                    .meta
                    .add_layer(&layer, parent.last().map(|l| &l.chain_id))?;
                return Ok(layer);
            }
            let file = self.store.blobs.open(&blob_digest)?;
            self.store.layers.create(&chain_id, |diff| {
                extract_layer(
                    std::io::BufReader::new(file),
                    diff,
                    &ExtractOptions::default(),
                )
                .map_err(|source| EngineError::Layer {
                    layer: chain_id.to_string(),
                    source,
                })
            })?;
            self.store
                .meta
                .add_layer(&layer, parent.last().map(|l| &l.chain_id))?;
        } else {
            // The layer came another way (a pull's compressed blob): this blob,
            // which the new record names, gets its row too.
            self.store.meta.add_layer_blob(&layer)?;
        }
        Ok(layer)
    }

    /// A build step's result, as recorded under its key (`None`: never ran, or the
    /// cache was pruned).
    pub fn cache_hit(&self, key: &str) -> Result<Option<CacheRecord>, EngineError> {
        Ok(self.store.meta.cache_hit(key)?)
    }

    /// Records a step's result: `dir`'s changes (an unmounted step upper directory,
    /// taken as the layer's directory) as a layer over `parent` — none when `dir`
    /// is `None` or empty — and the record that names it.
    pub fn cache_step(
        &self,
        mut rec: CacheRecord,
        dir: Option<&Path>,
        parent: &[NewLayer],
        clamp: Option<u64>,
    ) -> Result<CacheRecord, EngineError> {
        self.with_rollback(|created| {
            let changed = dir.filter(|d| {
                std::fs::read_dir(d)
                    .map(|mut e| e.next().is_some())
                    .unwrap_or(false)
            });
            if let Some(d) = changed {
                let layer = self.store_layer(created, d, parent, clamp, true)?;
                rec.size = layer.size;
                rec.layer = Some(layer);
            }
            self.store.meta.add_cache_record(&rec)?;
            Ok(rec)
        })
    }

    /// Registers a built image (its config JSON and layers, bottom first) under `tags`.
    pub fn register_built(
        &self,
        config_bytes: &[u8],
        layers: Vec<NewLayer>,
        tags: &[Reference],
    ) -> Result<Registered, EngineError> {
        let id = Digest::of(config_bytes);
        let config = ImageConfig::parse(&id, config_bytes)?;
        let registered = self.with_rollback(|created| {
            self.register(
                created,
                Candidate {
                    config_bytes,
                    config: &config,
                    layers,
                    tags: tags.to_vec(),
                    manifest: None,
                    repo_digests: Vec::new(),
                },
            )
        })?;
        for t in &registered.tags {
            self.emit("image", "tag", &t.familiar_string(), &[]);
        }
        Ok(registered)
    }

    /// The directory of the layer this step (same parent key, same instruction)
    /// made the last time it ran with other inputs, for unchanged files to be
    /// linked from.
    pub fn cache_predecessor_dir(
        &self,
        parent: &str,
        description: &str,
    ) -> Result<Option<std::path::PathBuf>, EngineError> {
        Ok(self
            .store
            .meta
            .cache_predecessor(parent, description)?
            .and_then(|r| r.layer)
            .map(|l| self.store.layers.diff_dir(&l.chain_id)))
    }

    /// The build cache, oldest first.
    pub fn cache_records(&self) -> Result<Vec<CacheRecord>, EngineError> {
        Ok(self.store.meta.cache_records()?)
    }

    /// Deletes cache records (and the layers only they held); the bytes freed.
    pub fn delete_cache_records(&self, recs: &[CacheRecord]) -> Result<u64, EngineError> {
        let keys: Vec<String> = recs.iter().map(|r| r.key.clone()).collect();
        let _lock = self.store.lock_exclusive()?;
        let (layers, blobs) = self.store.meta.delete_cache_records(&keys)?;
        self.store.remove_content(&layers, &blobs)?;
        Ok(recs.iter().map(|r| r.size).sum())
    }
}
