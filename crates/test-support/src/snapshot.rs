//! Whole-store snapshots, for "this failed operation changed nothing" tests.
//!
//! Files are compared by content hash, type and mode; SQLite databases are
//! compared *logically* (every row of every table) because their files change
//! for reasons that mean nothing (WAL frames, checkpoints, page reuse) and
//! because committed rows may still live only in the `-wal` file, which a
//! byte comparison of `*.db` would miss. Scratch areas (`tmp/`, `run/`) are
//! excluded: their churn is expected and cleaned up separately.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// Top-level directories of the store whose content is not compared.
pub const DEFAULT_EXCLUDED_DIRS: &[&str] = &["tmp", "run"];

/// Suffixes of SQLite files, which are compared by logical dump instead.
pub const SQLITE_SUFFIXES: &[&str] = &[".db", ".db-wal", ".db-shm", ".db-journal"];

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    File {
        mode: u32,
        size: u64,
        sha256: String,
    },
    Dir {
        mode: u32,
    },
    Symlink {
        target: PathBuf,
    },
    /// Sockets, fifos, devices: only the kind and mode matter.
    Special {
        kind: &'static str,
        mode: u32,
    },
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::File { mode, size, sha256 } => {
                write!(f, "file {mode:04o} {size} bytes sha256:{}", &sha256[..12])
            }
            Node::Dir { mode } => write!(f, "dir {mode:04o}"),
            Node::Symlink { target } => write!(f, "symlink -> {}", target.display()),
            Node::Special { kind, mode } => write!(f, "{kind} {mode:04o}"),
        }
    }
}

/// One database's logical content: table name → (schema SQL, sorted rows),
/// plus `user_version` (schema migrations bump it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbDump {
    pub user_version: i64,
    pub tables: BTreeMap<String, Table>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub sql: String,
    pub columns: Vec<String>,
    /// Each row rendered as SQL literals, sorted so rowid order and
    /// `VACUUM` do not count as changes.
    pub rows: Vec<Vec<String>>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct StoreSnapshot {
    pub root: PathBuf,
    /// Relative path → node, for everything but SQLite files and exclusions.
    pub files: BTreeMap<PathBuf, Node>,
    /// Relative path of each `*.db` → its dump.
    pub databases: BTreeMap<PathBuf, DbDump>,
}

impl fmt::Debug for StoreSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "StoreSnapshot of {}", self.root.display())?;
        for (p, n) in &self.files {
            writeln!(f, "  {}: {n}", p.display())?;
        }
        for (p, db) in &self.databases {
            writeln!(f, "  {} (user_version {}):", p.display(), db.user_version)?;
            for (t, tab) in &db.tables {
                writeln!(
                    f,
                    "    table {t} ({}): {} rows",
                    tab.columns.join(", "),
                    tab.rows.len()
                )?;
                for r in &tab.rows {
                    writeln!(f, "      ({})", r.join(", "))?;
                }
            }
        }
        Ok(())
    }
}

impl StoreSnapshot {
    /// Snapshot of the store at `root` with the default exclusions.
    pub fn take(root: impl AsRef<Path>) -> StoreSnapshot {
        Self::take_excluding(root, DEFAULT_EXCLUDED_DIRS)
    }

    /// Snapshot ignoring the given root-relative paths (and everything
    /// under them) instead of [`DEFAULT_EXCLUDED_DIRS`].
    pub fn take_excluding(root: impl AsRef<Path>, excluded: &[&str]) -> StoreSnapshot {
        let root = root.as_ref();
        let mut snap = StoreSnapshot {
            root: root.to_path_buf(),
            files: BTreeMap::new(),
            databases: BTreeMap::new(),
        };
        let excluded: Vec<&Path> = excluded.iter().map(Path::new).collect();
        walk(root, Path::new(""), &excluded, &mut snap);
        snap
    }

