//! `run`, `create`, `start`: containers made from images and started through their
//! monitor; a foreground `run` is attached to the caller's terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI32, Ordering};

use kujira_engine::container::create::CreateOptions;
use kujira_engine::container::start::{Attach, Started};
use kujira_engine::container::Container;
use kujira_engine::{Engine, EngineError};

use super::terminal::RawTerminal;
use crate::cli::{AttachArgs, CreateArgs, CreateFlags, RunArgs, StartArgs};
use crate::error::CliError;

/// Docker's `docker: Error response from daemon: …` for run/create (exit 125 unless
/// the container's command was the problem).
fn run_error(cmd: &str, e: EngineError) -> CliError {
    let code = match &e {
        EngineError::StartFailed { code, .. } => *code,
        _ => 125,
    };
    let msg = CliError::from(e).message;
    CliError::new(
        code,
        format!("kujira: {msg}\n\nRun 'kujira {cmd} --help' for more information"),
    )
}

/// `-m 512m`, `1g`, `100000` in bytes.
pub fn parse_bytes(s: &str) -> Result<i64, CliError> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num.parse().map_err(|_| {
        CliError::new(
            125,
            format!("invalid argument \"{s}\" for \"-m, --memory\" flag: invalid size: '{s}'"),
        )
    })?;
    Ok((v * mult as f64) as i64)
}

/// The byte sizes of the resource flags: `-m`, `--memory-swap` (`-1`: unlimited),
/// `--memory-reservation`.
pub struct MemoryLimits {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
}

pub fn memory_limits(r: &crate::cli::ResourceFlags) -> Result<MemoryLimits, CliError> {
    let bytes = |v: &Option<String>| match v.as_deref() {
        Some("-1") => Ok(Some(-1)),
        other => other.map(parse_bytes).transpose(),
    };
    Ok(MemoryLimits {
        memory: r.memory.as_deref().map(parse_bytes).transpose()?,
        memory_swap: bytes(&r.memory_swap)?,
        memory_reservation: r
            .memory_reservation
            .as_deref()
            .map(parse_bytes)
            .transpose()?,
    })
}

/// `--env-file`: `KEY=VALUE` lines (or `KEY` to take the host's value); `#` comments.
fn read_env_files(files: &[String]) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| CliError::new(125, format!("open {f}: {e}")))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push(line.to_string());
        }
    }
    Ok(out)
}

