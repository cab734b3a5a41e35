//! `run`, `create`, `start`: containers made from images and started through their
//! monitor; a foreground `run` is attached to the caller's terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI32, Ordering};

use kujira_engine::container::create::CreateRequest;
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

/// Creates the container, pulling its image first when it is missing (`--pull`).
fn create(
    engine: &Engine,
    f: &CreateFlags,
    cmd: &str,
    detach: bool,
) -> Result<Container, CliError> {
    let mut body = super::create_body::create_body(f).map_err(|e| {
        CliError::new(
            e.code,
            format!(
                "kujira: {}\n\nRun 'kujira {cmd} --help' for more information",
                e.message
            ),
        )
    })?;
    if detach {
        // As the docker CLI's `run -d`: nothing is attached.
        body.attach_stdin = Some(false);
        body.attach_stdout = Some(false);
        body.attach_stderr = Some(false);
    }
    let image = body.image.clone().unwrap_or_default();
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
        .find_image(&image)
        .map_err(|e| run_error(cmd, e))?
        .is_none();
    if f.pull == "always" || (missing && f.pull == "missing") {
        if missing {
            let shown = kujira_reference::Reference::parse(&image)
                .map(|r| {
                    if r.tag().is_none() && r.digest().is_none() {
                        format!("{}:latest", r.familiar_string())
                    } else {
                        r.familiar_string()
                    }
                })
                .unwrap_or_else(|_| image.clone());
            eprintln!("Unable to find image '{shown}' locally");
        }
        super::pull::pull_for_run(engine, &image, f.platform.clone(), f.quiet).map_err(|e| {
            CliError::new(
                125,
                format!(
                    "kujira: {}\n\nRun 'kujira {cmd} --help' for more information",
                    e.message
                ),
            )
        })?;
    }
    let req = CreateRequest {
        name: f.name.clone(),
        body,
        keep_mounted: cmd == "run",
    };
    let c = engine
        .create_container(&req)
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
    let c = create(engine, &args.create, "create", false)?;
    println!("{}", c.id());
    Ok(())
}

pub fn run(engine: &Engine, args: &RunArgs) -> Result<(), CliError> {
    let f = &args.create;
    if f.tty && !args.detach && !std::io::stdin().is_terminal() && f.interactive {
        return Err(CliError::new(1, "the input device is not a TTY"));
    }
    let c = create(engine, f, "run", args.detach)?;
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
        let _raw = (c.config.tty() && args.interactive && std::io::stdin().is_terminal())
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
    attach_to(engine, &c, !args.no_stdin && c.config.open_stdin())
}

fn attach_to(engine: &Engine, c: &Container, stdin: bool) -> Result<(), CliError> {
    let _raw = (c.config.tty() && stdin && std::io::stdin().is_terminal()).then(RawTerminal::enter);
    let code = engine.attach_container(c, stdin)?;
    drop(_raw);
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::silent(code as i32))
    }
}
