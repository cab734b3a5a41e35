//! `rmi`: untagging and deleting images with Docker's rules — removing a tag deletes
//! the image only when nothing else names it; removing by ID untags everything but
//! refuses (without `-f`) when the image is in several repositories.

use std::collections::BTreeSet;

use kujira_reference::Reference;

use crate::{Digest, Engine, EngineError};

/// One line of `rmi`/`prune` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// A familiar reference (`nginx:latest`, `nginx@sha256:…`) was removed.
    Untagged(String),
    /// An image ID or a layer chain ID was deleted.
    Deleted(Digest),
}

impl Engine {
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>, EngineError> {
        let events = self.remove_image_unlogged(name, force)?;
        // The first deletion is the image; the layers after it have no events.
        let mut image_deleted = false;
        for e in &events {
            match e {
                RemoveEvent::Untagged(r) => self.emit("image", "untag", r, &[("name", r)]),
                RemoveEvent::Deleted(id) if !image_deleted => {
                    image_deleted = true;
                    self.emit("image", "delete", id.as_str(), &[("name", id.as_str())]);
                }
                RemoveEvent::Deleted(_) => {}
            }
        }
        Ok(events)
    }

    fn remove_image_unlogged(
        &self,
        name: &str,
        force: bool,
    ) -> Result<Vec<RemoveEvent>, EngineError> {
        let _lock = self.store.lock_exclusive()?;
        let found = self
            .find_image(name)?
            .ok_or_else(|| EngineError::NoSuchImage(super::resolve::not_found_name(name)))?;
        let id = found.id.clone();
        let mut events = Vec::new();
        let named_ref = found.tag.clone().or(found.digest_ref.clone());
        let users = self.store.meta.containers_using(id.as_str())?;
        let running = users.iter().find(|c| {
            self.store
                .meta
                .container(c)
                .ok()
                .flatten()
                .is_some_and(|r| {
                    matches!(r.state.status.as_str(), "running" | "paused" | "restarting")
                })
        });
        match named_ref {
            Some(r) if !is_id_like(name, &id) => {
                // The last name of an image a container uses goes only with -f; the
                // image itself stays while the container needs it.
                let last_name = self.store.meta.tags_of(&id)?.len() <= 1;
                if last_name && !users.is_empty() && !force {
                    return Err(EngineError::InUse {
                        reference: r.familiar_string(),
                        container: users[0].chars().take(12).collect(),
                        image: id.short().to_string(),
                    });
                }
                if r.digest().is_some() {
                    self.store.meta.remove_repo_digests(&id, &r.name())?;
                } else {
                    self.store.meta.untag(&r.to_string())?;
                }
                events.push(RemoveEvent::Untagged(r.familiar_string()));
                if !self.store.meta.tags_of(&id)?.is_empty() || !users.is_empty() {
                    return Ok(events);
                }
            }
            _ => {
                let tags = self.store.meta.tags_of(&id)?;
                let repos: BTreeSet<String> = tags
                    .iter()
                    .filter_map(|t| Reference::parse(t).ok())
                    .map(|r| r.name())
                    .collect();
                if repos.len() > 1 && !force {
                    return Err(EngineError::MultipleRepositories {
                        reference: name.strip_prefix("sha256:").unwrap_or(name).to_string(),
                    });
                }
            }
        }
        if let Some(c) = running {
            return Err(EngineError::InvalidArgument(format!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                id.short(),
                &c[..12.min(c.len())]
            )));
        }
        if let Some(c) = users.first() {
            if !force {
                return Err(EngineError::InvalidArgument(format!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                    id.short(),
                    &c[..12.min(c.len())]
                )));
            }
            // Forced: every name goes, the image stays for its containers.
            for t in self.store.meta.tags_of(&id)? {
                if let Ok(r) = Reference::parse(&t) {
                    events.push(RemoveEvent::Untagged(r.familiar_string()));
                }
                self.store.meta.untag(&t)?;
            }
            return Ok(events);
        }
        self.check_no_children(&id)?;
        events.extend(self.delete_image_unlocked(&id)?);
        Ok(events)
    }

    fn check_no_children(&self, id: &Digest) -> Result<(), EngineError> {
        if self
            .store
            .meta
            .images()?
            .iter()
            .any(|r| r.parent == id.as_str())
        {
            return Err(EngineError::InvalidArgument(format!(
                "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                id.short()
            )));
        }
        Ok(())
    }

    /// Untags everything naming `id` and deletes it with the layers only it used.
    /// The caller holds the exclusive store lock.
    pub(crate) fn delete_image_unlocked(
        &self,
        id: &Digest,
    ) -> Result<Vec<RemoveEvent>, EngineError> {
        let mut events = Vec::new();
        for t in self.store.meta.tags_of(id)? {
            if let Ok(r) = Reference::parse(&t) {
                events.push(RemoveEvent::Untagged(r.familiar_string()));
            }
            self.store.meta.untag(&t)?;
        }
        for (repo, digest, img) in self.store.meta.repo_digests()? {
            if img == *id {
                if let Ok(r) = Reference::parse(&format!("{repo}@{digest}")) {
                    events.push(RemoveEvent::Untagged(r.familiar_string()));
                }
            }
        }
        let order: Vec<Digest> = self
            .store
            .meta
            .image_layers(id)?
            .into_iter()
            .rev()
            .map(|l| l.chain_id)
            .collect();
        let (layers, blobs) = self.store.meta.delete_image(id)?;
        self.store.remove_content(&layers, &blobs)?;
        events.push(RemoveEvent::Deleted(id.clone()));
        // Docker lists the removed layers top first.
        let removed: BTreeSet<&Digest> = layers.iter().collect();
        for chain in order.iter().filter(|c| removed.contains(c)) {
            events.push(RemoveEvent::Deleted(chain.clone()));
        }
        Ok(events)
    }
}

fn is_id_like(name: &str, id: &Digest) -> bool {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    !hex.is_empty() && id.hex().starts_with(hex)
}
