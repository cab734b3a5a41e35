//! The monitor: one process per running container (the kujira binary re-executed, as
//! conmon is for podman). It outlives the CLI that started it and owns the container
//! for its whole life: the overlay mount, the published ports, the json-file log, the
//! terminal, the exit code, `--rm` and the restart policy. It holds the container's
//! monitor lock while it lives, which is how everyone else knows it is alive.
//!
//! It is the child subreaper of the runtime it runs, so the container's init process,
//! once `runtime create` has exited, is its child and its exit status comes straight
//! from `waitpid`.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use kujira_runtime::console::ConsoleSocket;
use kujira_runtime::logs::{now_rfc3339_nanos, JsonLogWriter};
use kujira_runtime::ports;
use kujira_runtime::{Bundle, ChildIo, Runtime, RuntimeError};
use kujira_store::StoreLock;

use super::attach::{self, pump, Streams};
use super::{Container, ContainerPaths};
use crate::{Engine, EngineError};

/// What the monitor tells the process that started it, once: one JSON line on the
/// sync pipe.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SyncMessage {
    pub ok: bool,
    /// The exit status the starter should give when `ok` is false (125, 126, 127).
    pub code: i32,
    pub message: String,
}

/// The starter's pipe: one line when the container has started (or failed to), and
/// for an attached starter a last one with the exit status once the container is
/// gone, sent before the monitor tidies up so that `run` need not wait for that.
struct SyncPipe(Option<File>);

impl SyncPipe {
    fn send(&mut self, msg: SyncMessage) {
        if let Some(f) = self.0.as_mut() {
            if let Ok(mut line) = serde_json::to_vec(&msg) {
                line.push(b'\n');
                // A detached starter has gone: nobody reads, and that is fine.
                let _ = f.write_all(&line);
            }
        }
    }

    /// Reports the exit status and closes the pipe, after this process's stdio (the
    /// attached caller's) is let go, so the caller's output ends here too.
    fn finish(&mut self, code: i32) {
        if self.0.is_none() {
            return;
        }
        release_stdio();
        self.send(SyncMessage {
            ok: true,
            code,
            message: EXITED.into(),
        });
        self.0 = None;
    }
}

/// The message of the last line on the sync pipe.
pub const EXITED: &str = "exited";

/// Points stdin, stdout and stderr at `/dev/null`.
fn release_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// The container's init pid while it runs (the signal forwarder's target).
static TARGET: AtomicI32 = AtomicI32::new(0);
/// The terminal master while there is one (for window-size changes).
static MASTER: AtomicI32 = AtomicI32::new(-1);

