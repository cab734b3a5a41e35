//! `create`: the image's config merged with the flags into an OCI runtime spec, a
//! bundle whose rootfs is an overlay of the image's layers plus the container's own
//! upper directory, and a container row — added last, so a failure midway leaves
//! nothing but a directory that no row names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kujira_runtime::ports::PortMapping;
use kujira_runtime::seccomp::{parse_security_opt, Seccomp, SecurityOpt};
use kujira_runtime::{
    build_spec, Bundle, HostFacts, ImageRunConfig, NetworkMode, RunOptions, Ulimit,
};
use kujira_store::metadata::{ContainerRow, ContainerState};

use super::config::{ContainerConfig, MountPoint, RestartPolicy};
use super::{names, random_id, Container};
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
fn parse_sysctl(s: &str, net: NetworkMode) -> Result<(String, String), EngineError> {
    let refused = || {
        invalid(format!(
            "invalid argument \"{s}\" for \"--sysctl\" flag: sysctl '{s}' is not allowed"
        ))
    };
    let (key, value) = s.split_once('=').ok_or_else(refused)?;
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

/// Everything `create`/`run` accept.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    pub name: Option<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub labels: Vec<String>,
    pub tty: bool,
    pub stdin_open: bool,
    /// `-v`: `host:ctr[:opts]` binds and `name:ctr[:opts]` volumes.
    pub volumes: Vec<String>,
    pub tmpfs: Vec<String>,
    pub read_only: bool,
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub restart: String,
    pub auto_remove: bool,
    pub init: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// `--health-*` (or the API's `Healthcheck`) over the image's; `--no-healthcheck`
    /// is [`super::health::HealthConfig::disabled`].
    pub healthcheck: Option<super::health::HealthConfig>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub network: Option<String>,
    /// `--network-alias`: more names on a user-defined network.
    pub network_aliases: Vec<String>,
    /// `--ip`: a fixed address on the network.
    pub ip: Option<String>,
    /// `--link NAME[:ALIAS]` (the default bridge).
    pub links: Vec<String>,
    /// The API's `NetworkingConfig.EndpointsConfig`: more networks to join, with
    /// their aliases and addresses (the first is `network` when that is unset).
    pub endpoints: Vec<(String, crate::network::EndpointSpec)>,
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub expose: Vec<String>,
    pub runtime: Option<String>,
    pub ulimits: Vec<String>,
    /// `--shm-size` in bytes (Docker's 64 MiB when `None`).
    pub shm_size: Option<i64>,
    /// `--sysctl KEY=VALUE`.
    pub sysctls: Vec<String>,
    /// `--add-host HOST:IP`, added to the container's `/etc/hosts`.
    pub extra_hosts: Vec<String>,
    /// `--device HOST[:CONTAINER][:PERMISSIONS]`.
    pub devices: Vec<String>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub oom_score_adj: Option<i32>,
    pub group_add: Vec<String>,
    /// `--dns`, `--dns-search`, `--dns-option`: the container's `/etc/resolv.conf`.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--pid`, `--ipc`, `--uts`: `host`, or empty for the container's own.
    pub pid_mode: String,
    pub ipc_mode: String,
    pub uts_mode: String,
    /// Leave the rootfs mounted for a start that follows at once (`run`); a plain
    /// `create` unmounts it, so containers that are only created hold no mounts.
    pub keep_mounted: bool,
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(msg.into())
}

