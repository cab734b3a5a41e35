//! kujira's built-in OCI runtime: the monitor creates and starts the container in
//! process (a fork, no runtime binary), which spares every start the runtime's own
//! exec, its config parsing and its separate `create`/`start`/`delete` processes.
//!
//! It follows the OCI runtime's steps: cgroups created and limited by the parent,
//! namespaces unshared by the child, the spec's mounts made under the rootfs (each
//! mount point resolved inside it with `openat2(RESOLVE_IN_ROOT)`, so an image's
//! symlinks cannot redirect a mount to the host), `pivot_root`, default devices,
//! masked and read-only paths, then rlimits, user, capabilities, no_new_privs and the
//! seccomp program (precompiled, see [`crate::seccomp_bpf`]). The init waits for
//! `start` on a pipe and reports a failed exec back on another.
//!
//! State for other processes (`delete`, `pause`, `exec`) is a small JSON file per
//! container under the state directory; the container's processes are found through
//! its init pid (whose start time is recorded, so a reused pid is never mistaken for
//! it) and its cgroups.

pub(crate) mod cgroups;
mod child;
mod devices_bpf;
mod exec;
mod plan;

pub use cgroups::update_resources;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oci_spec::runtime::Spec;

use crate::exec::ExecCommand;
use crate::RuntimeError;

/// The name `--runtime` knows the built-in runtime by.
pub const NAME: &str = "kujira";

/// The standard streams of a container's init: `None` is `/dev/null`.
#[derive(Debug, Default)]
pub struct ChildIo {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// What other processes need to know about a created container.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct State {
    pid: i32,
    /// The init's start time (field 22 of `/proc/PID/stat`).
    start_time: u64,
    bundle: PathBuf,
    cgroups: cgroups::Cgroups,
}

/// A created container's control pipe (start) and report pipe (a failed exec), held
/// by its creator.
#[derive(Debug)]
struct Pending {
    control: OwnedFd,
    sync: File,
}

/// The built-in runtime and its state directory.
#[derive(Debug)]
pub struct Embedded {
    root: PathBuf,
    pending: Mutex<HashMap<String, Pending>>,
}

fn failed(action: &'static str, message: String) -> RuntimeError {
    match action {
        "create" | "start" => RuntimeError::Embedded(message),
        _ => RuntimeError::RuntimeFailed {
            runtime: NAME.into(),
            action,
            status: "error".into(),
            stderr: message,
        },
    }
}

fn strerror(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// The start time of `pid`, or `None` when it is gone.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Default for Embedded {
    fn default() -> Self {
        Embedded::new()
    }
}

