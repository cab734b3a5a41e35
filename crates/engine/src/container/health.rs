//! HEALTHCHECK: the container's monitor runs the check command in the container
//! every interval (as an exec), and keeps Docker's health state — `starting`,
//! `healthy`, `unhealthy`, the failing streak and the last five results — in
//! `health.json` beside the container, written whole (temporary name, rename), for
//! `ps` (`Up 5 seconds (healthy)`), `inspect`'s `State.Health` and the API.

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::exec::ExecRequest;
use super::{Container, ContainerPaths};
use crate::Engine;

pub use crate::duration::parse_go_duration;

const SECOND_NS: i64 = 1_000_000_000;
/// Docker's defaults.
const DEFAULT_INTERVAL_NS: i64 = 30 * SECOND_NS;
const DEFAULT_TIMEOUT_NS: i64 = 30 * SECOND_NS;
const DEFAULT_RETRIES: i64 = 3;
/// Results kept in the log.
const KEEP_LOG: usize = 5;
/// Output kept per result.
const KEEP_OUTPUT: usize = 4096;

/// A health check as Docker's `HealthConfig` has it (durations in nanoseconds,
/// zero meaning the default). `test` is `["NONE"]`, `["CMD", arg…]` or
/// `["CMD-SHELL", command]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    #[serde(rename = "Test")]
    pub test: Vec<String>,
    #[serde(rename = "Interval")]
    pub interval: i64,
    #[serde(rename = "Timeout")]
    pub timeout: i64,
    #[serde(rename = "StartPeriod")]
    pub start_period: i64,
    #[serde(rename = "Retries")]
    pub retries: i64,
}

impl HealthConfig {
    /// What `--no-healthcheck` stores.
    pub fn disabled() -> HealthConfig {
        HealthConfig {
            test: vec!["NONE".into()],
            ..HealthConfig::default()
        }
    }

    /// From Docker's model (absent fields are zero: the defaults).
    pub fn from_api(h: &bollard_stubs::models::HealthConfig) -> HealthConfig {
        HealthConfig {
            test: h.test.clone().unwrap_or_default(),
            interval: h.interval.unwrap_or(0),
            timeout: h.timeout.unwrap_or(0),
            start_period: h.start_period.unwrap_or(0),
            retries: h.retries.unwrap_or(0),
        }
    }

    /// As Docker's model.
    pub fn to_api(&self) -> bollard_stubs::models::HealthConfig {
        bollard_stubs::models::HealthConfig {
            test: Some(self.test.clone()),
            interval: Some(self.interval),
            timeout: Some(self.timeout),
            start_period: Some(self.start_period),
            retries: Some(self.retries),
            start_interval: None,
        }
    }

    /// The command to run, or `None` when checks are off.
    pub fn command(&self) -> Option<Vec<String>> {
        let (kind, rest) = self.test.split_first()?;
        match kind.as_str() {
            "CMD" if !rest.is_empty() => Some(rest.to_vec()),
            "CMD-SHELL" if !rest.is_empty() => {
                Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
            }
            _ => None,
        }
    }

    /// The user's settings over the image's: a field the user left at zero (or
    /// without a test) is the image's.
    pub fn over(&self, base: &HealthConfig) -> HealthConfig {
        let pick = |a: i64, b: i64| if a != 0 { a } else { b };
        HealthConfig {
            test: if self.test.is_empty() {
                base.test.clone()
            } else {
                self.test.clone()
            },
            interval: pick(self.interval, base.interval),
            timeout: pick(self.timeout, base.timeout),
            start_period: pick(self.start_period, base.start_period),
            retries: pick(self.retries, base.retries),
        }
    }

    fn interval(&self) -> Duration {
        ns(self.interval, DEFAULT_INTERVAL_NS)
    }

    fn timeout(&self) -> Duration {
        ns(self.timeout, DEFAULT_TIMEOUT_NS)
    }

    fn retries(&self) -> i64 {
        if self.retries > 0 {
            self.retries
        } else {
            DEFAULT_RETRIES
        }
    }
}

fn ns(v: i64, default: i64) -> Duration {
    Duration::from_nanos(if v > 0 { v } else { default } as u64)
}

/// One check's result.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HealthResult {
    #[serde(rename = "Start")]
    pub start: String,
    #[serde(rename = "End")]
    pub end: String,
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    #[serde(rename = "Output")]
    pub output: String,
}

/// Docker's `Health`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HealthState {
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "FailingStreak")]
    pub failing_streak: i64,
    #[serde(rename = "Log")]
    pub log: Vec<HealthResult>,
}

impl ContainerPaths {
    pub fn health(&self) -> PathBuf {
        self.dir.join("health.json")
    }
}

