//! Running a bundle with an OCI runtime binary (crun, runc, youki), with a state
//! directory (`--root`) private to kujira.
//!
//! crun 1.8 refuses hybrid cgroup hosts (v1 controllers plus cgroup2 at
//! `/sys/fs/cgroup/unified`); on such a host every crun invocation runs in a private
//! mount namespace (set up in the child only, between fork and exec) from which the
//! unified mount is detached, so crun sees a plain v1 host. The host's mounts are
//! untouched: the namespace is made a slave first, so the unmount does not propagate.

use std::ffi::CString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::host::CgroupMode;
use crate::RuntimeError;

/// Which runtime a binary is (by its file name), for its quirks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    Crun,
    Runc,
    Youki,
    Other,
}

/// The standard streams a container process gets.
#[derive(Debug)]
pub struct ProcessIo {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl ProcessIo {
    /// The caller's own stdin, stdout and stderr.
    pub fn inherit() -> ProcessIo {
        ProcessIo {
            stdin: Stdio::inherit(),
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
        }
    }

    /// `/dev/null` for all three.
    pub fn null() -> ProcessIo {
        ProcessIo {
            stdin: Stdio::null(),
            stdout: Stdio::null(),
            stderr: Stdio::null(),
        }
    }
}

/// What `exec` runs in a container.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    pub args: Vec<String>,
    pub tty: bool,
    pub detach: bool,
    pub cwd: Option<String>,
    /// `KEY=VALUE` entries added to the container's environment.
    pub env: Vec<String>,
    /// `uid[:gid]`, already resolved to numbers.
    pub user: Option<String>,
    pub privileged: bool,
}

/// What `state` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    /// `creating`, `created`, `running`, `paused` or `stopped`.
    pub status: String,
    /// The container's init process, 0 once stopped.
    pub pid: i32,
    pub bundle: PathBuf,
}

/// An OCI runtime binary and kujira's state directory for it.
#[derive(Clone, Debug)]
pub struct OciRuntime {
    path: PathBuf,
    root: PathBuf,
    kind: RuntimeKind,
    hide_unified: bool,
}

/// Where kujira keeps runtime state unless told otherwise.
pub const DEFAULT_STATE_DIR: &str = "/run/kujira/runtime";

impl OciRuntime {
    /// The runtime at `path`, with its state under `/run/kujira/runtime/<name>`.
    pub fn new(path: impl Into<PathBuf>) -> OciRuntime {
        let path = path.into();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("runtime")
            .to_string();
        let kind = match name.as_str() {
            "crun" => RuntimeKind::Crun,
            "runc" => RuntimeKind::Runc,
            "youki" => RuntimeKind::Youki,
            _ => RuntimeKind::Other,
        };
        OciRuntime {
            root: Path::new(DEFAULT_STATE_DIR).join(&name),
            hide_unified: kind == RuntimeKind::Crun && CgroupMode::detect() == CgroupMode::Hybrid,
            path,
            kind,
        }
    }

    /// `name` (`crun`, `runc`, …) looked up in `PATH` and the sbin directories, or a
    /// path.
    pub fn find(name: &str) -> Option<OciRuntime> {
        if name.contains('/') {
            let p = Path::new(name);
            return p.is_file().then(|| OciRuntime::new(p));
        }
        let path_var = std::env::var("PATH").unwrap_or_default();
        let found = path_var
            .split(':')
            .chain([
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ])
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
            .map(OciRuntime::new);
        found
    }

    /// Keeps the runtime's state in `root` instead.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> OciRuntime {
        self.root = root.into();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn kind(&self) -> RuntimeKind {
        self.kind
    }

