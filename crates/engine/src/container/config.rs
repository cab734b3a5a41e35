//! What a container is made of, as kept in the store: Docker's own create model —
//! `Config` (the user's over the image's, as dockerd merges them) and `HostConfig`
//! (as asked, with dockerd's defaults filled in) — beside the few things create
//! resolved from them (the command line, the image's layers, the bound ports, the
//! networks joined, the mounts). Serialised into the container row's `config`
//! column; `inspect` is this serialised again. Rows written by earlier versions
//! (a flat record of their own) are read through [`legacy`](super::legacy).

use std::collections::{BTreeMap, HashMap};

use bollard_stubs::models;
use kujira_runtime::ports::PortMapping;
use serde::{Deserialize, Serialize};

use super::health::HealthConfig;
use crate::network::EndpointSpec;

/// `--restart`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// `no`, `on-failure`, `always` or `unless-stopped` (empty is `no`).
    pub name: String,
    pub maximum_retry_count: i64,
}

impl RestartPolicy {
    /// `HostConfig.RestartPolicy` (absent or empty is `no`).
    pub fn from_api(p: Option<&models::RestartPolicy>) -> RestartPolicy {
        let Some(p) = p else {
            return RestartPolicy {
                name: "no".into(),
                maximum_retry_count: 0,
            };
        };
        let name = p.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
        RestartPolicy {
            name: if name.is_empty() { "no".into() } else { name },
            maximum_retry_count: p.maximum_retry_count.unwrap_or(0),
        }
    }

    /// `HostConfig.RestartPolicy` read and checked as dockerd checks it: a retry
    /// count, never negative, only with `on-failure`.
    pub fn from_api_checked(p: Option<&models::RestartPolicy>) -> Result<RestartPolicy, String> {
        let policy = RestartPolicy::from_api(p);
        if policy.maximum_retry_count < 0 {
            return Err("invalid restart policy: maximum retry count cannot be negative".into());
        }
        if policy.maximum_retry_count > 0 && policy.name != "on-failure" {
            return Err(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .into(),
            );
        }
        Ok(policy)
    }

    /// As `HostConfig.RestartPolicy`.
    pub fn to_api(&self) -> models::RestartPolicy {
        use models::RestartPolicyNameEnum as N;
        let name = match self.name.as_str() {
            "always" => N::ALWAYS,
            "unless-stopped" => N::UNLESS_STOPPED,
            "on-failure" => N::ON_FAILURE,
            _ => N::NO,
        };
        models::RestartPolicy {
            name: Some(name),
            maximum_retry_count: Some(self.maximum_retry_count),
        }
    }

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
    /// Docker's `Config`: the user's over the image's.
    #[serde(rename = "Config")]
    pub config: models::ContainerConfig,
    /// Docker's `HostConfig`, with dockerd's defaults where the caller left a field
    /// out (`NetworkMode`, `RestartPolicy`, `Runtime`, `ShmSize`, …).
    #[serde(rename = "HostConfig")]
    pub host_config: models::HostConfig,
    /// The command that runs: `path` then `args`.
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Args")]
    pub args: Vec<String>,
    /// The chain IDs of the image's layers, top first: the overlay's lower dirs.
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
    /// The published ports (`PortBindings` and `PublishAllPorts` resolved); after
    /// start, the host ports actually bound.
    #[serde(rename = "Ports")]
    pub ports: Vec<PortMapping>,
    /// The networks it joins when it starts, first the primary one.
    #[serde(rename = "Networks")]
    pub networks: Vec<EndpointSpec>,
    /// Binds, volumes and tmpfs mounts as `inspect`'s `Mounts` shows them.
    #[serde(rename = "Mounts")]
    pub mounts: Vec<MountPoint>,
}

impl ContainerConfig {
    /// Reads a stored row's document, upgrading one an earlier version wrote.
    pub fn from_stored(text: &str) -> Result<ContainerConfig, serde_json::Error> {
        Self::read(text).map(|(c, _)| c)
    }

    /// [`ContainerConfig::from_stored`], and whether the document was an earlier
    /// version's (so the caller writes the upgraded one back).
    pub(crate) fn read(text: &str) -> Result<(ContainerConfig, bool), serde_json::Error> {
        // This version writes `Config` first; decoding straight into the struct
        // spares a `listing` of many containers a JSON tree per row.
        if text.starts_with("{\"Config\"") {
            return Ok((serde_json::from_str(text)?, false));
        }
        let value: serde_json::Value = serde_json::from_str(text)?;
        if value.get("HostConfig").is_some() {
            Ok((serde_json::from_value(value)?, false))
        } else {
            let old: super::legacy::LegacyConfig = serde_json::from_value(value)?;
            Ok((old.upgrade(), true))
        }
    }

