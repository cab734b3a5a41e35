//! The `Config` and `HostConfig` a created container keeps, as dockerd keeps them:
//! the user's `Config` merged over the image's (command, environment, labels,
//! ports, volumes, health check), and the `HostConfig` as asked with the daemon's
//! defaults filled in, so `inspect` shows what is in force.

use bollard_stubs::models::{self, ContainerCreateBody, HostConfig};
use kujira_runtime::ImageRunConfig;

use super::config::{map_of, port_set, RestartPolicy};
use super::health::HealthConfig;

/// What the merged `Config` is made of.
pub(crate) struct Parts<'a> {
    pub body: &'a ContainerCreateBody,
    pub image_name: &'a str,
    pub image: &'a ImageRunConfig,
    pub image_healthcheck: Option<HealthConfig>,
    /// The environment the runtime spec got (the image's, the user's and the
    /// runtime's own additions).
    pub process_env: Vec<String>,
    /// The hostname the spec got (the user's, or the short ID).
    pub hostname: String,
    /// The image's, the user's and the published ports.
    pub exposed: Vec<String>,
}

/// The user's `Config` over the image's.
pub(crate) fn config(p: &Parts) -> models::ContainerConfig {
    let body = p.body;
    let user_env = body.env.clone().unwrap_or_default();
    let user_cmd = body.cmd.clone().unwrap_or_default();
    // Config.Env as Docker keeps it: the image's and the user's, not what the
    // runtime adds (HOSTNAME, a default HOME, TERM).
    let asked = |k: &str| {
        p.image
            .env
            .iter()
            .chain(user_env.iter())
            .any(|e| e.split('=').next() == Some(k))
    };
    let env: Vec<String> = p
        .process_env
        .iter()
        .filter(|e| {
            let k = e.split('=').next().unwrap_or_default();
            !matches!(k, "HOSTNAME" | "HOME" | "TERM") || (k != "HOSTNAME" && asked(k))
        })
        .cloned()
        .collect();
    // An entrypoint given (even empty) replaces the image's and drops its CMD.
    let (cmd, entrypoint) = match &body.entrypoint {
        Some(ep) => (
            user_cmd,
            ep.iter().filter(|a| !a.is_empty()).cloned().collect(),
        ),
        None => (
            if user_cmd.is_empty() {
                p.image.cmd.clone()
            } else {
                user_cmd
            },
            p.image.entrypoint.clone(),
        ),
    };
    let mut labels = p.image.labels.clone();
    for (k, v) in body.labels.iter().flatten() {
        labels.insert(k.clone(), v.clone());
    }
    let healthcheck = match (
        body.healthcheck.as_ref().map(HealthConfig::from_api),
        p.image_healthcheck.clone(),
    ) {
        (Some(user), Some(img)) => Some(user.over(&img)),
        (Some(user), None) => Some(user),
        (None, img) => img,
    };
    let mut volumes: Vec<String> = body
        .volumes
        .iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .chain(p.image.volumes.iter().cloned())
        .collect();
    volumes.sort();
    volumes.dedup();
    let nonempty = |v: Vec<String>| (!v.is_empty()).then_some(v);
    let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    models::ContainerConfig {
        hostname: Some(p.hostname.clone()),
        domainname: Some(text(&body.domainname).unwrap_or_default()),
        user: Some(text(&body.user).unwrap_or_else(|| p.image.user.clone())),
        attach_stdin: Some(body.attach_stdin.unwrap_or(false)),
        attach_stdout: Some(body.attach_stdout.unwrap_or(false)),
        attach_stderr: Some(body.attach_stderr.unwrap_or(false)),
        exposed_ports: (!p.exposed.is_empty()).then(|| port_set(p.exposed.iter().cloned())),
        tty: Some(body.tty.unwrap_or(false)),
        open_stdin: Some(body.open_stdin.unwrap_or(false)),
        stdin_once: Some(body.stdin_once.unwrap_or(false)),
        env: Some(env),
        cmd: nonempty(cmd),
        healthcheck: healthcheck.map(|h| h.to_api()),
        args_escaped: None,
        image: Some(p.image_name.to_string()),
        volumes: (!volumes.is_empty()).then(|| port_set(volumes)),
        working_dir: Some(text(&body.working_dir).unwrap_or_else(|| p.image.working_dir.clone())),
        entrypoint: nonempty(entrypoint),
        network_disabled: body.network_disabled.filter(|d| *d),
        mac_address: None,
        on_build: None,
        labels: Some(map_of(labels)),
        stop_signal: text(&body.stop_signal).or_else(|| p.image.stop_signal.clone()),
        stop_timeout: body.stop_timeout,
        shell: body.shell.clone(),
    }
}

