//! `pull`: an image from a registry (mirrors first) into the store. Each missing
//! layer streams from the socket through the blob writer (digest check) and the
//! extractor (diff ID) straight into its directory, layers in parallel; layers the
//! store already has are not fetched ("Already exists"). The image becomes visible
//! only once complete, in one metadata transaction.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kujira_reference::Reference;
use kujira_registry::{Client, Platform, ResolvedImage};

use super::config::ImageConfig;
use super::ingest::{ingest_layers, LayerJob, LayerProgress, LayerSource};
use super::net::{registry_error, runtime};
use super::register::Candidate;
use crate::{Digest, Engine, EngineError};

/// What a pull reports as it goes, in Docker's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// `latest: Pulling from library/nginx`
    PullingFrom {
        tag_or_digest: String,
        repository: String,
    },
    /// A layer line: `<12-hex>: <status>`.
    Layer { id: String, status: LayerStatus },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerStatus {
    PullingFsLayer,
    Waiting,
    Downloading { current: u64, total: u64 },
    VerifyingChecksum,
    DownloadComplete,
    PullComplete,
    AlreadyExists,
}

impl LayerStatus {
    pub fn text(&self) -> &'static str {
        match self {
            LayerStatus::PullingFsLayer => "Pulling fs layer",
            LayerStatus::Waiting => "Waiting",
            LayerStatus::Downloading { .. } => "Downloading",
            LayerStatus::VerifyingChecksum => "Verifying Checksum",
            LayerStatus::DownloadComplete => "Download complete",
            LayerStatus::PullComplete => "Pull complete",
            LayerStatus::AlreadyExists => "Already exists",
        }
    }
}

/// The outcome, for the closing lines.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub id: Digest,
    pub reference: Reference,
    /// The digest pulled (the index's for multi-platform images).
    pub digest: String,
    /// False when the name already pointed at this image.
    pub newer: bool,
}

pub struct PullOptions {
    pub platform: Option<String>,
    /// Credentials for this pull only.
    pub auth: Option<super::net::RegistryAuth>,
}