/// The signals a container's starter and monitor pass on to it (Docker's sig-proxy).
pub const FORWARDED: &[libc::c_int] = &[
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// A runtime failure's exit status, as Docker gives it: 127 for a command that is not
/// there, 126 for one that cannot be run, 125 for anything else.
pub fn create_error_code(e: &RuntimeError) -> i32 {
    let text = e.to_string().to_lowercase();
    if text.contains("not found") || text.contains("no such file or directory") {
        127
    } else if text.contains("permission denied") || text.contains("exec format error") {
        126
    } else {
        125
    }
}

impl Engine {
    /// The monitor's main: runs container `id` until it is done for good and returns
    /// the exit status to exit with. `attached`: the container's streams are also
    /// copied to and from this process's own stdio (a foreground `run`/`start -a`).
    pub fn run_monitor(&self, id: &str, attached: bool, sync_fd: Option<i32>) -> i32 {
        // SAFETY: the starter passed this descriptor to us and nothing else owns it.
        let sync = sync_fd.map(|fd| unsafe { File::from_raw_fd(fd) });
        let mut sync = SyncPipe(sync);
        match self.monitor(id, attached, &mut sync) {
            Ok(code) => code,
            Err((code, e)) => {
                sync.send(SyncMessage {
                    ok: false,
                    code,
                    message: e,
                });
                code
            }
        }
    }

    fn monitor(&self, id: &str, attached: bool, sync: &mut SyncPipe) -> Result<i32, (i32, String)> {
        let fail125 = |e: EngineError| (125, e.to_string());
        self.store
            .meta
            .relax_durability()
            .map_err(|e| fail125(e.into()))?;
        let c = self.find_container(id).map_err(fail125)?;
        let paths = self.container_paths(c.id());
        let _lock = match StoreLock::try_exclusive(&paths.monitor_lock()) {
            Ok(Some(l)) => l,
            Ok(None) => return Err((125, format!("container {} is already running", c.id()))),
            Err(e) => return Err((125, e.to_string())),
        };
        block_signals();
        std::thread::spawn(forward_signals);
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

        let runtime = self.runtime(c.config.runtime()).map_err(fail125)?;
        let bundle = self.mount_rootfs(&c, &paths).map_err(fail125)?;
        let mut maps = c.config.ports.clone();
        let listeners = ports::bind(&mut maps).map_err(|e| (125, e.to_string()));
        let listeners = match listeners {
            Ok(l) => l,
            Err(e) => {
                let _ = bundle.unmount();
                return Err(e);
            }
        };
        if maps != c.config.ports {
            let mut cfg = c.config.clone();
            cfg.ports = maps.clone();
            if let Ok(text) = serde_json::to_string(&cfg) {
                let _ = self.store.meta.set_container_config(c.id(), &text);
            }
        }
        let forwarder = ports::Forwarder::start(&maps, listeners);
        let log =
            Arc::new(JsonLogWriter::open(&paths.log(c.id())).map_err(|e| (125, e.to_string()))?);
        let streams = Streams::new(log, attached);
        let attach_path = attach::socket_path(self, c.id());
        attach::serve(attach_path.clone(), streams.clone()).map_err(fail125)?;

        let mut state = c.row.state.clone();
        let mut first = true;
        let code = loop {
            let generation = self.run_once(&c, &paths, &runtime, &streams, &forwarder);
            let (pid, pumps, attachment) = match generation {
                Ok(v) => v,
                Err(e) => {
                    let code = create_error_code(&e);
                    let _ = runtime.delete(c.id(), true);
                    state.status = if first {
                        "created".into()
                    } else {
                        "exited".into()
                    };
                    state.exit_code = code as i64;
                    state.error = e.to_string();
                    state.pid = 0;
                    let _ = self.store.meta.set_container_state(c.id(), &state);
                    if first {
                        let _ = bundle.unmount();
                        if c.config.auto_remove() {
                            let _ = self.delete_container_files(c.id(), true);
                        }
                        if let RuntimeError::Network(m) = &e {
                            return Err((125, m.clone()));
                        }
                        return Err((code, format!("OCI runtime create failed: {e}")));
                    }
                    break code;
                }
            };
            state.status = "running".into();
            state.pid = pid as i64;
            state.started_at = now_rfc3339_nanos();
            state.error.clear();
            state.oom_killed = false;
            let _ = self.store.meta.set_container_state(c.id(), &state);
            if first {
                sync.send(SyncMessage {
                    ok: true,
                    code: 0,
                    message: String::new(),
                });
                first = false;
            }
            // After the starter has its answer: the log costs it no latency.
            self.emit_container(&c, "start", &[]);
            let stop_checks = Arc::new(AtomicBool::new(false));
            let checker = self.spawn_health_checker(&c, stop_checks.clone());
            let code = wait_for(pid);
            stop_checks.store(true, Ordering::SeqCst);
            if let Some(t) = checker {
                let _ = t.join();
            }
            TARGET.store(0, Ordering::SeqCst);
            for p in pumps {
                let _ = p.join();
            }
            streams.set_stdin(None);
            MASTER.store(-1, Ordering::SeqCst);
            let oom = oom_killed(c.id());
            self.detach_networks(&c, attachment);
            let _ = runtime.delete(c.id(), true);
            state = self
                .store
                .meta
                .container(c.id())
                .ok()
                .flatten()
                .map(|r| r.state)
                .unwrap_or(state);
            state.status = "exited".into();
            state.pid = 0;
            state.exit_code = code as i64;
            state.finished_at = now_rfc3339_nanos();
            state.oom_killed = oom;
            if oom {
                self.emit_container(&c, "oom", &[]);
            }
            self.emit_container(&c, "die", &[("exitCode", &code.to_string())]);
            let restart = !state.stop_requested
                && c.config
                    .restart()
                    .wants_restart(code as i64, state.restart_count);
            if !restart {
                let _ = self.store.meta.set_container_state(c.id(), &state);
                break code;
            }
            state.status = "restarting".into();
            state.restart_count += 1;
            let _ = self.store.meta.set_container_state(c.id(), &state);
            // Docker's back-off: 100 ms doubling per consecutive restart, at most a minute.
            let delay = Duration::from_millis(100u64 << state.restart_count.clamp(0, 9) as u64);
            if self.sleep_unless_stopped(c.id(), delay.min(Duration::from_secs(60))) {
                state.status = "exited".into();
                let _ = self.store.meta.set_container_state(c.id(), &state);
                break code;
            }
        };
        streams.close_clients();
        let _ = std::fs::remove_file(&attach_path);
        let _ = bundle.unmount();
        let away = if c.config.auto_remove() {
            self.unlist_container(c.id(), true).ok().flatten()
        } else {
            None
        };
        sync.finish(code);
        if let Some(away) = away {
            let _ = kujira_store::tmp::remove_tree(&away);
        }
        Ok(code)
    }

    /// Sleeps `delay`, waking early (and returning true) when a stop is requested.
    fn sleep_unless_stopped(&self, id: &str, delay: Duration) -> bool {
        let step = Duration::from_millis(50);
        let mut left = delay;
        while !left.is_zero() {
            let d = left.min(step);
            std::thread::sleep(d);
            left -= d;
            let stopped = self
                .store
                .meta
                .container(id)
                .ok()
                .flatten()
                .is_none_or(|r| r.state.stop_requested);
            if stopped {
                return true;
            }
        }
        false
    }

    pub(crate) fn mount_rootfs(
        &self,
        c: &Container,
        paths: &ContainerPaths,
    ) -> Result<Bundle, EngineError> {
        let mut lowers: Vec<std::path::PathBuf> = c
            .config
            .layers
            .iter()
            .filter_map(|l| crate::Digest::parse(l).ok())
            .map(|d| self.store.layers.diff_dir(&d))
            .collect();
        lowers.insert(0, paths.init());
        Bundle::mount(
            &paths.bundle(),
            &lowers,
            &paths.upper(),
            &paths.work(),
            c.config.auto_remove(),
        )
        .map_err(EngineError::Runtime)
    }

    /// One run of the container's process: its streams set up, `create` and `start`.
    /// Returns the init pid and the threads pumping its output.
    fn run_once(
        &self,
        c: &Container,
        paths: &ContainerPaths,
        runtime: &Runtime,
        streams: &Arc<Streams>,
        forwarder: &ports::Forwarder,
    ) -> Result<(i32, Vec<JoinHandle<()>>, crate::network::Attachment), RuntimeError> {
        let attached = streams.foreground;
        // `--network container:ID`: the runtime is started from a thread inside
        // that container's namespace, and the spec asks for none of its own.
        let join = self
            .target_netns(c)
            .map_err(|e| RuntimeError::Network(e.to_string()))?;
        let join = join.as_ref();
        let bundle = paths.bundle();
        let mut pumps = Vec::new();
        let pid = if c.config.tty() {
            // Unix socket paths are short (108 bytes): keep it under the store's run/.
            let sock_path = self
                .root()
                .join("run")
                .join(format!("console-{}.sock", &c.id()[..12]));
            let sock = ConsoleSocket::bind(&sock_path)?;
            let receiver = std::thread::scope(|s| {
                let h = s.spawn(|| sock.receive_master());
                let pid = create(
                    runtime,
                    c.id(),
                    &bundle,
                    Some(sock.path()),
                    ChildIo::default(),
                    join,
                );
                match pid {
                    Ok(pid) => h.join().map(|m| m.map(|m| (pid, m))).unwrap_or_else(|_| {
                        Err(RuntimeError::Spec("terminal receiver panicked".into()))
                    }),
                    Err(e) => {
                        // Unblock the receiver: connect once and go.
                        let _ = std::os::unix::net::UnixStream::connect(sock.path());
                        let _ = h.join();
                        Err(e)
                    }
                }
            });
            let (pid, master) = receiver?;
            if attached {
                copy_winsize(0, master.as_raw_fd());
            }
            MASTER.store(master.as_raw_fd(), Ordering::SeqCst);
            let master = File::from(master);
            let out = master
                .try_clone()
                .map_err(|e| RuntimeError::io("cloning", &bundle, e))?;
            let s2 = streams.clone();
            pumps.push(std::thread::spawn(move || pump(out, &s2, "stdout")));
            if c.config.open_stdin() {
                let to = master
                    .try_clone()
                    .map_err(|e| RuntimeError::io("cloning", &bundle, e))?;
                if attached {
                    let mut to2 = to
                        .try_clone()
                        .map_err(|e| RuntimeError::io("cloning", &bundle, e))?;
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to2);
                    });
                }
                streams.set_stdin(Some(to));
            }
            // Keep the master open while the container lives, attached or not.
            std::mem::forget(master);
            pid
        } else {
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            let stdin = if c.config.open_stdin() {
                let (in_r, in_w) = pipe()?;
                let w = File::from(in_w);
                if attached {
                    // A foreground `run -i`: the caller's stdin, and its end is the
                    // container's end of input (Docker's StdinOnce).
                    let mut w2 = w;
                    let s2 = streams.clone();
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut w2);
                        drop(w2);
                        s2.set_stdin(None);
                    });
                } else {
                    // Held (and handed to attach clients) so a detached container's
                    // stdin stays open until it exits.
                    streams.set_stdin(Some(w));
                }
                Some(in_r)
            } else {
                None
            };
            let io = ChildIo {
                stdin,
                stdout: Some(out_w),
                stderr: Some(err_w),
            };
            let pid = create(runtime, c.id(), &bundle, None, io, join)?;
            let s2 = streams.clone();
            pumps.push(std::thread::spawn(move || {
                pump(File::from(out_r), &s2, "stdout")
            }));
            let s3 = streams.clone();
            pumps.push(std::thread::spawn(move || {
                pump(File::from(err_r), &s3, "stderr")
            }));
            pid
        };
        let attachment = match self.attach_networks(c, pid) {
            Ok(a) => a,
            Err(e) => {
                let _ = runtime.delete(c.id(), true);
                return Err(RuntimeError::Network(e.to_string()));
            }
        };
        if let Ok(ns) = File::open(format!("/proc/{pid}/ns/net")) {
            forwarder.set_netns(ns);
        }
        TARGET.store(pid, Ordering::SeqCst);
        if let Err(e) = runtime.start(c.id()) {
            TARGET.store(0, Ordering::SeqCst);
            self.detach_networks(c, attachment);
            return Err(e);
        }
        Ok((pid, pumps, attachment))
    }
}

