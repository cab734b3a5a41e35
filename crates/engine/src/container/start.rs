//! `start`: launches the container's monitor (this binary re-executed with the hidden
//! `container-monitor` command) in a session of its own, and waits on a sync pipe until
//! the container runs or has failed to.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use super::monitor::SyncMessage;
use super::Container;
use crate::{Engine, EngineError};

/// How the starter is attached to the container's streams.
#[derive(Debug)]
pub enum Attach {
    /// Detached: the monitor gets `/dev/null`.
    No,
    /// The monitor inherits the caller's stdin, stdout and stderr.
    Inherit,
    /// The monitor's stdin, stdout and stderr are these (an API server's pipes to
    /// a client that attached before the start); no stdin is `/dev/null`.
    Pipes {
        stdin: Option<std::os::fd::OwnedFd>,
        stdout: std::os::fd::OwnedFd,
        stderr: std::os::fd::OwnedFd,
    },
}

impl Attach {
    fn attached(&self) -> bool {
        !matches!(self, Attach::No)
    }
}

/// A started container: with `Attach::Inherit`, its monitor, whose exit status is the
/// container's.
pub struct Started {
    pub monitor: Option<Child>,
    /// The monitor's report of the container's exit (attached starts).
    sync: Option<std::io::BufReader<std::fs::File>>,
}

impl Started {
    /// Waits for an attached container to be gone (and, with `--rm`, removed); its
    /// exit status. The monitor says so before it tidies up and exits.
    pub fn wait(self) -> i32 {
        let Some(mut child) = self.monitor else {
            return 0;
        };
        if let Some(mut sync) = self.sync {
            let mut line = String::new();
            if std::io::BufRead::read_line(&mut sync, &mut line).is_ok() {
                if let Ok(m) = serde_json::from_str::<SyncMessage>(line.trim()) {
                    if m.message == super::monitor::EXITED {
                        return m.code;
                    }
                }
            }
        }
        match child.wait() {
            Ok(st) => kujira_runtime::oci_runtime::exit_code(st),
            Err(_) => 125,
        }
    }
}

/// The binary that runs monitors: this executable, unless `KUJIRA_MONITOR_BIN` says
/// otherwise (tests of the engine library run from a test harness binary).
fn monitor_exe() -> Result<std::path::PathBuf, EngineError> {
    if let Some(p) = std::env::var_os("KUJIRA_MONITOR_BIN") {
        return Ok(p.into());
    }
    std::env::current_exe().map_err(|e| EngineError::io("finding the kujira binary", e))
}

impl Engine {
    /// Starts a created or exited container. Starting a running one does nothing.
    pub fn start_container(&self, c: &Container, attach: Attach) -> Result<Started, EngineError> {
        if c.is_running() {
            return Ok(Started {
                monitor: None,
                sync: None,
            });
        }
        self.store.meta.set_stop_requested(c.id(), false)?;
        if let Ok(rt) = self.runtime(c.config.runtime()) {
            rt.warm_up();
        }
        let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map(|(r, w)| (std::fs::File::from(r), w))
            .map_err(|e| EngineError::io("creating the sync pipe", e.into()))?;
        let mut cmd = Command::new(monitor_exe()?);
        cmd.arg("--root")
            .arg(self.root())
            .arg("container-monitor")
            .arg("--sync-fd")
            .arg("3");
        let attached = attach.attached();
        match attach {
            Attach::Inherit => {
                cmd.arg("--attach");
            }
            Attach::Pipes {
                stdin,
                stdout,
                stderr,
            } => {
                cmd.arg("--attach")
                    .stdin(stdin.map_or_else(Stdio::null, Stdio::from))
                    .stdout(Stdio::from(stdout))
                    .stderr(Stdio::from(stderr));
            }
            Attach::No => {
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
            }
        }
        cmd.arg(c.id());
        let wfd = writer.as_raw_fd();
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::dup2(wfd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| EngineError::io("starting the container's monitor", e))?;
        drop(writer);
        // The parent's copies of the attach pipes go now, so their reader sees the
        // end of output when the monitor closes its own.
        drop(cmd);
        let mut reader = std::io::BufReader::new(reader);
        let mut text = String::new();
        let _ = std::io::BufRead::read_line(&mut reader, &mut text);
        let msg: Option<SyncMessage> = serde_json::from_str(text.trim()).ok();
        match msg {
            Some(m) if m.ok => {}
            Some(m) => {
                let _ = child.wait();
                return Err(EngineError::StartFailed {
                    code: m.code,
                    message: m.message,
                });
            }
            None => {
                let status = child.wait().ok();
                return Err(EngineError::StartFailed {
                    code: 125,
                    message: format!("the container's monitor exited early ({status:?})"),
                });
            }
        }
        if attached {
            Ok(Started {
                monitor: Some(child),
                sync: Some(reader),
            })
        } else {
            // The monitor lives on in its own session. A short-lived CLI exits and
            // init adopts it; a long-lived process (the API server) must reap it
            // when it ends, or it stays a zombie that still answers kill(pid, 0).
            let _ = std::thread::Builder::new()
                .name("monitor-reaper".into())
                .stack_size(64 * 1024)
                .spawn(move || {
                    let _ = child.wait();
                });
            Ok(Started {
                monitor: None,
                sync: None,
            })
        }
    }
}