    /// The image as the user named it (what `ps` shows).
    pub fn image(&self) -> &str {
        self.config.image.as_deref().unwrap_or_default()
    }

    pub fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }

    pub fn open_stdin(&self) -> bool {
        self.config.open_stdin.unwrap_or(false)
    }

    pub fn hostname(&self) -> &str {
        self.config.hostname.as_deref().unwrap_or_default()
    }

    pub fn env(&self) -> &[String] {
        self.config.env.as_deref().unwrap_or_default()
    }

    pub fn cmd(&self) -> &[String] {
        self.config.cmd.as_deref().unwrap_or_default()
    }

    pub fn entrypoint(&self) -> &[String] {
        self.config.entrypoint.as_deref().unwrap_or_default()
    }

    pub fn working_dir(&self) -> &str {
        self.config.working_dir.as_deref().unwrap_or_default()
    }

    pub fn user(&self) -> &str {
        self.config.user.as_deref().unwrap_or_default()
    }

    /// `Config.Labels`, ordered.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// `Config.ExposedPorts` keys (`80/tcp`), ordered.
    pub fn exposed_ports(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .config
            .exposed_ports
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// The effective health check, in the monitor's terms.
    pub fn healthcheck(&self) -> Option<HealthConfig> {
        self.config.healthcheck.as_ref().map(HealthConfig::from_api)
    }

    /// The network mode as create resolved it into `HostConfig.NetworkMode`:
    /// `bridge`, `host`, `none`, `container:<full ID>` or a user network's name.
    pub fn network(&self) -> &str {
        self.host_config.network_mode.as_deref().unwrap_or("bridge")
    }

    /// The runtime's name or path as given (empty: the default).
    pub fn runtime(&self) -> &str {
        self.host_config.runtime.as_deref().unwrap_or_default()
    }

    pub fn auto_remove(&self) -> bool {
        self.host_config.auto_remove.unwrap_or(false)
    }

    pub fn read_only(&self) -> bool {
        self.host_config.readonly_rootfs.unwrap_or(false)
    }

    pub fn dns(&self) -> &[String] {
        self.host_config.dns.as_deref().unwrap_or_default()
    }

    pub fn restart(&self) -> RestartPolicy {
        RestartPolicy::from_api(self.host_config.restart_policy.as_ref())
    }

    /// The signal `stop` sends first.
    pub fn stop_signal(&self) -> &str {
        match self.config.stop_signal.as_deref() {
            None | Some("") => "SIGTERM",
            Some(s) => s,
        }
    }

    /// Seconds `stop` waits before killing (Docker's default 10).
    pub fn stop_timeout(&self) -> i64 {
        self.config.stop_timeout.unwrap_or(10)
    }
}

/// Published ports as Docker's `PortBindings` (a host port of 0 is `""`: any).
pub fn port_map(ports: &[PortMapping]) -> models::PortMap {
    let mut map = models::PortMap::new();
    for p in ports {
        map.entry(format!("{}/{}", p.container_port, p.proto.as_str()))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(models::PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(if p.host_port == 0 {
                    String::new()
                } else {
                    p.host_port.to_string()
                }),
            });
    }
    map
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` as Docker's `DeviceMapping`.
pub fn device_mapping(spec: &str) -> Result<models::DeviceMapping, kujira_runtime::RuntimeError> {
    let (host, inside, perms) = kujira_runtime::spec::split_device(spec)?;
    Ok(models::DeviceMapping {
        path_on_host: Some(host.into()),
        path_in_container: Some(inside.into()),
        cgroup_permissions: Some(perms.into()),
    })
}

/// A `HashMap` of Docker's models from ordered pairs.
pub(crate) fn map_of<K: Into<String>, V: Into<String>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> HashMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

/// Docker's set of ports (`{"80/tcp": {}}`).
pub(crate) fn port_set(keys: impl IntoIterator<Item = String>) -> HashMap<String, HashMap<(), ()>> {
    keys.into_iter().map(|k| (k, HashMap::new())).collect()
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
