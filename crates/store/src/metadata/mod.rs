//! SQLite metadata (WAL mode): images, their layers, tags, digests and the blobs they
//! reference; containers and volumes; the build cache. Every change that makes content visible is one transaction.

mod build_cache;
mod containers;
mod events;
mod images;
mod networks;
mod schema;

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

pub use build_cache::CacheRecord;
pub use containers::{ContainerRow, ContainerState, VolumeRow};
pub use events::EventRow;
pub use images::{ImageRow, LayerRow, NewImage, NewLayer, TagRow};
pub use networks::{EndpointRow, NetworkRow};

use crate::StoreError;

pub struct Metadata {
    conn: Connection,
}

impl Metadata {
    pub fn open(path: &Path) -> Result<Metadata, StoreError> {
        let conn = Connection::open(path)?;
        // Several kujira processes share one store: wait for a writer rather than fail.
        conn.busy_timeout(Duration::from_secs(60))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // No checkpoint when a process closes its connection: every kujira command
        // would otherwise pay two flushes and a WAL rewrite on exit. SQLite still
        // checkpoints as the WAL grows, and a WAL left behind is replayed on open.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        schema::migrate(&conn)?;
        Ok(Metadata { conn })
    }

    /// Trades the durability of the last transactions before a power failure for
    /// fewer flushes (WAL stays consistent either way). For a container's monitor,
    /// whose state rows are reconciled after a crash anyway.
    pub fn relax_durability(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}
