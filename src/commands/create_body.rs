//! `run`/`create` flags as Docker's create body (`Config`, `HostConfig`,
//! `NetworkingConfig`), built the way the docker CLI builds it: what is the
//! client's to parse — sizes, durations, port and device specifications, rlimits,
//! `-e NAME` taken from this process's environment — is parsed here; the engine
//! takes the same body the API server receives.

use std::collections::HashMap;

use bollard_stubs::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HealthConfig,
    HostConfig, Mount, MountTypeEnum, NetworkingConfig, PortMap, ResourcesUlimits,
};
use kujira_engine::container::config::{device_mapping, port_map};
use kujira_engine::container::health::parse_go_duration;
use kujira_engine::container::RestartPolicy;
use kujira_runtime::ports::PortMapping;

use super::run::{memory_limits, parse_bytes};
use crate::cli::CreateFlags;
use crate::error::CliError;

fn bad(msg: impl Into<String>) -> CliError {
    CliError::new(125, msg)
}

/// `-e`/`--env-file` entries (of `run`, `create` and `exec`): `KEY=VALUE`, or
/// `KEY` for this process's value (left out when it has none, as the docker CLI
/// does); `#` comments in files. The error is the file that could not be read.
pub fn environment(files: &[String], vars: &[String]) -> Result<Vec<String>, String> {
    let mut entries = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("open {file}: {e}"))?;
        for line in text.lines() {
            let line = line.trim_start();
            if !line.is_empty() && !line.starts_with('#') {
                entries.push(line.to_string());
            }
        }
    }
    entries.extend(vars.iter().cloned());
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e)
            } else {
                std::env::var(&e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect())
}

/// `--health-*` and `--no-healthcheck`, checked as the docker CLI checks them.
fn healthcheck(f: &CreateFlags) -> Result<Option<HealthConfig>, CliError> {
    let any = f.health_cmd.is_some()
        || f.health_interval.is_some()
        || f.health_retries.is_some()
        || f.health_start_period.is_some()
        || f.health_timeout.is_some();
    if f.no_healthcheck {
        if any {
            return Err(bad("--no-healthcheck conflicts with --health-* options"));
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }));
    }
    if !any {
        return Ok(None);
    }
    let dur = |flag: &str, v: &Option<String>| -> Result<i64, CliError> {
        match v {
            None => Ok(0),
            Some(v) => match parse_go_duration(v) {
                Some(ns) if ns >= 0 => Ok(ns),
                _ => Err(bad(format!(
                    "invalid argument \"{v}\" for \"--{flag}\" flag: time: invalid duration \"{v}\""
                ))),
            },
        }
    };
    let retries = f.health_retries.unwrap_or(0);
    if retries < 0 {
        return Err(bad("--health-retries cannot be negative"));
    }
    Ok(Some(HealthConfig {
        test: f
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
        interval: Some(dur("health-interval", &f.health_interval)?),
        timeout: Some(dur("health-timeout", &f.health_timeout)?),
        start_period: Some(dur("health-start-period", &f.health_start_period)?),
        retries: Some(retries),
        start_interval: None,
    }))
}

/// `-p` as `PortBindings`, and the ports it exposes.
fn published(f: &CreateFlags) -> Result<(PortMap, Vec<String>), CliError> {
    let mut ports = Vec::new();
    for spec in &f.publish {
        ports.extend(PortMapping::parse(spec).map_err(|e| bad(e.to_string()))?);
    }
    let exposed = ports
        .iter()
        .map(|p| format!("{}/{}", p.container_port, p.proto.as_str()))
        .collect();
    Ok((port_map(&ports), exposed))
}

/// `--expose PORT[/PROTO]` and `--expose START-END[/PROTO]`.
fn exposed(f: &CreateFlags) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for e in &f.expose {
        let (ports, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let num = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| bad(format!("invalid range format for --expose: {e}")))
        };
        let (start, end) = match ports.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(ports)?, num(ports)?),
        };
        if end < start {
            return Err(bad(format!("invalid range format for --expose: {e}")));
        }
        out.extend((start..=end).map(|p| format!("{p}/{proto}")));
    }
    Ok(out)
}

