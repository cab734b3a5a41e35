//! Rows and queries for images, layers, tags and blobs.

use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::Metadata;
use crate::{Digest, StoreError};

/// One stored image, as listed.
#[derive(Debug, Clone)]
pub struct ImageRow {
    pub id: Digest,
    pub created: Option<String>,
    pub created_unix: i64,
    pub size: u64,
    pub parent: String,
    pub labels: String,
    pub manifest: Option<Digest>,
    pub stored_unix: i64,
    pub last_tag_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    pub name: String,
    pub repo: String,
    pub tag: String,
    pub image_id: Digest,
}

/// A layer of a stored image, as read back.
pub type LayerRow = NewLayer;

/// A layer of an image: being added, or (as [`LayerRow`]) read back.
#[derive(Debug, Clone)]
pub struct NewLayer {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub size: u64,
    pub tar_size: u64,
    pub blob: Digest,
    pub blob_size: u64,
    pub media_type: String,
    /// The blob is regenerated from the layer's tar-split rather than stored.
    pub blob_in_layer: bool,
}

/// Everything one transaction needs to make an image visible.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub id: Digest,
    pub config_size: u64,
    pub created: Option<String>,
    pub created_unix: i64,
    pub parent: String,
    pub labels: String,
    pub manifest: Option<(Digest, u64, String)>,
    pub layers: Vec<NewLayer>,
    /// (full name, repo, tag)
    pub tags: Vec<(String, String, String)>,
    pub repo_digests: Vec<(String, String)>,
}

const IMAGE_COLS: &str =
    "id, created, created_unix, size, parent, labels, manifest, stored_unix, last_tag_time";

fn image_row(r: &Row<'_>) -> rusqlite::Result<ImageRow> {
    Ok(ImageRow {
        id: digest_col(r, 0)?,
        created: r.get(1)?,
        created_unix: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        parent: r.get(4)?,
        labels: r.get(5)?,
        manifest: r
            .get::<_, Option<String>>(6)?
            .map(|s| Digest::parse(&s))
            .transpose()
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
        stored_unix: r.get(7)?,
        last_tag_time: r.get(8)?,
    })
}

