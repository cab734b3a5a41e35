//! `save`: images out to one tar that is both a docker-archive (`manifest.json`, read
//! by `docker load` and skopeo) and an OCI image layout (`index.json`), as Docker 25+
//! writes it. Layers are written uncompressed, so their digests are the diff IDs the
//! configs name; image IDs (config digests) are preserved exactly.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};

use kujira_archive::{detect_compression, Compression};
use kujira_reference::Reference;
use kujira_store::DigestReader;
use serde_json::json;

use crate::{Digest, Engine, EngineError};

/// One image to save and the tags to record for it.
struct Item {
    id: Digest,
    tags: Vec<Reference>,
}

impl Engine {
    /// Writes the named images as one archive to `out`.
    pub fn save(&self, names: &[String], out: impl Write) -> Result<(), EngineError> {
        let items = self.save_items(names)?;
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        let mut written: HashSet<Digest> = HashSet::new();
        let mut docker_manifest = Vec::new();
        let mut index = Vec::new();
        for item in &items {
            let config = self.store.blobs.read(&item.id)?;
            put_bytes(&mut tar, &mut written, &item.id, &config)?;
            let layers = self.store.meta.image_layers(&item.id)?;
            let mut layer_descs = Vec::new();
            let mut layer_paths = Vec::new();
            for l in &layers {
                if written.insert(l.diff_id.clone()) {
                    self.put_layer(&mut tar, l)?;
                }
                layer_descs.push(json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": l.diff_id.as_str(),
                    "size": l.tar_size,
                }));
                layer_paths.push(format!("blobs/sha256/{}", l.diff_id.hex()));
            }
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": item.id.as_str(),
                    "size": config.len(),
                },
                "layers": layer_descs,
            });
            let manifest_bytes = to_json(&manifest)?;
            let manifest_digest = Digest::of(&manifest_bytes);
            put_bytes(&mut tar, &mut written, &manifest_digest, &manifest_bytes)?;
            let desc = |annotations: Option<serde_json::Value>| {
                let mut d = json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest.as_str(),
                    "size": manifest_bytes.len(),
                });
                if let Some(a) = annotations {
                    d["annotations"] = a;
                }
                d
            };
            if item.tags.is_empty() {
                index.push(desc(None));
            }
            for t in &item.tags {
                index.push(desc(Some(json!({
                    "io.containerd.image.name": t.to_string(),
                    "org.opencontainers.image.ref.name": t.tag().unwrap_or("latest"),
                }))));
            }
            docker_manifest.push(json!({
                "Config": format!("blobs/sha256/{}", item.id.hex()),
                "RepoTags": item.tags.iter().map(|t| t.familiar_string()).collect::<Vec<_>>(),
                "Layers": layer_paths,
            }));
        }
        let index_doc = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": index,
        });
        put_file(&mut tar, "index.json", &to_json(&index_doc)?)?;
        put_file(&mut tar, "manifest.json", &to_json(&docker_manifest)?)?;
        put_file(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        tar.into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| EngineError::io("writing the archive", e))?;
        Ok(())
    }

    /// Resolves names as `docker save` does: a repository without a tag means all its
    /// tags; an ID means the image without tags.
    fn save_items(&self, names: &[String]) -> Result<Vec<Item>, EngineError> {
        let mut by_id: BTreeMap<Digest, Vec<Reference>> = BTreeMap::new();
        let mut order = Vec::new();
        for name in names {
            let parsed = Reference::parse(name).ok();
            let repo_only = parsed
                .as_ref()
                .filter(|r| r.tag().is_none() && r.digest().is_none());
            let mut found = Vec::new();
            if let Some(r) = repo_only {
                let repo = r.name();
                for t in self.store.meta.tags()? {
                    if t.repo == repo {
                        found.push((t.image_id.clone(), Reference::parse(&t.name).ok()));
                    }
                }
            }
            if found.is_empty() {
                let res = self.resolve_image(name)?;
                found.push((res.id, res.tag));
            }
            for (id, tag) in found {
                if !by_id.contains_key(&id) {
                    order.push(id.clone());
                }
                let tags = by_id.entry(id).or_default();
                if let Some(t) = tag {
                    if !tags.contains(&t) {
                        tags.push(t);
                    }
                }
            }
        }
        Ok(order
            .into_iter()
            .map(|id| {
                let tags = by_id.remove(&id).unwrap_or_default();
                Item { id, tags }
            })
            .collect())
    }

    /// A layer's original uncompressed tar: its stored blob, decompressed if need
    /// be, or regenerated from the layer directory and its tar-split.
    pub(crate) fn layer_tar(
        &self,
        layer: &kujira_store::metadata::LayerRow,
    ) -> Result<Box<dyn Read + Send>, EngineError> {
        if layer.blob_in_layer {
            let dir = self.store.layers.diff_dir(&layer.chain_id);
            let split_path = self.store.layers.split_path(&layer.chain_id);
            let split = std::fs::File::open(&split_path)
                .map_err(|e| EngineError::io(format!("open {}", split_path.display()), e))?;
            let (reader, writer) = io::pipe().map_err(|e| EngineError::io("creating a pipe", e))?;
            // A failure ends the stream early; the caller's digest check reports it.
            std::thread::spawn(move || kujira_archive::reassemble_layer(&dir, split, writer));
            return Ok(Box::new(reader));
        }
        let mut file = self.store.blobs.open(&layer.blob)?;
        let mut head = [0u8; 4];
        let n = file
            .read(&mut head)
            .map_err(|e| EngineError::io("reading a layer", e))?;
        let file = self.store.blobs.open(&layer.blob)?;
        let buffered = io::BufReader::with_capacity(256 * 1024, file);
        Ok(match detect_compression(&head[..n]) {
            Compression::None => Box::new(buffered),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buffered)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(buffered)
                    .map_err(|e| EngineError::io("reading a layer", e))?,
            ),
        })
    }

    /// Streams a layer as an uncompressed tar, checking it against its diff ID.
    fn put_layer<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        layer: &kujira_store::metadata::LayerRow,
    ) -> Result<(), EngineError> {
        let plain = self.layer_tar(layer)?;
        let mut hashed = DigestReader::new(plain.take(layer.tar_size));
        let mut header = blob_header(layer.tar_size);
        tar.append_data(
            &mut header,
            format!("blobs/sha256/{}", layer.diff_id.hex()),
            &mut hashed,
        )
        .map_err(|e| EngineError::io("writing the archive", e))?;
        let (digest, _, _) = hashed.finish();
        if digest != layer.diff_id {
            return Err(EngineError::Store(
                kujira_store::StoreError::DigestMismatch {
                    expected: layer.diff_id.to_string(),
                    actual: digest.to_string(),
                },
            ));
        }
        Ok(())
    }
}

fn blob_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

fn put_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    written: &mut HashSet<Digest>,
    digest: &Digest,
    bytes: &[u8],
) -> Result<(), EngineError> {
    if written.insert(digest.clone()) {
        put_file(tar, &format!("blobs/sha256/{}", digest.hex()), bytes)?;
    }
    Ok(())
}

fn put_file<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> Result<(), EngineError> {
    let mut header = blob_header(bytes.len() as u64);
    tar.append_data(&mut header, name, bytes)
        .map_err(|e| EngineError::io("writing the archive", e))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(v).map_err(|e| EngineError::InvalidArchive(e.to_string()))
}
