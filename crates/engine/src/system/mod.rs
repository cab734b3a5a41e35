//! System-wide services: disk usage (`system df`), `info`, and the store check.

pub mod df;
pub mod events;
pub mod info;

use crate::{Engine, EngineError};

impl Engine {
    /// Checks the store; with `verify_content`, blobs regenerated from layers are
    /// reassembled and hashed too (the store alone cannot: it does not know tar).
    pub fn check(
        &self,
        verify_content: bool,
    ) -> Result<kujira_store::check::CheckReport, EngineError> {
        let mut report = self.store.check(verify_content)?;
        if verify_content {
            for image in self.store.meta.images()? {
                for layer in self.store.meta.image_layers(&image.id)? {
                    if !layer.blob_in_layer {
                        continue;
                    }
                    let mut hashed = kujira_store::DigestReader::new(self.layer_tar(&layer)?);
                    let copied = std::io::copy(&mut hashed, &mut std::io::sink());
                    let (digest, n, _) = hashed.finish();
                    if copied.is_err() || digest != layer.blob || n != layer.blob_size {
                        report.problems.push(format!(
                            "layer {} no longer regenerates its tar {} (got {digest}, {n} bytes)",
                            layer.chain_id, layer.blob
                        ));
                    }
                }
            }
        }
        Ok(report)
    }
}
