//! `stats`: readings of a running container's resources.

use kujira_runtime::stats::Sample;

use super::Container;
use crate::Engine;

impl Engine {
    /// A reading of `c`'s CPU, memory, network, block I/O and pids; `None` unless it
    /// is running.
    pub fn container_sample(&self, c: &Container) -> Option<Sample> {
        let pid = c.row.state.pid as i32;
        if !c.is_running() || pid <= 0 {
            return None;
        }
        // Every runtime kujira drives gets the spec's default cgroups path.
        Some(kujira_runtime::stats::sample(
            &format!("/kujira/{}", c.id()),
            pid,
        ))
    }
}