impl Embedded {
    pub fn new() -> Embedded {
        Embedded {
            root: Path::new(crate::oci_runtime::DEFAULT_STATE_DIR).join(NAME),
            pending: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Embedded {
        self.root = root.into();
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn state_path(&self, id: &str) -> PathBuf {
        self.root.join(id).join("state.json")
    }

    fn load(&self, id: &str) -> Result<State, RuntimeError> {
        let path = self.state_path(id);
        let text = std::fs::read(&path).map_err(|e| RuntimeError::io("reading", &path, e))?;
        serde_json::from_slice(&text).map_err(|e| RuntimeError::BadState {
            runtime: NAME.into(),
            reason: format!("{}: {e}", path.display()),
        })
    }

    fn save(&self, id: &str, state: &State) -> Result<(), RuntimeError> {
        let path = self.state_path(id);
        let dir = self.root.join(id);
        std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io("creating", &dir, e))?;
        let tmp = dir.join(".state.json");
        let text = serde_json::to_vec(state).map_err(|e| RuntimeError::Spec(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| RuntimeError::io("writing", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| RuntimeError::io("writing", &path, e))
    }

    /// The init pid of a live container.
    fn live_pid(&self, state: &State) -> Option<i32> {
        (state.pid > 0 && start_time(state.pid) == Some(state.start_time)).then_some(state.pid)
    }

    /// Prepares this process for a container start that follows soon (see
    /// [`cgroups::warm_up_migration`]); call it as early as possible.
    pub fn warm_up(&self) {
        cgroups::warm_up_migration();
    }

    /// Whether there is state for `id` (a container created and not deleted).
    pub fn has_state(&self, id: &str) -> bool {
        self.root.join(id).exists()
    }

    /// Creates container `id` from the bundle: its init is set up and waits for
    /// [`Embedded::start`], which only this same `Embedded` can give. With a terminal
    /// the master is sent to `console_socket`. Returns the init's pid.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        console_socket: Option<&Path>,
        io: ChildIo,
    ) -> Result<i32, RuntimeError> {
        let config = bundle.join("config.json");
        let spec = Spec::load(&config).map_err(|e| RuntimeError::BadState {
            runtime: NAME.into(),
            reason: format!("{}: {e}", config.display()),
        })?;
        let plan =
            plan::InitPlan::from_spec(&spec, bundle, console_socket, &self.root.join("seccomp"))?;
        let linux = spec.linux().as_ref();
        let cg_path = linux
            .and_then(|l| l.cgroups_path().clone())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("/kujira/{id}"));
        let cg = cgroups::Cgroups::create(&cg_path, linux.and_then(|l| l.resources().as_ref()))?;
        match self.fork_init(id, &plan, &cg, io) {
            Ok((pid, pending)) => {
                let state = State {
                    pid,
                    start_time: start_time(pid).unwrap_or(0),
                    bundle: bundle.to_path_buf(),
                    cgroups: cg,
                };
                if let Err(e) = self.save(id, &state) {
                    // SAFETY: kill with plain integers.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    let _ = state.cgroups.remove(true);
                    return Err(e);
                }
                if let Ok(mut map) = self.pending.lock() {
                    map.insert(id.to_string(), pending);
                }
                Ok(pid)
            }
            Err(e) => {
                let _ = cg.remove(true);
                Err(e)
            }
        }
    }

    fn fork_init(
        &self,
        id: &str,
        plan: &plan::InitPlan,
        cg: &cgroups::Cgroups,
        io: ChildIo,
    ) -> Result<(i32, Pending), RuntimeError> {
        let pipe = || {
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| RuntimeError::io("creating a pipe for", id, e.into()))
        };
        let (sync_r, sync_w) = pipe()?;
        let (control_r, control_w) = pipe()?;
        let procs = cg.procs()?;
        let null = File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| RuntimeError::io("opening", "/dev/null", e))?;
        let fd = |o: &Option<OwnedFd>| o.as_ref().map_or(null.as_raw_fd(), |f| f.as_raw_fd());
        let fds = child::ChildFds {
            stdio: [fd(&io.stdin), fd(&io.stdout), fd(&io.stderr)],
            sync: sync_w.as_raw_fd(),
            control: control_r.as_raw_fd(),
            cgroups: procs.iter().map(|f| f.as_raw_fd()).collect(),
        };
        // SAFETY: the child only runs `child::intermediate`, which keeps to system
        // calls and memory prepared here, and never returns.
        let first = unsafe { libc::fork() };
        if first < 0 {
            return Err(RuntimeError::io(
                "forking for",
                id,
                std::io::Error::last_os_error(),
            ));
        }
        if first == 0 {
            child::intermediate(plan, &fds);
        }
        drop((sync_w, control_r, io, null));
        let mut control = File::from(control_w);
        let mut sync = File::from(sync_r);
        let mut pid = None;
        let mut error = None;
        let mut join_error = None;
        let mut ready = false;
        while !(ready && pid.is_some()) {
            let mut kind = [0u8; 1];
            if sync.read_exact(&mut kind).is_err() {
                break;
            }
            match kind[0] {
                child::MSG_PID => {
                    let mut b = [0u8; 4];
                    if sync.read_exact(&mut b).is_err() {
                        break;
                    }
                    let p = i32::from_le_bytes(b);
                    pid = Some(p);
                    if let Err(e) = let_join_cgroups(&mut control) {
                        // The init's own report, if it died first, says more.
                        join_error = Some(e);
                    }
                }
                child::MSG_READY => ready = true,
                child::MSG_ERROR => {
                    error = Some(read_error(&mut sync));
                    break;
                }
                _ => break,
            }
        }
        if error.is_none() {
            error = join_error;
        }
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(first, &mut status, 0) };
        if let Some(msg) = error {
            if let Some(p) = pid {
                // SAFETY: kill with plain integers.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            return Err(failed("create", msg));
        }
        match pid {
            Some(p) if ready => Ok((
                p,
                Pending {
                    control: control.into(),
                    sync,
                },
            )),
            _ => Err(failed(
                "create",
                "the container's init exited during setup".into(),
            )),
        }
    }