    /// Human-readable differences from `self` to `after`; empty if equal.
    pub fn diff(&self, after: &StoreSnapshot) -> Vec<String> {
        let mut out = Vec::new();
        diff_maps(&self.files, &after.files, &mut out, |p, b, a| {
            match (b, a) {
                (Some(b), Some(a)) => format!("~ {}: {b} => {a}", p.display()),
                (Some(b), None) => format!("- {}: {b}", p.display()),
                (None, Some(a)) => format!("+ {}: {a}", p.display()),
                (None, None) => unreachable!(),
            }
        });
        let dbs: BTreeSet<&PathBuf> = self
            .databases
            .keys()
            .chain(after.databases.keys())
            .collect();
        let empty = DbDump::default();
        for db in dbs {
            match (self.databases.get(db), after.databases.get(db)) {
                (Some(_), None) => out.push(format!("- database {}", db.display())),
                (None, Some(_)) => out.push(format!("+ database {}", db.display())),
                _ => {}
            }
            let b = self.databases.get(db).unwrap_or(&empty);
            let a = after.databases.get(db).unwrap_or(&empty);
            if b.user_version != a.user_version {
                out.push(format!(
                    "~ {}: user_version {} => {}",
                    db.display(),
                    b.user_version,
                    a.user_version
                ));
            }
            let tables: BTreeSet<&String> = b.tables.keys().chain(a.tables.keys()).collect();
            let none = Table::default();
            for t in tables {
                let (tb, ta) = (
                    b.tables.get(t).unwrap_or(&none),
                    a.tables.get(t).unwrap_or(&none),
                );
                let at = format!("{} table {t}", db.display());
                if tb.sql != ta.sql {
                    out.push(format!("~ {at}: schema {:?} => {:?}", tb.sql, ta.sql));
                }
                let cols = if ta.columns.is_empty() {
                    &tb.columns
                } else {
                    &ta.columns
                };
                let rb: BTreeSet<&Vec<String>> = tb.rows.iter().collect();
                let ra: BTreeSet<&Vec<String>> = ta.rows.iter().collect();
                for r in rb.difference(&ra) {
                    out.push(format!("- {at}: {}", row(cols, r)));
                }
                for r in ra.difference(&rb) {
                    out.push(format!("+ {at}: {}", row(cols, r)));
                }
                // Duplicate rows only differ in count, which sets miss.
                if rb == ra && tb.rows.len() != ta.rows.len() {
                    out.push(format!(
                        "~ {at}: {} rows => {} rows",
                        tb.rows.len(),
                        ta.rows.len()
                    ));
                }
            }
        }
        out
    }
}

fn row(cols: &[String], r: &[String]) -> String {
    let parts: Vec<String> = r
        .iter()
        .enumerate()
        .map(|(i, v)| match cols.get(i) {
            Some(c) => format!("{c}={v}"),
            None => v.clone(),
        })
        .collect();
    format!("({})", parts.join(", "))
}

fn diff_maps<K: Ord, V: PartialEq>(
    b: &BTreeMap<K, V>,
    a: &BTreeMap<K, V>,
    out: &mut Vec<String>,
    fmt: impl Fn(&K, Option<&V>, Option<&V>) -> String,
) {
    let keys: BTreeSet<&K> = b.keys().chain(a.keys()).collect();
    for k in keys {
        let (vb, va) = (b.get(k), a.get(k));
        if vb != va {
            out.push(fmt(k, vb, va));
        }
    }
}

/// Panics with a readable list of differences unless the snapshots match.
pub fn assert_unchanged(before: &StoreSnapshot, after: &StoreSnapshot) {
    let d = before.diff(after);
    if !d.is_empty() {
        panic!(
            "store {} changed ({} differences):\n{}",
            after.root.display(),
            d.len(),
            d.join("\n")
        );
    }
}

fn is_sqlite_file(name: &str) -> bool {
    SQLITE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn walk(root: &Path, rel: &Path, excluded: &[&Path], snap: &mut StoreSnapshot) {
    let dir = root.join(rel);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        // The root itself may not exist yet: an untouched store is empty.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && rel.as_os_str().is_empty() => return,
        Err(e) => panic!("snapshot: read_dir {}: {e}", dir.display()),
    };
    let mut entries: Vec<_> = rd.map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        if excluded.iter().any(|x| r.starts_with(x)) {
            continue;
        }
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path)
            .unwrap_or_else(|err| panic!("snapshot: stat {}: {err}", path.display()));
        let ft = meta.file_type();
        let mode = meta.mode() & 0o7777;
        let name = e.file_name().to_string_lossy().into_owned();
        if ft.is_file() && is_sqlite_file(&name) {
            if name.ends_with(".db") {
                snap.databases.insert(r, dump_db(&path));
            }
            continue;
        }
        let node = if ft.is_dir() {
            walk(root, &r, excluded, snap);
            Node::Dir { mode }
        } else if ft.is_symlink() {
            Node::Symlink {
                target: std::fs::read_link(&path).unwrap(),
            }
        } else if ft.is_file() {
            Node::File {
                mode,
                size: meta.len(),
                sha256: hash_file(&path),
            }
        } else {
            let kind = if ft.is_fifo() {
                "fifo"
            } else if ft.is_socket() {
                "socket"
            } else if ft.is_char_device() {
                "char device"
            } else {
                "block device"
            };
            Node::Special { kind, mode }
        };
        snap.files.insert(r, node);
    }
}

fn hash_file(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut f =
        std::fs::File::open(p).unwrap_or_else(|e| panic!("snapshot: open {}: {e}", p.display()));
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap_or_else(|e| panic!("snapshot: read {}: {e}", p.display()));
    hex::encode(h.finalize())
}

