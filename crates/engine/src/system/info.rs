//! `info`: what this engine is and runs on.

use crate::{Engine, EngineError};

#[derive(Debug, Clone)]
pub struct Info {
    pub root: String,
    pub driver: &'static str,
    pub images: usize,
    pub cgroup_version: &'static str,
    pub cgroup_driver: &'static str,
    pub kernel: String,
    pub os: String,
    pub arch: &'static str,
    pub cpus: usize,
    pub memory: u64,
    pub hostname: String,
}

impl Engine {
    pub fn info(&self) -> Result<Info, EngineError> {
        let uts = nix_uname();
        Ok(Info {
            root: self.root().display().to_string(),
            driver: "overlay",
            images: self.store.meta.images()?.len(),
            cgroup_version: cgroup_version(),
            cgroup_driver: "cgroupfs",
            kernel: uts.1,
            os: os_name(),
            arch: std::env::consts::ARCH,
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory: mem_total(),
            hostname: uts.0,
        })
    }
}

/// "2" on a pure cgroup2 host; "1" on v1 or hybrid hosts (v1 controllers plus a
/// cgroup2 mount at /sys/fs/cgroup/unified), as Docker reports them.
fn cgroup_version() -> &'static str {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    }
}

fn nix_uname() -> (String, String) {
    // SAFETY: uname fills a zeroed, correctly sized struct.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return (String::new(), String::new());
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (field(&u.nodename), field(&u.release))
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