    /// Starts the created container's command; an exec that fails (a missing
    /// command) is this call's error.
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let pending = self
            .pending
            .lock()
            .ok()
            .and_then(|mut m| m.remove(id))
            .ok_or_else(|| {
                failed(
                    "start",
                    format!("container {id} was not created by this process"),
                )
            })?;
        let Pending { control, mut sync } = pending;
        let mut start = File::from(control);
        std::io::Write::write_all(&mut start, &[child::CTL_START])
            .map_err(|e| failed("start", format!("the container's init is gone: {e}")))?;
        drop(start);
        let mut kind = [0u8; 1];
        match sync.read(&mut kind) {
            Ok(1) if kind[0] == child::MSG_ERROR => Err(failed("start", read_error(&mut sync))),
            _ => Ok(()),
        }
    }

    /// Runs the container in the foreground: create, start, wait, delete; its exit
    /// status (128 + the signal when it was killed). The calling process is a child
    /// subreaper while it runs, so that the init (re-parented on its way) is its
    /// child.
    pub fn run(&self, id: &str, bundle: &Path, io: ChildIo) -> Result<i32, RuntimeError> {
        self.run_with(id, bundle, io, |_| Ok(()))
    }

    /// [`Embedded::run`], with `before_start` called with the init's pid between
    /// create and start (its namespaces exist, its process has not run): where a
    /// caller plugs it into a network.
    pub fn run_with(
        &self,
        id: &str,
        bundle: &Path,
        io: ChildIo,
        before_start: impl FnOnce(i32) -> Result<(), RuntimeError>,
    ) -> Result<i32, RuntimeError> {
        let _subreaper = Subreaper::hold();
        let pid = self.create(id, bundle, None, io)?;
        if let Err(e) = before_start(pid) {
            let _ = self.delete(id, true);
            return Err(e);
        }
        let started = self.start(id);
        let mut status = 0;
        // SAFETY: waiting for our own child into our own int.
        while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
        let deleted = self.delete(id, true);
        started?;
        deleted?;
        Ok(if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            libc::WEXITSTATUS(status)
        })
    }

    /// Deletes the container: its init killed first with `force`, then its cgroups
    /// and state removed.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        if let Ok(mut m) = self.pending.lock() {
            m.remove(id);
        }
        let state = match self.load(id) {
            Ok(s) => s,
            Err(_) if !self.has_state(id) => return Ok(()),
            Err(e) => {
                let _ = std::fs::remove_dir_all(self.root.join(id));
                return Err(e);
            }
        };
        if let Some(pid) = self.live_pid(&state) {
            if !force {
                return Err(failed("delete", format!("container {id} is still running")));
            }
            // SAFETY: kill with plain integers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        state.cgroups.remove(true)?;
        let dir = self.root.join(id);
        std::fs::remove_dir_all(&dir).map_err(|e| RuntimeError::io("removing", dir, e))
    }

    /// Freezes every process of the container.
    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.load(id)?.cgroups.freeze(true)
    }

    /// Thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.load(id)?.cgroups.freeze(false)
    }

    /// A process to run in the running container `id`, for the caller to spawn.
    pub fn exec_command(
        &self,
        id: &str,
        opts: &crate::ExecOptions,
    ) -> Result<ExecCommand, RuntimeError> {
        let state = self.load(id)?;
        let pid = self
            .live_pid(&state)
            .ok_or_else(|| failed("exec", format!("container {id} is not running")))?;
        let config = state.bundle.join("config.json");
        let spec = Spec::load(&config).map_err(|e| RuntimeError::BadState {
            runtime: NAME.into(),
            reason: format!("{}: {e}", config.display()),
        })?;
        exec::command(pid, &spec, &state.cgroups, opts, &self.root.join("seccomp"))
    }
}

/// Tells the init to join the container's cgroups (it moves itself).
fn let_join_cgroups(control: &mut File) -> Result<(), String> {
    use std::io::Write;
    control
        .write_all(&[child::CTL_CGROUPS])
        .map_err(|e| format!("the container's init is gone: {e}"))
}

fn read_error(sync: &mut File) -> String {
    let mut head = [0u8; 8];
    if sync.read_exact(&mut head).is_err() {
        return "the container's init failed".into();
    }
    let errno = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    let mut text = vec![0u8; len.min(4096)];
    let _ = sync.read_exact(&mut text);
    let what = String::from_utf8_lossy(&text);
    if what.contains("executable file not found") {
        what.into_owned()
    } else {
        format!("{what}: {}", strerror(errno))
    }
}

/// Foreground runs in progress in this process, and whether it was a child
/// subreaper before the first of them.
static SUBREAPER: std::sync::Mutex<(usize, bool)> = std::sync::Mutex::new((0, false));

/// This process as a child subreaper for as long as a foreground run holds it. The
/// last one out gives the role back, so that a long-lived caller (`kujira serve`
/// after a build) does not go on adopting — and never reaping — the orphans of
/// processes it did not start (a container init whose monitor was killed).
struct Subreaper;

impl Subreaper {
    fn hold() -> Subreaper {
        let mut g = SUBREAPER.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 == 0 {
            let mut was: libc::c_int = 0;
            // SAFETY: prctl writing into our own int, then with integer arguments.
            unsafe {
                libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut was as *mut libc::c_int);
                libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            }
            g.1 = was != 0;
        }
        g.0 += 1;
        Subreaper
    }
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        let mut g = SUBREAPER.lock().unwrap_or_else(|p| p.into_inner());
        g.0 -= 1;
        if g.0 == 0 && !g.1 {
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) };
        }
    }
}
