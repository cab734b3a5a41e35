//! The OCI runtime spec (`config.json`) of a container: the image's config merged
//! with Docker-like run options, on Docker's defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::host::{HostFacts, ULIMITS};
use crate::seccomp::Seccomp;
use crate::user::resolve_user;
use crate::{caps, defaults, RuntimeError};

/// The parts of an image's config that shape a container (plain fields, so the
/// runtime crate does not depend on the engine's image types).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageRunConfig {
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub stop_signal: Option<String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// `--network`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// A network namespace of its own (the engine wires it up).
    #[default]
    Private,
    /// A network namespace with only loopback.
    None,
    /// The host's network namespace.
    Host,
}

/// One `--ulimit name=soft[:hard]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// Docker-like `run`/`create` options.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The container id (the default hostname is its first 12 characters).
    pub id: String,
    /// The rootfs path as written into the spec (relative to the bundle, usually
    /// `rootfs`), used too for resolving `--user` when `user_rootfs` is not given.
    pub rootfs: PathBuf,
    /// Where the rootfs can be read now, to resolve `--user` (the lower layers merged,
    /// or the mounted overlay). Defaults to `rootfs`.
    pub user_rootfs: Option<PathBuf>,
    /// Arguments after the image name (replace the image's CMD when non-empty).
    pub cmd: Vec<String>,
    /// `--entrypoint`: `Some(vec![])` (or `Some(vec![""])`) is `--entrypoint ""`.
    pub entrypoint: Option<Vec<String>>,
    /// `-e`, in order: `KEY=VALUE`, or `KEY` to take the host's value.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub tty: bool,
    pub stdin_open: bool,
    pub read_only: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `-m` in bytes.
    pub memory: Option<i64>,
    /// `--cpus`.
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    /// `-v host:ctr[:ro]` with an absolute host path.
    pub binds: Vec<String>,
    /// `--tmpfs /path[:options]`.
    pub tmpfs: Vec<String>,
    pub network: NetworkMode,
    /// `--init` (not honoured yet).
    pub init: bool,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=…`. Not applied with `privileged`, which is
    /// unconfined, as in Docker.
    pub seccomp: Seccomp,
    /// `--ulimit`: only these rlimits are set.
    pub ulimits: Vec<Ulimit>,
    /// The cgroup path (default `/kujira/<id>`).
    pub cgroups_path: Option<String>,
    /// `/dev/shm`'s size in bytes (0: Docker's default).
    pub shm_size: u64,
    /// `--pid host`, `--ipc host`, `--uts host`: the host's namespace, not a new one.
    /// `--memory-swap` (memory plus swap; -1 unlimited), `--memory-reservation`,
    /// `--cpu-shares`, `--oom-score-adj`, `--group-add`.
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub oom_score_adj: Option<i32>,
    pub group_add: Vec<String>,
    /// `--device HOST[:CONTAINER][:PERMISSIONS]`.
    pub devices: Vec<String>,
    pub host_pid: bool,
    pub host_ipc: bool,
    pub host_uts: bool,
    pub sysctls: BTreeMap<String, String>,
}

/// Builds the container's OCI runtime spec.
pub fn build_spec(
    image: &ImageRunConfig,
    opts: &RunOptions,
    host: &HostFacts,
) -> Result<Spec, RuntimeError> {
    let args = command(image, opts)?;
    let hostname = match (&opts.hostname, opts.network) {
        (Some(h), _) if !h.is_empty() => h.clone(),
        (_, NetworkMode::Host) => host.hostname.clone(),
        _ if opts.host_uts => host.hostname.clone(),
        _ => opts.id.chars().take(12).collect(),
    };
    let user_arg = opts
        .user
        .as_deref()
        .filter(|u| !u.is_empty())
        .unwrap_or(image.user.as_str());
    let user_root = opts.user_rootfs.as_deref().unwrap_or(&opts.rootfs);
    let user = resolve_user(user_root, user_arg)?;
    let mut env = environment(image, opts, host, &hostname);
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!("HOME={}", user.home));
    }
    let cwd = match opts.workdir.as_deref().filter(|w| !w.is_empty()) {
        Some(w) => absolute_workdir(w)?,
        None if !image.working_dir.is_empty() => absolute_workdir(&image.working_dir)?,
        None => "/".to_string(),
    };
    let cap_list = caps::within_bounding(
        caps::effective_caps(
            opts.privileged,
            &opts.cap_add,
            &opts.cap_drop,
            host.last_cap,
        )?,
        host.cap_bounding,
        &opts.cap_add,
    )?;
    let rlimits = rlimits(&opts.ulimits, host)?;

    let mut process = json!({
        "terminal": opts.tty,
        "user": {"uid": user.uid, "gid": user.gid},
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": {
            "bounding": cap_list,
            "effective": cap_list,
            "permitted": cap_list,
        },
        "noNewPrivileges": opts.no_new_privileges,
    });
    let mut gids = user.additional_gids.clone();
    for g in &opts.group_add {
        let gid = crate::user::resolve_group(user_root, g)?;
        if !gids.contains(&gid) {
            gids.push(gid);
        }
    }
    if !gids.is_empty() {
        process["user"]["additionalGids"] = json!(gids);
    }
    if let Some(adj) = opts.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(RuntimeError::InvalidOption {
                what: "--oom-score-adj",
                reason: format!("Invalid value {adj}, range for oom score adj is [-1000, 1000]"),
            });
        }
        process["oomScoreAdj"] = json!(adj);
    }
    if !rlimits.is_empty() {
        process["rlimits"] = json!(rlimits);
    }

    let mut namespaces = Vec::new();
    for (kind, shared) in [
        ("pid", opts.host_pid),
        ("ipc", opts.host_ipc),
        ("uts", opts.host_uts),
    ] {
        if !shared {
            namespaces.push(json!({"type": kind}));
        }
    }
    namespaces.push(json!({"type": "mount"}));
    if opts.network != NetworkMode::Host {
        namespaces.push(json!({"type": "network"}));
    }
    namespaces.push(json!({"type": "cgroup"}));

    let mut resources = json!({});
    if opts.privileged {
        resources["devices"] = json!([{"allow": true, "access": "rwm"}]);
    } else {
        resources["devices"] = json!(defaults::device_rules());
    }
    let limits = Limits {
        memory: opts.memory,
        memory_swap: opts.memory_swap,
        memory_reservation: opts.memory_reservation,
        cpus: opts.cpus,
        pids_limit: opts.pids_limit,
        cpu_shares: opts.cpu_shares,
    };
    if let Value::Object(l) = limits.resources(host.swap_accounting)? {
        for (k, v) in l {
            resources[k] = v;
        }
    }

    let mut linux = json!({
        "sysctl": opts.sysctls,
        "namespaces": namespaces,
        "resources": resources,
        "cgroupsPath": opts.cgroups_path.clone().unwrap_or_else(|| format!("/kujira/{}", opts.id)),
    });
    let node = |d: &crate::HostDevice, path: &Path| {
        json!({
            "path": path, "type": d.kind.to_string(), "major": d.major, "minor": d.minor,
            "fileMode": d.mode, "uid": d.uid, "gid": d.gid,
        })
    };
    let mut nodes: Vec<Value> = Vec::new();
    if opts.privileged {
        nodes.extend(host.devices.iter().map(|d| node(d, &d.path)));
    }
    for spec in &opts.devices {
        let (dev, inside, access) = parse_device(spec)?;
        nodes.retain(|n| n["path"].as_str() != inside.to_str());
        nodes.push(node(&dev, &inside));
        if let Some(rules) = linux["resources"]["devices"].as_array_mut() {
            rules.push(json!({
                "allow": true, "type": dev.kind.to_string(), "major": dev.major,
                "minor": dev.minor, "access": access,
            }));
        }
    }
    if !nodes.is_empty() {
        linux["devices"] = json!(nodes);
    }
    if !opts.privileged {
        linux["maskedPaths"] = json!(defaults::MASKED_PATHS);
        linux["readonlyPaths"] = json!(defaults::READONLY_PATHS);
        // The profile's capability conditions are settled against what the
        // container will actually hold, so --cap-add lifts the matching denials.
        if let Some(filter) = opts.seccomp.filter(&cap_list)? {
            linux["seccomp"] =
                serde_json::to_value(filter).map_err(|e| RuntimeError::Spec(e.to_string()))?;
        }
    }

    let mut annotations = serde_json::Map::new();
    if let Some(sig) = &image.stop_signal {
        annotations.insert("org.kujira.stop-signal".into(), json!(sig));
    }

    let mut spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": opts.rootfs, "readonly": opts.read_only},
        "hostname": hostname,
        "process": process,
        "mounts": mounts(opts)?,
        "linux": linux,
        "annotations": annotations,
    });
    if opts.host_uts {
        // Runtimes set a hostname only in a UTS namespace of the container's own.
        if let Some(o) = spec.as_object_mut() {
            o.remove("hostname");
        }
    }
    serde_json::from_value(spec).map_err(|e| RuntimeError::Spec(e.to_string()))
}

/// Docker's entrypoint/cmd rules.
fn command(image: &ImageRunConfig, opts: &RunOptions) -> Result<Vec<String>, RuntimeError> {
    let (entrypoint, cmd) = match &opts.entrypoint {
        // `--entrypoint` (even empty) drops the image's CMD too.
        Some(ep) => {
            let ep: Vec<String> = if ep.len() == 1 && ep[0].is_empty() {
                Vec::new()
            } else {
                ep.clone()
            };
            (ep, opts.cmd.clone())
        }
        None => {
            let cmd = if opts.cmd.is_empty() {
                image.cmd.clone()
            } else {
                opts.cmd.clone()
            };
            (image.entrypoint.clone(), cmd)
        }
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(RuntimeError::NoCommand);
    }
    Ok(args)
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

fn set_env(env: &mut Vec<String>, entry: String) {
    let key = env_key(&entry).to_string();
    match env.iter_mut().find(|e| env_key(e) == key) {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// PATH (default unless the image or `-e` sets it), HOSTNAME, TERM with a TTY, then
/// the image's env, then `-e` in order (later wins; `KEY` alone takes the host's
/// value and is dropped when the host has none).
fn environment(
    image: &ImageRunConfig,
    opts: &RunOptions,
    host: &HostFacts,
    hostname: &str,
) -> Vec<String> {
    let mut env = vec![
        format!("PATH={}", defaults::DEFAULT_PATH),
        format!("HOSTNAME={hostname}"),
    ];
    if opts.tty {
        env.push("TERM=xterm".into());
    }
    for e in &image.env {
        set_env(&mut env, e.clone());
    }
    for e in &opts.env {
        if e.contains('=') {
            set_env(&mut env, e.clone());
        } else if let Some(v) = host.env.get(e.as_str()) {
            set_env(&mut env, format!("{e}={v}"));
        }
    }
    env
}

fn absolute_workdir(w: &str) -> Result<String, RuntimeError> {
    if w.starts_with('/') {
        Ok(w.to_string())
    } else {
        Err(RuntimeError::InvalidOption {
            what: "working directory",
            reason: format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            ),
        })
    }
}

fn rlimits(asked: &[Ulimit], host: &HostFacts) -> Result<Vec<Value>, RuntimeError> {
    let mut out = Vec::new();
    for ul in asked {
        let Some((_, rtype, _)) = ULIMITS.iter().find(|(n, _, _)| *n == ul.name) else {
            return Err(RuntimeError::InvalidUlimit {
                name: ul.name.clone(),
                reason: "unknown ulimit type".into(),
            });
        };
        if ul.soft > ul.hard {
            return Err(RuntimeError::InvalidUlimit {
                name: ul.name.clone(),
                reason: format!(
                    "soft limit {} is greater than the hard limit {}",
                    ul.soft, ul.hard
                ),
            });
        }
        let host_hard = host.hard_limits.get(&ul.name).copied().unwrap_or(u64::MAX);
        if ul.hard > host_hard {
            return Err(RuntimeError::InvalidUlimit {
                name: ul.name.clone(),
                reason: format!(
                    "hard limit {} is above this host's hard limit {host_hard}, which can't be raised (no CAP_SYS_RESOURCE)",
                    ul.hard
                ),
            });
        }
        out.push(json!({"type": rtype, "soft": ul.soft, "hard": ul.hard}));
    }
    Ok(out)
}

/// Default mounts (minus any a user mount replaces), then bind and tmpfs mounts,
/// shallowest destination first.
fn mounts(opts: &RunOptions) -> Result<Vec<Value>, RuntimeError> {
    let mut user = Vec::new();
    for b in &opts.binds {
        user.push(parse_bind(b)?);
    }
    for t in &opts.tmpfs {
        user.push(parse_tmpfs(t)?);
    }
    let user_dests: Vec<String> = user
        .iter()
        .filter_map(|m| m["destination"].as_str().map(str::to_string))
        .collect();
    let shm = if opts.shm_size == 0 {
        defaults::SHM_SIZE
    } else {
        opts.shm_size
    };
    let mut out: Vec<Value> = defaults::mounts(opts.privileged, shm)
        .into_iter()
        .filter(|m| {
            let dest = m["destination"].as_str().unwrap_or_default();
            !user_dests.iter().any(|d| d == dest)
        })
        .collect();
    user.sort_by_key(|m| {
        Path::new(m["destination"].as_str().unwrap_or_default())
            .components()
            .count()
    });
    out.extend(user);
    Ok(out)
}

fn clean_destination(spec: &str, dest: &str) -> Result<String, RuntimeError> {
    if !dest.starts_with('/') {
        return Err(RuntimeError::InvalidMount {
            spec: spec.into(),
            reason: format!("invalid mount path: '{dest}' mount path must be absolute"),
        });
    }
    let cleaned: PathBuf = Path::new(dest).components().collect();
    let cleaned = cleaned.to_string_lossy().into_owned();
    if cleaned == "/" {
        return Err(RuntimeError::InvalidMount {
            spec: spec.into(),
            reason: "invalid specification: destination can't be '/'".into(),
        });
    }
    Ok(cleaned)
}

fn parse_bind(spec: &str) -> Result<Value, RuntimeError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dest, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => {
            return Err(RuntimeError::InvalidMount {
                spec: spec.into(),
                reason: "expected host-path:container-path[:ro]".into(),
            })
        }
    };
    if !src.starts_with('/') {
        return Err(RuntimeError::InvalidMount {
            spec: spec.into(),
            reason: "the host path must be absolute (named volumes are not supported here)".into(),
        });
    }
    let dest = clean_destination(spec, dest)?;
    let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => options.push("ro".into()),
            "rw" | "z" | "Z" => {}
            other => {
                return Err(RuntimeError::InvalidMount {
                    spec: spec.into(),
                    reason: format!("invalid mode: {other}"),
                })
            }
        }
    }
    Ok(json!({"destination": dest, "type": "bind", "source": src, "options": options}))
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` split into its three parts (the
/// container path defaults to the host's, the permissions to `rwm`).
pub fn split_device(spec: &str) -> Result<(&str, &str, &str), RuntimeError> {
    let bad = |reason: String| RuntimeError::InvalidOption {
        what: "device",
        reason,
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let is_access = |s: &str| !s.is_empty() && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    let (src, dest, access) = match parts.as_slice() {
        [s] => (*s, *s, "rwm"),
        [s, a] if is_access(a) => (*s, *s, *a),
        [s, d] => (*s, *d, "rwm"),
        [s, d, a] if is_access(a) => (*s, *d, *a),
        _ => return Err(bad(format!("invalid device specification: {spec}"))),
    };
    if !dest.starts_with('/') {
        return Err(bad(format!("{dest} is not an absolute path")));
    }
    Ok((src, dest, access))
}

/// Docker's memory-plus-swap limit for `memory` and `--memory-swap`: as much swap as
/// memory unless told otherwise, `-1` for unlimited; `None` without a memory limit.
/// The resource limits `run` and `update` set: memory, CPU, pids.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub cpu_shares: Option<u64>,
}

impl Limits {
    /// The spec's `linux.resources` members for these limits (`memory`, `cpu`,
    /// `pids`), checked as Docker checks them.
    pub fn resources(&self, swap_accounting: bool) -> Result<Value, RuntimeError> {
        let mut out = json!({});
        let swap = memory_swap(self.memory, self.memory_swap)?;
        if let Some(memory) = self.memory {
            if memory < 6 * 1024 * 1024 {
                return Err(RuntimeError::InvalidOption {
                    what: "memory limit",
                    reason: "Minimum memory limit allowed is 6MB".into(),
                });
            }
            out["memory"] = json!({"limit": memory});
            if let (Some(swap), true) = (swap, swap_accounting) {
                out["memory"]["swap"] = json!(swap);
            }
        }
        if let Some(r) = self.memory_reservation {
            out["memory"]["reservation"] = json!(r);
        }

        if let Some(cpus) = self.cpus {
            if !(cpus.is_finite() && cpus > 0.0) {
                return Err(RuntimeError::InvalidOption {
                    what: "cpus",
                    reason: format!("{cpus} is not a positive number of CPUs"),
                });
            }
            let period: u64 = 100_000;
            out["cpu"] = json!({"quota": (cpus * period as f64).round() as i64, "period": period});
        }
        if let Some(pids) = self.pids_limit {
            if pids > 0 {
                out["pids"] = json!({"limit": pids});
            }
        }
        if let Some(shares) = self.cpu_shares {
            out["cpu"]["shares"] = json!(shares.max(2));
        }
        Ok(out)
    }
}

pub fn memory_swap(memory: Option<i64>, swap: Option<i64>) -> Result<Option<i64>, RuntimeError> {
    let bad = |reason: &str| RuntimeError::InvalidOption {
        what: "memory-swap",
        reason: reason.into(),
    };
    match (memory, swap) {
        (None, None | Some(0)) => Ok(None),
        (None, Some(_)) => Err(bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        )),
        (Some(m), None | Some(0)) => Ok(Some(m * 2)),
        (Some(_), Some(-1)) => Ok(Some(-1)),
        (Some(m), Some(s)) if s < m => Err(bad(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        )),
        (Some(_), Some(s)) => Ok(Some(s)),
    }
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`: the host device, its path inside, and
/// its cgroup access (`rwm` unless given).
fn parse_device(spec: &str) -> Result<(crate::HostDevice, PathBuf, String), RuntimeError> {
    let bad = |reason: String| RuntimeError::InvalidOption {
        what: "device",
        reason,
    };
    let (src, dest, access) = split_device(spec)?;
    let dev = crate::host::host_device(Path::new(src))
        .ok_or_else(|| bad(format!("error gathering device information while adding custom device \"{src}\": not a device node")))?;
    Ok((
        dev,
        Path::new(dest).components().collect(),
        access.to_string(),
    ))
}

fn parse_tmpfs(spec: &str) -> Result<Value, RuntimeError> {
    let (dest, extra) = spec.split_once(':').unwrap_or((spec, ""));
    let dest = clean_destination(spec, dest)?;
    let mut options = vec![
        "noexec".to_string(),
        "nosuid".to_string(),
        "nodev".to_string(),
    ];
    for o in extra.split(',').filter(|o| !o.is_empty()) {
        let o = o.to_string();
        // An explicit exec/suid/dev turns the default off.
        let opposite = match o.as_str() {
            "exec" => Some("noexec"),
            "suid" => Some("nosuid"),
            "dev" => Some("nodev"),
            _ => None,
        };
        if let Some(opp) = opposite {
            options.retain(|x| x != opp);
        }
        if !options.contains(&o) {
            options.push(o);
        }
    }
    Ok(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options}))
}

#[cfg(test)]
mod tests;