/// `--health-*` and `--no-healthcheck`, checked as the docker CLI checks them.
fn health_flags(
    f: &CreateFlags,
) -> Result<Option<kujira_engine::container::health::HealthConfig>, CliError> {
    use kujira_engine::container::health::{parse_go_duration, HealthConfig};
    let any = f.health_cmd.is_some()
        || f.health_interval.is_some()
        || f.health_retries.is_some()
        || f.health_start_period.is_some()
        || f.health_timeout.is_some();
    if f.no_healthcheck {
        if any {
            return Err(CliError::new(
                125,
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(Some(HealthConfig::disabled()));
    }
    if !any {
        return Ok(None);
    }
    let dur = |flag: &str, v: &Option<String>| -> Result<i64, CliError> {
        match v {
            None => Ok(0),
            Some(v) => match parse_go_duration(v) {
                Some(ns) if ns >= 0 => Ok(ns),
                _ => Err(CliError::new(
                    125,
                    format!("invalid argument \"{v}\" for \"--{flag}\" flag: time: invalid duration \"{v}\""),
                )),
            },
        }
    };
    let retries = f.health_retries.unwrap_or(0);
    if retries < 0 {
        return Err(CliError::new(125, "--health-retries cannot be negative"));
    }
    Ok(Some(HealthConfig {
        test: f
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()])
            .unwrap_or_default(),
        interval: dur("health-interval", &f.health_interval)?,
        timeout: dur("health-timeout", &f.health_timeout)?,
        start_period: dur("health-start-period", &f.health_start_period)?,
        retries,
    }))
}

pub fn create_options(f: &CreateFlags) -> Result<CreateOptions, CliError> {
    let mut env = read_env_files(&f.env_file)?;
    env.extend(f.env.iter().cloned());
    let (image, cmd) = f
        .image_and_command
        .split_first()
        .ok_or_else(|| CliError::new(125, "kujira: 'run' requires at least 1 argument"))?;
    let limits = memory_limits(&f.resources)?;
    Ok(CreateOptions {
        image: image.clone(),
        name: f.name.clone(),
        cmd: cmd.to_vec(),
        entrypoint: f.entrypoint.clone(),
        env,
        workdir: f.workdir.clone(),
        user: f.user.clone(),
        hostname: f.hostname.clone(),
        domainname: f.domainname.clone(),
        labels: f.label.clone(),
        tty: f.tty,
        stdin_open: f.interactive,
        volumes: f.volume.clone(),
        tmpfs: f.tmpfs.clone(),
        read_only: f.read_only,
        memory: limits.memory,
        cpus: f.resources.cpus,
        pids_limit: f.resources.pids_limit,
        restart: f.restart.clone(),
        auto_remove: f.rm,
        init: f.init,
        stop_signal: f.stop_signal.clone(),
        stop_timeout: f.stop_timeout,
        healthcheck: health_flags(f)?,
        cap_add: f.cap_add.clone(),
        cap_drop: f.cap_drop.clone(),
        privileged: f.privileged,
        security_opt: f.security_opt.clone(),
        network: f.network.clone(),
        network_aliases: f.network_alias.clone(),
        ip: f.ip.clone(),
        links: f.link.clone(),
        endpoints: Vec::new(),
        publish: f.publish.clone(),
        publish_all: f.publish_all,
        expose: f.expose.clone(),
        runtime: f.runtime.clone(),
        ulimits: f.ulimit.clone(),
        shm_size: f.shm_size.as_deref().map(parse_bytes).transpose()?,
        sysctls: f.sysctl.clone(),
        extra_hosts: f.add_host.clone(),
        devices: f.device.clone(),
        memory_swap: limits.memory_swap,
        memory_reservation: limits.memory_reservation,
        cpu_shares: f.resources.cpu_shares,
        oom_score_adj: f.oom_score_adj,
        group_add: f.group_add.clone(),
        dns: f.dns.clone(),
        dns_search: f.dns_search.clone(),
        dns_options: f.dns_option.clone(),
        pid_mode: f.pid.clone().unwrap_or_default(),
        ipc_mode: f.ipc.clone().unwrap_or_default(),
        uts_mode: f.uts.clone().unwrap_or_default(),
        keep_mounted: false,
    })
}

/// Creates the container, pulling its image first when it is missing (`--pull`).
fn create(engine: &Engine, f: &CreateFlags, cmd: &str) -> Result<Container, CliError> {
    let mut opts = create_options(f)?;
    opts.keep_mounted = cmd == "run";
    if let Some(path) = &f.cidfile {
        if std::path::Path::new(path).exists() {
            return Err(CliError::new(
                125,
                format!("kujira: Container ID file found, make sure the other container isn't running or delete {path}"),
            ));
        }
    }
    if !matches!(f.pull.as_str(), "missing" | "always" | "never") {
        return Err(CliError::new(
            125,
            format!(
                "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
                f.pull
            ),
        ));
    }
    let missing = engine
        .find_image(&opts.image)
        .map_err(|e| run_error(cmd, e))?
        .is_none();
    if f.pull == "always" || (missing && f.pull == "missing") {
        if missing {
            let shown = kujira_reference::Reference::parse(&opts.image)
                .map(|r| {
                    if r.tag().is_none() && r.digest().is_none() {
                        format!("{}:latest", r.familiar_string())
                    } else {
                        r.familiar_string()
                    }
                })
                .unwrap_or_else(|_| opts.image.clone());
            eprintln!("Unable to find image '{shown}' locally");
        }
        super::pull::pull_for_run(engine, &opts.image, f.platform.clone(), f.quiet).map_err(
            |e| {
                CliError::new(
                    125,
                    format!(
                        "kujira: {}\n\nRun 'kujira {cmd} --help' for more information",
                        e.message
                    ),
                )
            },
        )?;
    }
    let c = engine
        .create_container(&opts)
        .map_err(|e| run_error(cmd, e))?;
    if let Some(path) = &f.cidfile {
        std::fs::write(path, c.id()).map_err(|e| {
            CliError::new(
                125,
                format!("kujira: failed to write the container ID to the file: {e}"),
            )
        })?;
    }
    Ok(c)
}

pub fn create_cmd(engine: &Engine, args: &CreateArgs) -> Result<(), CliError> {
    let c = create(engine, &args.create, "create")?;
    println!("{}", c.id());
    Ok(())
}

pub fn run(engine: &Engine, args: &RunArgs) -> Result<(), CliError> {
    let f = &args.create;
    if f.tty && !args.detach && !std::io::stdin().is_terminal() && f.interactive {
        return Err(CliError::new(1, "the input device is not a TTY"));
    }
    let c = create(engine, f, "run")?;
    if args.detach {
        engine
            .start_container(&c, Attach::No)
            .map_err(|e| run_error("run", e))?;
        println!("{}", c.id());
        return Ok(());
    }
    let _raw = (f.tty && f.interactive && std::io::stdin().is_terminal()).then(RawTerminal::enter);
    if args.sig_proxy {
        catch_signals();
    }
    let started = engine
        .start_container(&c, Attach::Inherit)
        .map_err(|e| run_error("run", e))?;
    let code = wait_attached(started, args.sig_proxy);
    drop(_raw);
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::silent(code))
    }
}

