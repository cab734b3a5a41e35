//! `push`: an image to its registry, sending only the blobs the registry lacks
//! (existence check, then a cross-repository mount when the image came from another
//! repository of the same registry, then an upload). The manifest kujira stored when
//! it got the image is pushed byte for byte when it has all its blobs, so pushed
//! digests equal the local ones; otherwise an OCI manifest is built from the stored
//! config and layer blobs.

use std::collections::HashSet;

use kujira_reference::Reference;
use serde_json::json;

use super::net::{registry_error, runtime};
use crate::{Digest, Engine, EngineError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// `The push refers to repository [docker.io/library/busybox]`
    Repository(String),
    Layer {
        id: String,
        status: PushStatus,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStatus {
    Preparing,
    Pushed,
    AlreadyExists,
    MountedFrom(String),
}

impl PushStatus {
    pub fn text(&self) -> String {
        match self {
            PushStatus::Preparing => "Preparing".into(),
            PushStatus::Pushed => "Pushed".into(),
            PushStatus::AlreadyExists => "Layer already exists".into(),
            PushStatus::MountedFrom(r) => format!("Mounted from {r}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pushed {
    pub tag: String,
    pub digest: String,
    pub size: usize,
}

struct Upload {
    id: String,
    digest: Digest,
    size: u64,
    /// Regenerated from this layer rather than read from a blob file.
    layer: Option<kujira_store::metadata::LayerRow>,
}

impl Engine {
    pub fn push(&self, name: &str, events: &dyn Fn(PushEvent)) -> Result<Pushed, EngineError> {
        self.push_with(name, None, events)
    }

    /// [`Engine::push`] with credentials for this push only.
    pub fn push_with(
        &self,
        name: &str,
        auth: Option<&super::net::RegistryAuth>,
        events: &dyn Fn(PushEvent),
    ) -> Result<Pushed, EngineError> {
        let reference = Reference::parse(name)?;
        let reference = reference.or_latest();
        let tag = reference.tag().unwrap_or("latest").to_string();
        let id = self
            .store
            .meta
            .tag_target(&reference.to_string())?
            .ok_or_else(|| {
                EngineError::InvalidArgument(format!(
                    "An image does not exist locally with the tag: {}",
                    reference.without_tag_or_digest().familiar_string()
                ))
            })?;
        events(PushEvent::Repository(reference.name()));
        let (manifest_bytes, media_type, uploads) = self.push_manifest(&id)?;

        // Where the image came from on the same registry: blobs can be mounted from there.
        let mount_from: Option<String> = self
            .store
            .meta
            .repo_digests()?
            .into_iter()
            .filter(|(_, _, img)| *img == id)
            .filter_map(|(repo, _, _)| Reference::parse(&repo).ok())
            .find(|r| r.domain() == reference.domain() && r.path() != reference.path())
            .map(|r| r.path().to_string());

        let runtime = runtime()?;
        let client = self.registry_client_with(auth)?;
        for u in &uploads {
            if !u.id.is_empty() {
                events(PushEvent::Layer {
                    id: u.id.clone(),
                    status: PushStatus::Preparing,
                });
            }
        }
        for u in &uploads {
            let digest = u.digest.as_str();
            let status = if runtime
                .block_on(client.blob_exists(&reference, digest))
                .map_err(registry_error)?
            {
                PushStatus::AlreadyExists
            } else if let Some(from) = mount_from.as_deref().filter(|from| {
                runtime
                    .block_on(client.mount_blob(&reference, digest, from))
                    .unwrap_or(false)
            }) {
                PushStatus::MountedFrom(from.to_string())
            } else {
                let file: std::fs::File = match &u.layer {
                    // Regenerated on the fly: the registry checks the digest.
                    Some(layer) => {
                        let (reader, writer) =
                            std::io::pipe().map_err(|e| EngineError::io("creating a pipe", e))?;
                        let mut tar = self.layer_tar(layer)?;
                        std::thread::spawn(move || {
                            let mut writer = writer;
                            std::io::copy(&mut tar, &mut writer)
                        });
                        std::fs::File::from(std::os::fd::OwnedFd::from(reader))
                    }
                    None => {
                        let path = self.store.blobs.path(&u.digest);
                        std::fs::File::open(&path)
                            .map_err(|e| EngineError::io(format!("open {}", path.display()), e))?
                    }
                };
                runtime
                    .block_on(client.upload_blob(
                        &reference,
                        digest,
                        u.size,
                        tokio::fs::File::from_std(file),
                    ))
                    .map_err(registry_error)?;
                PushStatus::Pushed
            };
            if !u.id.is_empty() {
                events(PushEvent::Layer {
                    id: u.id.clone(),
                    status,
                });
            }
        }
        let digest = runtime
            .block_on(client.put_manifest(&reference, &tag, &media_type, &manifest_bytes))
            .map_err(registry_error)?;
        // Like Docker, remember the digest the registry now knows the image by.
        self.store
            .meta
            .add_repo_digest(&reference.name(), &digest, &id)?;
        Ok(Pushed {
            tag,
            digest,
            size: manifest_bytes.len(),
        })
    }

    /// The manifest to push and the blobs it needs (layers first, then the config).
    fn push_manifest(&self, id: &Digest) -> Result<(Vec<u8>, String, Vec<Upload>), EngineError> {
        let row = self
            .store
            .meta
            .image(id)?
            .ok_or_else(|| EngineError::NoSuchImage(id.to_string()))?;
        let layers = self.store.meta.image_layers(id)?;
        let config_size = self.store.meta.blob(id)?.map(|(s, _)| s).unwrap_or(0);
        let mut uploads: Vec<Upload> = Vec::new();
        let mut seen = HashSet::new();
        for l in &layers {
            if seen.insert(l.blob.clone()) {
                uploads.push(Upload {
                    id: l.diff_id.short().to_string(),
                    digest: l.blob.clone(),
                    size: l.blob_size,
                    layer: l.blob_in_layer.then(|| l.clone()),
                });
            }
        }
        uploads.push(Upload {
            id: String::new(),
            digest: id.clone(),
            size: config_size,
            layer: None,
        });

        if let Some(m) = &row.manifest {
            if let (Ok(bytes), Some((_, media_type))) =
                (self.store.blobs.read(m), self.store.meta.blob(m)?)
            {
                let all_present = uploads
                    .iter()
                    .all(|u| u.layer.is_some() || self.store.blobs.exists(&u.digest));
                if all_present {
                    return Ok((bytes, media_type, uploads));
                }
            }
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": id.as_str(),
                "size": config_size,
            },
            "layers": layers.iter().map(|l| json!({
                "mediaType": l.media_type,
                "digest": l.blob.as_str(),
                "size": l.blob_size,
            })).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&manifest)
            .map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        Ok((
            bytes,
            "application/vnd.oci.image.manifest.v1+json".into(),
            uploads,
        ))
    }

    /// `login`: checks the credentials against the registry, then stores them.
    pub fn login(&self, server: &str, user: &str, password: &str) -> Result<(), EngineError> {
        let runtime = runtime()?;
        let client = self.registry_client()?;
        runtime
            .block_on(client.login(server, user, password))
            .map_err(registry_error)?;
        Ok(())
    }

    /// `logout`: false when there were no credentials for `server`.
    pub fn logout(&self, server: &str) -> Result<bool, EngineError> {
        let runtime = runtime()?;
        let client = self.registry_client()?;
        runtime
            .block_on(client.logout(server))
            .map_err(registry_error)
    }
}
