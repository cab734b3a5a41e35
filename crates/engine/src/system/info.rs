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
    /// Docker's `/info` document (what `info` prints and the API answers).
    pub fn info_document(&self) -> Result<serde_json::Value, EngineError> {
        let i = self.info()?;
        let containers = self.containers()?;
        let count = |s: &str| containers.iter().filter(|c| c.status() == s).count();
        let (running, paused) = (count("running") + count("restarting"), count("paused"));
        let stopped = containers.len() - running - paused;
        let runtimes = runtimes();
        let default_runtime = self
            .runtime("")
            .map(|r| r.name())
            .unwrap_or_else(|_| kujira_runtime::embedded::NAME.to_string());
        let profile = seccomp_profile();
        let doc = serde_json::json!({
            "Containers": containers.len(), "ContainersRunning": running,
            "ContainersPaused": paused, "ContainersStopped": stopped,
            "Images": i.images,
            "LoggingDriver": "json-file",
            "Runtimes": runtimes.iter().map(|r| (r.clone(), serde_json::json!({}))).collect::<serde_json::Map<_, _>>(),
            "DefaultRuntime": default_runtime,
            "SecurityOptions": [format!("name=seccomp,profile={profile}")],
            "Driver": i.driver,
            "DockerRootDir": i.root,
            "CgroupDriver": i.cgroup_driver,
            "CgroupVersion": i.cgroup_version,
            "KernelVersion": i.kernel,
            "OperatingSystem": i.os,
            "OSType": "linux",
            "Architecture": i.arch,
            "NCPU": i.cpus,
            "MemTotal": i.memory,
            "Name": i.hostname,
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "null"],
                "Authorization": null,
                "Log": ["json-file"],
            },
            "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .is_ok_and(|v| v.trim() == "1"),
        });
        Ok(doc)
    }

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

/// The runtimes `--runtime` knows here: the built-in one, then the OCI runtime
/// binaries installed.
fn runtimes() -> Vec<String> {
    let mut out = vec![kujira_runtime::embedded::NAME.to_string()];
    for name in ["crun", "runc", "youki"] {
        if kujira_runtime::OciRuntime::find(name).is_some() {
            out.push(name.to_string());
        }
    }
    out
}

/// The seccomp profile containers get by default: its file, or `builtin`.
fn seccomp_profile() -> String {
    kujira_runtime::seccomp::DEFAULT_PROFILE_PATHS
        .iter()
        .find(|p| std::path::Path::new(p).is_file())
        .map_or_else(|| "builtin".to_string(), |p| p.to_string())
}