    /// Whether invocations run in a private mount namespace without the cgroup2
    /// `unified` mount (crun on a hybrid host).
    pub fn hides_unified_cgroup(&self) -> bool {
        self.hide_unified
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn command(&self) -> Result<Command, RuntimeError> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| RuntimeError::io("creating", &self.root, e))?;
        let mut cmd = Command::new(&self.path);
        cmd.arg("--root").arg(&self.root);
        // The monitor blocks the signals it forwards; the runtime (and through it the
        // container) must start with none blocked.
        // SAFETY: sigprocmask on a stack-local empty set is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
        if self.hide_unified {
            let unified = CString::new("/sys/fs/cgroup/unified").expect("no NUL in a literal");
            let slash = CString::new("/").expect("no NUL in a literal");
            // SAFETY: the hook only makes raw system calls on memory allocated before
            // the fork, which is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::unshare(libc::CLONE_NEWNS) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if libc::mount(
                        std::ptr::null(),
                        slash.as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_SLAVE,
                        std::ptr::null(),
                    ) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    if libc::umount2(unified.as_ptr(), libc::MNT_DETACH) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        Ok(cmd)
    }

    /// Runs a short runtime command that doesn't hand its streams to a container.
    fn simple(&self, action: &'static str, args: &[&str]) -> Result<Output, RuntimeError> {
        let output = self
            .command()?
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| RuntimeError::Spawn {
                runtime: self.name(),
                action,
                source,
            })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(self.failed(action, output.status, &output.stderr))
        }
    }

    fn failed(
        &self,
        action: &'static str,
        status: std::process::ExitStatus,
        stderr: &[u8],
    ) -> RuntimeError {
        RuntimeError::RuntimeFailed {
            runtime: self.name(),
            action,
            status: status.to_string(),
            stderr: String::from_utf8_lossy(stderr).trim().to_string(),
        }
    }

    fn log_path(&self, id: &str) -> PathBuf {
        let mut dir = self.root.clone().into_os_string();
        dir.push(".logs");
        PathBuf::from(dir).join(format!("{id}.log"))
    }

    /// `create`: sets the container up (namespaces, mounts, cgroups) and leaves its
    /// process waiting for `start`. The container's streams are `io`; the runtime's
    /// own errors go to a log file and come back in the error.
    pub fn create(&self, id: &str, bundle: &Path, io: ProcessIo) -> Result<(), RuntimeError> {
        self.create_with_pid(id, bundle, None, io).map(drop)
    }

    /// `create` for a container the caller will own: `--pid-file` names where the
    /// container's init pid is written and, with a terminal, `--console-socket` where
    /// the runtime sends the pseudo-terminal's master. Returns the init pid.
    pub fn create_with_pid(
        &self,
        id: &str,
        bundle: &Path,
        console_socket: Option<&Path>,
        io: ProcessIo,
    ) -> Result<i32, RuntimeError> {
        let action = "create";
        let log = self.log_path(id);
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io("creating", dir, e))?;
        }
        let pid_file = bundle.join("init.pid");
        let _ = std::fs::remove_file(&pid_file);
        let _ = std::fs::remove_file(&log);
        let mut cmd = self.command()?;
        cmd.arg("--log").arg(&log).arg(action);
        cmd.arg("--bundle").arg(bundle);
        cmd.arg("--pid-file").arg(&pid_file);
        if let Some(sock) = console_socket {
            cmd.arg("--console-socket").arg(sock);
        }
        let status = cmd
            .arg(id)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr)
            .status()
            .map_err(|source| RuntimeError::Spawn {
                runtime: self.name(),
                action,
                source,
            })?;
        let text = std::fs::read(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if !status.success() {
            return Err(self.failed(action, status, &text));
        }
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| RuntimeError::BadState {
                runtime: self.name(),
                reason: format!("no pid in {}", pid_file.display()),
            })?;
        Ok(pid)
    }

    /// A `runtime exec` command line, not yet run, for the caller to give its own
    /// streams: `--tty` lets the runtime proxy the caller's terminal.
    pub fn exec_command(&self, id: &str, exec: &ExecOptions) -> Result<Command, RuntimeError> {
        let mut cmd = self.command()?;
        cmd.arg("exec");
        if exec.tty {
            cmd.arg("--tty");
        }
        if exec.detach {
            cmd.arg("--detach");
        }
        if let Some(cwd) = &exec.cwd {
            cmd.arg("--cwd").arg(cwd);
        }
        for e in &exec.env {
            cmd.arg("--env").arg(e);
        }
        if let Some(user) = &exec.user {
            cmd.arg("--user").arg(user);
        }
        if exec.privileged {
            for c in crate::caps::supported(crate::HostFacts::last_cap()) {
                cmd.arg("--cap").arg(c);
            }
        }
        cmd.arg(id).args(&exec.args);
        Ok(cmd)
    }

    /// `pause`: freezes every process of the container.
    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.simple("pause", &["pause", id]).map(drop)
    }

    /// `resume`: thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.simple("resume", &["resume", id]).map(drop)
    }

    /// `start`: runs the created container's process.
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.simple("start", &["start", id]).map(drop)
    }

    /// `run` in the foreground with the caller's streams; returns the container's exit
    /// code (128 + the signal when it was killed).
    pub fn run(&self, id: &str, bundle: &Path) -> Result<i32, RuntimeError> {
        self.run_with_io(id, bundle, ProcessIo::inherit())
    }

    /// `run` in the foreground with the given streams.
    pub fn run_with_io(&self, id: &str, bundle: &Path, io: ProcessIo) -> Result<i32, RuntimeError> {
        let status = self
            .command()?
            .arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg(id)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr)
            .status()
            .map_err(|source| RuntimeError::Spawn {
                runtime: self.name(),
                action: "run",
                source,
            })?;
        Ok(exit_code(status))
    }

    /// `state`.
    pub fn state(&self, id: &str) -> Result<ContainerState, RuntimeError> {
        let out = self.simple("state", &["state", id])?;
        let bad = |reason: String| RuntimeError::BadState {
            runtime: self.name(),
            reason,
        };
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| bad(e.to_string()))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Ok(ContainerState {
            id: field("id").ok_or_else(|| bad("no id".into()))?,
            status: field("status").ok_or_else(|| bad("no status".into()))?,
            pid: v.get("pid").and_then(|p| p.as_i64()).unwrap_or(0) as i32,
            bundle: field("bundle").map(PathBuf::from).unwrap_or_default(),
        })
    }

    /// `kill` with a signal name (`TERM`, `SIGKILL`) or number.
    pub fn kill(&self, id: &str, signal: &str) -> Result<(), RuntimeError> {
        self.simple("kill", &["kill", id, signal]).map(drop)
    }

    /// `delete`, with `--force` to kill a running container first.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        self.simple("delete", &args).map(drop)
    }
}

/// An exit status as a shell reports it.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        _ => 255,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(OciRuntime::new("/usr/bin/crun").kind(), RuntimeKind::Crun);
        assert_eq!(OciRuntime::new("/usr/sbin/runc").kind(), RuntimeKind::Runc);
        assert_eq!(OciRuntime::new("youki").kind(), RuntimeKind::Youki);
        assert_eq!(OciRuntime::new("/opt/x/kata").kind(), RuntimeKind::Other);
        assert!(!OciRuntime::new("/usr/sbin/runc").hides_unified_cgroup());
        assert_eq!(
            OciRuntime::new("/usr/sbin/runc").root(),
            Path::new("/run/kujira/runtime/runc")
        );
        assert_eq!(
            OciRuntime::new("runc").with_root("/x").root(),
            Path::new("/x")
        );
        assert!(OciRuntime::find("definitely-not-a-runtime").is_none());
    }

    #[test]
    fn crun_hides_unified_only_on_hybrid_hosts() {
        let hybrid = CgroupMode::detect() == CgroupMode::Hybrid;
        assert_eq!(
            OciRuntime::new("/usr/bin/crun").hides_unified_cgroup(),
            hybrid
        );
    }
}
