//! What dockerd checks in a `HostConfig` before it makes anything: the sysctls a
//! container's namespaces may take, `ExtraHosts` entries, namespace modes.

use bollard_stubs::models::HostConfig;
use kujira_runtime::seccomp::{parse_security_opt, Seccomp, SecurityOpt};
use kujira_runtime::NetworkMode;

use super::invalid;
use crate::EngineError;

/// `--sysctl KEY=VALUE`, for the namespaced keys Docker allows (the IPC ones, the
/// message queues', and `net.*` unless the container shares the host's network).
pub(super) fn parse_sysctl(
    key: &str,
    value: &str,
    net: NetworkMode,
) -> Result<(String, String), EngineError> {
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
pub(super) fn namespace_mode(what: &str, mode: &str, own: &[&str]) -> Result<String, EngineError> {
    match mode {
        "" => Ok(String::new()),
        "host" => Ok("host".into()),
        m if own.contains(&m) => Ok(m.to_string()),
        m => Err(invalid(format!("invalid {what} mode: {m}"))),
    }
}

/// `--add-host NAME:IP` (`NAME=IP` too, as Docker takes); `host-gateway` is the
/// default bridge's gateway, the host's address as containers see it.
pub(super) fn parse_extra_host(
    s: &str,
    host_gateway: &str,
) -> Result<(String, String), EngineError> {
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

/// `SecurityOpt`: `no-new-privileges` and the seccomp profile (AppArmor and SELinux
/// labels are accepted and have nothing to act on here).
pub(super) fn security_options(hc: &HostConfig) -> Result<(bool, Seccomp), EngineError> {
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
