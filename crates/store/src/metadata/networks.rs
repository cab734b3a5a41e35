//! Rows for networks and for the endpoints (address leases) of running containers.
//! Both carry a JSON document owned by the engine; the columns are what queries and
//! the uniqueness of names and addresses need.

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::Metadata;
use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub config: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub network_id: String,
    pub container_id: String,
    pub ip: String,
    pub config: String,
}

fn network_row(r: &Row) -> rusqlite::Result<NetworkRow> {
    Ok(NetworkRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
        config: r.get(3)?,
    })
}

fn endpoint_row(r: &Row) -> rusqlite::Result<EndpointRow> {
    Ok(EndpointRow {
        network_id: r.get(0)?,
        container_id: r.get(1)?,
        ip: r.get(2)?,
        config: r.get(3)?,
    })
}

const ENDPOINT_COLS: &str = "network_id, container_id, ip, config";

impl Metadata {
    /// Adds a network; false (and nothing written) when the name is taken.
    pub fn add_network(&self, n: &NetworkRow) -> Result<bool, StoreError> {
        let added = self.conn().execute(
            "INSERT OR IGNORE INTO networks (id, name, created, config) VALUES (?1, ?2, ?3, ?4)",
            params![n.id, n.name, n.created, n.config],
        )?;
        Ok(added == 1)
    }

    pub fn networks(&self) -> Result<Vec<NetworkRow>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT id, name, created, config FROM networks ORDER BY created")?;
        let rows = st.query_map([], network_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn network(&self, id: &str) -> Result<Option<NetworkRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, name, created, config FROM networks WHERE id = ?1",
                [id],
                network_row,
            )
            .optional()?)
    }

    /// Removes a network unless an endpoint is on it (false then, or when gone).
    pub fn delete_network(&self, id: &str) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "DELETE FROM networks WHERE id = ?1
             AND NOT EXISTS (SELECT 1 FROM endpoints WHERE network_id = ?1)",
            [id],
        )?;
        Ok(n == 1)
    }

    /// Leases an address on network `network_id` to `container_id`, in one
    /// transaction that holds the write lock: `choose` sees the address handed out
    /// last and every address taken, and returns the one to take (None: none).
    /// Returns the address taken; an existing lease of the same container is
    /// replaced.
    pub fn add_endpoint(
        &self,
        network_id: &str,
        container_id: &str,
        config: &str,
        choose: impl FnOnce(&str, &[String]) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM endpoints WHERE network_id = ?1 AND container_id = ?2",
            params![network_id, container_id],
        )?;
        let last: Option<String> = tx
            .query_row(
                "SELECT last_ip FROM networks WHERE id = ?1",
                [network_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(last) = last else {
            return Ok(None);
        };
        let taken: Vec<String> = {
            let mut st = tx.prepare_cached("SELECT ip FROM endpoints WHERE network_id = ?1")?;
            let rows = st.query_map([network_id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let Some(ip) = choose(&last, &taken) else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO endpoints (network_id, container_id, ip, config) VALUES (?1, ?2, ?3, ?4)",
            params![network_id, container_id, ip, config],
        )?;
        tx.execute(
            "UPDATE networks SET last_ip = ?2 WHERE id = ?1",
            params![network_id, ip],
        )?;
        tx.commit()?;
        Ok(Some(ip))
    }

    pub fn set_endpoint_config(
        &self,
        network_id: &str,
        container_id: &str,
        config: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE endpoints SET config = ?3 WHERE network_id = ?1 AND container_id = ?2",
            params![network_id, container_id, config],
        )?;
        Ok(())
    }

    pub fn delete_endpoint(
        &self,
        network_id: &str,
        container_id: &str,
    ) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "DELETE FROM endpoints WHERE network_id = ?1 AND container_id = ?2",
            params![network_id, container_id],
        )?;
        Ok(n == 1)
    }

    pub fn endpoints(&self) -> Result<Vec<EndpointRow>, StoreError> {
        let mut st = self.conn().prepare_cached(&format!(
            "SELECT {ENDPOINT_COLS} FROM endpoints ORDER BY ip"
        ))?;
        let rows = st.query_map([], endpoint_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn network_endpoints(&self, network_id: &str) -> Result<Vec<EndpointRow>, StoreError> {
        let mut st = self.conn().prepare_cached(&format!(
            "SELECT {ENDPOINT_COLS} FROM endpoints WHERE network_id = ?1 ORDER BY ip"
        ))?;
        let rows = st.query_map([network_id], endpoint_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn container_endpoints(&self, container_id: &str) -> Result<Vec<EndpointRow>, StoreError> {
        let mut st = self.conn().prepare_cached(&format!(
            "SELECT {ENDPOINT_COLS} FROM endpoints WHERE container_id = ?1"
        ))?;
        let rows = st.query_map([container_id], endpoint_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metadata::open(&dir.path().join("m.db")).unwrap();
        let n = NetworkRow {
            id: "n1".into(),
            name: "web".into(),
            created: "2026-01-01T00:00:00Z".into(),
            config: "{}".into(),
        };
        assert!(m.add_network(&n).unwrap());
        assert!(!m
            .add_network(&NetworkRow {
                id: "n2".into(),
                ..n.clone()
            })
            .unwrap());
        let ip = m
            .add_endpoint("n1", "c1", "{}", |last, taken| {
                assert!(last.is_empty() && taken.is_empty());
                Some("10.0.0.2".into())
            })
            .unwrap();
        assert_eq!(ip.as_deref(), Some("10.0.0.2"));
        // The same address for another container breaks the unique index.
        assert!(m
            .add_endpoint("n1", "c2", "{}", |_, _| Some("10.0.0.2".into()))
            .is_err());
        let ip = m
            .add_endpoint("n1", "c2", "{}", |last, taken| {
                assert_eq!((last, taken), ("10.0.0.2", &["10.0.0.2".to_string()][..]));
                Some("10.0.0.3".into())
            })
            .unwrap();
        assert_eq!(ip.as_deref(), Some("10.0.0.3"));
        assert!(!m.delete_network("n1").unwrap(), "in use");
        assert!(m.delete_endpoint("n1", "c1").unwrap());
        assert!(m.delete_endpoint("n1", "c2").unwrap());
        assert!(m.delete_network("n1").unwrap());
        assert!(m
            .add_endpoint("n1", "c1", "{}", |_, _| Some("x".into()))
            .unwrap()
            .is_none());
    }
}
