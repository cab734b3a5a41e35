//! `import`: a root filesystem tarball becomes a one-layer image, its config built
//! from the host platform and any `-c` Dockerfile instructions.

use std::io::{self, Read};

use kujira_archive::{extract_layer, ExtractOptions};
use kujira_reference::Reference;
use kujira_store::metadata::NewLayer;
use oci_spec::image::{Config, HistoryBuilder, ImageConfigurationBuilder, RootFsBuilder};

use super::changes;
use super::config::{host_platform, ImageConfig};
use super::ingest::Tee;
use super::register::Candidate;
use super::rollback::Created;
use super::Registered;
use crate::{Digest, Engine, EngineError};

pub struct ImportOptions {
    /// Dockerfile instructions (`-c`).
    pub changes: Vec<String>,
    /// Commit message (`-m`); Docker's default is "Imported from <source>".
    pub message: Option<String>,
    /// Where the tarball came from, for the default message (`-` for stdin).
    pub source: String,
    pub reference: Option<String>,
}

impl Engine {
    pub fn import(
        &self,
        input: impl Read,
        opts: &ImportOptions,
    ) -> Result<Registered, EngineError> {
        // Everything the user typed is checked before a byte is read.
        let tag = match &opts.reference {
            Some(r) => {
                let r = Reference::parse(r)?;
                if r.digest().is_some() {
                    return Err(EngineError::InvalidArgument(
                        "refusing to create a tag with a digest reference".into(),
                    ));
                }
                Some(if r.tag().is_some() {
                    r
                } else {
                    r.with_tag("latest")?
                })
            }
            None => None,
        };
        let mut run_config = Config::default();
        for c in &opts.changes {
            changes::apply(&mut run_config, c)?;
        }

        self.with_rollback(|created| self.import_locked(input, opts, tag, run_config, created))
    }

    fn import_locked(
        &self,
        input: impl Read,
        opts: &ImportOptions,
        tag: Option<Reference>,
        run_config: Config,
        created: &Created,
    ) -> Result<Registered, EngineError> {
        let work = self.store.tmp.path("import")?;
        let diff = work.join("diff");
        std::fs::create_dir_all(&diff).map_err(|e| EngineError::io("creating the layer", e))?;
        let mut blob = self.store.blobs.writer()?;
        let mut tee = Tee {
            inner: input,
            copy: &mut blob,
        };
        let stats = extract_layer(&mut tee, &diff, &ExtractOptions::default()).map_err(|source| {
            EngineError::Layer {
                layer: opts.source.clone(),
                source,
            }
        });
        let stats = match stats {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&work);
                return Err(e);
            }
        };
        io::copy(&mut tee, &mut io::sink())
            .map_err(|e| EngineError::io("reading the tarball", e))?;
        let (blob_digest, blob_size) = blob.commit(None)?;
        created.blob(&blob_digest);
        let diff_id = Digest::parse(&stats.diff_id)?;
        let media_type = if blob_digest == diff_id {
            "application/vnd.oci.image.layer.v1.tar"
        } else {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        };
        let layer = NewLayer {
            chain_id: diff_id.clone(),
            diff_id: diff_id.clone(),
            size: stats.size,
            tar_size: stats.tar_size,
            blob: blob_digest,
            blob_size,
            media_type: media_type.to_string(),
            blob_in_layer: false,
        };
        {
            let _layer_lock = self.store.layers.lock(&diff_id)?;
            if self.store.meta.layer(&diff_id)?.is_some() && self.store.layers.exists(&diff_id) {
                let _ = std::fs::remove_dir_all(&work);
                self.store
                    .meta
                    .add_blob(&layer.blob, blob_size, media_type)?;
            } else {
                created.layer(&diff_id);
                self.store.layers.install(&diff_id, &work)?;
                self.store.meta.add_layer(&layer, None)?;
            }
        }

        let message = opts
            .message
            .clone()
            .unwrap_or_else(|| format!("Imported from {}", opts.source));
        let created_at = now_rfc3339_nanos();
        let (os, arch) = host_platform();
        let bad = |e: oci_spec::OciSpecError| EngineError::InvalidArgument(e.to_string());
        let oci = ImageConfigurationBuilder::default()
            .created(created_at.clone())
            .architecture(arch)
            .os(os)
            .config(run_config)
            .rootfs(
                RootFsBuilder::default()
                    .typ("layers")
                    .diff_ids(vec![diff_id.to_string()])
                    .build()
                    .map_err(bad)?,
            )
            .history(vec![HistoryBuilder::default()
                .created(created_at)
                .comment(message.clone())
                .build()
                .map_err(bad)?])
            .build()
            .map_err(bad)?;
        let mut doc =
            serde_json::to_value(&oci).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        // Docker records the import message as the image's comment too.
        doc["comment"] = serde_json::Value::String(message);
        let config_bytes =
            serde_json::to_vec(&doc).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        let id = Digest::of(&config_bytes);
        let config = ImageConfig::parse(&id, &config_bytes)?;
        self.register(
            created,
            Candidate {
                config_bytes: &config_bytes,
                config: &config,
                layers: vec![layer],
                tags: tag.into_iter().collect(),
                manifest: None,
                repo_digests: Vec::new(),
            },
        )
    }
}

/// RFC 3339 with nanoseconds, trailing zeros trimmed, as Go's time.RFC3339Nano.
pub fn now_rfc3339_nanos() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
