//! The last step of getting an image in: store its config, then make it visible —
//! image row, layer references and tags — in one metadata transaction.

use kujira_reference::Reference;
use kujira_store::metadata::{NewImage, NewLayer};

use super::config::ImageConfig;
use super::rollback::Created;
use crate::{Digest, Engine, EngineError};

/// What registering an image did.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: Digest,
    pub tags: Vec<Reference>,
    /// Tags that were taken from another image: `(tag, previous image)`.
    pub moved: Vec<(Reference, Digest)>,
}

pub(crate) struct Candidate<'a> {
    pub config_bytes: &'a [u8],
    pub config: &'a ImageConfig,
    pub layers: Vec<NewLayer>,
    pub tags: Vec<Reference>,
    pub manifest: Option<(Digest, u64, String)>,
    pub repo_digests: Vec<(String, String)>,
}

impl Engine {
    pub(crate) fn register(
        &self,
        created: &Created,
        c: Candidate<'_>,
    ) -> Result<Registered, EngineError> {
        let id = Digest::of(c.config_bytes);
        created.blob(&id);
        self.store.blobs.put(c.config_bytes, Some(&id))?;
        self.store.sync()?;
        let tags: Vec<(String, String, String)> = c
            .tags
            .iter()
            .map(|t| {
                (
                    t.to_string(),
                    t.name(),
                    t.tag().unwrap_or("latest").to_string(),
                )
            })
            .collect();
        let moved = self.store.meta.add_image(&NewImage {
            id: id.clone(),
            config_size: c.config_bytes.len() as u64,
            created: c.config.oci.created().clone(),
            created_unix: c.config.created_unix(),
            parent: c.config.extras.parent.clone().unwrap_or_default(),
            labels: c.config.labels_json(),
            manifest: c.manifest,
            layers: c.layers,
            tags,
            repo_digests: c.repo_digests,
        })?;
        let moved = moved
            .into_iter()
            .filter_map(|(name, prev)| Reference::parse(&name).ok().map(|r| (r, prev)))
            .collect();
        Ok(Registered {
            id,
            tags: c.tags,
            moved,
        })
    }
}
