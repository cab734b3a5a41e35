//! Resource figures of a running container (`stats`), read from its cgroups (v1 or
//! v2, at the spec's `cgroupsPath`), its network namespace and the host's `/proc/stat`,
//! the way Docker's daemon gathers them.

use std::path::{Path, PathBuf};

use crate::embedded::cgroups::{layout, CgroupLayout};

/// One reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time the container used, in nanoseconds.
    pub cpu_ns: u64,
    /// CPU time the whole host used (all CPUs, idle included), in nanoseconds.
    pub system_ns: u64,
    pub online_cpus: u32,
    /// Memory in use, page cache that can be dropped left out (as Docker's CLI).
    pub memory: u64,
    /// The memory limit, or the host's memory when there is none.
    pub memory_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

impl Sample {
    /// Docker's CPU %: the container's share of the host's CPU time between two
    /// readings, times the number of CPUs.
    pub fn cpu_percent(&self, before: &Sample) -> f64 {
        let cpu = self.cpu_ns.saturating_sub(before.cpu_ns) as f64;
        let system = self.system_ns.saturating_sub(before.system_ns) as f64;
        if cpu > 0.0 && system > 0.0 {
            cpu / system * f64::from(self.online_cpus.max(1)) * 100.0
        } else {
            0.0
        }
    }

    pub fn memory_percent(&self) -> f64 {
        if self.memory_limit == 0 {
            0.0
        } else {
            self.memory as f64 / self.memory_limit as f64 * 100.0
        }
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn number(path: &Path) -> Option<u64> {
    read(path)?.trim().parse().ok()
}

/// `key value` lines (`memory.stat`, `cpu.stat`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn host_memory() -> u64 {
    read(Path::new("/proc/meminfo"))
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The host's CPU time from the first line of `/proc/stat`, in nanoseconds.
fn system_ns() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    read(Path::new("/proc/stat"))
        .and_then(|t| {
            let line = t.lines().next()?.strip_prefix("cpu ")?.to_string();
            Some(
                line.split_whitespace()
                    .take(8)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum::<u64>(),
            )
        })
        .map_or(0, |ticks| ticks * 1_000_000_000 / hz)
}

/// Bytes received and sent on the namespace's interfaces other than loopback.
fn network(pid: i32) -> (u64, u64) {
    let Some(text) = read(Path::new(&format!("/proc/{pid}/net/dev"))) else {
        return (0, 0);
    };
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            if name.trim() == "lo" {
                return None;
            }
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            Some((*f.first()?, *f.get(8)?))
        })
        .fold((0, 0), |(r, t), (a, b)| (r + a, t + b))
}

/// Memory use without the inactive page cache, as Docker's CLI shows it.
fn without_cache(usage: u64, inactive_file: u64) -> u64 {
    if inactive_file < usage {
        usage - inactive_file
    } else {
        usage
    }
}

/// Reads the container whose cgroups are at `cgroups_path` and whose init is `pid`.
pub fn sample(cgroups_path: &str, pid: i32) -> Sample {
    let rel = cgroups_path.trim_start_matches('/');
    let (net_rx, net_tx) = network(pid);
    let host_mem = host_memory();
    // SAFETY: sysconf has no memory-safety preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as u32;
    let mut s = Sample {
        system_ns: system_ns(),
        online_cpus: cpus,
        net_rx,
        net_tx,
        memory_limit: host_mem,
        ..Default::default()
    };
    match layout() {
        CgroupLayout::V1(hierarchies) => {
            let dir = |c: &str| -> Option<PathBuf> {
                hierarchies
                    .iter()
                    .find(|h| h.controllers.iter().any(|x| x == c))
                    .map(|h| h.mount.join(rel))
            };
            if let Some(d) = dir("cpuacct") {
                s.cpu_ns = number(&d.join("cpuacct.usage")).unwrap_or(0);
            }
            if let Some(d) = dir("memory") {
                let usage = number(&d.join("memory.usage_in_bytes")).unwrap_or(0);
                let inactive = read(&d.join("memory.stat"))
                    .and_then(|t| keyed(&t, "total_inactive_file"))
                    .unwrap_or(0);
                s.memory = without_cache(usage, inactive);
                if let Some(limit) = number(&d.join("memory.limit_in_bytes")) {
                    s.memory_limit = limit.min(host_mem);
                }
            }
            if let Some(d) = dir("pids") {
                s.pids = number(&d.join("pids.current")).unwrap_or(0);
            }
            if let Some(d) = dir("blkio") {
                let text = read(&d.join("blkio.throttle.io_service_bytes_recursive"))
                    .or_else(|| read(&d.join("blkio.throttle.io_service_bytes")))
                    .unwrap_or_default();
                for l in text.lines() {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    if let [_, op, v] = f.as_slice() {
                        let v: u64 = v.parse().unwrap_or(0);
                        match *op {
                            "Read" => s.block_read += v,
                            "Write" => s.block_write += v,
                            _ => {}
                        }
                    }
                }
            }
        }
        CgroupLayout::V2 => {
            let d = Path::new("/sys/fs/cgroup").join(rel);
            s.cpu_ns = read(&d.join("cpu.stat"))
                .and_then(|t| keyed(&t, "usage_usec"))
                .map_or(0, |us| us * 1000);
            let usage = number(&d.join("memory.current")).unwrap_or(0);
            let inactive = read(&d.join("memory.stat"))
                .and_then(|t| keyed(&t, "inactive_file"))
                .unwrap_or(0);
            s.memory = without_cache(usage, inactive);
            if let Some(limit) = number(&d.join("memory.max")) {
                s.memory_limit = limit.min(host_mem);
            }
            s.pids = number(&d.join("pids.current")).unwrap_or(0);
            for l in read(&d.join("io.stat")).unwrap_or_default().lines() {
                for f in l.split_whitespace().skip(1) {
                    match f.split_once('=') {
                        Some(("rbytes", v)) => s.block_read += v.parse().unwrap_or(0),
                        Some(("wbytes", v)) => s.block_write += v.parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_as_docker_computes_them() {
        let before = Sample {
            cpu_ns: 1_000,
            system_ns: 10_000,
            online_cpus: 2,
            ..Default::default()
        };
        let after = Sample {
            cpu_ns: 1_500,
            system_ns: 20_000,
            online_cpus: 2,
            memory: 25,
            memory_limit: 100,
            ..Default::default()
        };
        assert!((after.cpu_percent(&before) - 10.0).abs() < 1e-9);
        assert_eq!(before.cpu_percent(&before), 0.0);
        assert_eq!(after.memory_percent(), 25.0);
        assert_eq!(Sample::default().memory_percent(), 0.0);
    }

    #[test]
    fn keyed_files() {
        let t = "cache 10\ntotal_inactive_file 4096\n";
        assert_eq!(keyed(t, "total_inactive_file"), Some(4096));
        assert_eq!(keyed(t, "inactive_file"), None);
    }

    #[test]
    fn the_host_is_readable() {
        assert!(system_ns() > 0);
        assert!(host_memory() > 0);
        // This process's own network namespace: whatever it has, it parses.
        let _ = network(std::process::id() as i32);
    }
}
