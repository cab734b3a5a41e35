//! The event log: what changed, when, to what. Every process sharing the store
//! appends; readers poll by sequence number. Only the newest rows are kept.

use rusqlite::{params, Row};

use super::Metadata;
use crate::StoreError;

/// How many events are kept (dockerd keeps 256 in memory; a shared log can
/// afford more, and `--since` reaches further back).
const KEEP: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub seq: i64,
    pub time_nano: i64,
    pub kind: String,
    pub action: String,
    pub actor: String,
    /// A JSON object of string values.
    pub attributes: String,
}

fn row(r: &Row) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: r.get(0)?,
        time_nano: r.get(1)?,
        kind: r.get(2)?,
        action: r.get(3)?,
        actor: r.get(4)?,
        attributes: r.get(5)?,
    })
}

impl Metadata {
    pub fn record_event(
        &self,
        time_nano: i64,
        kind: &str,
        action: &str,
        actor: &str,
        attributes: &str,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO events (time_nano, type, action, actor, attributes) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![time_nano, kind, action, actor, attributes],
        )?;
        let seq = conn.last_insert_rowid();
        if seq % 512 == 0 {
            conn.execute("DELETE FROM events WHERE seq <= ?1", [seq - KEEP])?;
        }
        Ok(())
    }

    /// Events after `seq` with `time_nano >= since`, oldest first.
    pub fn events_after(&self, seq: i64, since: i64) -> Result<Vec<EventRow>, StoreError> {
        let mut st = self.conn().prepare(
            "SELECT seq, time_nano, type, action, actor, attributes FROM events \
             WHERE seq > ?1 AND time_nano >= ?2 ORDER BY seq",
        )?;
        let rows = st
            .query_map([seq, since], row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The newest event's sequence number (0 when there is none).
    pub fn last_event_seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?)
    }

    /// The newest `action` event of `actor`.
    pub fn last_event_of(&self, actor: &str, action: &str) -> Result<Option<EventRow>, StoreError> {
        let mut st = self.conn().prepare(
            "SELECT seq, time_nano, type, action, actor, attributes FROM events \
             WHERE actor = ?1 AND action = ?2 ORDER BY seq DESC LIMIT 1",
        )?;
        let mut rows = st.query_map([actor, action], row)?;
        Ok(rows.next().transpose()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_in_order_after_a_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metadata::open(&dir.path().join("m.db")).unwrap();
        assert_eq!(m.last_event_seq().unwrap(), 0);
        m.record_event(10, "container", "create", "abc", "{}")
            .unwrap();
        m.record_event(20, "container", "die", "abc", r#"{"exitCode":"7"}"#)
            .unwrap();
        let all = m.events_after(0, 0).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].action, "create");
        assert_eq!(m.events_after(all[0].seq, 0).unwrap().len(), 1);
        assert_eq!(m.events_after(0, 15).unwrap().len(), 1);
        let die = m.last_event_of("abc", "die").unwrap().unwrap();
        assert_eq!(die.attributes, r#"{"exitCode":"7"}"#);
        assert!(m.last_event_of("abc", "start").unwrap().is_none());
    }
}
