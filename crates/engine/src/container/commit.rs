//! `commit`: the container's copy-on-write layer becomes a new image layer on top of
//! its image's, with the container's configuration (and any `-c` changes) as the new
//! image's config.

use kujira_reference::Reference;
use oci_spec::image::Config;

use super::Container;
use crate::image::changes;
use crate::image::config::ImageConfig;
use crate::image::import::now_rfc3339_nanos;
use crate::image::register::Candidate;
use crate::image::Registered;
use crate::{Digest, Engine, EngineError};

#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub reference: Option<String>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    /// Freeze the container while its layer is read (Docker's default).
    pub pause: bool,
}

fn bad(e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArgument(e.to_string())
}

impl Engine {
    pub fn commit_container(
        &self,
        c: &Container,
        opts: &CommitOptions,
    ) -> Result<Registered, EngineError> {
        let tag = match &opts.reference {
            Some(r) => {
                let r = Reference::parse(r)?;
                if r.digest().is_some() {
                    return Err(bad("refusing to create a tag with a digest reference"));
                }
                Some(if r.tag().is_some() {
                    r
                } else {
                    r.with_tag("latest")?
                })
            }
            None => None,
        };
        let base_id = Digest::parse(&c.row.image_id)?;
        let base_bytes = self.store.blobs.read(&base_id)?;
        let base = ImageConfig::parse(&base_id, &base_bytes)?;

        // The container's view of the config, then the user's changes on top.
        let mut run: Config = base.oci.config().clone().unwrap_or_default();
        let cfg = &c.config;
        let list = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
        let text = |v: &str| (!v.is_empty()).then(|| v.to_string());
        run.set_cmd(list(cfg.cmd()));
        run.set_entrypoint(list(cfg.entrypoint()));
        run.set_env(list(cfg.env()));
        run.set_working_dir(text(cfg.working_dir()));
        run.set_user(text(cfg.user()));
        run.set_exposed_ports(list(&cfg.exposed_ports()));
        let labels = cfg.labels();
        run.set_labels((!labels.is_empty()).then(|| labels.into_iter().collect()));
        for ch in &opts.changes {
            changes::apply(&mut run, ch)?;
        }

        let runtime = self.runtime(c.config.runtime())?;
        let paused = opts.pause && c.status() == "running";
        if paused {
            runtime.pause(c.id()).map_err(EngineError::Runtime)?;
        }
        let layer = self.with_rollback(|created| {
            let upper = self.container_paths(c.id()).upper();
            let mut layers = self.store.meta.image_layers(&base_id)?;
            let layer = self.store_layer(created, &upper, &layers, None, false);
            if paused {
                let _ = runtime.resume(c.id());
            }
            let layer = layer?;
            let mut diff_ids = base.diff_ids();
            diff_ids.push(layer.diff_id.clone());
            layers.push(layer);

            let now = now_rfc3339_nanos();
            let mut doc: serde_json::Value = serde_json::from_slice(&base_bytes).map_err(bad)?;
            doc["config"] = serde_json::to_value(&run).map_err(bad)?;
            doc["created"] = serde_json::json!(now);
            doc["container"] = serde_json::json!(c.id());
            doc["parent"] = serde_json::json!(base_id.to_string());
            if let Some(a) = &opts.author {
                doc["author"] = serde_json::json!(a);
            }
            if let Some(m) = &opts.message {
                doc["comment"] = serde_json::json!(m);
            } else if let Some(o) = doc.as_object_mut() {
                o.remove("comment");
            }
            doc["rootfs"]["diff_ids"] =
                serde_json::json!(diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>());
            let command = std::iter::once(c.config.path.clone())
                .chain(c.config.args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ");
            let mut h = serde_json::json!({"created": now, "created_by": command});
            if let Some(a) = &opts.author {
                h["author"] = serde_json::json!(a);
            }
            if let Some(m) = &opts.message {
                h["comment"] = serde_json::json!(m);
            }
            match doc.get_mut("history").and_then(|v| v.as_array_mut()) {
                Some(arr) => arr.push(h),
                None => doc["history"] = serde_json::json!([h]),
            }
            let config_bytes = serde_json::to_vec(&doc).map_err(bad)?;
            let id = Digest::of(&config_bytes);
            let config = ImageConfig::parse(&id, &config_bytes)?;
            self.register(
                created,
                Candidate {
                    config_bytes: &config_bytes,
                    config: &config,
                    layers,
                    tags: tag.clone().into_iter().collect(),
                    manifest: None,
                    repo_digests: Vec::new(),
                },
            )
        });
        layer
    }
}
