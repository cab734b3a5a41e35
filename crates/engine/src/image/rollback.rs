//! Undo for failed loads and imports: every layer and blob an operation creates is
//! recorded here, and if the operation fails, whatever of it no image references is
//! removed again, so bad input leaves the store exactly as it was.

use std::sync::Mutex;

use crate::{Digest, Engine, EngineError};

#[derive(Default)]
pub(crate) struct Created {
    layers: Mutex<Vec<Digest>>,
    blobs: Mutex<Vec<Digest>>,
}

impl Created {
    pub fn layer(&self, d: &Digest) {
        if let Ok(mut v) = self.layers.lock() {
            v.push(d.clone());
        }
    }

    pub fn blob(&self, d: &Digest) {
        if let Ok(mut v) = self.blobs.lock() {
            v.push(d.clone());
        }
    }
}

impl Engine {
    /// Runs `op` under the shared store lock; on failure, takes the exclusive lock
    /// (so no concurrent operation is between seeing a layer and referencing it) and
    /// removes what `op` created that nothing references.
    pub(crate) fn with_rollback<T>(
        &self,
        op: impl FnOnce(&Created) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let created = Created::default();
        let result = {
            let _lock = self.store.lock_shared()?;
            op(&created)
        };
        if result.is_err() {
            let layers = created.layers.into_inner().unwrap_or_default();
            let blobs = created.blobs.into_inner().unwrap_or_default();
            if !layers.is_empty() || !blobs.is_empty() {
                let _lock = self.store.lock_exclusive()?;
                let (l, b) = self.store.meta.delete_unreferenced(&layers, &blobs)?;
                self.store.remove_content(&l, &b)?;
            }
        }
        result
    }
}