fn write_state(paths: &ContainerPaths, state: &HealthState) {
    let path = paths.health();
    let tmp = path.with_extension("json.tmp");
    if let Ok(data) = serde_json::to_vec(state) {
        if std::fs::write(&tmp, data).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Engine {
    /// The health state of a container that has a health check.
    pub fn health_of(&self, c: &Container) -> Option<HealthState> {
        c.config.healthcheck()?.command()?;
        let data = std::fs::read(self.container_paths(c.id()).health()).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Starts the checker for one run of `c` (the monitor calls it once the
    /// process runs); it stops when `stop` is set.
    pub(crate) fn spawn_health_checker(
        &self,
        c: &Container,
        stop: Arc<AtomicBool>,
    ) -> Option<std::thread::JoinHandle<()>> {
        let hc = c.config.healthcheck()?;
        let cmd = hc.command()?;
        let paths = self.container_paths(c.id());
        write_state(
            &paths,
            &HealthState {
                status: "starting".into(),
                ..HealthState::default()
            },
        );
        let root = self.root();
        let c = c.clone();
        Some(std::thread::spawn(move || {
            let Ok(engine) = Engine::open(&root) else {
                return;
            };
            engine.check_health_until(&c, &hc, &cmd, &paths, &stop);
        }))
    }

    fn check_health_until(
        &self,
        c: &Container,
        hc: &HealthConfig,
        cmd: &[String],
        paths: &ContainerPaths,
        stop: &AtomicBool,
    ) {
        let started = Instant::now();
        let start_period = Duration::from_nanos(hc.start_period.max(0) as u64);
        let mut state = HealthState {
            status: "starting".into(),
            ..HealthState::default()
        };
        loop {
            let next = Instant::now() + hc.interval();
            while Instant::now() < next {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // The container as it is now (its pid changes on restarts).
            let Ok(now) = self.find_container(c.id()) else {
                return;
            };
            if now.status() != "running" {
                continue;
            }
            let result = self.probe(&now, cmd, hc.timeout());
            let before = state.status.clone();
            if result.exit_code == 0 {
                state.failing_streak = 0;
                state.status = "healthy".into();
            } else if state.status == "starting" && started.elapsed() < start_period {
                // Failures in the start period do not count.
            } else {
                state.failing_streak += 1;
                if state.failing_streak >= hc.retries() {
                    state.status = "unhealthy".into();
                }
            }
            state.log.push(result);
            let excess = state.log.len().saturating_sub(KEEP_LOG);
            state.log.drain(..excess);
            if stop.load(Ordering::Relaxed) {
                return;
            }
            write_state(paths, &state);
            if state.status != before {
                let action = format!("health_status: {}", state.status);
                self.emit_container(&now, &action, &[]);
            }
        }
    }

    /// Runs the check once: exit code and output (`-1` and Docker's words when it
    /// ran past the timeout or could not start).
    fn probe(&self, c: &Container, cmd: &[String], timeout: Duration) -> HealthResult {
        let start = now();
        let failed = |start: String, output: String| HealthResult {
            start,
            end: now(),
            exit_code: -1,
            output,
        };
        let req = ExecRequest {
            cmd: cmd.to_vec(),
            ..ExecRequest::default()
        };
        let mut command = match self.exec_command(c, &req) {
            Ok(cm) => cm,
            Err(e) => return failed(start, e.to_string()),
        };
        command
            .command_mut()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (mut child, _) = match command.spawn() {
            Ok(x) => x,
            Err(e) => return failed(start, super::exec::spawn_failure(&e, cmd).1),
        };
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|mut r| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = r.read_to_end(&mut out);
                out
            })
        })
        .collect();
        let deadline = Instant::now() + timeout;
        let pid = child.id() as i32;
        // The monitor's reaper may take the child first (it waits for any child):
        // then its code is in the reaper's table.
        let code = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(super::exec::exit_code(s, "") as i64),
                Err(_) => {
                    if let Some(code) = super::monitor::take_reaped(pid) {
                        break Some(code as i64);
                    }
                }
                Ok(None) => {}
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let Some(code) = code else {
            let _ = child.kill();
            let _ = child.wait();
            return failed(
                start,
                format!(
                    "Health check exceeded timeout ({})",
                    humantime_secs(timeout)
                ),
            );
        };
        let mut output: Vec<u8> = readers
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_default())
            .collect();
        output.truncate(KEEP_OUTPUT);
        HealthResult {
            start,
            end: now(),
            exit_code: code,
            output: String::from_utf8_lossy(&output).into_owned(),
        }
    }
}

fn humantime_secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// The image's check, from its config's `Healthcheck`.
pub fn from_image(v: Option<&serde_json::Value>) -> Option<HealthConfig> {
    serde_json::from_value(v?.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_of_the_test_forms() {
        let shell = HealthConfig {
            test: vec!["CMD-SHELL".into(), "wget -q localhost".into()],
            ..HealthConfig::default()
        };
        assert_eq!(
            shell.command().unwrap(),
            ["/bin/sh", "-c", "wget -q localhost"]
        );
        assert_eq!(HealthConfig::disabled().command(), None);
        let user = HealthConfig {
            interval: 5,
            ..HealthConfig::default()
        };
        let merged = user.over(&shell);
        assert_eq!(merged.test, shell.test);
        assert_eq!(merged.interval, 5);
    }
}
