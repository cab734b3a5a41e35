//! Facts about the host that a spec or a runtime invocation depends on.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// How the host's cgroups are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupMode {
    /// Only v1 controllers under `/sys/fs/cgroup/*`.
    V1,
    /// v1 controllers plus a cgroup2 mount at `/sys/fs/cgroup/unified`.
    Hybrid,
    /// `/sys/fs/cgroup` is cgroup2.
    V2,
}

impl CgroupMode {
    /// Looks at the filesystems mounted at `/sys/fs/cgroup` and its `unified` child.
    pub fn detect() -> CgroupMode {
        Self::detect_at(Path::new("/sys/fs/cgroup"))
    }

    pub fn detect_at(root: &Path) -> CgroupMode {
        use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
        match statfs(root) {
            Ok(st) if st.filesystem_type() == CGROUP2_SUPER_MAGIC => CgroupMode::V2,
            _ => match statfs(&root.join("unified")) {
                Ok(st) if st.filesystem_type() == CGROUP2_SUPER_MAGIC => CgroupMode::Hybrid,
                _ => CgroupMode::V1,
            },
        }
    }
}

/// A device node on the host, given to privileged containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDevice {
    pub path: PathBuf,
    /// `'c'` or `'b'`.
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// What `build_spec` needs to know about the host.
#[derive(Clone, Debug)]
pub struct HostFacts {
    /// The environment `-e KEY` (without a value) takes its value from.
    pub env: BTreeMap<String, String>,
    /// The host's hostname (a `--network host` container's hostname).
    pub hostname: String,
    /// Current hard limits by Docker ulimit name (`nofile`, `nproc`, …); a limit
    /// missing here is taken as unlimited.
    pub hard_limits: BTreeMap<String, u64>,
    /// The highest capability number the kernel knows.
    pub last_cap: u32,
    /// The capability bounding set kujira runs with (bit n = capability n). Nothing
    /// outside it can be given to a container: on these machines CAP_SYS_RESOURCE is
    /// missing from every bounding set.
    pub cap_bounding: u64,
    /// The host's device nodes (only used for privileged containers).
    pub devices: Vec<HostDevice>,
    pub cgroup: CgroupMode,
    /// Whether a swap limit can be set (v1's `memory.memsw.*`, v2's
    /// `memory.swap.max`); without it Docker ignores `--memory-swap`.
    pub swap_accounting: bool,
}

/// Docker's ulimit names and their `RLIMIT_*` resources.
pub const ULIMITS: &[(&str, &str, libc::__rlimit_resource_t)] = &[
    ("core", "RLIMIT_CORE", libc::RLIMIT_CORE),
    ("cpu", "RLIMIT_CPU", libc::RLIMIT_CPU),
    ("data", "RLIMIT_DATA", libc::RLIMIT_DATA),
    ("fsize", "RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("locks", "RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("memlock", "RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("msgqueue", "RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("nice", "RLIMIT_NICE", libc::RLIMIT_NICE),
    ("nofile", "RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("nproc", "RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("rss", "RLIMIT_RSS", libc::RLIMIT_RSS),
    ("rtprio", "RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("rttime", "RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("sigpending", "RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("stack", "RLIMIT_STACK", libc::RLIMIT_STACK),
];

impl HostFacts {
    /// The highest capability number the running kernel knows.
    pub fn last_cap() -> u32 {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    }

    /// Reads the facts from the running host.
    pub fn detect() -> HostFacts {
        Self::detect_for(true)
    }

    /// [`HostFacts::detect`], listing `/dev` only when `privileged` needs it (the walk
    /// is the slowest part, and only privileged containers get the host's devices).
    pub fn detect_for(privileged: bool) -> HostFacts {
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        let last_cap = HostFacts::last_cap();
        HostFacts {
            cap_bounding: current_bounding_set(),
            env: std::env::vars().collect(),
            hostname,
            hard_limits: current_hard_limits(),
            last_cap,
            devices: if privileged {
                host_devices(Path::new("/dev"))
            } else {
                Vec::new()
            },
            cgroup: CgroupMode::detect(),
            swap_accounting: swap_accounting(),
        }
    }
}

fn swap_accounting() -> bool {
    match CgroupMode::detect() {
        CgroupMode::V2 => true,
        _ => Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists(),
    }
}

/// The calling process's capability bounding set, from `/proc/self/status`
/// (everything when it cannot be read).
pub fn current_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

/// The calling process's hard limits (`u64::MAX` for unlimited).
pub fn current_hard_limits() -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (name, _, resource) in ULIMITS {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(*resource, &mut lim) } == 0 {
            out.insert(name.to_string(), lim.rlim_max);
        }
    }
    out
}

/// Device nodes under `dir`, skipping what a container gets its own of (pts, shm,
/// mqueue, fd) and the console, as Docker does for `--privileged`.
pub fn host_devices(dir: &Path) -> Vec<HostDevice> {
    let mut out = Vec::new();
    collect_devices(dir, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn collect_devices(dir: &Path, out: &mut Vec<HostDevice>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            let name = entry.file_name();
            if !matches!(
                name.to_str(),
                Some("pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev")
            ) {
                collect_devices(&path, out);
            }
            continue;
        }
        if path == Path::new("/dev/console") {
            continue;
        }
        if let Some(d) = device_of(&path, &meta) {
            out.push(d);
        }
    }
}

/// The host device at `path` (a device node, symlinks followed), or `None`.
pub fn host_device(path: &Path) -> Option<HostDevice> {
    device_of(path, &std::fs::metadata(path).ok()?)
}

/// `path` as a device, from its metadata, unless it is no device node.
fn device_of(path: &Path, meta: &std::fs::Metadata) -> Option<HostDevice> {
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else {
        return None;
    };
    let rdev = meta.rdev();
    Some(HostDevice {
        path: path.to_path_buf(),
        kind,
        major: libc::major(rdev) as u64,
        minor: libc::minor(rdev) as u64,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_device_by_path() {
        let d = host_device(Path::new("/dev/null")).unwrap();
        assert_eq!((d.kind, d.major, d.minor), ('c', 1, 3));
        assert!(host_device(Path::new("/etc/hostname")).is_none());
        assert!(host_device(Path::new("/no/such")).is_none());
    }

    #[test]
    fn detects_this_host() {
        let facts = HostFacts::detect();
        assert!(facts.last_cap >= 36);
        assert!(facts.hard_limits.contains_key("nofile"));
        assert!(facts
            .devices
            .iter()
            .any(|d| d.path == Path::new("/dev/null") && d.kind == 'c' && d.major == 1));
        assert!(!facts.devices.iter().any(|d| d.path.starts_with("/dev/pts")));
        // Whatever the layout, detection must not panic and must be stable.
        assert_eq!(facts.cgroup, CgroupMode::detect());
    }
}
