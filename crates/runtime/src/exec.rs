//! A process to start in a running container, as the caller spawns it: an OCI
//! runtime's `exec` command line, or (built-in runtime) the process itself, entering
//! the container's namespaces between fork and exec.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command};

/// A process to start in a container.
#[derive(Debug)]
pub struct ExecCommand {
    command: Command,
    /// The container's pid namespace, entered by the spawning thread around the fork
    /// (a process cannot move itself into a pid namespace, only its children).
    pid_ns: Option<File>,
    /// The terminal master when the process gets a terminal of its own that the
    /// caller relays (built-in runtime); OCI runtimes relay their own.
    master: Option<OwnedFd>,
}

impl ExecCommand {
    /// An OCI runtime's `exec` command line.
    pub fn from_command(command: Command) -> ExecCommand {
        ExecCommand {
            command,
            pid_ns: None,
            master: None,
        }
    }

    pub(crate) fn in_namespace(command: Command, pid_ns: File, master: Option<OwnedFd>) -> Self {
        ExecCommand {
            command,
            pid_ns: Some(pid_ns),
            master,
        }
    }

    /// The command, to set its standard streams.
    pub fn command_mut(&mut self) -> &mut Command {
        &mut self.command
    }

    /// Whether this spawns the process itself (the built-in runtime) rather than a
    /// runtime binary that starts it.
    pub fn is_direct(&self) -> bool {
        self.pid_ns.is_some()
    }

    /// Whether the caller must relay a terminal (see [`ExecCommand::spawn`]).
    pub fn relays_terminal(&self) -> bool {
        self.master.is_some()
    }

    /// Starts the process. With a terminal to relay, its master comes back too (the
    /// process's streams are the slave; whatever was set on the command is ignored).
    pub fn spawn(self) -> std::io::Result<(Child, Option<OwnedFd>)> {
        let ExecCommand {
            mut command,
            pid_ns,
            master,
        } = self;
        let Some(ns) = pid_ns else {
            return command.spawn().map(|c| (c, master));
        };
        let own = File::open("/proc/thread-self/ns/pid")?;
        // SAFETY: setns on descriptors we hold; only this thread's children move.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let child = command.spawn();
        // SAFETY: as above, back to the namespace this thread runs in.
        unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWPID) };
        // Dropping the command closes the parent's copy of the terminal's slave.
        drop(command);
        child.map(|c| (c, master))
    }
}
