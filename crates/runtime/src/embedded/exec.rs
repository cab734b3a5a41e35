//! `exec` with the built-in runtime: the new process joins the container's cgroups and
//! namespaces between fork and exec (the spawning thread enters the pid namespace
//! around the fork), then becomes the container's user with its capabilities,
//! limits and seccomp program, as the init did.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use oci_spec::runtime::Spec;

use super::cgroups::Cgroups;
use super::child;
use super::plan::ProcessPlan;
use crate::exec::ExecCommand;
use crate::{caps, ExecOptions, HostFacts, RuntimeError};

/// Namespaces an exec joins, in order (mount last: the others are named through
/// `/proc` descriptors opened before).
const NAMESPACES: &[&str] = &["ipc", "uts", "net", "cgroup", "mnt"];

fn bad(reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Spec(reason.to_string())
}

/// Opens a terminal in the container's own devpts: (master, slave).
fn terminal(pid: i32) -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    let root_path = format!("/proc/{pid}/root");
    let root = File::open(&root_path)
        .map_err(|e| RuntimeError::io("opening a terminal in", &root_path, e))?;
    let (master, slave) = child::open_pty(root.as_raw_fd()).map_err(|f| {
        RuntimeError::io(
            "opening a terminal in",
            &root_path,
            std::io::Error::from_raw_os_error(f.1),
        )
    })?;
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) })
}

pub(crate) fn command(
    pid: i32,
    spec: &Spec,
    cgroups: &Cgroups,
    opts: &ExecOptions,
    seccomp_cache: &Path,
) -> Result<ExecCommand, RuntimeError> {
    let mut process = spec
        .process()
        .clone()
        .ok_or_else(|| bad("the container's spec has no process"))?;
    process.set_args(Some(opts.args.clone()));
    process.set_env(Some(opts.env.clone()));
    if let Some(cwd) = &opts.cwd {
        process.set_cwd(cwd.into());
    }
    let seccomp = super::plan::seccomp_program(spec, seccomp_cache)?;
    let mut plan = ProcessPlan::from_process(&process, seccomp)?;
    if let Some(user) = &opts.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        plan.uid = uid
            .parse()
            .map_err(|_| bad(format!("invalid user {user}")))?;
        plan.gid = gid
            .parse()
            .map_err(|_| bad(format!("invalid group {user}")))?;
        plan.groups.clear();
    }
    if opts.privileged {
        let all = caps::supported(HostFacts::last_cap())
            .iter()
            .enumerate()
            .fold(0u64, |m, (n, _)| m | (1u64 << n));
        let all = all & crate::host::current_bounding_set();
        plan.caps.bounding = all;
        plan.caps.effective = all;
        plan.caps.permitted = all;
    }
    let ns_files = NAMESPACES
        .iter()
        .map(|ns| {
            let p = format!("/proc/{pid}/ns/{ns}");
            File::open(&p).map_err(|e| RuntimeError::io("opening", p, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pid_ns = File::open(format!("/proc/{pid}/ns/pid"))
        .map_err(|e| RuntimeError::io("opening", format!("/proc/{pid}/ns/pid"), e))?;
    let procs = cgroups.procs()?;

    let mut cmd = Command::new(
        plan.argv
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let master = if opts.tty {
        let (master, slave) = terminal(pid)?;
        let clone = |fd: &OwnedFd| {
            fd.try_clone()
                .map_err(|e| RuntimeError::io("duplicating", "the terminal", e))
        };
        cmd.stdin(Stdio::from(clone(&slave)?));
        cmd.stdout(Stdio::from(clone(&slave)?));
        cmd.stderr(Stdio::from(slave));
        Some(master)
    } else {
        None
    };
    let tty = opts.tty;
    let ns_fds: Vec<RawFd> = ns_files.iter().map(|f| f.as_raw_fd()).collect();
    let proc_fds: Vec<RawFd> = procs.iter().map(|f| f.as_raw_fd()).collect();
    let plan = Arc::new(plan);
    // The descriptors must stay open until the fork: the closure owns them.
    let keep = Arc::new((ns_files, procs));
    // SAFETY: the hook runs in the forked child, single-threaded, and only makes
    // system calls on descriptors and memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let _ = &keep;
            let fail = |f: child::Fail| std::io::Error::from_raw_os_error(f.1);
            for fd in &proc_fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for fd in &ns_fds {
                if libc::setns(*fd, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if tty {
                libc::setsid();
                // stdout is the terminal's slave (stdin too, unless the caller
                // replaced it).
                if libc::ioctl(1, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let early = libc::chdir(plan.cwd.as_ptr()) == 0;
            child::become_user(&plan).map_err(fail)?;
            if !early && libc::chdir(plan.cwd.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Err(fail(child::exec(&plan)))
        });
    }
    Ok(ExecCommand::in_namespace(cmd, pid_ns, master))
}
