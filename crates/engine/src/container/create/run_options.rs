//! The runtime's options for a container, derived once from Docker's create body
//! and what create checked and made of it: the narrow boundary the spec is built
//! from.

use bollard_stubs::models::{ContainerCreateBody, HostConfig};
use kujira_runtime::{Bundle, RunOptions};

use super::checks::Checked;

pub(super) fn run_options(
    id: &str,
    body: &ContainerCreateBody,
    hc: &HostConfig,
    checked: &Checked,
    bundle: &Bundle,
    binds: Vec<String>,
) -> RunOptions {
    RunOptions {
        id: id.to_string(),
        rootfs: "rootfs".into(),
        user_rootfs: Some(bundle.rootfs().to_path_buf()),
        cmd: body.cmd.clone().unwrap_or_default(),
        entrypoint: body.entrypoint.clone(),
        env: body.env.clone().unwrap_or_default(),
        workdir: body.working_dir.clone().filter(|w| !w.is_empty()),
        user: body.user.clone().filter(|u| !u.is_empty()),
        hostname: body.hostname.clone().filter(|h| !h.is_empty()),
        tty: body.tty.unwrap_or(false),
        stdin_open: body.open_stdin.unwrap_or(false),
        read_only: hc.readonly_rootfs.unwrap_or(false),
        privileged: checked.privileged,
        cap_add: hc.cap_add.clone().unwrap_or_default(),
        cap_drop: hc.cap_drop.clone().unwrap_or_default(),
        memory: hc.memory.filter(|m| *m > 0),
        cpus: hc.nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9),
        pids_limit: hc.pids_limit.filter(|p| *p != 0),
        binds,
        tmpfs: checked.tmpfs.clone(),
        network: checked.net,
        init: checked.init,
        no_new_privileges: checked.no_new_privileges,
        seccomp: checked.seccomp.clone(),
        ulimits: checked.ulimits.clone(),
        shm_size: checked.shm_size as u64,
        devices: checked.devices.clone(),
        memory_swap: hc.memory_swap.filter(|m| *m != 0),
        memory_reservation: hc.memory_reservation.filter(|m| *m > 0),
        cpu_shares: hc.cpu_shares.filter(|c| *c > 0).map(|c| c as u64),
        oom_score_adj: hc.oom_score_adj.filter(|o| *o != 0).map(|o| o as i32),
        group_add: hc.group_add.clone().unwrap_or_default(),
        host_pid: checked.pid_mode == "host",
        host_ipc: checked.ipc_mode == "host",
        host_uts: checked.uts_mode == "host",
        sysctls: checked.sysctls.clone(),
        cgroups_path: None,
    }
}