/// Waits for an attached monitor, forwarding signals to it (it forwards them to the
/// container); its exit status is the container's.
fn wait_attached(started: Started, sig_proxy: bool) -> i32 {
    if let (true, Some(child)) = (sig_proxy, started.monitor.as_ref()) {
        relay_to(child.id() as i32);
    }
    started.wait()
}

static MONITOR_PID: AtomicI32 = AtomicI32::new(0);
/// A signal that came before the monitor's pid was known.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn relay(sig: libc::c_int) {
    let pid = MONITOR_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// Catches the signals to pass on *before* the monitor starts, so one that arrives
/// while the container is starting is not the CLI's death but the container's signal.
fn catch_signals() {
    for &sig in kujira_engine::container::monitor::FORWARDED {
        // SAFETY: installing an async-signal-safe handler.
        unsafe { libc::signal(sig, relay as *const () as libc::sighandler_t) };
    }
}

fn relay_to(pid: i32) {
    MONITOR_PID.store(pid, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending > 0 {
        // SAFETY: kill with plain integers.
        unsafe { libc::kill(pid, pending) };
    }
}

pub fn start(engine: &Engine, args: &StartArgs) -> Result<(), CliError> {
    let mut failed = Vec::new();
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            return Err(CliError::new(
                1,
                "you cannot start and attach multiple containers at once",
            ));
        }
        let c = engine.find_container(&args.containers[0])?;
        if c.is_running() {
            return attach_to(engine, &c, args.interactive);
        }
        let _raw = (c.config.tty && args.interactive && std::io::stdin().is_terminal())
            .then(RawTerminal::enter);
        catch_signals();
        let started = engine.start_container(&c, Attach::Inherit).map_err(|e| {
            let code = match &e {
                EngineError::StartFailed { code, .. } => *code,
                _ => 1,
            };
            CliError::new(code, CliError::from(e).message)
        })?;
        let code = wait_attached(started, true);
        drop(_raw);
        return if code == 0 {
            Ok(())
        } else {
            Err(CliError::silent(code))
        };
    }
    for name in &args.containers {
        let r = engine
            .find_container(name)
            .and_then(|c| engine.start_container(&c, Attach::No).map(|_| ()));
        match r {
            Ok(()) => println!("{name}"),
            Err(e) => failed.push(CliError::from(e).message),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        failed
            .push("Error: failed to start containers: ".to_string() + &args.containers.join(", "));
        Err(CliError::new(1, failed.join("\n")))
    }
}

pub fn attach(engine: &Engine, args: &AttachArgs) -> Result<(), CliError> {
    let c = engine.find_container(&args.container)?;
    attach_to(engine, &c, !args.no_stdin && c.config.open_stdin)
}

fn attach_to(engine: &Engine, c: &Container, stdin: bool) -> Result<(), CliError> {
    let _raw = (c.config.tty && stdin && std::io::stdin().is_terminal()).then(RawTerminal::enter);
    let code = engine.attach_container(c, stdin)?;
    drop(_raw);
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::silent(code as i32))
    }
}