/// `runtime create`, so that the container's init (waiting to be started) is already
/// this subreaper's child when it runs: with `run --detach`, an init that exits before
/// the runtime does may be reaped by the runtime and its status lost. A stale state
/// left by a crash between a run and its delete is cleared once first.
fn create(
    runtime: &Runtime,
    id: &str,
    bundle: &std::path::Path,
    console: Option<&std::path::Path>,
    io: ChildIo,
    netns: Option<&File>,
) -> Result<i32, RuntimeError> {
    if runtime.has_state(id) {
        let _ = runtime.delete(id, true);
    }
    let Some(ns) = netns else {
        return runtime.create(id, bundle, console, io);
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                RuntimeError::Network(format!("joining the network namespace: {e}"))
            })?;
            runtime.create(id, bundle, console, io)
        })
        .join()
        .unwrap_or_else(|_| Err(RuntimeError::Spec("runtime create panicked".into())))
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| RuntimeError::io("creating a pipe for", "the container", e.into()))
}

/// Waits for `pid`, reaping any other orphan on the way; its exit status as a shell
/// reports it.
/// Exit codes of the monitor's other children that [`wait_for`] reaped (a health
/// check's exec), for their spawner to collect.
static REAPED: std::sync::Mutex<Option<std::collections::HashMap<i32, i32>>> =
    std::sync::Mutex::new(None);

