//! `builder prune`: the build cache emptied, all of it (`-a`) or what no image
//! shares, optionally only records unused for a while (`--filter until=…`).

use kujira_engine::{Engine, EngineError};

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// `-a`: also records whose layers images use (the images keep them).
    pub all: bool,
    /// `until`: only records last used before this Unix time.
    pub until: Option<i64>,
}

/// What was removed: record IDs and the bytes given back.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    pub ids: Vec<String>,
    pub reclaimed: u64,
}

pub fn prune(engine: &Engine, opts: &PruneOptions) -> Result<Pruned, EngineError> {
    let usage = engine.disk_usage()?;
    let picked: Vec<_> = usage
        .build_cache
        .into_iter()
        .filter(|b| opts.all || !b.shared || b.record.layer.is_none())
        .filter(|b| opts.until.is_none_or(|u| b.record.last_used_unix < u))
        .collect();
    let records: Vec<_> = picked.iter().map(|b| b.record.clone()).collect();
    engine.delete_cache_records(&records)?;
    let mut reclaimed = 0;
    for b in &picked {
        if !b.shared {
            reclaimed += b.record.size;
        }
        if b.record.kind == "exec.cachemount" {
            if let Some(id) = b.record.key.strip_prefix("cachemount:") {
                let dir = crate::exec::cache_mount_dir(&engine.root(), id);
                let _ = kujira_store::remove_tree(&dir);
            }
        }
    }
    Ok(Pruned {
        ids: records
            .iter()
            .map(|r| r.key.trim_start_matches("sha256:").to_string())
            .collect(),
        reclaimed,
    })
}
