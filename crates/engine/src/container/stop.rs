//! `stop`, `kill`, `restart`, `pause`, `unpause`, `wait`: signals go straight to the
//! container's init (a child of its live monitor, so its pid cannot have been reused),
//! and waiting means waiting for the monitor to let go of its lock.

use std::time::{Duration, Instant};

use super::{monitor_alive, Container};
use crate::{Engine, EngineError};

/// A signal by name (`TERM`, `SIGKILL`, `sigint`) or number.
pub fn parse_signal(s: &str) -> Result<i32, EngineError> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => return Err(EngineError::InvalidArgument(format!("invalid signal: {s}"))),
    };
    Ok(n)
}

impl Engine {
    fn signal(&self, c: &Container, sig: i32) -> Result<(), EngineError> {
        let pid = c.row.state.pid as i32;
        if pid <= 0 || !monitor_alive(&self.container_paths(c.id())) {
            return Err(EngineError::NotRunning(c.id().to_string()));
        }
        // A paused container must be thawed for anything but SIGKILL to be handled.
        // SAFETY: kill with plain integers.
        if unsafe { libc::kill(pid, sig) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(EngineError::io("signalling the container", e));
            }
        }
        Ok(())
    }

    /// `kill -s SIGNAL`: a signal that stops the container also stops its restarts.
    pub fn kill_container(&self, c: &Container, signal: &str) -> Result<(), EngineError> {
        let sig = parse_signal(signal)?;
        if !c.is_running() {
            return Err(EngineError::NotRunning(c.id().to_string()));
        }
        if sig == libc::SIGKILL {
            self.store.meta.set_stop_requested(c.id(), true)?;
        }
        self.signal(c, sig)?;
        self.emit_container(c, "kill", &[("signal", &sig.to_string())]);
        Ok(())
    }

    /// Waits up to `timeout` (forever with `None`) for the monitor to finish.
    pub fn wait_monitor(&self, id: &str, timeout: Option<Duration>) -> bool {
        let paths = self.container_paths(id);
        let start = Instant::now();
        let mut step = Duration::from_millis(2);
        while monitor_alive(&paths) {
            if timeout.is_some_and(|t| start.elapsed() >= t) {
                return false;
            }
            std::thread::sleep(step);
            step = (step * 2).min(Duration::from_millis(50));
        }
        true
    }

    /// `stop [-s SIGNAL] [-t SECONDS]`: the stop signal, then SIGKILL after the timeout
    /// (`-1` waits forever). Stopping a stopped container is fine.
    pub fn stop_container(
        &self,
        c: &Container,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), EngineError> {
        if !c.is_running() {
            return Ok(());
        }
        self.store.meta.set_stop_requested(c.id(), true)?;
        if c.status() == "paused" {
            self.runtime(c.config.runtime())?
                .resume(c.id())
                .map_err(EngineError::Runtime)?;
        }
        let sig = parse_signal(signal.unwrap_or(c.config.stop_signal()))?;
        let secs = timeout.unwrap_or(c.config.stop_timeout());
        if c.status() != "restarting" && self.signal(c, sig).is_ok() {
            self.emit_container(c, "kill", &[("signal", &sig.to_string())]);
        }
        let wait = (secs >= 0).then(|| Duration::from_secs(secs as u64));
        if !self.wait_monitor(c.id(), wait) {
            if self.signal(c, libc::SIGKILL).is_ok() {
                self.emit_container(c, "kill", &[("signal", "9")]);
            }
            self.wait_monitor(c.id(), None);
        }
        self.emit_container(c, "stop", &[]);
        Ok(())
    }

    pub fn pause_container(&self, c: &Container) -> Result<(), EngineError> {
        match c.status() {
            "running" => {}
            "paused" => {
                return Err(EngineError::InvalidArgument(format!(
                    "container {} is already paused",
                    c.id()
                )))
            }
            _ => return Err(EngineError::NotRunning(c.id().to_string())),
        }
        self.runtime(c.config.runtime())?
            .pause(c.id())
            .map_err(EngineError::Runtime)?;
        let mut st = c.row.state.clone();
        st.status = "paused".into();
        self.store.meta.set_container_state(c.id(), &st)?;
        self.emit_container(c, "pause", &[]);
        Ok(())
    }

    pub fn unpause_container(&self, c: &Container) -> Result<(), EngineError> {
        if c.status() != "paused" {
            return Err(EngineError::InvalidArgument(format!(
                "Container {} is not paused",
                c.id()
            )));
        }
        self.runtime(c.config.runtime())?
            .resume(c.id())
            .map_err(EngineError::Runtime)?;
        let mut st = c.row.state.clone();
        st.status = "running".into();
        self.store.meta.set_container_state(c.id(), &st)?;
        self.emit_container(c, "unpause", &[]);
        Ok(())
    }

    /// `wait`: blocks until the container stops; its exit code.
    pub fn wait_container(&self, id: &str) -> Result<i64, EngineError> {
        let c = self.find_container(id)?;
        if c.status() == "created" {
            // Docker waits for a created container to run and exit.
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let now = self.find_container(c.id())?;
                if now.status() != "created" {
                    break;
                }
            }
        }
        self.wait_monitor(c.id(), None);
        match self.store.meta.container(c.id())? {
            Some(row) => Ok(row.state.exit_code),
            None => Ok(c.row.state.exit_code),
        }
    }
}

impl Engine {
    /// The host pids of the container's processes: the init's and those of every
    /// process in its pid namespace.
    pub fn container_pids(&self, c: &Container) -> Result<Vec<i64>, EngineError> {
        let pid = c.row.state.pid;
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/pid"))
            .map_err(|e| EngineError::io("reading the container's pid namespace", e))?;
        let mut out = Vec::new();
        let dir = std::fs::read_dir("/proc").map_err(|e| EngineError::io("reading /proc", e))?;
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i64>().ok())
            else {
                continue;
            };
            if std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|n| n == ns) {
                out.push(p);
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
