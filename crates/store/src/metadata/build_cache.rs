//! The build cache: one record per Dockerfile step, keyed by what the step read, with
//! the layer it made (none for a step that changed no file).

use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::images::{layer_row, now_unix, sweep};
use super::{Metadata, NewLayer};
use crate::{Digest, StoreError};

/// One cached step.
#[derive(Debug, Clone)]
pub struct CacheRecord {
    pub key: String,
    pub parent: Option<String>,
    /// The step's layer, `None` when it changed no file.
    pub layer: Option<NewLayer>,
    /// `regular` (a step's layer), `exec.cachemount` (a `RUN --mount=type=cache`
    /// directory), as BuildKit names them in `system df -v`.
    pub kind: String,
    pub description: String,
    pub size: u64,
    /// When the step first ran: its history row's time, kept so that an unchanged
    /// rebuild makes the same image.
    pub created: String,
    pub created_unix: i64,
    pub last_used_unix: i64,
    pub usage_count: i64,
}

const COLS: &str = "c.key, c.parent, c.kind, c.description, c.size, c.created, c.created_unix,
     c.last_used_unix, c.usage_count, c.chain_id, l.diff_id, l.size, l.tar_size, c.blob,
     b.size, b.media_type, b.layer";

fn record(r: &Row<'_>) -> rusqlite::Result<CacheRecord> {
    let chain: Option<String> = r.get(9)?;
    let layer = match chain {
        Some(_) => Some(layer_row(r, 9)?),
        None => None,
    };
    Ok(CacheRecord {
        key: r.get(0)?,
        parent: r.get(1)?,
        kind: r.get(2)?,
        description: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        created: r.get(5)?,
        created_unix: r.get(6)?,
        last_used_unix: r.get(7)?,
        usage_count: r.get(8)?,
        layer,
    })
}

fn select(filter: &str) -> String {
    format!(
        "SELECT {COLS} FROM build_cache c
         LEFT JOIN layers l ON l.chain_id = c.chain_id
         LEFT JOIN blobs b ON b.digest = c.blob {filter}"
    )
}

impl Metadata {
    /// The record for `key`, counted as used now. A record whose layer row went
    /// missing (a damaged store) is no hit.
    pub fn cache_hit(&self, key: &str) -> Result<Option<CacheRecord>, StoreError> {
        let found = self
            .conn()
            .query_row(&select("WHERE c.key = ?1"), [key], record)
            .optional();
        let found = match found {
            Ok(f) => f,
            // A layer row without its blob row: treat as absent, the step reruns.
            Err(rusqlite::Error::InvalidColumnType(..)) => None,
            Err(e) => return Err(e.into()),
        };
        // A layer written before a crash of the whole machine may be incomplete.
        if let Some(l) = found.as_ref().and_then(|r| r.layer.as_ref()) {
            if self.layer(&l.chain_id)?.is_none() {
                return Ok(None);
            }
        }
        if found.is_some() {
            self.conn().execute(
                "UPDATE build_cache SET last_used_unix = ?2, usage_count = usage_count + 1
                 WHERE key = ?1",
                params![key, now_unix()],
            )?;
        }
        Ok(found)
    }

    /// Records a step's result. Its layer is already in the layer store and
    /// recorded (`add_layer`: unflushed, valid until a reboot, until an image
    /// registration syncs and claims it), so a build pays no filesystem sync per step.
    pub fn add_cache_record(&self, rec: &CacheRecord) -> Result<(), StoreError> {
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR REPLACE INTO build_cache (key, parent, chain_id, blob, kind, description,
                 size, created, created_unix, last_used_unix, usage_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                rec.key,
                rec.parent,
                rec.layer.as_ref().map(|l| l.chain_id.as_str()),
                rec.layer.as_ref().map(|l| l.blob.as_str()),
                rec.kind,
                rec.description,
                rec.size as i64,
                rec.created,
                rec.created_unix,
                rec.last_used_unix,
                rec.usage_count
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The newest record with a layer of the same step (same parent, same
    /// instruction) but other inputs: what this step made the last time it ran.
    pub fn cache_predecessor(
        &self,
        parent: &str,
        description: &str,
    ) -> Result<Option<CacheRecord>, StoreError> {
        let found = self
            .conn()
            .query_row(
                &select(
                    "WHERE c.parent = ?1 AND c.description = ?2 AND c.chain_id IS NOT NULL
                     ORDER BY c.created_unix DESC LIMIT 1",
                ),
                [parent, description],
                record,
            )
            .optional();
        match found {
            Ok(f) => Ok(f),
            Err(rusqlite::Error::InvalidColumnType(..)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every record, oldest first.
    pub fn cache_records(&self) -> Result<Vec<CacheRecord>, StoreError> {
        let mut st = self
            .conn()
            .prepare(&select("ORDER BY c.created_unix, c.key"))?;
        let rows = st.query_map([], record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes these records and then the layer and blob rows nothing references any
    /// more, in one transaction; returns those layers and blobs for their files to go.
    pub fn delete_cache_records(
        &self,
        keys: &[String],
    ) -> Result<(Vec<Digest>, Vec<Digest>), StoreError> {
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        for k in keys {
            tx.execute("DELETE FROM build_cache WHERE key = ?1", [k])?;
        }
        let out = sweep(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}
