//! OCI image layout archives (`skopeo copy … oci-archive:`, `docker save` since 25):
//! `index.json` points at manifests (or indexes of them) in `blobs/<alg>/<hex>`.

use kujira_reference::Reference;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use super::docker_archive::index_opener;
use super::tar_index::TarIndex;
use crate::image::config::{host_platform, ImageConfig};
use crate::image::ingest::{ingest_layers, LayerJob, LayerSource};
use crate::image::register::Candidate;
use crate::image::rollback::Created;
use crate::image::Registered;
use crate::{Digest, Engine, EngineError};

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

pub(super) fn load(
    engine: &Engine,
    index: &TarIndex,
    created: &Created,
) -> Result<Vec<Registered>, EngineError> {
    let raw = index.read_json_member("index.json")?;
    let top: ImageIndex = serde_json::from_slice(&raw)
        .map_err(|e| EngineError::InvalidArchive(format!("index.json: {e}")))?;
    if top.manifests().is_empty() {
        return Err(EngineError::InvalidArchive(
            "index.json lists no images".into(),
        ));
    }
    let mut out = Vec::new();
    for desc in top.manifests() {
        let tags = names(desc)?;
        let (manifest_digest, manifest_bytes, manifest) = resolve_manifest(index, desc, 0)?;
        let config_digest = digest_of(manifest.config())?;
        let config_bytes = read_blob(index, manifest.config())?;
        let config = ImageConfig::parse(&config_digest, &config_bytes)?;
        let diff_ids = config.diff_ids();
        if diff_ids.len() != manifest.layers().len() {
            return Err(EngineError::InvalidArchive(format!(
                "manifest {manifest_digest} has {} layers but its config has {} diff IDs",
                manifest.layers().len(),
                diff_ids.len()
            )));
        }
        let chains = kujira_store::chain_ids(&diff_ids);
        let mut jobs = Vec::new();
        for (i, layer) in manifest.layers().iter().enumerate() {
            let blob = digest_of(layer)?;
            let name = blob_path(&blob);
            if index.size(&name) != Some(layer.size()) {
                return Err(EngineError::InvalidArchive(format!(
                    "layer blob {blob} is missing or has the wrong size"
                )));
            }
            jobs.push(LayerJob {
                chain_id: chains[i].clone(),
                parent: i.checked_sub(1).map(|p| chains[p].clone()),
                diff_id: diff_ids[i].clone(),
                source: LayerSource {
                    open: index_opener(index, name.clone()),
                    expected_blob: Some(blob),
                    media_type: layer.media_type().to_string(),
                    name,
                },
            });
        }
        let layers = ingest_layers(engine.store.content(), jobs, created, None, 1)?;
        created.blob(&manifest_digest);
        engine
            .store
            .blobs
            .put(&manifest_bytes, Some(&manifest_digest))?;
        out.push(
            engine.register(
                created,
                Candidate {
                    config_bytes: &config_bytes,
                    config: &config,
                    layers,
                    tags,
                    manifest: Some((
                        manifest_digest,
                        manifest_bytes.len() as u64,
                        manifest
                            .media_type()
                            .as_ref()
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| MANIFEST_TYPES[0].to_string()),
                    )),
                    repo_digests: Vec::new(),
                },
            )?,
        );
    }
    Ok(out)
}

/// The image names an index entry carries. containerd and Docker put the full name in
/// `io.containerd.image.name`; skopeo puts `name:tag` (or only a tag) in
/// `org.opencontainers.image.ref.name`. A bare tag names no repository: untagged.
fn names(desc: &Descriptor) -> Result<Vec<Reference>, EngineError> {
    let ann = desc.annotations().as_ref();
    let full = ann.and_then(|a| a.get("io.containerd.image.name"));
    let refname = ann.and_then(|a| a.get("org.opencontainers.image.ref.name"));
    let candidate = match (full, refname) {
        (Some(f), _) => f.as_str(),
        (None, Some(r)) if r.contains(':') || r.contains('/') => r.as_str(),
        _ => return Ok(Vec::new()),
    };
    let r = Reference::parse(candidate).map_err(|e| {
        EngineError::InvalidArchive(format!("invalid image name {candidate:?}: {e}"))
    })?;
    if r.digest().is_some() && r.tag().is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![if r.tag().is_some() {
        r
    } else {
        r.with_tag("latest")?
    }])
}

fn resolve_manifest(
    index: &TarIndex,
    desc: &Descriptor,
    depth: u8,
) -> Result<(Digest, Vec<u8>, ImageManifest), EngineError> {
    let digest = digest_of(desc)?;
    let bytes = read_blob(index, desc)?;
    let media = desc.media_type().to_string();
    if INDEX_TYPES.contains(&media.as_str()) {
        if depth > 2 {
            return Err(EngineError::InvalidArchive(
                "image indexes nested too deeply".into(),
            ));
        }
        let idx: ImageIndex = serde_json::from_slice(&bytes)
            .map_err(|e| EngineError::InvalidArchive(format!("index {digest}: {e}")))?;
        let (os, arch) = host_platform();
        let chosen = idx.manifests().iter().find(|m| {
            m.platform()
                .as_ref()
                .is_some_and(|p| p.os().to_string() == os && p.architecture().to_string() == arch)
        });
        return match chosen {
            Some(m) => resolve_manifest(index, m, depth + 1),
            None => {
                let have: Vec<String> = idx
                    .manifests()
                    .iter()
                    .filter_map(|m| m.platform().as_ref())
                    .map(|p| format!("{}/{}", p.os(), p.architecture()))
                    .collect();
                Err(EngineError::InvalidArchive(format!(
                    "no image for {os}/{arch} in {digest} (it has: {})",
                    have.join(", ")
                )))
            }
        };
    }
    if !MANIFEST_TYPES.contains(&media.as_str()) {
        return Err(EngineError::InvalidArchive(format!(
            "unsupported manifest media type {media:?}"
        )));
    }
    let manifest: ImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| EngineError::InvalidArchive(format!("manifest {digest}: {e}")))?;
    Ok((digest, bytes, manifest))
}

fn digest_of(desc: &Descriptor) -> Result<Digest, EngineError> {
    let d = desc.digest().to_string();
    Digest::parse(&d).map_err(|_| EngineError::InvalidArchive(format!("unsupported digest {d:?}")))
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// Reads a small blob and checks it against its descriptor.
fn read_blob(index: &TarIndex, desc: &Descriptor) -> Result<Vec<u8>, EngineError> {
    let digest = digest_of(desc)?;
    let bytes = index.read_json_member(&blob_path(&digest))?;
    let actual = Digest::of(&bytes);
    if actual != digest || bytes.len() as u64 != desc.size() {
        return Err(EngineError::InvalidArchive(format!(
            "blob {digest} does not match its descriptor (content hashes to {actual}, {} bytes)",
            bytes.len()
        )));
    }
    Ok(bytes)
}
