//! A container's cgroups: created and limited by the parent before the fork, joined by
//! the child (it writes `0` into each `cgroup.procs` it was handed), frozen for
//! `pause`, removed by `delete`.
//!
//! On v1 (and hybrid) hosts only the hierarchies whose controllers kujira uses are
//! joined — memory, pids, cpu, cpuacct, devices, freezer, blkio — one directory each;
//! on v2 one directory with the memory, cpu and pids controllers enabled above it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use crate::host::CgroupMode;
use crate::RuntimeError;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Controllers whose v1 hierarchies a container joins.
const JOINED: &[&str] = &[
    "memory", "pids", "cpu", "cpuacct", "devices", "freezer", "blkio",
];

/// A v1 hierarchy as the host mounts it.
#[derive(Clone, Debug)]
pub(crate) struct Hierarchy {
    /// The mount point's name under `/sys/fs/cgroup` (`memory`, `cpu,cpuacct`).
    pub name: String,
    pub mount: PathBuf,
    /// The mount data that mounts it again (`memory`, `name=systemd`).
    pub options: String,
    pub controllers: Vec<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum CgroupLayout {
    V1(Vec<Hierarchy>),
    V2,
}

/// The host's layout (read once per process).
pub(crate) fn layout() -> CgroupLayout {
    static LAYOUT: OnceLock<CgroupLayout> = OnceLock::new();
    LAYOUT
        .get_or_init(|| match CgroupMode::detect() {
            CgroupMode::V2 => CgroupLayout::V2,
            _ => CgroupLayout::V1(
                std::fs::read_to_string("/proc/self/mountinfo")
                    .map(|t| v1_hierarchies(&t))
                    .unwrap_or_default(),
            ),
        })
        .clone()
}

/// The cgroup v1 mounts directly under `/sys/fs/cgroup` in a mountinfo text.
fn v1_hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some("cgroup"), Some(_), Some(sopts)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        let Some(mount) = left.split(' ').nth(4) else {
            continue;
        };
        let mount = PathBuf::from(mount);
        if mount.parent() != Some(Path::new(CGROUP_ROOT)) {
            continue;
        }
        let opts: Vec<&str> = sopts
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent="))
            .collect();
        let controllers = opts
            .iter()
            .filter(|o| JOINED.contains(o) || !o.contains('='))
            .map(|o| o.to_string())
            .collect();
        out.push(Hierarchy {
            name: mount
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            mount,
            options: opts.join(","),
            controllers,
        });
    }
    out
}

/// Starts, in the background, the RCU grace period that the first move of a process
/// between cgroups waits for (the kernel's cgroup migration lock switches its readers
/// to a slow path first, and stays switched for a grace period after the last
/// mover). Moving this process into the cgroup it is already in changes nothing but
/// starts the wait now, so that the container's init, moved a few milliseconds later,
/// finds the lock ready — ≈ 10 ms saved per start on these machines. Best effort.
///
/// Only on a cgroup v2 host: in v1 hierarchies an init moves itself through the
/// `tasks` files, which take no such lock.
pub(crate) fn warm_up_migration() {
    if !matches!(layout(), CgroupLayout::V2) {
        return;
    }
    let Some(target) = own_cgroup_procs() else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::fs::write(target, std::process::id().to_string());
    });
}

/// The `cgroup.procs` of this process's own cgroup in the unified hierarchy.
fn own_cgroup_procs() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let procs = Path::new(CGROUP_ROOT)
        .join(rel.trim_start_matches('/'))
        .join("cgroup.procs");
    procs.exists().then_some(procs)
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), RuntimeError> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| RuntimeError::io("writing", path, e))
}

/// A container's cgroup directories.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Cgroups {
    pub dirs: Vec<PathBuf>,
    pub v2: bool,
    /// The v1 freezer directory (`pause`).
    #[serde(default)]
    pub freezer: Option<PathBuf>,
}

