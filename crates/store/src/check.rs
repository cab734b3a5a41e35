//! Consistency check of a store: what metadata references must exist on disk and match
//! its digest; what is on disk without metadata is only garbage (left by an interrupted
//! operation) and is reported as such, not as damage.

use std::collections::HashSet;
use std::io::Read;

use crate::{Digest, DigestReader, Store, StoreError};

#[derive(Debug, Default)]
pub struct CheckReport {
    /// Real damage: referenced content missing or wrong.
    pub problems: Vec<String>,
    /// Harmless leftovers that garbage collection removes.
    pub garbage: Vec<String>,
}

impl CheckReport {
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Checks the store. With `verify_content`, every blob is re-hashed too.
    pub fn check(&self, verify_content: bool) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport::default();
        let conn = self.meta.conn();
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            report
                .problems
                .push(format!("metadata database: {integrity}"));
        }
        let mut st = conn.prepare("PRAGMA foreign_key_check")?;
        let fk: Vec<String> = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        for table in fk {
            report
                .problems
                .push(format!("metadata table {table} references a missing row"));
        }

        let blob_rows = self.meta.blobs()?;
        let blob_set: HashSet<&Digest> = blob_rows.iter().map(|(d, _)| d).collect();
        let in_layers: std::collections::HashMap<Digest, Digest> =
            self.meta.blobs_in_layers()?.into_iter().collect();
        for (digest, size) in &blob_rows {
            if let Some(chain) = in_layers.get(digest) {
                // Regenerated from its layer: the tar-split must be there. (Its bytes
                // are checked by the engine, which can reassemble them.)
                if !self.layers.split_path(chain).is_file() {
                    report.problems.push(format!(
                        "blob {digest} cannot be regenerated: layer {chain} has no tar-split"
                    ));
                }
                continue;
            }
            if !self.blobs.exists(digest) {
                report.problems.push(format!("blob {digest} is missing"));
                continue;
            }
            if verify_content {
                let mut r = DigestReader::new(self.blobs.open(digest)?);
                let p = self.blobs.path(digest);
                std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| StoreError::io(&p, e))?;
                let (actual, n, _) = r.finish();
                if actual != *digest || n != *size {
                    report.problems.push(format!(
                        "blob {digest} is corrupt (content hashes to {actual}, {n} bytes)"
                    ));
                }
            }
        }
        for image in self.meta.images()? {
            if !blob_set.contains(&image.id) {
                report
                    .problems
                    .push(format!("image {} has no config blob record", image.id));
            }
            let layers = self.meta.image_layers(&image.id)?;
            let sum: u64 = layers.iter().map(|l| l.size).sum();
            if sum != image.size {
                report.problems.push(format!(
                    "image {} records size {} but its layers add up to {sum}",
                    image.id, image.size
                ));
            }
            check_config_layers(self, &image.id, &layers, &mut report)?;
        }
        let layer_rows = self.meta.layers()?;
        let layer_set: HashSet<&Digest> = layer_rows.iter().map(|(d, _)| d).collect();
        for (chain, _) in &layer_rows {
            if !self.layers.exists(chain) {
                report.problems.push(format!("layer {chain} is missing"));
            }
        }
        for chain in self.layers.list()? {
            if !layer_set.contains(&chain) {
                report
                    .garbage
                    .push(format!("layer directory {} has no metadata", chain.hex()));
            }
        }
        for digest in self.blobs.list()? {
            if !blob_set.contains(&digest) {
                report
                    .garbage
                    .push(format!("blob {} has no metadata", digest.hex()));
            }
        }
        for dir in self.tmp.stale()? {
            report.garbage.push(format!(
                "scratch directory {} from an interrupted operation",
                dir.display()
            ));
        }
        Ok(report)
    }
}

/// The config's diff IDs must be exactly the layers recorded for the image.
fn check_config_layers(
    store: &Store,
    id: &Digest,
    layers: &[crate::metadata::LayerRow],
    report: &mut CheckReport,
) -> Result<(), StoreError> {
    let mut bytes = Vec::new();
    let path = store.blobs.path(id);
    match store.blobs.open(id) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)
                .map_err(|e| StoreError::io(&path, e))?;
        }
        Err(_) => {
            report
                .problems
                .push(format!("image {id}: config blob missing"));
            return Ok(());
        }
    }
    if Digest::of(&bytes) != *id {
        report
            .problems
            .push(format!("image {id}: config blob is corrupt"));
        return Ok(());
    }
    let config: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            report
                .problems
                .push(format!("image {id}: config is not JSON: {e}"));
            return Ok(());
        }
    };
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let recorded: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
    if diff_ids != recorded {
        report.problems.push(format!(
            "image {id}: recorded layers differ from its config's diff IDs"
        ));
    }
    let chains = crate::chain_ids(&layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>());
    for (l, c) in layers.iter().zip(chains) {
        if l.chain_id != c {
            report.problems.push(format!(
                "image {id}: layer {} has a wrong chain ID",
                l.chain_id
            ));
        }
    }
    Ok(())
}