/// `--ulimit NAME=SOFT[:HARD]` (`-1` or `unlimited`: no limit).
fn ulimits(f: &CreateFlags) -> Result<Vec<ResourcesUlimits>, CliError> {
    f.ulimit
        .iter()
        .map(|s| {
            let invalid = || bad(format!("invalid ulimit argument: {s}"));
            let (name, vals) = s.split_once('=').ok_or_else(invalid)?;
            let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
            let num = |v: &str| -> Result<i64, CliError> {
                match v {
                    "-1" | "unlimited" => Ok(-1),
                    v => v
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(invalid),
                }
            };
            Ok(ResourcesUlimits {
                name: Some(name.to_string()),
                soft: Some(num(soft)?),
                hard: Some(num(hard)?),
            })
        })
        .collect()
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`.
fn devices(f: &CreateFlags) -> Result<Vec<DeviceMapping>, CliError> {
    f.device
        .iter()
        .map(|d| device_mapping(d).map_err(|e| bad(e.to_string())))
        .collect()
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]`,
/// Docker's comma-separated form, as `HostConfig.Mounts`.
fn mounts(f: &CreateFlags) -> Result<Vec<Mount>, CliError> {
    f.mount
        .iter()
        .map(|spec| {
            let mut m = Mount {
                typ: Some(MountTypeEnum::VOLUME),
                ..Default::default()
            };
            for field in spec.split(',') {
                let (key, value) = match field.split_once('=') {
                    Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
                    None => (field.to_ascii_lowercase(), None),
                };
                let need = || {
                    value.map(str::to_string).ok_or_else(|| {
                        bad(format!(
                            "invalid argument \"{spec}\" for \"--mount\" flag: invalid field '{field}' must be a key=value pair"
                        ))
                    })
                };
                match key.as_str() {
                    "type" => {
                        m.typ = Some(match need()?.as_str() {
                            "bind" => MountTypeEnum::BIND,
                            "volume" => MountTypeEnum::VOLUME,
                            "tmpfs" => MountTypeEnum::TMPFS,
                            other => {
                                return Err(bad(format!(
                                    "invalid argument \"{spec}\" for \"--mount\" flag: invalid mount type: {other}"
                                )))
                            }
                        })
                    }
                    "source" | "src" => m.source = Some(need()?),
                    "target" | "destination" | "dst" => m.target = Some(need()?),
                    "readonly" | "ro" => {
                        m.read_only = Some(match value {
                            None | Some("1" | "true") => true,
                            Some("0" | "false") => false,
                            Some(v) => {
                                return Err(bad(format!(
                                    "invalid argument \"{spec}\" for \"--mount\" flag: invalid value for {key}: {v}"
                                )))
                            }
                        })
                    }
                    "tmpfs-size" => {
                        m.tmpfs_options.get_or_insert_with(Default::default).size_bytes =
                            Some(parse_bytes(&need()?)?)
                    }
                    "tmpfs-mode" => {
                        let v = need()?;
                        let mode = i64::from_str_radix(&v, 8).map_err(|_| {
                            bad(format!(
                                "invalid argument \"{spec}\" for \"--mount\" flag: invalid value for tmpfs-mode: {v}"
                            ))
                        })?;
                        m.tmpfs_options.get_or_insert_with(Default::default).mode = Some(mode)
                    }
                    "bind-propagation" | "consistency" | "volume-nocopy" | "volume-driver"
                    | "volume-label" | "volume-opt" => {}
                    _ => {
                        return Err(bad(format!(
                            "invalid argument \"{spec}\" for \"--mount\" flag: unexpected key '{key}' in '{field}'"
                        )))
                    }
                }
            }
            if m.target.as_deref().unwrap_or_default().is_empty() {
                return Err(bad(format!(
                    "invalid argument \"{spec}\" for \"--mount\" flag: target is required"
                )));
            }
            Ok(m)
        })
        .collect()
}

fn pairs(list: &[String], flag: &str) -> Result<HashMap<String, String>, CliError> {
    list.iter()
        .map(|s| {
            let (k, v) = s.split_once('=').ok_or_else(|| {
                bad(format!(
                    "invalid argument \"{s}\" for \"--{flag}\" flag: '{s}' is not a KEY=VALUE pair"
                ))
            })?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// `--cap-add`/`--cap-drop` as the docker CLI sends them: `CAP_NET_ADMIN`, `ALL`.
fn capabilities(list: &[String]) -> Option<Vec<String>> {
    let caps: Vec<String> = list
        .iter()
        .map(|c| {
            let upper = c.trim().to_ascii_uppercase();
            if upper == "ALL" || upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            }
        })
        .collect();
    (!caps.is_empty()).then_some(caps)
}

fn nonempty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// The body the docker CLI would send for these flags.
pub fn create_body(f: &CreateFlags) -> Result<ContainerCreateBody, CliError> {
    let (image, cmd) = f
        .image_and_command
        .split_first()
        .ok_or_else(|| bad("'run' requires at least 1 argument"))?;
    let limits = memory_limits(&f.resources)?;
    let (port_bindings, mut exposed_ports) = published(f)?;
    exposed_ports.extend(exposed(f)?);
    let restart = RestartPolicy::parse(&f.restart).map_err(|e| bad(e.to_string()))?;
    let shm_size = match f.shm_size.as_deref().map(parse_bytes).transpose()? {
        Some(s) if s <= 0 => return Err(bad("invalid --shm-size: must be greater than 0")),
        other => other,
    };
    let (binds, anonymous): (Vec<String>, Vec<String>) =
        f.volume.iter().cloned().partition(|v| v.contains(':'));
    let tmpfs: HashMap<String, String> = f
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((d, o)) => (d.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let network = f.network.clone().unwrap_or_else(|| "default".into());
    let endpoint = EndpointSettings {
        aliases: nonempty(&f.network_alias),
        ipam_config: f.ip.clone().map(|ip| EndpointIpamConfig {
            ipv4_address: Some(ip),
            ..Default::default()
        }),
        ..Default::default()
    };
    let set = |keys: Vec<String>| {
        (!keys.is_empty()).then(|| keys.into_iter().map(|k| (k, HashMap::new())).collect())
    };
    let labels: HashMap<String, String> = f
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let host_config = HostConfig {
        binds: nonempty(&binds),
        mounts: Some(mounts(f)?).filter(|m| !m.is_empty()),
        network_mode: Some(network.clone()),
        port_bindings: Some(port_bindings),
        restart_policy: Some(restart.to_api()),
        auto_remove: Some(f.rm),
        cap_add: capabilities(&f.cap_add),
        cap_drop: capabilities(&f.cap_drop),
        dns: Some(f.dns.clone()),
        dns_options: Some(f.dns_option.clone()),
        dns_search: Some(f.dns_search.clone()),
        extra_hosts: nonempty(&f.add_host),
        group_add: nonempty(&f.group_add),
        ipc_mode: f.ipc.clone(),
        links: nonempty(&f.link),
        oom_score_adj: f.oom_score_adj.map(i64::from),
        pid_mode: f.pid.clone(),
        privileged: Some(f.privileged),
        publish_all_ports: Some(f.publish_all),
        readonly_rootfs: Some(f.read_only),
        security_opt: nonempty(&f.security_opt),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        uts_mode: f.uts.clone(),
        shm_size,
        sysctls: (!f.sysctl.is_empty())
            .then(|| pairs(&f.sysctl, "sysctl"))
            .transpose()?,
        runtime: f.runtime.clone(),
        memory: limits.memory,
        memory_swap: limits.memory_swap,
        memory_reservation: limits.memory_reservation,
        nano_cpus: f.resources.cpus.map(|c| (c * 1e9) as i64),
        cpu_shares: f.resources.cpu_shares.map(|c| c as i64),
        pids_limit: f.resources.pids_limit,
        ulimits: Some(ulimits(f)?),
        devices: Some(devices(f)?),
        init: f.init.then_some(true),
        // What the docker CLI sends when the flags are not given.
        memory_swappiness: Some(-1),
        oom_kill_disable: Some(false),
        ..Default::default()
    };
    let has_endpoint_options = endpoint.aliases.is_some() || endpoint.ipam_config.is_some();
    Ok(ContainerCreateBody {
        hostname: f.hostname.clone(),
        domainname: f.domainname.clone(),
        user: f.user.clone(),
        attach_stdin: Some(f.interactive),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        exposed_ports: set(exposed_ports),
        tty: Some(f.tty),
        open_stdin: Some(f.interactive),
        stdin_once: Some(f.interactive),
        env: Some(environment(&f.env_file, &f.env).map_err(bad)?),
        cmd: nonempty(cmd),
        healthcheck: healthcheck(f)?,
        image: Some(image.clone()),
        volumes: set(anonymous),
        working_dir: f.workdir.clone(),
        // `--entrypoint ""` is `[""]`: no entrypoint, not the image's.
        entrypoint: f.entrypoint.clone().map(|e| vec![e]),
        labels: Some(labels),
        stop_signal: f.stop_signal.clone(),
        stop_timeout: f.stop_timeout,
        host_config: Some(host_config),
        networking_config: has_endpoint_options.then(|| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network, endpoint)])),
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command, CreateFlags};

    /// `kujira run ARGS…` as the real parser reads it.
    fn flags(args: &[&str]) -> CreateFlags {
        let cli = Cli::try_parse_from(["kujira", "run"].into_iter().chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            Some(Command::Run(r)) => r.create,
            _ => unreachable!("parsed as run"),
        }
    }

    fn body(args: &[&str]) -> bollard_stubs::models::ContainerCreateBody {
        super::create_body(&flags(args)).unwrap_or_else(|e| panic!("{}", e.message))
    }

    #[test]
    fn flags_become_config_and_host_config() {
        let b = body(&[
            "-p",
            "127.0.0.1:8001:80",
            "--expose",
            "9000-9001",
            "-v",
            "/srv:/data:ro",
            "-v",
            "/cache",
            "--tmpfs",
            "/run:size=1m",
            "-m",
            "1g",
            "--cpus",
            "1.5",
            "--ulimit",
            "nofile=10:20",
            "--restart",
            "on-failure:3",
            "-e",
            "A=1",
            "--network",
            "net1",
            "--network-alias",
            "db",
            "--entrypoint",
            "",
            "busybox",
            "echo",
            "hi",
        ]);
        let hc = b.host_config.as_ref().unwrap();
        let p = &hc.port_bindings.as_ref().unwrap()["80/tcp"]
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            (p.host_ip.as_deref(), p.host_port.as_deref()),
            (Some("127.0.0.1"), Some("8001"))
        );
        let mut exposed: Vec<&String> = b.exposed_ports.as_ref().unwrap().keys().collect();
        exposed.sort();
        assert_eq!(exposed, ["80/tcp", "9000/tcp", "9001/tcp"]);
        assert_eq!(
            hc.binds.as_deref(),
            Some(&["/srv:/data:ro".to_string()][..])
        );
        assert!(b.volumes.as_ref().unwrap().contains_key("/cache"));
        assert_eq!(hc.tmpfs.as_ref().unwrap()["/run"], "size=1m");
        assert_eq!(hc.memory, Some(1 << 30));
        assert_eq!(hc.nano_cpus, Some(1_500_000_000));
        let u = &hc.ulimits.as_ref().unwrap()[0];
        assert_eq!((u.soft, u.hard), (Some(10), Some(20)));
        assert_eq!(
            hc.restart_policy.as_ref().unwrap().maximum_retry_count,
            Some(3)
        );
        assert_eq!(b.entrypoint, Some(vec![String::new()]));
        assert_eq!(b.cmd, Some(vec!["echo".to_string(), "hi".into()]));
        let m = &body(&[
            "--mount",
            "type=tmpfs,dst=/t,tmpfs-size=1m",
            "--mount",
            "src=/srv,target=/s,type=bind,ro",
            "busybox",
        ])
        .host_config
        .unwrap()
        .mounts
        .unwrap();
        assert_eq!(
            m[0].tmpfs_options.as_ref().unwrap().size_bytes,
            Some(1 << 20)
        );
        assert_eq!(
            (m[1].source.as_deref(), m[1].read_only),
            (Some("/srv"), Some(true))
        );
        let ep = &b
            .networking_config
            .as_ref()
            .unwrap()
            .endpoints_config
            .as_ref()
            .unwrap()["net1"];
        assert_eq!(ep.aliases, Some(vec!["db".to_string()]));
    }

    #[test]
    fn a_bare_env_name_takes_this_process_value_or_is_left_out() {
        let b = body(&[
            "-e",
            "PATH",
            "-e",
            "KUJIRA_SURELY_UNSET_VARIABLE",
            "busybox",
        ]);
        let env = b.env.unwrap();
        assert_eq!(env.len(), 1);
        assert!(env[0].starts_with("PATH=/"));
    }

    #[test]
    fn bad_specifications_are_the_clients_errors() {
        for args in [
            &["-p", "nope", "busybox"][..],
            &["--ulimit", "nofile", "busybox"],
            &["--expose", "9-1", "busybox"],
            &["--shm-size", "0", "busybox"],
            &["--restart", "sometimes", "busybox"],
            &["--sysctl", "novalue", "busybox"],
            &["--mount", "type=bind,src=/tmp", "busybox"],
            &["--mount", "type=nfs,dst=/x", "busybox"],
            &["--mount", "dst=/x,colour=red", "busybox"],
        ] {
            let e = super::create_body(&flags(args)).unwrap_err();
            assert_eq!(e.code, 125, "{args:?}");
        }
    }
}