impl Cgroups {
    /// Creates the directories for `path` (the spec's `cgroupsPath`) and applies
    /// `resources`. A failure removes what was created.
    pub fn create(path: &str, resources: Option<&LinuxResources>) -> Result<Cgroups, RuntimeError> {
        let rel = path.trim_start_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            return Err(RuntimeError::Spec(format!("invalid cgroupsPath {path:?}")));
        }
        let mut cg = Cgroups::default();
        let result = match layout() {
            CgroupLayout::V1(hierarchies) => cg.create_v1(&hierarchies, rel, resources),
            CgroupLayout::V2 => cg.create_v2(rel, resources),
        };
        if let Err(e) = result {
            let _ = cg.remove(false);
            return Err(e);
        }
        Ok(cg)
    }

    /// Writes `resources` to the existing cgroup at `path` (`update` of a running
    /// container): nothing is created that is not there, nothing removed.
    pub fn apply(path: &str, resources: &LinuxResources) -> Result<(), RuntimeError> {
        let rel = path.trim_start_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            return Err(RuntimeError::Spec(format!("invalid cgroupsPath {path:?}")));
        }
        let mut cg = Cgroups::default();
        match layout() {
            CgroupLayout::V1(hierarchies) => cg.create_v1(&hierarchies, rel, Some(resources)),
            CgroupLayout::V2 => cg.create_v2(rel, Some(resources)),
        }
    }

    fn create_v1(
        &mut self,
        hierarchies: &[Hierarchy],
        rel: &str,
        res: Option<&LinuxResources>,
    ) -> Result<(), RuntimeError> {
        for h in hierarchies {
            let has = |c: &str| h.controllers.iter().any(|x| x == c);
            if !JOINED.iter().any(|c| has(c)) {
                continue;
            }
            let dir = h.mount.join(rel);
            std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io("creating", &dir, e))?;
            self.dirs.push(dir.clone());
            if has("freezer") {
                self.freezer = Some(dir.clone());
            }
            let Some(res) = res else { continue };
            let mut values: Vec<(&str, Option<String>)> = Vec::new();
            if let (true, Some(m)) = (has("memory"), res.memory()) {
                values.push(("memory.limit_in_bytes", m.limit().map(|v| v.to_string())));
                values.push((
                    "memory.memsw.limit_in_bytes",
                    m.swap().map(|v| v.to_string()),
                ));
                values.push((
                    "memory.soft_limit_in_bytes",
                    m.reservation().map(|v| v.to_string()),
                ));
            }
            if let (true, Some(c)) = (has("cpu"), res.cpu()) {
                // The period first: a quota is checked against the current period.
                values.push(("cpu.shares", c.shares().map(|v| v.to_string())));
                values.push(("cpu.cfs_period_us", c.period().map(|v| v.to_string())));
                values.push(("cpu.cfs_quota_us", c.quota().map(|v| v.to_string())));
            }
            for (file, value) in values {
                if let Some(v) = value {
                    write(&dir, file, &v)?;
                }
            }
            if has("pids") {
                if let Some(p) = res.pids() {
                    write(&dir, "pids.max", &pids_max(p))?;
                }
            }
            if has("devices") {
                for rule in res.devices().iter().flatten() {
                    let (file, line) = device_rule(rule);
                    write(&dir, file, &line)?;
                }
            }
        }
        Ok(())
    }

    fn create_v2(&mut self, rel: &str, res: Option<&LinuxResources>) -> Result<(), RuntimeError> {
        self.v2 = true;
        let root = Path::new(CGROUP_ROOT);
        let dir = root.join(rel);
        // Controllers must be enabled in every ancestor's subtree_control.
        let mut ancestor = root.to_path_buf();
        for part in Path::new(rel)
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
        {
            for c in ["+memory", "+cpu", "+pids"] {
                let _ = std::fs::write(ancestor.join("cgroup.subtree_control"), c);
            }
            ancestor.push(part);
            if !ancestor.exists() {
                std::fs::create_dir(&ancestor)
                    .map_err(|e| RuntimeError::io("creating", &ancestor, e))?;
            }
        }
        for c in ["+memory", "+cpu", "+pids"] {
            let _ = std::fs::write(ancestor.join("cgroup.subtree_control"), c);
        }
        std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io("creating", &dir, e))?;
        self.dirs.push(dir.clone());
        let Some(res) = res else { return Ok(()) };
        if let Some(m) = res.memory() {
            if let Some(limit) = m.limit() {
                write(&dir, "memory.max", &limit.to_string())?;
                if let Some(swap) = m.swap() {
                    let v = if swap < 0 {
                        "max".to_string()
                    } else {
                        (swap - limit).max(0).to_string()
                    };
                    write(&dir, "memory.swap.max", &v)?;
                }
            }
            if let Some(r) = m.reservation() {
                write(&dir, "memory.low", &r.to_string())?;
            }
        }
        if let Some(c) = res.cpu() {
            if let Some(shares) = c.shares() {
                let weight = 1 + ((shares.max(2) - 2) * 9999) / 262142;
                write(&dir, "cpu.weight", &weight.to_string())?;
            }
            if c.quota().is_some() || c.period().is_some() {
                let quota = match c.quota() {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".to_string(),
                };
                let period = c.period().unwrap_or(100_000);
                write(&dir, "cpu.max", &format!("{quota} {period}"))?;
            }
        }
        if let Some(p) = res.pids() {
            write(&dir, "pids.max", &pids_max(p))?;
        }
        if let Some(rules) = res.devices() {
            super::devices_bpf::attach(&dir, rules)?;
        }
        Ok(())
    }

    /// The file of each directory the child writes `0` into to join it while it is
    /// still single-threaded: a v1 hierarchy's `tasks` (moving one thread, itself,
    /// the kernel skips the global threadgroup lock, whose first taking waits for
    /// an RCU grace period: ≈ 5 ms of every start and exec here), else
    /// `cgroup.procs`.
    pub fn procs(&self) -> Result<Vec<File>, RuntimeError> {
        self.dirs
            .iter()
            .map(|d| {
                let tasks = d.join("tasks");
                let p = if tasks.exists() {
                    tasks
                } else {
                    d.join("cgroup.procs")
                };
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .map_err(|e| RuntimeError::io("opening", p, e))
            })
            .collect()
    }

    /// The processes in the container's cgroup.
    pub fn pids(&self) -> Vec<i32> {
        self.dirs
            .first()
            .and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Removes the directories; with `kill`, whatever still runs in them is killed.
    /// The last processes of a container take a moment to leave after its init
    /// exits, so a busy directory is retried for a while.
    pub fn remove(&self, kill: bool) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        for dir in self.dirs.iter().rev() {
            let mut step = Duration::from_micros(200);
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        if kill {
                            for pid in self.pids() {
                                // SAFETY: kill with plain integers.
                                unsafe { libc::kill(pid, libc::SIGKILL) };
                            }
                        }
                        std::thread::sleep(step);
                        step = (step * 2).min(Duration::from_millis(20));
                    }
                    Err(e) => return Err(RuntimeError::io("removing", dir, e)),
                }
            }
        }
        Ok(())
    }

    /// Freezes (`pause`) or thaws (`resume`) every process, waiting until done.
    pub fn freeze(&self, frozen: bool) -> Result<(), RuntimeError> {
        let (dir, file, value, done_file, done) = if self.v2 {
            let d = self.dirs.first().cloned().unwrap_or_default();
            let (v, want) = if frozen {
                ("1", "frozen 1")
            } else {
                ("0", "frozen 0")
            };
            (d, "cgroup.freeze", v, "cgroup.events", want)
        } else {
            let d = self.freezer.clone().ok_or_else(|| {
                RuntimeError::Spec("the host has no freezer cgroup to pause with".into())
            })?;
            let v = if frozen { "FROZEN" } else { "THAWED" };
            (d, "freezer.state", v, "freezer.state", v)
        };
        write(&dir, file, value)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(dir.join(done_file)).unwrap_or_default();
            if text.lines().any(|l| l.trim() == done) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(RuntimeError::io(
                    "freezing",
                    dir,
                    std::io::Error::other("the cgroup did not reach the state in time"),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// `pids.max`: the limit, or `max` for none.
fn pids_max(p: &oci_spec::runtime::LinuxPids) -> String {
    if p.limit() > 0 {
        p.limit().to_string()
    } else {
        "max".into()
    }
}

/// A device rule as a v1 `devices.allow` / `devices.deny` line.
fn device_rule(rule: &oci_spec::runtime::LinuxDeviceCgroup) -> (&'static str, String) {
    let file = if rule.allow() {
        "devices.allow"
    } else {
        "devices.deny"
    };
    let kind = rule
        .typ()
        .map(|t| t.as_str().to_string())
        .unwrap_or_else(|| "a".into());
    let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
    let access = rule.access().clone().unwrap_or_else(|| "rwm".into());
    if kind == "a" && rule.major().is_none() && rule.minor().is_none() {
        return (file, "a".into());
    }
    (
        file,
        format!(
            "{kind} {}:{} {access}",
            num(rule.major()),
            num(rule.minor())
        ),
    )
}

/// `update`: new limits (a spec's `linux.resources` members) for the running
/// container whose cgroup is `path`.
pub fn update_resources(path: &str, resources: &serde_json::Value) -> Result<(), RuntimeError> {
    let res: LinuxResources = serde_json::from_value(resources.clone())
        .map_err(|e| RuntimeError::Spec(format!("resources: {e}")))?;
    Cgroups::apply(path, &res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchies_from_mountinfo() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
            40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
            41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let h = v1_hierarchies(text);
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].name, "memory");
        assert_eq!(h[0].options, "memory");
        assert_eq!(h[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(h[2].options, "xattr,name=systemd");
        assert!(!JOINED
            .iter()
            .any(|c| h[2].controllers.iter().any(|x| x == c)));
    }

    #[test]
    fn device_rules_as_v1_lines() {
        let rule: oci_spec::runtime::LinuxDeviceCgroup =
            serde_json::from_value(serde_json::json!({"allow": false, "access": "rwm"})).unwrap();
        assert_eq!(device_rule(&rule), ("devices.deny", "a".to_string()));
        let rule: oci_spec::runtime::LinuxDeviceCgroup = serde_json::from_value(
            serde_json::json!({"allow": true, "type": "c", "major": 136, "access": "rwm"}),
        )
        .unwrap();
        assert_eq!(
            device_rule(&rule),
            ("devices.allow", "c 136:* rwm".to_string())
        );
    }
}
