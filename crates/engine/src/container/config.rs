//! What a container is made of, as kept in the store: the options it was created with
//! and what they resolved to (command, environment, ports), serialised into the
//! container row's `config` column.

use std::collections::BTreeMap;

use kujira_runtime::ports::PortMapping;
use serde::{Deserialize, Serialize};

/// `--restart`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// `no`, `on-failure`, `always` or `unless-stopped` (empty is `no`).
    pub name: String,
    pub maximum_retry_count: i64,
}

impl RestartPolicy {
    /// Parses `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let (name, count) = s.split_once(':').unwrap_or((s, ""));
        let invalid = || format!("invalid restart policy format: {s}");
        match name {
            "" | "no" | "always" | "unless-stopped" => {
                if !count.is_empty() {
                    return Err("invalid restart policy: maximum retry count can only be used with 'on-failure'".to_string());
                }
                Ok(RestartPolicy {
                    name: if name.is_empty() {
                        "no".into()
                    } else {
                        name.into()
                    },
                    maximum_retry_count: 0,
                })
            }
            "on-failure" => {
                let n = if count.is_empty() {
                    0
                } else {
                    count.parse::<i64>().map_err(|_| invalid())?
                };
                if n < 0 {
                    return Err(
                        "invalid restart policy: maximum retry count cannot be negative".into(),
                    );
                }
                Ok(RestartPolicy {
                    name: name.into(),
                    maximum_retry_count: n,
                })
            }
            _ => Err(invalid()),
        }
    }

    /// Whether a container that exited with `code` after `restarts` restarts is
    /// started again (a stop by the user is checked by the caller).
    pub fn wants_restart(&self, code: i64, restarts: i64) -> bool {
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

/// A mount as `inspect` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// The volume's name, for volumes.
    pub name: String,
    pub source: String,
    pub destination: String,
    pub mode: String,
    pub rw: bool,
}

/// The stored description of a container.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    /// The image as the user named it (what `ps` shows).
    pub image: String,
    /// The command that runs: `path` then `args`.
    pub path: String,
    pub args: Vec<String>,
    /// The effective Config.Cmd / Config.Entrypoint (image's, or the user's).
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub hostname: String,
    pub domainname: String,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stop_signal: String,
    pub stop_timeout: Option<i64>,
    pub exposed_ports: Vec<String>,
    /// `-p`/`-P`; after start, the host ports actually bound.
    pub ports: Vec<PortMapping>,
    pub publish_all: bool,
    pub restart: RestartPolicy,
    pub auto_remove: bool,
    /// The runtime's name or path as given (empty: the default).
    pub runtime: String,
    /// The network mode: `bridge` (older stores: `default`), `host`, `none`,
    /// `container:ID` or a user-defined network's name.
    pub network: String,
    /// The networks it joins when it starts, first the primary one.
    pub networks: Vec<crate::network::EndpointSpec>,
    pub mounts: Vec<MountPoint>,
    pub read_only: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub memory: i64,
    pub nano_cpus: i64,
    pub pids_limit: i64,
    pub init: bool,
    pub shm_size: i64,
    pub sysctls: BTreeMap<String, String>,
    /// `--add-host` entries as (name, ip).
    pub extra_hosts: Vec<(String, String)>,
    /// `--device` as given.
    pub devices: Vec<String>,
    /// The effective HEALTHCHECK (the user's over the image's).
    pub healthcheck: Option<super::health::HealthConfig>,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub cpu_shares: u64,
    pub oom_score_adj: i32,
    pub group_add: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `host`, or empty for the container's own namespace.
    pub pid_mode: String,
    pub ipc_mode: String,
    pub uts_mode: String,
    /// The chain IDs of the image's layers, top first: the overlay's lower dirs.
    pub layers: Vec<String>,
}

impl ContainerConfig {
    /// The signal `stop` sends first.
    pub fn stop_signal(&self) -> &str {
        if self.stop_signal.is_empty() {
            "SIGTERM"
        } else {
            &self.stop_signal
        }
    }

    /// Seconds `stop` waits before killing (Docker's default 10).
    pub fn stop_timeout(&self) -> i64 {
        self.stop_timeout.unwrap_or(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        let p = RestartPolicy::parse("on-failure:2").unwrap();
        assert!(p.wants_restart(1, 0) && p.wants_restart(1, 1) && !p.wants_restart(1, 2));
        assert!(!p.wants_restart(0, 0));
        assert!(RestartPolicy::parse("always")
            .unwrap()
            .wants_restart(0, 100));
        assert!(!RestartPolicy::parse("no").unwrap().wants_restart(1, 0));
        assert_eq!(RestartPolicy::parse("").unwrap().name, "no");
        for bad in ["sometimes", "on-failure:x", "always:3", "on-failure:-1"] {
            assert!(RestartPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