/// Dumps every table of the database at `path`, opened read-only so the
/// snapshot cannot itself change what it measures. Reading through SQLite
/// (rather than the file) includes rows still only in the WAL.
pub fn dump_db(path: &Path) -> DbDump {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap_or_else(|e| panic!("snapshot: open database {}: {e}", path.display()));
    // A store mid-write holds the lock briefly; wait rather than flake.
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let fail = |e: rusqlite::Error| -> ! { panic!("snapshot: dump {}: {e}", path.display()) };
    let user_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap_or_else(|e| fail(e));
    let mut stmt = conn
        .prepare(
            "SELECT name, COALESCE(sql, '') FROM sqlite_master \
             WHERE type = 'table' AND name NOT LIKE 'sqlite_stat%' ORDER BY name",
        )
        .unwrap_or_else(|e| fail(e));
    let tables: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| fail(e));
    let mut dump = DbDump {
        user_version,
        tables: BTreeMap::new(),
    };
    for (name, sql) in tables {
        let q = format!("SELECT * FROM \"{}\"", name.replace('"', "\"\""));
        let mut stmt = conn.prepare(&q).unwrap_or_else(|e| fail(e));
        let columns: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let n = columns.len();
        let mut rows: Vec<Vec<String>> = stmt
            .query_map([], |r| (0..n).map(|i| Ok(literal(r.get_ref(i)?))).collect())
            .and_then(|rows| rows.collect())
            .unwrap_or_else(|e| fail(e));
        rows.sort();
        dump.tables.insert(name, Table { sql, columns, rows });
    }
    dump
}

/// A value as an SQL literal, so types stay distinguishable (`1` vs `'1'`).
fn literal(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => format!("{f:?}"),
        ValueRef::Text(t) => format!("'{}'", String::from_utf8_lossy(t).replace('\'', "''")),
        ValueRef::Blob(b) => format!("X'{}'", hex::encode(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Connection) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("blobs/sha256")).unwrap();
        std::fs::write(d.path().join("blobs/sha256/aa"), "blob").unwrap();
        std::os::unix::fs::symlink("blobs", d.path().join("link")).unwrap();
        let c = Connection::open(d.path().join("store.db")).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE images (id TEXT PRIMARY KEY, size INTEGER, meta BLOB);
             INSERT INTO images VALUES ('sha256:1', 10, X'00ff'), ('sha256:2', 20, NULL);",
        )
        .unwrap();
        (d, c)
    }

    #[test]
    fn equal_when_nothing_changes_and_ignores_tmp() {
        let (d, _c) = store();
        let a = StoreSnapshot::take(d.path());
        std::fs::create_dir_all(d.path().join("tmp/x")).unwrap();
        std::fs::write(d.path().join("tmp/x/junk"), "junk").unwrap();
        let b = StoreSnapshot::take(d.path());
        assert_unchanged(&a, &b);
        assert_eq!(a, b);
        assert_eq!(a.files.len(), 4, "{a:?}");
        assert!(a.files.keys().all(|p| !p.to_string_lossy().contains(".db")));
    }

    #[test]
    fn detects_changed_file() {
        let (d, _c) = store();
        let a = StoreSnapshot::take(d.path());
        std::fs::write(d.path().join("blobs/sha256/aa"), "BLOB").unwrap();
        std::fs::write(d.path().join("blobs/sha256/bb"), "new").unwrap();
        let b = StoreSnapshot::take(d.path());
        let diff = a.diff(&b);
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(
            diff[0].starts_with("~ blobs/sha256/aa: file 0644 4 bytes"),
            "{diff:?}"
        );
        assert!(diff[1].starts_with("+ blobs/sha256/bb: file"), "{diff:?}");
        let err = std::panic::catch_unwind(|| assert_unchanged(&a, &b)).expect_err("changed");
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("(2 differences)"), "{msg}");
    }

    #[test]
    fn detects_changed_row_still_in_wal() {
        let (d, c) = store();
        let a = StoreSnapshot::take(d.path());
        assert_eq!(
            a.databases[Path::new("store.db")].tables["images"]
                .rows
                .len(),
            2
        );
        c.execute("UPDATE images SET size = 11 WHERE id = 'sha256:1'", [])
            .unwrap();
        // The connection stays open with autocheckpoint off: the change is
        // only in store.db-wal, which a file comparison would not see.
        assert!(d.path().join("store.db-wal").metadata().unwrap().len() > 0);
        let b = StoreSnapshot::take(d.path());
        let diff = a.diff(&b);
        assert_eq!(
            diff,
            [
                "- store.db table images: (id='sha256:1', size=10, meta=X'00ff')",
                "+ store.db table images: (id='sha256:1', size=11, meta=X'00ff')",
            ]
        );
    }

    #[test]
    fn closed_wal_database_and_schema_change() {
        let (d, c) = store();
        drop(c);
        let a = StoreSnapshot::take(d.path());
        let c = Connection::open(d.path().join("store.db")).unwrap();
        c.execute_batch("CREATE TABLE extra (x); PRAGMA user_version = 2;")
            .unwrap();
        drop(c);
        let b = StoreSnapshot::take(d.path());
        let diff = a.diff(&b);
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(diff[0].contains("user_version 0 => 2"), "{diff:?}");
        assert!(diff[1].contains("table extra: schema"), "{diff:?}");
    }

    #[test]
    fn missing_root_is_empty() {
        let s = StoreSnapshot::take("/nonexistent/kujira-store");
        assert!(s.files.is_empty() && s.databases.is_empty());
    }
}
