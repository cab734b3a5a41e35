//! Garbage collection: removes content that no metadata references — what rmi/prune
//! just released, and what interrupted operations left behind.

use std::collections::HashSet;

use crate::{Digest, Store, StoreError};

#[derive(Debug, Default)]
pub struct GcReport {
    pub layers: usize,
    pub blobs: usize,
    pub scratch: usize,
}

impl Store {
    /// Removes the files of layers and blobs whose rows are gone. Call with the
    /// exclusive store lock held, so no concurrent load is mid-way.
    pub fn remove_content(&self, layers: &[Digest], blobs: &[Digest]) -> Result<(), StoreError> {
        for l in layers {
            self.layers.remove(l)?;
        }
        for b in blobs {
            self.blobs.remove(b)?;
        }
        Ok(())
    }

    /// Removes everything on disk that no metadata references. Takes the exclusive
    /// store lock, so it waits for loads in progress.
    pub fn collect_garbage(&self) -> Result<GcReport, StoreError> {
        let _lock = self.lock_exclusive()?;
        let mut report = GcReport {
            scratch: self.tmp.clean_stale()?,
            ..GcReport::default()
        };
        let (layers, blobs) = self.meta.sweep_unreferenced()?;
        report.layers += layers.len();
        report.blobs += blobs.len();
        self.remove_content(&layers, &blobs)?;
        let layer_rows: HashSet<Digest> = self.meta.layers()?.into_iter().map(|(d, _)| d).collect();
        for chain in self.layers.list()? {
            if !layer_rows.contains(&chain) {
                self.layers.remove(&chain)?;
                report.layers += 1;
            }
        }
        let blob_rows: HashSet<Digest> = self.meta.blobs()?.into_iter().map(|(d, _)| d).collect();
        for digest in self.blobs.list()? {
            if !blob_rows.contains(&digest) {
                self.blobs.remove(&digest)?;
                report.blobs += 1;
            }
        }
        Ok(report)
    }
}
