//! Container logs in Docker's `json-file` format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`.
//! Output is split at newlines; a line longer than [`MAX_LINE`] is cut into several
//! entries, the way Docker's log driver bounds its buffers.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

pub const MAX_LINE: usize = 16 * 1024;

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Appends entries to a container's log file; shared by the stdout and stderr pumps.
pub struct JsonLogWriter {
    file: Mutex<File>,
}

impl JsonLogWriter {
    pub fn open(path: &Path) -> Result<JsonLogWriter, RuntimeError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| RuntimeError::io("opening the log", path, e))?;
        Ok(JsonLogWriter {
            file: Mutex::new(file),
        })
    }

    /// Writes `bytes` of `stream` as whole lines; returns what is left of an
    /// unfinished last line (to be passed in again with the next chunk).
    pub fn write_lines(&self, stream: &str, pending: &mut Vec<u8>, bytes: &[u8]) {
        pending.extend_from_slice(bytes);
        let mut start = 0;
        let mut out = Vec::new();
        while let Some(nl) = pending[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            entry_line(&mut out, stream, &pending[start..end]);
            start = end;
        }
        while pending.len() - start >= MAX_LINE {
            entry_line(&mut out, stream, &pending[start..start + MAX_LINE]);
            start += MAX_LINE;
        }
        pending.drain(..start);
        self.append(&out);
    }

    /// Writes what remains of an unfinished line (at the end of the stream).
    pub fn flush_partial(&self, stream: &str, pending: &mut Vec<u8>) {
        if pending.is_empty() {
            return;
        }
        let mut out = Vec::new();
        entry_line(&mut out, stream, pending);
        pending.clear();
        self.append(&out);
    }

    fn append(&self, out: &[u8]) {
        if out.is_empty() {
            return;
        }
        if let Ok(mut f) = self.file.lock() {
            // A full disk must not stop the container: the entry is lost, as with
            // Docker's json-file driver.
            let _ = f.write_all(out);
        }
    }
}

fn entry_line(out: &mut Vec<u8>, stream: &str, bytes: &[u8]) {
    let entry = LogEntry {
        log: String::from_utf8_lossy(bytes).into_owned(),
        stream: stream.to_string(),
        time: now_rfc3339_nanos(),
    };
    if serde_json::to_writer(&mut *out, &entry).is_ok() {
        out.push(b'\n');
    }
}

/// Now, as Go's `time.RFC3339Nano` in UTC.
pub fn now_rfc3339_nanos() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Reads a log file's entries from byte `offset`; returns them and the offset after
/// the last complete line (a line still being written is left for the next read).
pub fn read_entries(path: &Path, offset: u64) -> Result<(Vec<LogEntry>, u64), RuntimeError> {
    match File::open(path) {
        Ok(f) => read_entries_from(&f, path, offset),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Vec::new(), offset)),
        Err(e) => Err(RuntimeError::io("reading the log", path, e)),
    }
}

/// [`read_entries`] from an open log: a follower keeps it open, so the lines are
/// still there to read when the container is removed (its log unlinked) before the
/// follower got to them.
pub fn read_entries_from(
    file: &File,
    path: &Path,
    offset: u64,
) -> Result<(Vec<LogEntry>, u64), RuntimeError> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| RuntimeError::io("reading the log", path, e))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut pos = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| RuntimeError::io("reading the log", path, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        pos += n as u64;
        // A damaged line is skipped rather than ending the whole log.
        if let Ok(e) = serde_json::from_slice::<LogEntry>(&line) {
            entries.push(e);
        }
    }
    Ok((entries, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let w = JsonLogWriter::open(&path).unwrap();
        let mut p = Vec::new();
        w.write_lines("stdout", &mut p, b"hello\nwor");
        assert_eq!(p, b"wor");
        w.write_lines("stdout", &mut p, b"ld\n");
        let mut e = Vec::new();
        w.write_lines("stderr", &mut e, &vec![b'x'; MAX_LINE + 5]);
        w.flush_partial("stderr", &mut e);
        let (entries, end) = read_entries(&path, 0).unwrap();
        let logs: Vec<(&str, usize)> = entries
            .iter()
            .map(|e| (e.stream.as_str(), e.log.len()))
            .collect();
        assert_eq!(
            logs,
            [
                ("stdout", 6),
                ("stdout", 6),
                ("stderr", MAX_LINE),
                ("stderr", 5)
            ]
        );
        assert_eq!(entries[0].log, "hello\n");
        assert!(entries[0].time.ends_with('Z'));
        assert_eq!(end, std::fs::metadata(&path).unwrap().len());
        let (again, _) = read_entries(&path, end).unwrap();
        assert!(again.is_empty());
    }
}