/// The `HostConfig` as asked, with what dockerd fills in when a field is left out.
pub(crate) fn host_config(
    asked: &HostConfig,
    network_mode: &str,
    runtime: &str,
    restart: &RestartPolicy,
    shm_size: i64,
    ipc_mode: &str,
) -> HostConfig {
    let mut hc = asked.clone();
    let privileged = hc.privileged.unwrap_or(false);
    hc.network_mode = Some(network_mode.to_string());
    hc.restart_policy = Some(restart.to_api());
    hc.runtime = Some(runtime.to_string());
    hc.shm_size = Some(shm_size);
    hc.ipc_mode = Some(if ipc_mode.is_empty() {
        "private".to_string()
    } else {
        ipc_mode.to_string()
    });
    // The only log driver; the docker CLI sends an empty one.
    let log = hc.log_config.get_or_insert_with(Default::default);
    if log.typ.as_deref().unwrap_or_default().is_empty() {
        log.typ = Some("json-file".into());
    }
    log.config.get_or_insert_with(Default::default);
    // What the runtime does: every container gets a cgroup namespace of its own.
    if matches!(
        hc.cgroupns_mode,
        None | Some(models::HostConfigCgroupnsModeEnum::EMPTY)
    ) {
        hc.cgroupns_mode = Some(models::HostConfigCgroupnsModeEnum::PRIVATE);
    }
    hc.port_bindings.get_or_insert_with(Default::default);
    // dockerd's: a memory limit without a swap limit allows as much swap again.
    if let (Some(m), None | Some(0)) = (hc.memory.filter(|m| *m > 0), hc.memory_swap) {
        hc.memory_swap = Some(m * 2);
    }
    for (field, default) in [
        (&mut hc.memory, 0),
        (&mut hc.memory_swap, 0),
        (&mut hc.memory_reservation, 0),
        (&mut hc.nano_cpus, 0),
        (&mut hc.cpu_shares, 0),
        (&mut hc.cpu_period, 0),
        (&mut hc.cpu_quota, 0),
        (&mut hc.oom_score_adj, 0),
    ] {
        field.get_or_insert(default);
    }
    for field in [&mut hc.dns, &mut hc.dns_search, &mut hc.dns_options] {
        field.get_or_insert_with(Vec::new);
    }
    for (field, default) in [
        (&mut hc.auto_remove, false),
        (&mut hc.privileged, false),
        (&mut hc.publish_all_ports, false),
        (&mut hc.readonly_rootfs, false),
    ] {
        field.get_or_insert(default);
    }
    for field in [
        &mut hc.pid_mode,
        &mut hc.uts_mode,
        &mut hc.cgroup_parent,
        &mut hc.container_id_file,
        &mut hc.volume_driver,
        &mut hc.userns_mode,
        &mut hc.cgroup,
    ] {
        field.get_or_insert_with(String::new);
    }
    hc.devices.get_or_insert_with(Vec::new);
    hc.console_size.get_or_insert_with(|| vec![0, 0]);
    if !privileged {
        hc.masked_paths.get_or_insert_with(|| {
            kujira_runtime::defaults::MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        hc.readonly_paths.get_or_insert_with(|| {
            kujira_runtime::defaults::READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
    }
    hc
}
