//! What dockerd checks in a `HostConfig` before it makes anything: the sysctls a
//! container's namespaces may take, `ExtraHosts` entries, namespace modes.

use std::collections::BTreeMap;

use bollard_stubs::models::HostConfig;
use kujira_runtime::seccomp::{parse_security_opt, Seccomp, SecurityOpt};
use kujira_runtime::{NetworkMode, Ulimit};

use super::super::asked;
use super::invalid;
use crate::container::RestartPolicy;
use crate::EngineError;

/// `--sysctl KEY=VALUE`, for the namespaced keys Docker allows (the IPC ones, the
/// message queues', and `net.*` unless the container shares the host's network).
fn parse_sysctl(key: &str, value: &str, net: NetworkMode) -> Result<(String, String), EngineError> {
    let refused = || {
        invalid(format!(
            "invalid argument \"{key}={value}\" for \"--sysctl\" flag: sysctl '{key}={value}' is not allowed"
        ))
    };
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let allowed = IPC.contains(&key)
        || key.starts_with("fs.mqueue.")
        || (key.starts_with("net.") && net != NetworkMode::Host);
    if !allowed || key.split('.').any(|c| c.is_empty() || c.contains('/')) {
        return Err(refused());
    }
    Ok((key.to_string(), value.to_string()))
}

/// `--pid`/`--ipc`/`--uts`: `host`, or the container's own (empty, or one of `own`,
/// which mean the same here); Docker's message otherwise.
fn namespace_mode(what: &str, mode: &str, own: &[&str]) -> Result<String, EngineError> {
    match mode {
        "" => Ok(String::new()),
        "host" => Ok("host".into()),
        m if own.contains(&m) => Ok(m.to_string()),
        m => Err(invalid(format!("invalid {what} mode: {m}"))),
    }
}

/// `--add-host NAME:IP` (`NAME=IP` too, as Docker takes); `host-gateway` is the
/// default bridge's gateway, the host's address as containers see it.
fn parse_extra_host(s: &str, host_gateway: &str) -> Result<(String, String), EngineError> {
    let bad = || {
        invalid(format!(
            "invalid argument \"{s}\" for \"--add-host\" flag: bad format for add-host: \"{s}\""
        ))
    };
    let (name, ip) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(bad)?;
    let ip = if ip == "host-gateway" {
        host_gateway
    } else {
        ip
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || ip.parse::<std::net::IpAddr>().is_err() {
        return Err(invalid(format!(
            "invalid argument \"{s}\" for \"--add-host\" flag: invalid IP address in add-host: \"{ip}\""
        )));
    }
    Ok((name.to_string(), ip.to_string()))
}

/// What create takes from a `HostConfig` once it has passed dockerd's checks, in
/// the runtime's terms.
pub(super) struct Checked {
    pub privileged: bool,
    pub init: bool,
    pub net: NetworkMode,
    /// `DEST[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    pub shm_size: i64,
    pub sysctls: BTreeMap<String, String>,
    pub extra_hosts: Vec<(String, String)>,
    pub pid_mode: String,
    pub ipc_mode: String,
    pub uts_mode: String,
    pub no_new_privileges: bool,
    pub seccomp: Seccomp,
    pub ulimits: Vec<Ulimit>,
    pub devices: Vec<String>,
}

impl Checked {
    pub(super) fn of(
        hc: &HostConfig,
        net: NetworkMode,
        hostname: &str,
        tmpfs: Vec<String>,
    ) -> Result<Checked, EngineError> {
        let ulimits = asked::ulimits(hc)?;
        let devices = asked::devices(hc)?;
        let shm_size = shm_size(hc)?;
        let sysctls = sysctls(hc, net)?;
        let extra_hosts = extra_hosts(hc)?;
        let (pid_mode, ipc_mode, uts_mode) = namespace_modes(hc, hostname)?;
        let (no_new_privileges, seccomp) = security_options(hc)?;
        Ok(Checked {
            privileged: hc.privileged.unwrap_or(false),
            init: hc.init.unwrap_or(false),
            net,
            tmpfs,
            shm_size,
            sysctls,
            extra_hosts,
            pid_mode,
            ipc_mode,
            uts_mode,
            no_new_privileges,
            seccomp,
            ulimits,
            devices,
        })
    }
}

/// `SecurityOpt`: `no-new-privileges` and the seccomp profile (AppArmor and SELinux
/// labels are accepted and have nothing to act on here).
fn security_options(hc: &HostConfig) -> Result<(bool, Seccomp), EngineError> {
    let mut no_new_privileges = false;
    let mut seccomp = Seccomp::Default;
    for s in hc.security_opt.iter().flatten() {
        match parse_security_opt(s).map_err(|e| invalid(e.to_string()))? {
            SecurityOpt::NoNewPrivileges(v) => no_new_privileges = v,
            SecurityOpt::Seccomp(p) => seccomp = p,
            SecurityOpt::AppArmor(_) | SecurityOpt::Label(_) => {}
        }
    }
    Ok((no_new_privileges, seccomp))
}

/// `RestartPolicy`: a retry count only with `on-failure`, never with `AutoRemove`.
pub(super) fn restart_policy(hc: &HostConfig) -> Result<RestartPolicy, EngineError> {
    let restart = RestartPolicy::from_api_checked(hc.restart_policy.as_ref()).map_err(invalid)?;
    if hc.auto_remove.unwrap_or(false) && restart.name != "no" {
        return Err(invalid(
            "conflicting options: cannot specify both --restart and --rm",
        ));
    }
    Ok(restart)
}

/// `ShmSize` in bytes: Docker's 64 MiB when zero or left out.
fn shm_size(hc: &HostConfig) -> Result<i64, EngineError> {
    match hc.shm_size {
        Some(s) if s < 0 => Err(invalid("SHM size can not be less than 0")),
        Some(s) if s > 0 => Ok(s),
        _ => Ok(kujira_runtime::defaults::SHM_SIZE as i64),
    }
}

/// `Sysctls`, each one the container's namespaces may take.
fn sysctls(hc: &HostConfig, net: NetworkMode) -> Result<BTreeMap<String, String>, EngineError> {
    hc.sysctls
        .iter()
        .flatten()
        .map(|(k, v)| parse_sysctl(k, v, net))
        .collect()
}

/// `ExtraHosts` as (name, address), `host-gateway` resolved.
fn extra_hosts(hc: &HostConfig) -> Result<Vec<(String, String)>, EngineError> {
    let asked = hc.extra_hosts.as_deref().unwrap_or_default();
    let host_gateway = if asked.iter().any(|h| h.ends_with("host-gateway")) {
        crate::network::NetConfig::load()?.bip.0.to_string()
    } else {
        String::new()
    };
    asked
        .iter()
        .map(|h| parse_extra_host(h, &host_gateway))
        .collect()
}

/// `PidMode`, `IpcMode`, `UTSMode` (`host` or the container's own); a hostname
/// cannot go with the host's UTS namespace.
fn namespace_modes(
    hc: &HostConfig,
    hostname: &str,
) -> Result<(String, String, String), EngineError> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let pid = namespace_mode("PID", &text(&hc.pid_mode), &[])?;
    let ipc = namespace_mode("IPC", &text(&hc.ipc_mode), &["private", "shareable"])?;
    let uts = namespace_mode("UTS", &text(&hc.uts_mode), &[])?;
    if uts == "host" && !hostname.is_empty() {
        return Err(invalid("conflicting options: hostname and the UTS mode"));
    }
    Ok((pid, ipc, uts))
}
