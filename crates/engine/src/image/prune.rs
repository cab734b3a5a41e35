//! `image prune`: deletes dangling images (untagged ones), or with `-a` every image
//! no container uses, honouring `until` and `label` filters.

use super::list::ImageFilters;
use super::remove::RemoveEvent;
use crate::{Engine, EngineError};

#[derive(Debug, Default)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    /// Bytes of layers actually removed.
    pub reclaimed: u64,
}

impl Engine {
    pub fn prune_images(
        &self,
        all: bool,
        filters: &ImageFilters,
    ) -> Result<PruneReport, EngineError> {
        for unsupported in [&filters.before, &filters.since] {
            if unsupported.is_some() {
                return Err(EngineError::InvalidArgument(
                    "invalid filter 'before/since' for image prune".into(),
                ));
            }
        }
        let _lock = self.store.lock_exclusive()?;
        let mut f = filters.clone();
        if !all {
            f.dangling = Some(true);
        }
        let candidates = self.list_images(true, &f)?;
        let sizes: std::collections::HashMap<_, _> =
            self.store.meta.layers()?.into_iter().collect();
        let mut report = PruneReport::default();
        // Children before parents, so intermediate images can go too.
        // Images a container (in any state) uses are never pruned.
        let mut pending: Vec<_> = Vec::new();
        for c in candidates {
            if self.store.meta.containers_using(c.id.as_str())?.is_empty() {
                pending.push(c.id);
            }
        }
        while !pending.is_empty() {
            let rows = self.store.meta.images()?;
            let (ready, blocked): (Vec<_>, Vec<_>) = pending
                .into_iter()
                .partition(|id| !rows.iter().any(|r| r.parent == id.as_str()));
            if ready.is_empty() {
                break;
            }
            for id in ready {
                for ev in self.delete_image_unlocked(&id)? {
                    if let RemoveEvent::Deleted(d) = &ev {
                        if *d != id {
                            report.reclaimed += sizes.get(d).copied().unwrap_or(0);
                        }
                    }
                    report.events.push(ev);
                }
            }
            pending = blocked;
        }
        // Anything left over by interrupted operations goes too.
        self.store.tmp.clean_stale()?;
        Ok(report)
    }
}
