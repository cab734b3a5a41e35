//! `exec`: a new process in a running container, started by the container's runtime
//! with the caller's streams.

use kujira_runtime::user::resolve_user;
use kujira_runtime::{ExecCommand, ExecOptions};

use super::{monitor_alive, Container};
use crate::{Engine, EngineError};

/// A process that could not be started: Docker's status (127 for a command that
/// is not there, 126 for one that cannot be run) and its message.
pub fn spawn_failure(e: &std::io::Error, cmd: &[String]) -> (i32, String) {
    let name = cmd.first().map(String::as_str).unwrap_or_default();
    let (code, what) = match e.kind() {
        std::io::ErrorKind::NotFound if !name.contains('/') => {
            (127, "executable file not found in $PATH".to_string())
        }
        std::io::ErrorKind::NotFound => (127, "no such file or directory".to_string()),
        std::io::ErrorKind::PermissionDenied => (126, "permission denied".to_string()),
        _ => (126, e.to_string()),
    };
    (
        code,
        format!(
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{name}\": {what}: unknown"
        ),
    )
}

/// An exec's exit code as Docker reports it: a runtime binary's 255 for a command
/// it could not start (told by the end of its stderr) becomes 127 or 126.
pub fn exit_code(status: std::process::ExitStatus, stderr_tail: &str) -> i32 {
    let code = kujira_runtime::oci_runtime::exit_code(status);
    if code != 255 {
        return code;
    }
    let t = stderr_tail.to_lowercase();
    if t.contains("executable file") && t.contains("not found") {
        127
    } else if t.contains("permission denied") {
        126
    } else {
        code
    }
}

#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    pub tty: bool,
    pub detach: bool,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub privileged: bool,
}

impl Engine {
    /// The runtime command that runs `req` in `c`, for the caller to spawn.
    pub fn exec_command(
        &self,
        c: &Container,
        req: &ExecRequest,
    ) -> Result<ExecCommand, EngineError> {
        if c.status() != "running" || !monitor_alive(&self.container_paths(c.id())) {
            return Err(EngineError::InvalidArgument(format!(
                "container {} is not running",
                c.id()
            )));
        }
        if req.cmd.is_empty() {
            return Err(EngineError::InvalidArgument(
                "No exec command specified".into(),
            ));
        }
        let user = match req.user.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => {
                let r = resolve_user(&self.container_paths(c.id()).rootfs(), u)
                    .map_err(EngineError::Runtime)?;
                Some(format!("{}:{}", r.uid, r.gid))
            }
            None => None,
        };
        if let Some(w) = &req.workdir {
            if !w.starts_with('/') {
                return Err(EngineError::InvalidArgument(format!(
                    "the working directory '{w}' is invalid, it needs to be an absolute path"
                )));
            }
        }
        // Runtimes take `--env` as the whole environment: start from the container's.
        let spec = oci_spec::runtime::Spec::load(
            self.container_paths(c.id()).bundle().join("config.json"),
        )
        .map_err(|e| EngineError::InvalidArgument(format!("reading the container's spec: {e}")))?;
        let mut env: Vec<String> = spec
            .process()
            .as_ref()
            .and_then(|p| p.env().clone())
            .unwrap_or_default();
        if req.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        // A bare `KEY` is the client's to resolve (the docker CLI and kujira's
        // do); this process's environment is not the caller's.
        for e in req.env.iter().filter(|e| e.contains('=')) {
            let key = e.split('=').next().unwrap_or_default();
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        let opts = ExecOptions {
            args: req.cmd.clone(),
            tty: req.tty,
            detach: req.detach,
            cwd: req.workdir.clone(),
            env,
            user,
            privileged: req.privileged,
        };
        self.runtime(c.config.runtime())?
            .exec_command(c.id(), &opts)
            .map_err(EngineError::Runtime)
    }
}