impl Engine {
    pub fn pull(
        &self,
        name: &str,
        opts: &PullOptions,
        events: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<Pulled, EngineError> {
        let reference = Reference::parse(name)?;
        let reference = reference.or_latest();
        let platform = opts
            .platform
            .as_deref()
            .map(Platform::parse)
            .transpose()
            .map_err(EngineError::InvalidArgument)?;
        let runtime = runtime()?;
        let client = self.registry_client_with(opts.auth.as_ref())?;
        let resolved = runtime
            .block_on(client.resolve(&reference, platform.as_ref()))
            .map_err(registry_error)?;
        events(PullEvent::PullingFrom {
            tag_or_digest: reference
                .digest()
                .or(reference.tag())
                .unwrap_or("latest")
                .to_string(),
            repository: resolved.repository.clone(),
        });
        let pulled = self.with_rollback(|created| {
            self.pull_resolved(&runtime, &client, &reference, &resolved, events, created)
        })?;
        let familiar = reference.familiar_string();
        let repo = familiar
            .rsplit_once(':')
            .map_or(familiar.as_str(), |(r, _)| r);
        self.emit("image", "pull", &familiar, &[("name", repo)]);
        Ok(pulled)
    }

    fn pull_resolved(
        &self,
        runtime: &tokio::runtime::Runtime,
        client: &Client,
        reference: &Reference,
        resolved: &ResolvedImage,
        events: &(dyn Fn(PullEvent) + Sync),
        created: &super::rollback::Created,
    ) -> Result<Pulled, EngineError> {
        let config_digest = Digest::of(&resolved.config);
        let config = ImageConfig::parse(&config_digest, &resolved.config)?;
        let diff_ids = config.diff_ids();
        let layers = resolved.manifest.layers();
        if diff_ids.len() != layers.len() {
            return Err(EngineError::Registry(format!(
                "manifest {} has {} layers but its config has {} diff IDs",
                resolved.manifest_data.digest,
                layers.len(),
                diff_ids.len()
            )));
        }
        let chains = kujira_store::chain_ids(&diff_ids);
        let source = Arc::new(resolved.source());
        let mut jobs = Vec::new();
        let mut ids = Vec::new();
        // Bytes downloaded per layer, for progress bars on a terminal.
        let counters: Vec<Arc<AtomicU64>> = (0..layers.len())
            .map(|_| Arc::new(AtomicU64::new(0)))
            .collect();
        for (i, layer) in layers.iter().enumerate() {
            let blob = Digest::parse(layer.digest().as_ref()).map_err(|_| {
                EngineError::Registry(format!("unsupported layer digest {}", layer.digest()))
            })?;
            let id = blob.short().to_string();
            let present = self.store.meta.layer(&chains[i])?.is_some()
                && self.store.layers.exists(&chains[i])
                && self.store.meta.blob(&blob)?.is_some()
                && self.store.blobs.exists(&blob);
            events(PullEvent::Layer {
                id: id.clone(),
                status: if present {
                    LayerStatus::AlreadyExists
                } else {
                    LayerStatus::PullingFsLayer
                },
            });
            ids.push((id, present));
            let client = client.clone();
            let handle = runtime.handle().clone();
            let source = source.clone();
            let digest = blob.to_string();
            let size = layer.size();
            let counter = counters[i].clone();
            jobs.push(LayerJob {
                chain_id: chains[i].clone(),
                parent: i.checked_sub(1).map(|p| chains[p].clone()),
                diff_id: diff_ids[i].clone(),
                source: LayerSource {
                    open: Box::new(move || {
                        let reader = handle
                            .block_on(client.open_blob(&source, &digest, Some(size), 0))
                            .map_err(std::io::Error::other)?;
                        Ok(Box::new(Counting {
                            inner: reader.into_sync(handle.clone()),
                            counter: counter.clone(),
                        }) as Box<dyn std::io::Read + Send>)
                    }),
                    expected_blob: Some(blob),
                    media_type: layer.media_type().to_string(),
                    name: layer.digest().to_string(),
                },
            });
        }
        // Layers beyond the download slots wait for one, and Docker says so.
        let slots = client.config().max_concurrent_downloads;
        for (id, _) in ids.iter().filter(|(_, present)| !present).skip(slots) {
            events(PullEvent::Layer {
                id: id.clone(),
                status: LayerStatus::Waiting,
            });
        }
        let progress = |i: usize, p: LayerProgress| {
            let (id, present) = &ids[i];
            if *present {
                return;
            }
            match p {
                LayerProgress::Done => {
                    for status in [
                        LayerStatus::VerifyingChecksum,
                        LayerStatus::DownloadComplete,
                        LayerStatus::PullComplete,
                    ] {
                        events(PullEvent::Layer {
                            id: id.clone(),
                            status,
                        });
                    }
                }
            }
        };
        let finished = AtomicBool::new(false);
        let stored = std::thread::scope(|s| {
            s.spawn(|| report_downloads(&finished, &counters, &ids, layers, events));
            let r = ingest_layers(
                self.store.content(),
                jobs,
                created,
                Some(&progress),
                client.config().max_concurrent_downloads,
            );
            finished.store(true, Ordering::SeqCst);
            r
        })?;

        let id = config_digest.clone();
        let tag = reference.tag().map(|_| reference.clone());
        let before = match &tag {
            Some(t) => self.store.meta.tag_target(&t.to_string())?,
            None => None,
        };
        let had_digest = self
            .store
            .meta
            .repo_digests()?
            .iter()
            .any(|(repo, d, img)| *repo == reference.name() && *d == resolved.digest && *img == id);
        let manifest_digest = Digest::parse(&resolved.manifest_data.digest)
            .map_err(|_| EngineError::Registry("unsupported manifest digest".into()))?;
        created.blob(&manifest_digest);
        self.store
            .blobs
            .put(&resolved.manifest_data.bytes, Some(&manifest_digest))?;
        self.register(
            created,
            Candidate {
                config_bytes: &resolved.config,
                config: &config,
                layers: stored,
                tags: tag.into_iter().collect(),
                manifest: Some((
                    manifest_digest,
                    resolved.manifest_data.bytes.len() as u64,
                    resolved.manifest_data.media_type.clone(),
                )),
                repo_digests: vec![(reference.name(), resolved.digest.clone())],
            },
        )?;
        let newer = match reference.tag() {
            Some(_) => before.as_ref() != Some(&id),
            None => !had_digest,
        };
        Ok(Pulled {
            id,
            reference: reference.clone(),
            digest: resolved.digest.clone(),
            newer,
        })
    }
}

/// Emits `Downloading` events while layers stream in (a terminal shows them as
/// progress bars; plain output ignores them, as Docker's does).
fn report_downloads(
    finished: &AtomicBool,
    counters: &[Arc<AtomicU64>],
    ids: &[(String, bool)],
    layers: &[oci_spec::image::Descriptor],
    events: &(dyn Fn(PullEvent) + Sync),
) {
    let mut last = vec![0u64; counters.len()];
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        for (i, c) in counters.iter().enumerate() {
            let now = c.load(Ordering::Relaxed);
            if now != last[i] && !ids[i].1 && now < layers[i].size() {
                last[i] = now;
                events(PullEvent::Layer {
                    id: ids[i].0.clone(),
                    status: LayerStatus::Downloading {
                        current: now,
                        total: layers[i].size(),
                    },
                });
            }
        }
    }
}

/// Counts the bytes of a layer as they are read.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
