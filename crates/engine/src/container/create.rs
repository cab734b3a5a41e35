//! `create`: the image's config merged with the flags into an OCI runtime spec, a
//! bundle whose rootfs is an overlay of the image's layers plus the container's own
//! upper directory, and a container row — added last, so a failure midway leaves
//! nothing but a directory that no row names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kujira_runtime::ports::PortMapping;
use kujira_runtime::seccomp::{parse_security_opt, Seccomp, SecurityOpt};
use kujira_runtime::{build_spec, Bundle, HostFacts, ImageRunConfig, NetworkMode, RunOptions};
use kujira_store::metadata::{ContainerRow, ContainerState};

use bollard_stubs::models::ContainerCreateBody;

use super::config::{ContainerConfig, MountPoint, RestartPolicy};
use super::{asked, names, random_id, stored, Container};
use crate::image::config::ImageConfig;
use crate::image::import::now_rfc3339_nanos;
use crate::{Engine, EngineError};

/// Mount points every container has.
const INIT_DIRS: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
];
const INIT_FILES: &[&str] = &["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

impl Engine {
    /// For the built-in runtime and crun, the container's seccomp filter as a ready
    /// BPF program (compiled once per distinct filter and cached under
    /// `run/seccomp/`), which spares the start its slowest step; other runtimes
    /// compile `linux.seccomp` themselves.
    pub(crate) fn precompile_seccomp(
        &self,
        spec: &mut oci_spec::runtime::Spec,
        rt: &kujira_runtime::Runtime,
    ) -> Result<(), EngineError> {
        use kujira_runtime::seccomp_bpf;
        if !rt.takes_compiled_seccomp() {
            return Ok(());
        }
        let Some(filter) = spec.linux().as_ref().and_then(|l| l.seccomp().clone()) else {
            return Ok(());
        };
        let bpf = seccomp_bpf::cached(&filter, &self.root().join("run/seccomp"))
            .map_err(EngineError::Runtime)?;
        let mut notes = spec.annotations().clone().unwrap_or_default();
        notes.insert(
            seccomp_bpf::CRUN_BPF_ANNOTATION.to_string(),
            seccomp_bpf::annotation_value(&bpf),
        );
        spec.set_annotations(Some(notes));
        // The runtime takes the program and nothing else: the filter's JSON (a few
        // hundred syscalls) need not be written, nor parsed at every start.
        if let Some(linux) = spec.linux_mut() {
            linux.set_seccomp(None);
        }
        Ok(())
    }
}

/// The `-v` list plus an anonymous volume for each of the image's `VOLUME`s that no
/// `-v` or `--tmpfs` covers, as Docker makes them.
fn with_image_volumes(asked: &[String], tmpfs: &[String], image: &[String]) -> Vec<String> {
    let clean = |p: &str| p.trim_end_matches('/').to_string();
    let taken: Vec<String> = asked
        .iter()
        .map(|v| {
            let parts: Vec<&str> = v.split(':').collect();
            clean(if parts.len() == 1 { parts[0] } else { parts[1] })
        })
        .chain(
            tmpfs
                .iter()
                .map(|t| clean(t.split(':').next().unwrap_or_default())),
        )
        .collect();
    let mut out = asked.to_vec();
    for v in image {
        let v = clean(v);
        if v.starts_with('/') && v != "/" && !taken.contains(&v) && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

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

/// `--dns`, `--dns-search`, `--dns-option`.
#[derive(Default)]
pub(crate) struct Dns {
    servers: Vec<String>,
    search: Vec<String>,
    options: Vec<String>,
}

impl Dns {
    /// `resolv.conf` on a user-defined network, as Docker writes it: the embedded
    /// server (which forwards to the `--dns` servers or the host's), the search
    /// domains and options asked for or the host's, and `ndots:0`.
    fn embedded_resolv_conf(&self, host: &str) -> String {
        let lines = |key: &str| -> Vec<String> {
            host.lines()
                .filter_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
                .collect()
        };
        let mut out = String::from("nameserver 127.0.0.11\n");
        let search = if self.search.is_empty() {
            lines("search ")
        } else {
            self.search.clone()
        };
        if !search.is_empty() {
            out.push_str(&format!("search {}\n", search.join(" ")));
        }
        let mut options = if self.options.is_empty() {
            lines("options ")
        } else {
            self.options.clone()
        };
        if !options.iter().any(|o| o.starts_with("ndots:")) {
            options.push("ndots:0".into());
        }
        out.push_str(&format!("options {}\n", options.join(" ")));
        out
    }

    /// The container's `resolv.conf`: the host's, with what was asked in place of
    /// its nameservers, search domains and options.
    fn resolv_conf(&self, host: &str) -> String {
        if self.servers.is_empty() && self.search.is_empty() && self.options.is_empty() {
            return host.to_string();
        }
        let lines = |key: &str| -> Vec<String> {
            host.lines()
                .filter_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
                .collect()
        };
        let pick = |asked: &[String], key: &str| {
            if asked.is_empty() {
                lines(key)
            } else {
                asked.to_vec()
            }
        };
        let mut out = String::new();
        for s in pick(&self.servers, "nameserver ") {
            out.push_str(&format!("nameserver {s}\n"));
        }
        let search = pick(&self.search, "search ");
        if !search.is_empty() {
            out.push_str(&format!("search {}\n", search.join(" ")));
        }
        let options = pick(&self.options, "options ");
        if !options.is_empty() {
            out.push_str(&format!("options {}\n", options.join(" ")));
        }
        out
    }
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

/// Where `--init` puts its init inside the container, as Docker does.
const INIT_PATH: &str = "/sbin/docker-init";

/// The static init `--init` runs: `docker-init` or Debian's `tini-static`.
fn find_init() -> Result<PathBuf, EngineError> {
    let path = std::env::var("PATH").unwrap_or_default();
    for name in ["docker-init", "tini-static"] {
        for dir in path
            .split(':')
            .chain(["/usr/local/bin", "/usr/bin", "/usr/libexec/docker"])
        {
            let p = std::path::Path::new(dir).join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(invalid(
        "--init needs a static init binary: install tini (tini-static) or put docker-init on PATH",
    ))
}

/// Runs the container's command under the init, bound read-only into the container.
fn add_init(spec: &mut oci_spec::runtime::Spec, bin: &std::path::Path) -> Result<(), EngineError> {
    let mount = oci_spec::runtime::MountBuilder::default()
        .destination(INIT_PATH)
        .typ("bind")
        .source(bin)
        .options(vec!["bind".to_string(), "ro".to_string()])
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(mount);
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        let mut args = vec![INIT_PATH.to_string(), "--".to_string()];
        args.extend(p.args().clone().unwrap_or_default());
        p.set_args(Some(args));
    }
    Ok(())
}

/// What `create` takes: Docker's create body — as the API receives it, and as the
/// CLI builds it from its flags — and the container's name.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub body: ContainerCreateBody,
    /// Leave the rootfs mounted for a start that follows at once (`run`); a plain
    /// `create` unmounts it, so containers that are only created hold no mounts.
    pub keep_mounted: bool,
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(msg.into())
}

impl Engine {
    /// Creates a container from a stored image (the caller pulls a missing one).
    pub fn create_container(&self, req: &CreateRequest) -> Result<Container, EngineError> {
        let body = &req.body;
        let hc = body.host_config.clone().unwrap_or_default();
        let image_name = body
            .image
            .clone()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| invalid("config cannot be empty in order to create a container"))?;
        let _lock = self.store.lock_shared()?;
        let image = self.resolve_image(&image_name)?;
        let bytes = self.store.blobs.read(&image.id)?;
        let image_config = ImageConfig::parse(&image.id, &bytes)?;
        let run_image = run_config(&image_config);
        let (asked_volumes, tmpfs) = asked::mounts(body, &hc)?;
        let volumes = with_image_volumes(&asked_volumes, &tmpfs, &run_image.volumes);
        let auto_remove = hc.auto_remove.unwrap_or(false);
        let privileged = hc.privileged.unwrap_or(false);

        let name = match &req.name {
            Some(n) => {
                let n = names::validate(n).map_err(invalid)?;
                if let Some(other) = self.store.meta.containers()?.iter().find(|r| r.name == n) {
                    return Err(EngineError::NameConflict {
                        name: n,
                        id: other.id.clone(),
                    });
                }
                n
            }
            None => {
                let used: Vec<String> = self
                    .store
                    .meta
                    .containers()?
                    .into_iter()
                    .map(|r| r.name)
                    .collect();
                names::random_name(|n| used.iter().any(|u| u == n))
            }
        };
        let restart = RestartPolicy::from_api(hc.restart_policy.as_ref());
        if restart.maximum_retry_count < 0 {
            return Err(invalid(
                "invalid restart policy: maximum retry count cannot be negative",
            ));
        }
        if restart.maximum_retry_count > 0 && restart.name != "on-failure" {
            return Err(invalid(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'",
            ));
        }
        if auto_remove {
            // A container that removes itself when it exits is not worth a flush to
            // survive a power failure; its row stays consistent either way.
            self.store.meta.relax_durability()?;
        }
        if auto_remove && restart.name != "no" {
            return Err(invalid(
                "conflicting options: cannot specify both --restart and --rm",
            ));
        }
        let mut ports = asked::port_mappings(&hc)?;
        let publish_all = hc.publish_all_ports.unwrap_or(false);
        let (network, networks) = self.network_mode(
            &hc,
            body.networking_config.as_ref(),
            !ports.is_empty() || publish_all,
        )?;
        let network = (network.0.as_str(), network.1);
        // User-defined networks answer names through the embedded DNS server.
        let embedded_dns = networks
            .first()
            .is_some_and(|e| e.network_id != crate::network::predefined_id("bridge"));
        let mut exposed: Vec<String> = run_image.exposed_ports.clone();
        let mut asked_exposed: Vec<&String> = body
            .exposed_ports
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        asked_exposed.sort();
        for e in asked_exposed {
            let e = if e.contains('/') {
                e.clone()
            } else {
                format!("{e}/tcp")
            };
            if !exposed.contains(&e) {
                exposed.push(e);
            }
        }
        for p in &ports {
            let e = format!("{}/{}", p.container_port, p.proto.as_str());
            if !exposed.contains(&e) {
                exposed.push(e);
            }
        }
        if publish_all {
            for e in &exposed {
                let already = ports
                    .iter()
                    .any(|p| format!("{}/{}", p.container_port, p.proto.as_str()) == *e);
                if !already {
                    ports.extend(PortMapping::parse(e).map_err(|e| invalid(e.to_string()))?);
                }
            }
        }
        if network.1 != NetworkMode::Private && !ports.is_empty() {
            // Docker ignores published ports with the host network and refuses none.
            ports.clear();
        }
        // `runc` is what docker clients name the default runtime.
        let runtime = hc
            .runtime
            .clone()
            .filter(|r| !r.is_empty() && r != "runc")
            .unwrap_or_default();
        // Looked up once: an unknown runtime fails before any work.
        let oci_runtime = self.runtime(&runtime)?;
        if req.keep_mounted {
            // A start follows at once.
            oci_runtime.warm_up();
        }
        let ulimits = asked::ulimits(&hc)?;
        let devices = asked::devices(&hc)?;
        let shm_size = match hc.shm_size {
            Some(s) if s < 0 => return Err(invalid("SHM size can not be less than 0")),
            Some(s) if s > 0 => s,
            _ => kujira_runtime::defaults::SHM_SIZE as i64,
        };
        let sysctls = hc
            .sysctls
            .iter()
            .flatten()
            .map(|(k, v)| parse_sysctl(k, v, network.1))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        let asked_hosts = hc.extra_hosts.clone().unwrap_or_default();
        let host_gateway = if asked_hosts.iter().any(|h| h.ends_with("host-gateway")) {
            crate::network::NetConfig::load()?.bip.0.to_string()
        } else {
            String::new()
        };
        let extra_hosts = asked_hosts
            .iter()
            .map(|h| parse_extra_host(h, &host_gateway))
            .collect::<Result<Vec<_>, _>>()?;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let pid_mode = namespace_mode("PID", &text(&hc.pid_mode), &[])?;
        let ipc_mode = namespace_mode("IPC", &text(&hc.ipc_mode), &["private", "shareable"])?;
        let uts_mode = namespace_mode("UTS", &text(&hc.uts_mode), &[])?;
        let hostname = text(&body.hostname);
        if uts_mode == "host" && !hostname.is_empty() {
            return Err(invalid("conflicting options: hostname and the UTS mode"));
        }
        let dns = Dns {
            servers: hc.dns.clone().unwrap_or_default(),
            search: hc.dns_search.clone().unwrap_or_default(),
            options: hc.dns_options.clone().unwrap_or_default(),
        };
        for s in &dns.servers {
            if s.parse::<std::net::IpAddr>().is_err() {
                return Err(invalid(format!(
                    "invalid argument \"{s}\" for \"--dns\" flag: {s} is not an ip address"
                )));
            }
        }
        let mut no_new_privileges = false;
        let mut seccomp = Seccomp::Default;
        for s in hc.security_opt.iter().flatten() {
            match parse_security_opt(s).map_err(|e| invalid(e.to_string()))? {
                SecurityOpt::NoNewPrivileges(v) => no_new_privileges = v,
                SecurityOpt::Seccomp(p) => seccomp = p,
                SecurityOpt::AppArmor(_) | SecurityOpt::Label(_) => {}
            }
        }

        let id = random_id();
        let paths = self.container_paths(&id);
        let result = (|| -> Result<Container, EngineError> {
            std::fs::create_dir_all(&paths.dir)
                .map_err(|e| EngineError::io(format!("creating {}", paths.dir.display()), e))?;
            // Held until the row exists: a directory whose lock is free and that
            // has no row is a create that died midway (see `sweep_unfinished`).
            let creating = kujira_store::StoreLock::exclusive(&paths.creating_lock())?;
            let layers = self.store.meta.image_layers(&image.id)?;
            let mut lowers: Vec<PathBuf> = layers
                .iter()
                .rev()
                .map(|l| self.store.layers.diff_dir(&l.chain_id))
                .collect();
            let mut points: Vec<(String, bool)> =
                INIT_DIRS.iter().map(|d| (d.to_string(), false)).collect();
            if network.1 != NetworkMode::Host {
                points.extend(INIT_FILES.iter().map(|f| (f.to_string(), true)));
            }
            for v in &volumes {
                let parts: Vec<&str> = v.split(':').collect();
                let (src, dest) = match parts.as_slice() {
                    [d] => ("", *d),
                    [s, d, ..] => (*s, *d),
                    _ => continue,
                };
                let is_file = src.starts_with('/') && std::path::Path::new(src).is_file();
                points.push((dest.to_string(), is_file));
            }
            for t in &tmpfs {
                points.push((t.split(':').next().unwrap_or_default().to_string(), false));
            }
            let init = hc.init.unwrap_or(false);
            let init_binary = if init { Some(find_init()?) } else { None };
            if init_binary.is_some() {
                points.push((INIT_PATH.to_string(), true));
            }
            super::init::build(&paths.init(), &lowers, &points)?;
            lowers.insert(0, paths.init());
            let bundle = Bundle::mount(
                &paths.bundle(),
                &lowers,
                &paths.upper(),
                &paths.work(),
                auto_remove,
            )
            .map_err(EngineError::Runtime)?;

            let (binds, mounts) = self.resolve_volumes(&volumes, &bundle)?;
            let mut all_binds = binds;
            all_binds.extend(self.write_etc_files(
                &paths.dir,
                &id,
                &hostname,
                network.1,
                &extra_hosts,
                &dns,
                embedded_dns,
            )?);
            let mut mount_points = mounts;
            for t in &tmpfs {
                let dest = t.split(':').next().unwrap_or_default().to_string();
                mount_points.push(MountPoint {
                    kind: "tmpfs".into(),
                    destination: dest,
                    rw: true,
                    ..Default::default()
                });
            }
            let entrypoint = body.entrypoint.clone();
            let user_cmd = body.cmd.clone().unwrap_or_default();
            let user_env = body.env.clone().unwrap_or_default();
            let memory = hc.memory.filter(|m| *m > 0);
            let memory_swap = hc.memory_swap.filter(|m| *m != 0);
            let run = RunOptions {
                id: id.clone(),
                rootfs: "rootfs".into(),
                user_rootfs: Some(bundle.rootfs().to_path_buf()),
                cmd: user_cmd.clone(),
                entrypoint: entrypoint.clone(),
                env: user_env.clone(),
                workdir: body.working_dir.clone().filter(|w| !w.is_empty()),
                user: body.user.clone().filter(|u| !u.is_empty()),
                hostname: Some(hostname.clone()).filter(|h| !h.is_empty()),
                tty: body.tty.unwrap_or(false),
                stdin_open: body.open_stdin.unwrap_or(false),
                read_only: hc.readonly_rootfs.unwrap_or(false),
                privileged,
                cap_add: hc.cap_add.clone().unwrap_or_default(),
                cap_drop: hc.cap_drop.clone().unwrap_or_default(),
                memory,
                cpus: hc.nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9),
                pids_limit: hc.pids_limit.filter(|p| *p != 0),
                binds: all_binds,
                tmpfs: tmpfs.clone(),
                network: network.1,
                init,
                no_new_privileges,
                seccomp: seccomp.clone(),
                ulimits,
                shm_size: shm_size as u64,
                devices,
                memory_swap,
                memory_reservation: hc.memory_reservation.filter(|m| *m > 0),
                cpu_shares: hc.cpu_shares.filter(|c| *c > 0).map(|c| c as u64),
                oom_score_adj: hc.oom_score_adj.filter(|o| *o != 0).map(|o| o as i32),
                group_add: hc.group_add.clone().unwrap_or_default(),
                host_pid: pid_mode == "host",
                host_ipc: ipc_mode == "host",
                host_uts: uts_mode == "host",
                sysctls: sysctls.clone(),
                cgroups_path: None,
            };
            // `-e KEY` was resolved by the client (as the docker CLI does); a bare
            // name left in the body is not looked up in this process's environment.
            let mut facts = HostFacts::detect_for(privileged);
            facts.env.clear();
            let mut spec = build_spec(&run_image, &run, &facts).map_err(|e| match e {
                kujira_runtime::RuntimeError::NoCommand => invalid("No command specified"),
                other => EngineError::Runtime(other),
            })?;
            if let Some(bin) = &init_binary {
                add_init(&mut spec, bin)?;
            }
            self.precompile_seccomp(&mut spec, &oci_runtime)?;
            bundle.write_config(&spec).map_err(EngineError::Runtime)?;

            let process = spec.process().as_ref();
            let args: Vec<String> = process.and_then(|p| p.args().clone()).unwrap_or_default();
            let config = stored::config(&stored::Parts {
                body,
                image_name: &image_name,
                image: &run_image,
                image_healthcheck: super::health::from_image(
                    image_config
                        .extras
                        .config
                        .as_ref()
                        .and_then(|x| x.healthcheck.as_ref()),
                ),
                process_env: process.and_then(|p| p.env().clone()).unwrap_or_default(),
                hostname: spec.hostname().clone().unwrap_or_default(),
                exposed,
            });
            let stored_runtime = if runtime.is_empty() {
                self.default_runtime_name()
            } else {
                runtime.clone()
            };
            let config = ContainerConfig {
                config,
                host_config: stored::host_config(
                    &hc,
                    network.0,
                    &stored_runtime,
                    &restart,
                    shm_size,
                    &ipc_mode,
                ),
                path: args.first().cloned().unwrap_or_default(),
                args: args.iter().skip(1).cloned().collect(),
                layers: layers
                    .iter()
                    .rev()
                    .map(|l| l.chain_id.to_string())
                    .collect(),
                ports,
                network: network.0.to_string(),
                networks: networks.clone(),
                mounts: mount_points,
            };
            let row = ContainerRow {
                id: id.clone(),
                name: name.clone(),
                image_id: image.id.to_string(),
                created: now_rfc3339_nanos(),
                config: serde_json::to_string(&config)
                    .map_err(|e| invalid(format!("encoding the container config: {e}")))?,
                state: ContainerState {
                    status: "created".into(),
                    ..Default::default()
                },
            };
            let mut row = row;
            let mut tries = 0;
            loop {
                match self.store.meta.add_container(&row) {
                    Ok(()) => break,
                    // A generated name another process took in the meantime: draw again.
                    Err(kujira_store::StoreError::NameInUse { .. })
                        if req.name.is_none() && tries < 20 =>
                    {
                        tries += 1;
                        let used: Vec<String> = self
                            .store
                            .meta
                            .containers()?
                            .into_iter()
                            .map(|r| r.name)
                            .collect();
                        row.name = names::random_name(|n| used.iter().any(|u| u == n));
                    }
                    Err(kujira_store::StoreError::NameInUse { name, id }) => {
                        return Err(EngineError::NameConflict { name, id })
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            if !req.keep_mounted {
                bundle.unmount().map_err(EngineError::Runtime)?;
            }
            let _ = std::fs::remove_file(paths.creating_lock());
            drop(creating);
            let c = Container { row, config };
            self.emit_container(&c, "create", &[]);
            Ok(c)
        })();
        if result.is_err() {
            let _ = Bundle::open(&paths.bundle()).unmount();
            let _ = std::fs::remove_dir_all(&paths.dir);
        }
        result
    }

    /// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` of the container, as
    /// Docker writes them into its own directory and binds them in.
    #[allow(clippy::too_many_arguments)] // each is one of Docker's per-container files' inputs
    pub(crate) fn write_etc_files(
        &self,
        dir: &std::path::Path,
        id: &str,
        hostname: &str,
        net: NetworkMode,
        extra_hosts: &[(String, String)],
        dns: &Dns,
        embedded_dns: bool,
    ) -> Result<Vec<String>, EngineError> {
        if net == NetworkMode::Host {
            return Ok(["/etc/hosts", "/etc/resolv.conf"]
                .into_iter()
                .filter(|p| std::path::Path::new(p).exists())
                .map(|p| format!("{p}:{p}:ro"))
                .collect());
        }
        let host = if hostname.is_empty() {
            &id[..12]
        } else {
            hostname
        };
        let write = |name: &str, text: String| -> Result<String, EngineError> {
            let p = dir.join(name);
            std::fs::write(&p, text)
                .map_err(|e| EngineError::io(format!("writing {}", p.display()), e))?;
            Ok(format!("{}:/etc/{name}", p.display()))
        };
        let mut hosts = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        );
        for (name, ip) in extra_hosts {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        hosts.push_str(&format!("127.0.1.1\t{host}\n"));
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolv = if embedded_dns {
            dns.embedded_resolv_conf(&host_resolv)
        } else {
            dns.resolv_conf(&host_resolv)
        };
        Ok(vec![
            write("hostname", format!("{host}\n"))?,
            write("hosts", hosts)?,
            write("resolv.conf", resolv)?,
        ])
    }
}

/// The parts of an image config that shape a container.
pub fn run_config(image: &ImageConfig) -> ImageRunConfig {
    let Some(c) = image.oci.config().as_ref() else {
        return ImageRunConfig::default();
    };
    ImageRunConfig {
        env: c.env().clone().unwrap_or_default(),
        cmd: c.cmd().clone().unwrap_or_default(),
        entrypoint: c.entrypoint().clone().unwrap_or_default(),
        working_dir: c.working_dir().clone().unwrap_or_default(),
        user: c.user().clone().unwrap_or_default(),
        stop_signal: c.stop_signal().clone(),
        exposed_ports: c.exposed_ports().clone().unwrap_or_default(),
        volumes: c.volumes().clone().unwrap_or_default(),
        labels: c
            .labels()
            .clone()
            .map(|l| l.into_iter().collect::<BTreeMap<_, _>>())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_image_volumes;

    #[test]
    fn resolv_conf_takes_what_was_asked() {
        let host = "nameserver 10.0.0.1\nsearch corp.example\noptions ndots:1\n";
        let none = super::Dns {
            servers: vec![],
            search: vec![],
            options: vec![],
        };
        assert_eq!(none.resolv_conf(host), host);
        let asked = super::Dns {
            servers: vec!["1.1.1.1".into(), "9.9.9.9".into()],
            search: vec![],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            asked.resolv_conf(host),
            "nameserver 1.1.1.1\nnameserver 9.9.9.9\nsearch corp.example\noptions ndots:2\n"
        );
    }

    #[test]
    fn image_volumes_not_covered_become_anonymous() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            with_image_volumes(
                &s(&["/host:/data", "named:/logs/"]),
                &s(&["/tmp:size=1m"]),
                &s(&["/data", "/logs", "/tmp", "/cache/", "relative", "/cache"])
            ),
            s(&["/host:/data", "named:/logs/", "/cache"])
        );
    }
}