/// The exit code of child `pid` if the monitor's reaper took it.
pub(crate) fn take_reaped(pid: i32) -> Option<i32> {
    REAPED.lock().ok()?.as_mut()?.remove(&pid)
}

fn wait_for(pid: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes into our own int.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        let code = if libc::WIFEXITED(status) {
            Some(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            Some(128 + libc::WTERMSIG(status))
        } else {
            None
        };
        if r == pid {
            if let Some(code) = code {
                return code;
            }
            continue;
        }
        if let (true, Some(code)) = (r > 0, code) {
            if let Ok(mut m) = REAPED.lock() {
                let m = m.get_or_insert_with(Default::default);
                // Bounded: orphans nobody asks about are not kept for ever.
                if m.len() > 1024 {
                    m.clear();
                }
                m.insert(r, code);
            }
        }
        if r < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            // No children left: the init is gone without us seeing it.
            return 255;
        }
    }
}

fn block_signals() {
    // SAFETY: building and installing a signal mask for this thread (and the threads
    // it spawns from now on).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, *s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Forwards the signals the monitor gets to the container (Docker's sig-proxy), and
/// window-size changes to its terminal.
fn forward_signals() {
    // SAFETY: sigwait on a set we built; kill with plain integers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, *s);
        }
        loop {
            let mut sig = 0;
            if libc::sigwait(&set, &mut sig) != 0 {
                continue;
            }
            if sig == libc::SIGWINCH {
                let m = MASTER.load(Ordering::SeqCst);
                if m >= 0 {
                    copy_winsize(0, m);
                }
                continue;
            }
            let pid = TARGET.load(Ordering::SeqCst);
            if pid > 0 {
                libc::kill(pid, sig);
            }
        }
    }
}

/// Gives terminal `to` the window size of terminal `from` (if it is one).
fn copy_winsize(from: i32, to: i32) {
    // SAFETY: ioctls on descriptors we hold, into a struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Whether the kernel's OOM killer hit the container's cgroup (v1 `memory.oom_control`
/// or v2 `memory.events`).
fn oom_killed(id: &str) -> bool {
    let candidates = [
        format!("/sys/fs/cgroup/memory/kujira/{id}/memory.oom_control"),
        format!("/sys/fs/cgroup/kujira/{id}/memory.events"),
    ];
    candidates.iter().any(|p| {
        std::fs::read_to_string(p).is_ok_and(|t| {
            t.lines().any(|l| {
                let mut it = l.split_whitespace();
                it.next() == Some("oom_kill")
                    && it.next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0) > 0
            })
        })
    })
}
