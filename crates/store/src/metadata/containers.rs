//! Rows for containers and named volumes. A container's create-time configuration is
//! an opaque JSON document owned by the engine; its run state lives in columns so that
//! the monitor process can update it in small transactions.

use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::Metadata;
use crate::StoreError;

/// A container's run state, as `ps` and `inspect` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerState {
    /// `created`, `running`, `paused`, `restarting`, `exited`, `dead` or `removing`.
    pub status: String,
    pub pid: i64,
    pub exit_code: i64,
    pub started_at: String,
    pub finished_at: String,
    pub restart_count: i64,
    pub oom_killed: bool,
    /// Set by `stop`/`kill`: the restart policy must not bring it back.
    pub stop_requested: bool,
    pub error: String,
}

#[derive(Debug, Clone)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub created: String,
    /// The engine's JSON description of the container.
    pub config: String,
    pub state: ContainerState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRow {
    pub name: String,
    pub created: String,
    pub labels: String,
    pub anonymous: bool,
}

const COLS: &str = "id, name, image_id, created, config, status, pid, exit_code, started_at, \
                    finished_at, restart_count, oom_killed, stop_requested, error";

fn row(r: &Row<'_>) -> rusqlite::Result<ContainerRow> {
    Ok(ContainerRow {
        id: r.get(0)?,
        name: r.get(1)?,
        image_id: r.get(2)?,
        created: r.get(3)?,
        config: r.get(4)?,
        state: ContainerState {
            status: r.get(5)?,
            pid: r.get(6)?,
            exit_code: r.get(7)?,
            started_at: r.get(8)?,
            finished_at: r.get(9)?,
            restart_count: r.get(10)?,
            oom_killed: r.get(11)?,
            stop_requested: r.get(12)?,
            error: r.get(13)?,
        },
    })
}

impl Metadata {
    /// Adds a container; fails with `NameInUse` when its name is taken.
    pub fn add_container(&self, c: &ContainerRow) -> Result<(), StoreError> {
        // IMMEDIATE: the check-then-insert must hold the write lock from the start, or a
        // concurrent writer makes the upgrade fail at once instead of waiting.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let taken: Option<String> = tx
            .query_row(
                "SELECT id FROM containers WHERE name = ?1",
                [&c.name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = taken {
            return Err(StoreError::NameInUse {
                name: c.name.clone(),
                id,
            });
        }
        tx.execute(
            &format!("INSERT INTO containers ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                c.id,
                c.name,
                c.image_id,
                c.created,
                c.config,
                c.state.status,
                c.state.pid,
                c.state.exit_code,
                c.state.started_at,
                c.state.finished_at,
                c.state.restart_count,
                c.state.oom_killed,
                c.state.stop_requested,
                c.state.error
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every container, newest first (as `ps` lists them).
    pub fn containers(&self) -> Result<Vec<ContainerRow>, StoreError> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {COLS} FROM containers ORDER BY created DESC, rowid DESC"
        ))?;
        let rows = st.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn container(&self, id: &str) -> Result<Option<ContainerRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {COLS} FROM containers WHERE id = ?1"),
                [id],
                row,
            )
            .optional()?)
    }

    /// Writes the whole run state in one statement.
    pub fn set_container_state(&self, id: &str, s: &ContainerState) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE containers SET status = ?2, pid = ?3, exit_code = ?4, started_at = ?5,
             finished_at = ?6, restart_count = ?7, oom_killed = ?8, stop_requested = ?9, error = ?10
             WHERE id = ?1",
            params![
                id,
                s.status,
                s.pid,
                s.exit_code,
                s.started_at,
                s.finished_at,
                s.restart_count,
                s.oom_killed,
                s.stop_requested,
                s.error
            ],
        )?;
        Ok(())
    }

    pub fn set_stop_requested(&self, id: &str, stop: bool) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE containers SET stop_requested = ?2 WHERE id = ?1",
            params![id, stop],
        )?;
        Ok(())
    }

    pub fn set_container_config(&self, id: &str, config: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE containers SET config = ?2 WHERE id = ?1",
            params![id, config],
        )?;
        Ok(())
    }

    /// Renames a container; fails with `NameInUse` when the new name is taken.
    pub fn rename_container(&self, id: &str, name: &str) -> Result<(), StoreError> {
        // IMMEDIATE: the check-then-insert must hold the write lock from the start, or a
        // concurrent writer makes the upgrade fail at once instead of waiting.
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let taken: Option<String> = tx
            .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(other) = taken {
            return Err(StoreError::NameInUse {
                name: name.to_string(),
                id: other,
            });
        }
        tx.execute(
            "UPDATE containers SET name = ?2 WHERE id = ?1",
            params![id, name],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn delete_container(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM containers WHERE id = ?1", [id])?
            == 1)
    }

    /// IDs of the containers made from `image_id`.
    pub fn containers_using(&self, image_id: &str) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn()
            .prepare("SELECT id FROM containers WHERE image_id = ?1 ORDER BY created")?;
        let rows = st
            .query_map([image_id], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn add_volume(&self, v: &VolumeRow) -> Result<bool, StoreError> {
        Ok(self.conn().execute(
            "INSERT OR IGNORE INTO volumes (name, created, labels, anonymous) VALUES (?1, ?2, ?3, ?4)",
            params![v.name, v.created, v.labels, v.anonymous],
        )? == 1)
    }

    pub fn volumes(&self) -> Result<Vec<VolumeRow>, StoreError> {
        let mut st = self
            .conn()
            .prepare("SELECT name, created, labels, anonymous FROM volumes ORDER BY name")?;
        let rows = st
            .query_map([], |r| {
                Ok(VolumeRow {
                    name: r.get(0)?,
                    created: r.get(1)?,
                    labels: r.get(2)?,
                    anonymous: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn delete_volume(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM volumes WHERE name = ?1", [name])?
            == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, name: &str) -> ContainerRow {
        ContainerRow {
            id: id.into(),
            name: name.into(),
            image_id: "sha256:aa".into(),
            created: format!("2026-01-01T00:00:0{}Z", id.len() % 10),
            config: "{}".into(),
            state: ContainerState {
                status: "created".into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn names_are_unique_and_state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metadata::open(&dir.path().join("db")).unwrap();
        m.add_container(&sample("a1", "web")).unwrap();
        let err = m.add_container(&sample("b22", "web")).unwrap_err();
        assert!(
            matches!(err, StoreError::NameInUse { ref id, .. } if id == "a1"),
            "{err}"
        );
        m.add_container(&sample("b22", "db")).unwrap();
        assert!(m.rename_container("b22", "web").is_err());
        m.rename_container("b22", "cache").unwrap();
        let st = ContainerState {
            status: "running".into(),
            pid: 42,
            stop_requested: true,
            oom_killed: true,
            ..Default::default()
        };
        m.set_container_state("a1", &st).unwrap();
        assert_eq!(m.container("a1").unwrap().unwrap().state, st);
        assert_eq!(m.containers_using("sha256:aa").unwrap().len(), 2);
        let names: Vec<String> = m
            .containers()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        // Newest first: b22 was created a second after a1.
        assert_eq!(names, ["cache", "web"].map(String::from));
        assert!(m.delete_container("a1").unwrap());
        assert!(!m.delete_container("a1").unwrap());
    }
}
