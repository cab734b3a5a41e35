//! `top`: the host's `ps` output, narrowed to the container's processes, split
//! into titles and rows as dockerd answers it.

use super::Container;
use crate::{Engine, EngineError};

/// `ps` output: column titles and one row per container process.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Top {
    #[serde(rename = "Titles")]
    pub titles: Vec<String>,
    #[serde(rename = "Processes")]
    pub processes: Vec<Vec<String>>,
}

impl Engine {
    /// Runs `ps ps_args` (default `-ef`) and keeps the container's processes.
    pub fn top(&self, c: &Container, ps_args: &[String]) -> Result<Top, EngineError> {
        if !c.is_running() {
            return Err(EngineError::InvalidArgument(format!(
                "container {} is not running",
                c.id()
            )));
        }
        let pids = self.container_pids(c)?;
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.to_vec()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| EngineError::io("running ps", e))?;
        if !out.status.success() {
            return Err(EngineError::InvalidArgument(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let Some(head) = lines.next() else {
            return Ok(Top::default());
        };
        let titles: Vec<String> = head.split_whitespace().map(str::to_string).collect();
        let pid_col = titles.iter().position(|h| h == "PID").ok_or_else(|| {
            EngineError::InvalidArgument("Couldn't find PID field in ps output".into())
        })?;
        let cols = titles.len();
        let mut processes = Vec::new();
        for l in lines {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let pid: i64 = fields
                .get(pid_col)
                .and_then(|p| p.parse().ok())
                .unwrap_or(-1);
            if !pids.contains(&pid) || fields.len() < cols {
                continue;
            }
            // The last column (the command) keeps its spaces.
            let mut row: Vec<String> = fields[..cols - 1].iter().map(|s| s.to_string()).collect();
            row.push(fields[cols - 1..].join(" "));
            processes.push(row);
        }
        Ok(Top { titles, processes })
    }
}
