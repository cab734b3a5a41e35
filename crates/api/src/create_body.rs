//! The API's create body (`Config` + `HostConfig`) as the engine's create options,
//! the way the CLI turns its flags into them.

use bollard_stubs::models::ContainerCreateBody;
use kujira_engine::container::create::CreateOptions;
use kujira_engine::network::EndpointSpec;

use crate::ApiError;

pub fn create_options(
    body: &ContainerCreateBody,
    name: Option<String>,
) -> Result<CreateOptions, ApiError> {
    let image = body
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("config cannot be empty in order to create a container")
        })?;
    let hc = body.host_config.clone().unwrap_or_default();
    let mut cmd = body.cmd.clone().unwrap_or_default();
    // The engine takes `--entrypoint`'s one word; the rest of a list entrypoint
    // goes before the command, which is where the runtime would put it.
    let entrypoint = match body.entrypoint.as_deref() {
        Some([first, rest @ ..]) => {
            let mut c = rest.to_vec();
            c.append(&mut cmd);
            cmd = c;
            Some(first.clone())
        }
        _ => None,
    };
    let mut publish = Vec::new();
    for (port, bindings) in hc.port_bindings.iter().flatten() {
        for b in bindings.iter().flatten() {
            let ip = b.host_ip.clone().unwrap_or_default();
            let host = b.host_port.clone().unwrap_or_default();
            publish.push(if ip.is_empty() {
                format!("{host}:{port}")
            } else {
                format!("{ip}:{host}:{port}")
            });
        }
    }
    let restart = hc
        .restart_policy
        .as_ref()
        .and_then(|r| {
            let name = serde_json::to_value(r.name).ok()?.as_str()?.to_string();
            Some(match r.maximum_retry_count {
                Some(n) if n > 0 && name == "on-failure" => format!("{name}:{n}"),
                _ => name,
            })
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_default();
    let network = hc
        .network_mode
        .clone()
        .filter(|n| !n.is_empty() && n != "default");
    let mut endpoints = Vec::new();
    for (net, ep) in body
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.as_ref())
        .into_iter()
        .flatten()
    {
        endpoints.push((
            net.clone(),
            EndpointSpec {
                network_id: String::new(),
                aliases: ep.aliases.clone().unwrap_or_default(),
                ipv4_address: ep
                    .ipam_config
                    .as_ref()
                    .and_then(|c| c.ipv4_address.clone())
                    .unwrap_or_default(),
                links: ep.links.clone().unwrap_or_default(),
            },
        ));
    }
    // The primary network first, as the CLI sends it in NetworkMode.
    if let Some(n) = &network {
        if let Some(i) = endpoints.iter().position(|(e, _)| e == n) {
            let first = endpoints.remove(i);
            endpoints.insert(0, first);
        }
    }
    // Config.Volumes are anonymous volumes, as an image's VOLUME, unless a bind in
    // HostConfig.Binds covers the same path (docker-compose sends both).
    let binds = hc.binds.clone().unwrap_or_default();
    let bound: Vec<String> = binds
        .iter()
        .filter_map(|b| b.split(':').nth(1))
        .map(|d| d.trim_end_matches('/').to_string())
        .collect();
    let mut volumes = binds;
    for (k, _) in body.volumes.iter().flatten() {
        if !bound.contains(&k.trim_end_matches('/').to_string()) {
            volumes.push(k.clone());
        }
    }
    Ok(CreateOptions {
        endpoints,
        links: hc.links.clone().unwrap_or_default(),
        network_aliases: Vec::new(),
        ip: None,
        image,
        name,
        cmd,
        entrypoint,
        env: body.env.clone().unwrap_or_default(),
        workdir: body.working_dir.clone().filter(|w| !w.is_empty()),
        user: body.user.clone().filter(|u| !u.is_empty()),
        hostname: body.hostname.clone().filter(|h| !h.is_empty()),
        domainname: body.domainname.clone().filter(|d| !d.is_empty()),
        labels: body
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        tty: body.tty.unwrap_or(false),
        stdin_open: body.open_stdin.unwrap_or(false),
        volumes,
        tmpfs: hc
            .tmpfs
            .iter()
            .flatten()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}:{v}")
                }
            })
            .collect(),
        read_only: hc.readonly_rootfs.unwrap_or(false),
        memory: hc.memory.filter(|m| *m > 0),
        cpus: hc.nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9),
        pids_limit: hc.pids_limit.filter(|p| *p != 0),
        restart,
        auto_remove: hc.auto_remove.unwrap_or(false),
        init: hc.init.unwrap_or(false),
        stop_signal: body.stop_signal.clone().filter(|s| !s.is_empty()),
        stop_timeout: body.stop_timeout,
        healthcheck: body.healthcheck.as_ref().map(|h| {
            kujira_engine::container::health::HealthConfig {
                test: h.test.clone().unwrap_or_default(),
                interval: h.interval.unwrap_or(0),
                timeout: h.timeout.unwrap_or(0),
                start_period: h.start_period.unwrap_or(0),
                retries: h.retries.unwrap_or(0),
            }
        }),
        cap_add: hc.cap_add.clone().unwrap_or_default(),
        cap_drop: hc.cap_drop.clone().unwrap_or_default(),
        privileged: hc.privileged.unwrap_or(false),
        security_opt: hc.security_opt.clone().unwrap_or_default(),
        network,
        publish,
        publish_all: hc.publish_all_ports.unwrap_or(false),
        expose: body
            .exposed_ports
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect(),
        runtime: hc.runtime.clone().filter(|r| !r.is_empty() && r != "runc"),
        ulimits: hc
            .ulimits
            .iter()
            .flatten()
            .filter_map(|u| Some(format!("{}={}:{}", u.name.as_ref()?, u.soft?, u.hard?)))
            .collect(),
        shm_size: hc.shm_size.filter(|s| *s > 0),
        sysctls: hc
            .sysctls
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        extra_hosts: hc.extra_hosts.clone().unwrap_or_default(),
        devices: hc
            .devices
            .iter()
            .flatten()
            .filter_map(|d| {
                let host = d.path_on_host.clone()?;
                let ctr = d.path_in_container.clone().unwrap_or_else(|| host.clone());
                let perms = d.cgroup_permissions.clone().unwrap_or_else(|| "rwm".into());
                Some(format!("{host}:{ctr}:{perms}"))
            })
            .collect(),
        memory_swap: hc.memory_swap.filter(|m| *m != 0),
        memory_reservation: hc.memory_reservation.filter(|m| *m > 0),
        cpu_shares: hc.cpu_shares.filter(|c| *c > 0).map(|c| c as u64),
        oom_score_adj: hc.oom_score_adj.filter(|o| *o != 0).map(|o| o as i32),
        group_add: hc.group_add.clone().unwrap_or_default(),
        dns: hc.dns.clone().unwrap_or_default(),
        dns_search: hc.dns_search.clone().unwrap_or_default(),
        dns_options: hc.dns_options.clone().unwrap_or_default(),
        pid_mode: hc.pid_mode.clone().unwrap_or_default(),
        ipc_mode: hc
            .ipc_mode
            .clone()
            .filter(|m| m != "private" && m != "shareable")
            .unwrap_or_default(),
        uts_mode: hc.uts_mode.clone().unwrap_or_default(),
        keep_mounted: false,
    })
}