impl Engine {
    /// Creates a container from a stored image (the caller pulls a missing one).
    pub fn create_container(&self, opts: &CreateOptions) -> Result<Container, EngineError> {
        let _lock = self.store.lock_shared()?;
        let image = self.resolve_image(&opts.image)?;
        let bytes = self.store.blobs.read(&image.id)?;
        let image_config = ImageConfig::parse(&image.id, &bytes)?;
        let run_image = run_config(&image_config);
        let volumes = with_image_volumes(&opts.volumes, &opts.tmpfs, &run_image.volumes);

        let name = match &opts.name {
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
        let restart = RestartPolicy::parse(&opts.restart).map_err(invalid)?;
        if opts.auto_remove {
            // A container that removes itself when it exits is not worth a flush to
            // survive a power failure; its row stays consistent either way.
            self.store.meta.relax_durability()?;
        }
        if opts.auto_remove && restart.name != "no" {
            return Err(invalid(
                "conflicting options: cannot specify both --restart and --rm",
            ));
        }
        let (network, networks) = self.network_mode(opts)?;
        let network = (network.0.as_str(), network.1);
        // User-defined networks answer names through the embedded DNS server.
        let embedded_dns = networks
            .first()
            .is_some_and(|e| e.network_id != crate::network::predefined_id("bridge"));
        let mut ports = Vec::new();
        for p in &opts.publish {
            ports.extend(PortMapping::parse(p).map_err(|e| invalid(e.to_string()))?);
        }
        let mut exposed: Vec<String> = run_image.exposed_ports.clone();
        for e in &opts.expose {
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
        if opts.publish_all {
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
        let runtime = opts.runtime.clone().unwrap_or_default();
        // Looked up once: an unknown runtime fails before any work.
        let oci_runtime = self.runtime(&runtime)?;
        if opts.keep_mounted {
            // A start follows at once.
            oci_runtime.warm_up();
        }
        let ulimits = opts
            .ulimits
            .iter()
            .map(|u| parse_ulimit(u))
            .collect::<Result<Vec<_>, _>>()?;
        let shm_size = match opts.shm_size {
            Some(s) if s <= 0 => return Err(invalid("invalid --shm-size: must be greater than 0")),
            Some(s) => s,
            None => kujira_runtime::defaults::SHM_SIZE as i64,
        };
        let sysctls = opts
            .sysctls
            .iter()
            .map(|s| parse_sysctl(s, network.1))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        let host_gateway = if opts.extra_hosts.iter().any(|h| h.ends_with("host-gateway")) {
            crate::network::NetConfig::load()?.bip.0.to_string()
        } else {
            String::new()
        };
        let extra_hosts = opts
            .extra_hosts
            .iter()
            .map(|h| parse_extra_host(h, &host_gateway))
            .collect::<Result<Vec<_>, _>>()?;
        let pid_mode = namespace_mode("PID", &opts.pid_mode, &[])?;
        let ipc_mode = namespace_mode("IPC", &opts.ipc_mode, &["private", "shareable"])?;
        let uts_mode = namespace_mode("UTS", &opts.uts_mode, &[])?;
        if uts_mode == "host" && opts.hostname.as_deref().is_some_and(|h| !h.is_empty()) {
            return Err(invalid("conflicting options: hostname and the UTS mode"));
        }
        let dns = Dns {
            servers: opts.dns.clone(),
            search: opts.dns_search.clone(),
            options: opts.dns_options.clone(),
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
        for s in &opts.security_opt {
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
            for t in &opts.tmpfs {
                points.push((t.split(':').next().unwrap_or_default().to_string(), false));
            }
            let init_binary = if opts.init { Some(find_init()?) } else { None };
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
                opts.auto_remove,
            )
            .map_err(EngineError::Runtime)?;

            let (binds, mounts) = self.resolve_volumes(&volumes, &bundle)?;
            let mut all_binds = binds;
            let hostname = opts.hostname.clone().unwrap_or_default();
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
            for t in &opts.tmpfs {
                let dest = t.split(':').next().unwrap_or_default().to_string();
                mount_points.push(MountPoint {
                    kind: "tmpfs".into(),
                    destination: dest,
                    rw: true,
                    ..Default::default()
                });
            }
            let entrypoint = opts.entrypoint.as_ref().map(|e| {
                if e.is_empty() {
                    Vec::new()
                } else {
                    vec![e.clone()]
                }
            });
            let run = RunOptions {
                id: id.clone(),
                rootfs: "rootfs".into(),
                user_rootfs: Some(bundle.rootfs().to_path_buf()),
                cmd: opts.cmd.clone(),
                entrypoint: entrypoint.clone(),
                env: opts.env.clone(),
                workdir: opts.workdir.clone(),
                user: opts.user.clone(),
                hostname: opts.hostname.clone(),
                tty: opts.tty,
                stdin_open: opts.stdin_open,
                read_only: opts.read_only,
                privileged: opts.privileged,
                cap_add: opts.cap_add.clone(),
                cap_drop: opts.cap_drop.clone(),
                memory: opts.memory,
                cpus: opts.cpus,
                pids_limit: opts.pids_limit,
                binds: all_binds,
                tmpfs: opts.tmpfs.clone(),
                network: network.1,
                init: opts.init,
                no_new_privileges,
                seccomp: seccomp.clone(),
                ulimits,
                shm_size: shm_size as u64,
                devices: opts.devices.clone(),
                memory_swap: opts.memory_swap,
                memory_reservation: opts.memory_reservation,
                cpu_shares: opts.cpu_shares,
                oom_score_adj: opts.oom_score_adj,
                group_add: opts.group_add.clone(),
                host_pid: pid_mode == "host",
                host_ipc: ipc_mode == "host",
                host_uts: uts_mode == "host",
                sysctls: sysctls.clone(),
                cgroups_path: None,
            };
            let mut spec = build_spec(&run_image, &run, &HostFacts::detect_for(opts.privileged))
                .map_err(|e| match e {
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
            // Config.Env as Docker keeps it: the image's and the user's, not what the
            // runtime adds (HOSTNAME, a default HOME, TERM).
            let asked = |k: &str| {
                run_image
                    .env
                    .iter()
                    .chain(opts.env.iter())
                    .any(|e| e.split('=').next() == Some(k))
            };
            let env: Vec<String> = process
                .and_then(|p| p.env().clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|e| {
                    let k = e.split('=').next().unwrap_or_default();
                    !matches!(k, "HOSTNAME" | "HOME" | "TERM") || (k != "HOSTNAME" && asked(k))
                })
                .collect();
            let (cmd, entry) = match &entrypoint {
                Some(ep) => (opts.cmd.clone(), ep.clone()),
                None => (
                    if opts.cmd.is_empty() {
                        run_image.cmd.clone()
                    } else {
                        opts.cmd.clone()
                    },
                    run_image.entrypoint.clone(),
                ),
            };
            let mut labels = run_image.labels.clone();
            for l in &opts.labels {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                labels.insert(k.to_string(), v.to_string());
            }
            let config = ContainerConfig {
                image: opts.image.clone(),
                path: args.first().cloned().unwrap_or_default(),
                args: args.iter().skip(1).cloned().collect(),
                cmd,
                entrypoint: entry,
                env,
                working_dir: opts
                    .workdir
                    .clone()
                    .unwrap_or(run_image.working_dir.clone()),
                user: opts.user.clone().unwrap_or(run_image.user.clone()),
                hostname: spec.hostname().clone().unwrap_or_default(),
                domainname: opts.domainname.clone().unwrap_or_default(),
                labels,
                tty: opts.tty,
                open_stdin: opts.stdin_open,
                stop_signal: opts
                    .stop_signal
                    .clone()
                    .or(run_image.stop_signal.clone())
                    .unwrap_or_default(),
                stop_timeout: opts.stop_timeout,
                healthcheck: {
                    let image_hc = super::health::from_image(
                        image_config
                            .extras
                            .config
                            .as_ref()
                            .and_then(|x| x.healthcheck.as_ref()),
                    );
                    match (&opts.healthcheck, image_hc) {
                        (Some(user), Some(img)) => Some(user.over(&img)),
                        (Some(user), None) => Some(user.clone()),
                        (None, img) => img,
                    }
                },
                exposed_ports: exposed,
                ports,
                publish_all: opts.publish_all,
                restart,
                auto_remove: opts.auto_remove,
                runtime,
                network: network.0.to_string(),
                networks: networks.clone(),
                mounts: mount_points,
                read_only: opts.read_only,
                privileged: opts.privileged,
                cap_add: opts.cap_add.clone(),
                cap_drop: opts.cap_drop.clone(),
                security_opt: opts.security_opt.clone(),
                memory: opts.memory.unwrap_or(0),
                nano_cpus: opts.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
                pids_limit: opts.pids_limit.unwrap_or(0),
                init: opts.init,
                shm_size,
                sysctls,
                pid_mode,
                ipc_mode,
                uts_mode,
                devices: opts.devices.clone(),
                memory_swap: kujira_runtime::spec::memory_swap(opts.memory, opts.memory_swap)
                    .ok()
                    .flatten()
                    .unwrap_or(0),
                memory_reservation: opts.memory_reservation.unwrap_or(0),
                cpu_shares: opts.cpu_shares.unwrap_or(0),
                oom_score_adj: opts.oom_score_adj.unwrap_or(0),
                group_add: opts.group_add.clone(),
                dns: dns.servers.clone(),
                dns_search: dns.search.clone(),
                dns_options: dns.options.clone(),
                extra_hosts: extra_hosts.clone(),
                layers: layers
                    .iter()
                    .rev()
                    .map(|l| l.chain_id.to_string())
                    .collect(),
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
                        if opts.name.is_none() && tries < 20 =>
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
            if !opts.keep_mounted {
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

/// `--ulimit name=soft[:hard]`.
fn parse_ulimit(s: &str) -> Result<Ulimit, EngineError> {
    let bad = || invalid(format!("invalid ulimit argument: {s}"));
    let (name, vals) = s.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
    let num = |v: &str| -> Result<u64, EngineError> {
        if v == "-1" || v == "unlimited" {
            Ok(u64::MAX)
        } else {
            v.parse().map_err(|_| bad())
        }
    };
    Ok(Ulimit {
        name: name.to_string(),
        soft: num(soft)?,
        hard: num(hard)?,
    })
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