pub(super) fn digest_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Digest> {
    let s: String = r.get(i)?;
    Digest::parse(&s).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// A layer read from eight columns from `at` on: chain ID, diff ID, size, tar size,
/// blob digest, blob size, media type, and the blob's `layer` column.
pub(super) fn layer_row(r: &Row<'_>, at: usize) -> rusqlite::Result<LayerRow> {
    Ok(LayerRow {
        chain_id: digest_col(r, at)?,
        diff_id: digest_col(r, at + 1)?,
        size: r.get::<_, i64>(at + 2)? as u64,
        tar_size: r.get::<_, i64>(at + 3)? as u64,
        blob: digest_col(r, at + 4)?,
        blob_size: r.get::<_, i64>(at + 5)? as u64,
        media_type: r.get(at + 6)?,
        blob_in_layer: r.get::<_, Option<String>>(at + 7)?.is_some(),
    })
}

pub(super) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_rfc3339() -> String {
    let secs = now_unix();
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate here.
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Metadata {
    /// Adds an image with its layers, blobs and tags in one transaction. Returns, for
    /// every tag that moved away from another image, `(tag name, previous image)`.
    pub fn add_image(&self, img: &NewImage) -> Result<Vec<(String, Digest)>, StoreError> {
        // IMMEDIATE: a deferred transaction that reads and then writes gets
        // SQLITE_BUSY at once (no busy wait) when another writer came in between.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR IGNORE INTO blobs (digest, size, media_type) VALUES (?1, ?2, ?3)",
            params![
                img.id.as_str(),
                img.config_size as i64,
                "application/vnd.oci.image.config.v1+json"
            ],
        )?;
        if let Some((d, size, mt)) = &img.manifest {
            tx.execute(
                "INSERT OR IGNORE INTO blobs (digest, size, media_type) VALUES (?1, ?2, ?3)",
                params![d.as_str(), *size as i64, mt],
            )?;
        }
        let size: u64 = img.layers.iter().map(|l| l.size).sum();
        let mut parent: Option<&str> = None;
        for l in &img.layers {
            insert_layer_blob(&tx, l)?;
            tx.execute(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, tar_size)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    l.chain_id.as_str(),
                    l.diff_id.as_str(),
                    parent,
                    l.size as i64,
                    l.tar_size as i64
                ],
            )?;
            // The caller flushed the filesystem before this transaction: the
            // image's layers are durable now.
            tx.execute(
                "UPDATE layers SET unsynced_boot = NULL WHERE chain_id = ?1",
                [l.chain_id.as_str()],
            )?;
            parent = Some(l.chain_id.as_str());
        }
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO images (id, created, created_unix, size, parent, labels, manifest, stored_unix)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                img.id.as_str(),
                img.created,
                img.created_unix,
                size as i64,
                img.parent,
                img.labels,
                img.manifest.as_ref().map(|(d, _, _)| d.as_str()),
                now_unix()
            ],
        )?;
        if inserted == 1 {
            for (i, l) in img.layers.iter().enumerate() {
                tx.execute(
                    "INSERT INTO image_layers (image_id, position, chain_id, blob) VALUES (?1, ?2, ?3, ?4)",
                    params![img.id.as_str(), i as i64, l.chain_id.as_str(), l.blob.as_str()],
                )?;
            }
        }
        let mut moved = Vec::new();
        for (name, repo, tag) in &img.tags {
            if let Some(prev) = set_tag(&tx, name, repo, tag, &img.id)? {
                moved.push((name.clone(), prev));
            }
        }
        for (repo, digest) in &img.repo_digests {
            tx.execute(
                "INSERT OR REPLACE INTO repo_digests (repo, digest, image_id) VALUES (?1, ?2, ?3)",
                params![repo, digest, img.id.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(moved)
    }

    /// Points `name` at `image`. Returns the image it pointed at before, if another.
    pub fn tag(
        &self,
        name: &str,
        repo: &str,
        tag: &str,
        image: &Digest,
    ) -> Result<Option<Digest>, StoreError> {
        // IMMEDIATE: a deferred transaction that reads and then writes gets
        // SQLITE_BUSY at once (no busy wait) when another writer came in between.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let prev = set_tag(&tx, name, repo, tag, image)?;
        tx.commit()?;
        Ok(prev)
    }

    pub fn untag(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM tags WHERE name = ?1", [name])?
            > 0)
    }

    pub fn images(&self) -> Result<Vec<ImageRow>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached(&format!("SELECT {IMAGE_COLS} FROM images"))?;
        let rows = st.query_map([], image_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn image(&self, id: &Digest) -> Result<Option<ImageRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {IMAGE_COLS} FROM images WHERE id = ?1"),
                [id.as_str()],
                image_row,
            )
            .optional()?)
    }

    /// Image IDs starting with `sha256:<prefix>`.
    pub fn images_with_prefix(&self, hex_prefix: &str) -> Result<Vec<Digest>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT id FROM images WHERE id >= ?1 AND id < ?2")?;
        let lo = format!("sha256:{hex_prefix}");
        let hi = format!("sha256:{hex_prefix}\u{7f}");
        let rows = st.query_map(params![lo, hi], |r| digest_col(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn tags(&self) -> Result<Vec<TagRow>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT name, repo, tag, image_id FROM tags ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(TagRow {
                name: r.get(0)?,
                repo: r.get(1)?,
                tag: r.get(2)?,
                image_id: digest_col(r, 3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn tag_target(&self, name: &str) -> Result<Option<Digest>, StoreError> {
        self.conn()
            .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
                digest_col(r, 0)
            })
            .optional()
            .map_err(Into::into)
    }

    pub fn tags_of(&self, id: &Digest) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name")?;
        let rows = st.query_map([id.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `(repo, digest, image)` for every recorded repository digest.
    pub fn repo_digests(&self) -> Result<Vec<(String, String, Digest)>, StoreError> {
        let mut st = self.conn().prepare_cached(
            "SELECT repo, digest, image_id FROM repo_digests ORDER BY repo, digest",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, digest_col(r, 2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn image_layers(&self, id: &Digest) -> Result<Vec<LayerRow>, StoreError> {
        let mut st = self.conn().prepare_cached(
            "SELECT l.chain_id, l.diff_id, l.size, l.tar_size, b.digest, b.size, b.media_type, b.layer
             FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id
             JOIN blobs b ON b.digest = il.blob
             WHERE il.image_id = ?1 ORDER BY il.position",
        )?;
        let rows = st.query_map([id.as_str()], |r| layer_row(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `(chain_id, size)` of every layer row.
    pub fn layers(&self) -> Result<Vec<(Digest, u64)>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT chain_id, size FROM layers")?;
        let rows = st.query_map([], |r| Ok((digest_col(r, 0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `(image, chain_id)` pairs: which image uses which layer.
    pub fn layer_usage(&self) -> Result<Vec<(Digest, Digest)>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT image_id, chain_id FROM image_layers")?;
        let rows = st.query_map([], |r| Ok((digest_col(r, 0)?, digest_col(r, 1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn blobs(&self) -> Result<Vec<(Digest, u64)>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT digest, size FROM blobs")?;
        let rows = st.query_map([], |r| Ok((digest_col(r, 0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes an image row (its tags must be gone) and, in the same transaction, the
    /// layer and blob rows nothing references any more. Returns those layers and blobs,
    /// whose files the caller then removes.
    pub fn delete_image(&self, id: &Digest) -> Result<(Vec<Digest>, Vec<Digest>), StoreError> {
        // IMMEDIATE: a deferred transaction that reads and then writes gets
        // SQLITE_BUSY at once (no busy wait) when another writer came in between.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM tags WHERE image_id = ?1", [id.as_str()])?;
        tx.execute(
            "DELETE FROM image_layers WHERE image_id = ?1",
            [id.as_str()],
        )?;
        tx.execute(
            "DELETE FROM repo_digests WHERE image_id = ?1",
            [id.as_str()],
        )?;
        tx.execute("DELETE FROM images WHERE id = ?1", [id.as_str()])?;
        let (layers, blobs) = sweep(&tx)?;
        tx.commit()?;
        Ok((layers, blobs))
    }

    pub fn remove_repo_digests(&self, id: &Digest, repo: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM repo_digests WHERE image_id = ?1 AND repo = ?2",
            params![id.as_str(), repo],
        )?;
        Ok(())
    }
}

/// Deletes layer and blob rows no image references; returns what was deleted.
pub(super) fn sweep(
    tx: &rusqlite::Transaction<'_>,
) -> Result<(Vec<Digest>, Vec<Digest>), StoreError> {
    let collect = |sql: &str| -> Result<Vec<Digest>, StoreError> {
        let mut st = tx.prepare(sql)?;
        let rows = st.query_map([], |r| digest_col(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let layers = collect(
        "SELECT chain_id FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)
         AND chain_id NOT IN (SELECT chain_id FROM build_cache WHERE chain_id IS NOT NULL)",
    )?;
    let blobs = collect(
        "SELECT digest FROM blobs WHERE digest NOT IN (SELECT blob FROM image_layers)
         AND digest NOT IN (SELECT blob FROM build_cache WHERE blob IS NOT NULL)
         AND digest NOT IN (SELECT id FROM images)
         AND digest NOT IN (SELECT manifest FROM images WHERE manifest IS NOT NULL)",
    )?;
    for l in &layers {
        tx.execute("DELETE FROM layers WHERE chain_id = ?1", [l.as_str()])?;
    }
    for b in &blobs {
        tx.execute("DELETE FROM blobs WHERE digest = ?1", [b.as_str()])?;
    }
    Ok((layers, blobs))
}

fn set_tag(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    repo: &str,
    tag: &str,
    image: &Digest,
) -> Result<Option<Digest>, StoreError> {
    let prev: Option<String> = tx
        .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO tags (name, repo, tag, image_id) VALUES (?1, ?2, ?3, ?4)",
        params![name, repo, tag, image.as_str()],
    )?;
    tx.execute(
        "UPDATE images SET last_tag_time = ?1 WHERE id = ?2",
        params![now_rfc3339(), image.as_str()],
    )?;
    Ok(match prev {
        Some(p) if p != image.as_str() => Some(Digest::parse(&p)?),
        _ => None,
    })
}

impl Metadata {
    /// The recorded layer with this chain ID, if any.
    pub fn layer(&self, chain_id: &Digest) -> Result<Option<(Digest, u64, u64)>, StoreError> {
        // A layer recorded but not yet flushed is usable while the kernel that holds
        // its files in the page cache is still running (a concurrent or killed
        // process wrote it); after a reboot it may be incomplete: treat it as absent.
        let row = self
            .conn()
            .query_row(
                "SELECT diff_id, size, tar_size, unsynced_boot FROM layers WHERE chain_id = ?1",
                [chain_id.as_str()],
                |r| {
                    Ok((
                        digest_col(r, 0)?,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)? as u64,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(match row {
            Some((d, size, tar, None)) => Some((d, size, tar)),
            Some((d, size, tar, Some(boot))) if boot == boot_id() => Some((d, size, tar)),
            _ => None,
        })
    }

    pub fn has_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM blobs WHERE digest = ?1",
                [digest.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records a freshly extracted layer and the blob it came from, so that another
    /// process waiting on the layer lock finds it and a retried load reuses it. Until an
    /// image references them, garbage collection may take them back.
    pub fn add_layer(&self, layer: &NewLayer, parent: Option<&Digest>) -> Result<(), StoreError> {
        // IMMEDIATE: a deferred transaction that reads and then writes gets
        // SQLITE_BUSY at once (no busy wait) when another writer came in between.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        insert_layer_blob(&tx, layer)?;
        tx.execute(
            "INSERT OR REPLACE INTO layers (chain_id, diff_id, parent, size, tar_size, unsynced_boot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                layer.chain_id.as_str(),
                layer.diff_id.as_str(),
                parent.map(|p| p.as_str()),
                layer.size as i64,
                layer.tar_size as i64,
                boot_id()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records the blob a layer already in the store was loaded from this time.
    pub fn add_layer_blob(&self, layer: &NewLayer) -> Result<(), StoreError> {
        // IMMEDIATE: a deferred transaction that reads and then writes gets
        // SQLITE_BUSY at once (no busy wait) when another writer came in between.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        insert_layer_blob(&tx, layer)?;
        tx.commit()?;
        Ok(())
    }

    pub fn add_blob(&self, digest: &Digest, size: u64, media_type: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO blobs (digest, size, media_type) VALUES (?1, ?2, ?3)",
            params![digest.as_str(), size as i64, media_type],
        )?;
        Ok(())
    }

    /// Deletes layer and blob rows no image references (garbage from interrupted
    /// operations); returns them so their files can be removed.
    pub fn sweep_unreferenced(&self) -> Result<(Vec<Digest>, Vec<Digest>), StoreError> {
        // IMMEDIATE: a deferred transaction that reads and then writes gets
        // SQLITE_BUSY at once (no busy wait) when another writer came in between.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let out = sweep(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl Metadata {
    /// `(size, media type)` of a recorded blob.
    pub fn blob(&self, digest: &Digest) -> Result<Option<(u64, String)>, StoreError> {
        self.conn()
            .query_row(
                "SELECT size, media_type FROM blobs WHERE digest = ?1",
                [digest.as_str()],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()
            .map_err(Into::into)
    }
}

impl Metadata {
    /// Rolls back what a failed operation added: of the given layers and blobs, deletes
    /// the rows nothing references. Returns the layers and blobs whose files may go
    /// (blobs without any row included, e.g. a config stored just before the failure).
    pub fn delete_unreferenced(
        &self,
        layers: &[Digest],
        blobs: &[Digest],
    ) -> Result<(Vec<Digest>, Vec<Digest>), StoreError> {
        // IMMEDIATE: a deferred transaction that reads and then writes gets
        // SQLITE_BUSY at once (no busy wait) when another writer came in between.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let mut gone_layers = Vec::new();
        for l in layers {
            let n = tx.execute(
                "DELETE FROM layers WHERE chain_id = ?1
                 AND chain_id NOT IN (SELECT chain_id FROM image_layers)
                 AND chain_id NOT IN (SELECT chain_id FROM build_cache WHERE chain_id IS NOT NULL)",
                [l.as_str()],
            )?;
            let still: bool = tx
                .query_row(
                    "SELECT 1 FROM layers WHERE chain_id = ?1",
                    [l.as_str()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if n > 0 || !still {
                gone_layers.push(l.clone());
            }
        }
        let mut gone_blobs = Vec::new();
        for b in blobs {
            tx.execute(
                "DELETE FROM blobs WHERE digest = ?1
                 AND digest NOT IN (SELECT blob FROM image_layers)
                 AND digest NOT IN (SELECT blob FROM build_cache WHERE blob IS NOT NULL)
                 AND digest NOT IN (SELECT id FROM images)
                 AND digest NOT IN (SELECT manifest FROM images WHERE manifest IS NOT NULL)",
                [b.as_str()],
            )?;
            let still: bool = tx
                .query_row(
                    "SELECT 1 FROM blobs WHERE digest = ?1",
                    [b.as_str()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !still {
                gone_blobs.push(b.clone());
            }
        }
        tx.commit()?;
        Ok((gone_layers, gone_blobs))
    }
}

impl Metadata {
    pub fn add_repo_digest(
        &self,
        repo: &str,
        digest: &str,
        image: &Digest,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO repo_digests (repo, digest, image_id) VALUES (?1, ?2, ?3)",
            params![repo, digest, image.as_str()],
        )?;
        Ok(())
    }
}

/// The blob row of a layer: a stored file, or regenerated from the layer itself.
fn insert_layer_blob(tx: &rusqlite::Transaction<'_>, l: &NewLayer) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO blobs (digest, size, media_type, layer) VALUES (?1, ?2, ?3, ?4)",
        params![
            l.blob.as_str(),
            l.blob_size as i64,
            l.media_type,
            l.blob_in_layer.then(|| l.chain_id.as_str())
        ],
    )?;
    Ok(())
}

impl Metadata {
    /// Blobs regenerated from layers: `(blob, chain ID)`.
    pub fn blobs_in_layers(&self) -> Result<Vec<(Digest, Digest)>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT digest, layer FROM blobs WHERE layer IS NOT NULL")?;
        let rows = st.query_map([], |r| {
            let layer: String = r.get(1)?;
            Ok((
                digest_col(r, 0)?,
                Digest::parse(&layer)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// This boot's ID: what tells a layer written before a crash of the whole machine
/// (possibly incomplete on disk) from one a live kernel still holds.
pub fn boot_id() -> &'static str {
    static BOOT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}
