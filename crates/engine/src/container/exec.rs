//! `exec`: a new process in a running container, run by the container's OCI runtime
//! with the caller's streams.

use std::process::Command;

use kujira_runtime::user::resolve_user;
use kujira_runtime::ExecOptions;

use super::{monitor_alive, Container};
use crate::{Engine, EngineError};

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
    pub fn exec_command(&self, c: &Container, req: &ExecRequest) -> Result<Command, EngineError> {
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
        let opts = ExecOptions {
            args: req.cmd.clone(),
            tty: req.tty,
            detach: req.detach,
            cwd: req.workdir.clone(),
            env: req.env.clone(),
            user,
            privileged: req.privileged,
        };
        self.runtime(&c.config.runtime)?
            .exec_command(c.id(), &opts)
            .map_err(EngineError::Runtime)
    }
}
