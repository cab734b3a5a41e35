//! The docker-archive format that `docker save` writes: `manifest.json` lists each
//! image's config file, tags and layer files.

use std::io::Read;

use kujira_reference::Reference;
use serde::Deserialize;

use super::tar_index::TarIndex;
use crate::image::config::ImageConfig;
use crate::image::ingest::{ingest_layers, LayerJob, LayerSource};
use crate::image::register::Candidate;
use crate::image::rollback::Created;
use crate::image::Registered;
use crate::{Digest, Engine, EngineError};

#[derive(Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

pub(super) fn load(
    engine: &Engine,
    index: &TarIndex,
    created: &Created,
) -> Result<Vec<Registered>, EngineError> {
    let raw = index.read_json_member("manifest.json")?;
    let entries: Vec<ManifestEntry> = serde_json::from_slice(&raw)
        .map_err(|e| EngineError::InvalidArchive(format!("manifest.json: {e}")))?;
    if entries.is_empty() {
        return Err(EngineError::InvalidArchive(
            "manifest.json lists no images".into(),
        ));
    }
    // Parse and check everything before writing anything.
    let mut plans = Vec::new();
    for entry in &entries {
        let config_bytes = index.read_json_member(&entry.config)?;
        let id = Digest::of(&config_bytes);
        let config = ImageConfig::parse(&id, &config_bytes)?;
        let diff_ids = config.diff_ids();
        if diff_ids.len() != entry.layers.len() {
            return Err(EngineError::InvalidArchive(format!(
                "image {} lists {} layer files but its config has {} diff IDs",
                entry.config,
                entry.layers.len(),
                diff_ids.len()
            )));
        }
        let mut tags = Vec::new();
        for t in entry.repo_tags.iter().flatten() {
            let r = Reference::parse(t)
                .map_err(|e| EngineError::InvalidArchive(format!("invalid tag {t:?}: {e}")))?;
            tags.push(if r.tag().is_some() {
                r
            } else {
                r.with_tag("latest")?
            });
        }
        for l in &entry.layers {
            if !index.contains(l) {
                return Err(EngineError::InvalidArchive(format!(
                    "layer {l} is listed in manifest.json but not in the archive"
                )));
            }
        }
        plans.push((config_bytes, config, diff_ids, tags, entry.layers.clone()));
    }

    // All layers of all images at once, each distinct chain once.
    let mut jobs: Vec<LayerJob> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut per_image = Vec::new();
    for (_, _, diff_ids, _, files) in &plans {
        let chains = kujira_store::chain_ids(diff_ids);
        let mut slots = Vec::new();
        for (i, (chain, file)) in chains.iter().zip(files).enumerate() {
            let slot = *seen.entry(chain.clone()).or_insert_with(|| {
                jobs.push(job(
                    index,
                    chain,
                    i.checked_sub(1).map(|p| chains[p].clone()),
                    &diff_ids[i],
                    file,
                ));
                jobs.len() - 1
            });
            slots.push(slot);
        }
        per_image.push(slots);
    }
    let layers = ingest_layers(engine.store.content(), jobs, created, None, 1)?;

    let mut out = Vec::new();
    for ((config_bytes, config, _, tags, _), slots) in plans.iter().zip(per_image) {
        out.push(engine.register(
            created,
            Candidate {
                config_bytes,
                config,
                layers: slots.iter().map(|&s| layers[s].clone()).collect(),
                tags: tags.clone(),
                manifest: None,
                repo_digests: Vec::new(),
            },
        )?);
    }
    Ok(out)
}

fn job(
    index: &TarIndex,
    chain: &Digest,
    parent: Option<Digest>,
    diff_id: &Digest,
    file: &str,
) -> LayerJob {
    let mut first = [0u8; 4];
    let media_type = index
        .open(file)
        .ok()
        .and_then(|mut r| r.read(&mut first).ok())
        .map(|n| super::layer_media_type(&first[..n]))
        .unwrap_or("application/vnd.oci.image.layer.v1.tar");
    let name = file.to_string();
    let opener_name = name.clone();
    let opener = index_opener(index, opener_name);
    LayerJob {
        chain_id: chain.clone(),
        parent,
        diff_id: diff_id.clone(),
        source: LayerSource {
            open: opener,
            expected_blob: None,
            media_type: media_type.to_string(),
            name,
        },
    }
}

/// An opener for one archive member, usable from the layer worker threads.
pub(super) fn index_opener(
    index: &TarIndex,
    name: String,
) -> Box<dyn Fn() -> std::io::Result<Box<dyn Read + Send>> + Send + Sync> {
    let reader = index.open(&name);
    let template = match reader {
        Ok(r) => Ok(r),
        Err(e) => Err(e.to_string()),
    };
    Box::new(move || match &template {
        Ok(r) => Ok(Box::new(r.clone()) as Box<dyn Read + Send>),
        Err(msg) => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            msg.clone(),
        )),
    })
}
