//! The runtime a container runs with: the built-in one, or an OCI runtime binary.

use std::path::Path;

use crate::embedded::{self, ChildIo, Embedded};
use crate::exec::ExecCommand;
use crate::oci_runtime::{ExecOptions, OciRuntime, ProcessIo, RuntimeKind};
use crate::RuntimeError;

#[derive(Debug)]
pub enum Runtime {
    Embedded(Embedded),
    Oci(OciRuntime),
}

impl Runtime {
    /// How `inspect` names it: `kujira`, `crun`, `runc`, or the binary's name.
    pub fn name(&self) -> String {
        match self {
            Runtime::Embedded(_) => embedded::NAME.to_string(),
            Runtime::Oci(rt) => rt
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// Whether it runs a seccomp program handed over ready-made (crun's annotation),
    /// which spares compiling the spec's filter at every start.
    pub fn takes_compiled_seccomp(&self) -> bool {
        match self {
            Runtime::Embedded(_) => true,
            Runtime::Oci(rt) => rt.kind() == RuntimeKind::Crun,
        }
    }

    /// Prepares this process for a container start that follows soon.
    pub fn warm_up(&self) {
        if let Runtime::Embedded(e) = self {
            e.warm_up();
        }
    }

    /// Whether the runtime still has state for `id` (left by a crash between a
    /// create and its delete).
    pub fn has_state(&self, id: &str) -> bool {
        match self {
            Runtime::Embedded(e) => e.has_state(id),
            Runtime::Oci(rt) => rt.root().join(id).exists(),
        }
    }

    /// Creates the container, its init waiting for [`Runtime::start`]; returns the
    /// init's pid.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        console_socket: Option<&Path>,
        io: ChildIo,
    ) -> Result<i32, RuntimeError> {
        match self {
            Runtime::Embedded(e) => e.create(id, bundle, console_socket, io),
            Runtime::Oci(rt) => {
                let stdio = |fd: Option<std::os::fd::OwnedFd>| {
                    fd.map_or_else(std::process::Stdio::null, std::process::Stdio::from)
                };
                let io = ProcessIo {
                    stdin: stdio(io.stdin),
                    stdout: stdio(io.stdout),
                    stderr: stdio(io.stderr),
                };
                rt.create_with_pid(id, bundle, console_socket, io)
            }
        }
    }

    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        match self {
            Runtime::Embedded(e) => e.start(id),
            Runtime::Oci(rt) => rt.start(id),
        }
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        match self {
            Runtime::Embedded(e) => e.delete(id, force),
            Runtime::Oci(rt) => rt.delete(id, force),
        }
    }

    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        match self {
            Runtime::Embedded(e) => e.pause(id),
            Runtime::Oci(rt) => rt.pause(id),
        }
    }

    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        match self {
            Runtime::Embedded(e) => e.resume(id),
            Runtime::Oci(rt) => rt.resume(id),
        }
    }

    pub fn exec_command(&self, id: &str, opts: &ExecOptions) -> Result<ExecCommand, RuntimeError> {
        match self {
            Runtime::Embedded(e) => e.exec_command(id, opts),
            Runtime::Oci(rt) => rt.exec_command(id, opts).map(ExecCommand::from_command),
        }
    }
}
