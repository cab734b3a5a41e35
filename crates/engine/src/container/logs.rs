//! `logs [-f] [--tail N] [-t] [--since T] [--until T]` from the json-file log.

use std::time::Duration;

use kujira_runtime::logs::{read_entries, read_entries_from, LogEntry};

use super::{monitor_alive, Container};
use crate::{Engine, EngineError};

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// `None` for all.
    pub tail: Option<usize>,
    /// Unix seconds (fractional) bounds.
    pub since: Option<f64>,
    pub until: Option<f64>,
}

fn entry_unix(e: &LogEntry) -> f64 {
    chrono::DateTime::parse_from_rfc3339(&e.time)
        .map(|t| t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9)
        .unwrap_or(0.0)
}

impl Engine {
    /// Calls `sink` for every entry; with `follow`, until the container stops (or the
    /// sink says stop by returning false).
    pub fn container_logs(
        &self,
        c: &Container,
        opts: &LogOptions,
        mut sink: impl FnMut(&LogEntry) -> bool,
    ) -> Result<(), EngineError> {
        let paths = self.container_paths(c.id());
        let path = paths.log(c.id());
        let keep = |e: &LogEntry| {
            let t = entry_unix(e);
            opts.since.is_none_or(|s| t >= s) && opts.until.is_none_or(|u| t <= u)
        };
        // Open once: a removal of the container during a follow unlinks the log, and
        // a follower (docker-py's `run` reads it after `remove`) must still read it all.
        let mut file = std::fs::File::open(&path).ok();
        let (entries, mut offset) = match &file {
            Some(f) => read_entries_from(f, &path, 0),
            None => read_entries(&path, 0),
        }
        .map_err(EngineError::Runtime)?;
        let mut entries: Vec<LogEntry> = entries.into_iter().filter(|e| keep(e)).collect();
        if let Some(n) = opts.tail {
            let skip = entries.len().saturating_sub(n);
            entries.drain(..skip);
        }
        for e in &entries {
            if !sink(e) {
                return Ok(());
            }
        }
        if !opts.follow {
            return Ok(());
        }
        loop {
            let alive = monitor_alive(&paths);
            if file.is_none() {
                file = std::fs::File::open(&path).ok();
            }
            let (more, next) = match &file {
                Some(f) => read_entries_from(f, &path, offset),
                None => Ok((Vec::new(), offset)),
            }
            .map_err(EngineError::Runtime)?;
            offset = next;
            for e in more.iter().filter(|e| keep(e)) {
                if !sink(e) {
                    return Ok(());
                }
            }
            if !alive {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
