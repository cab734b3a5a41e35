//! Networks as Docker has them: the predefined `bridge` (the default, a Linux bridge
//! with outbound NAT), `host` and `none`, and user-defined bridge networks whose
//! containers find each other by name. A network is a row in the store; the kernel
//! side (bridge, firewall elements) is made when the network is created (the default
//! one when it is first used) and is re-made if a reboot took it away.

pub mod config;
mod connect;
mod dns;
mod endpoint;
mod filter;
mod inspect;
mod mode;
mod sweep;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use kujira_network::{firewall, netlink::Netlink, Pool, Subnet};
use kujira_store::metadata::NetworkRow;
use kujira_store::StoreLock;

pub use config::NetConfig;
pub use endpoint::{Attachment, EndpointSpec, Live};
pub use filter::group_filters;

use crate::{Engine, EngineError};

/// Where the markers of set-up bridges live (see [`Engine::realize`]).
const READY_DIR: &str = "/run/kujira/networks";

/// The predefined networks: (name, driver).
pub const PREDEFINED: [(&str, &str); 3] =
    [("bridge", "bridge"), ("host", "host"), ("none", "null")];

/// A predefined network's ID: fixed (the SHA-256 of its name), so every process
/// sharing a store gives the same one.
pub fn predefined_id(name: &str) -> String {
    hex::encode(sha2::Sha256::digest(
        format!("kujira-network:{name}").as_bytes(),
    ))
}

/// A network's stored description.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkConfig {
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub subnet: String,
    pub gateway: String,
    pub ip_range: String,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// The Linux bridge behind it.
    pub bridge: String,
}

#[derive(Debug, Clone)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub created: String,
    pub config: NetworkConfig,
}

impl Network {
    /// `bridge`, `host` or `none`.
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.iter().any(|(n, _)| *n == self.name)
    }

    /// The default network: no DNS by name there, as in Docker.
    pub fn is_default_bridge(&self) -> bool {
        self.name == "bridge"
    }

    pub fn has_addresses(&self) -> bool {
        self.config.driver == "bridge"
    }

    pub fn pool(&self) -> Result<Pool, EngineError> {
        let subnet = Subnet::parse_strict(&self.config.subnet)?;
        let gateway = self.config.gateway.parse().map_err(|_| {
            EngineError::InvalidArgument(format!("bad gateway {}", self.config.gateway))
        })?;
        let range = if self.config.ip_range.is_empty() {
            None
        } else {
            Some(Subnet::parse_strict(&self.config.ip_range)?)
        };
        Ok(Pool {
            subnet,
            gateway,
            range,
        })
    }

    fn rules(&self) -> Result<firewall::NetworkRules<'_>, EngineError> {
        Ok(firewall::NetworkRules {
            bridge: &self.config.bridge,
            subnet: Subnet::parse_strict(&self.config.subnet)?,
            internal: self.config.internal,
        })
    }

    fn from_row(row: NetworkRow) -> Result<Network, EngineError> {
        let config = serde_json::from_str(&row.config).map_err(|e| {
            EngineError::InvalidArgument(format!("network {}: bad stored config: {e}", row.name))
        })?;
        Ok(Network {
            id: row.id,
            name: row.name,
            created: row.created,
            config,
        })
    }
}

/// `network create`'s request.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub name: String,
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl Engine {
    fn networks_lock(&self) -> Result<StoreLock, EngineError> {
        Ok(StoreLock::exclusive(&self.root().join("networks.lock"))?)
    }

    /// The default network: its row, or (before any container used it, so that a
    /// read changes nothing) what `config.toml` says it will be. `persist` writes
    /// the row, as the first lease on it needs.
    fn default_network(&self, cfg: &NetConfig, persist: bool) -> Result<Network, EngineError> {
        let id = predefined_id("bridge");
        if let Some(row) = self.store.meta.network(&id)? {
            return Network::from_row(row);
        }
        let config = NetworkConfig {
            driver: "bridge".into(),
            subnet: cfg.bip.1.to_string(),
            gateway: cfg.bip.0.to_string(),
            bridge: cfg.bridge.clone(),
            options: [
                ("com.docker.network.bridge.default_bridge", "true"),
                ("com.docker.network.bridge.enable_icc", "true"),
                ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                ("com.docker.network.bridge.name", cfg.bridge.as_str()),
                ("com.docker.network.driver.mtu", "1500"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Default::default()
        };
        let row = NetworkRow {
            id: id.clone(),
            name: "bridge".into(),
            created: kujira_runtime::logs::now_rfc3339_nanos(),
            config: serde_json::to_string(&config)
                .map_err(|e| EngineError::InvalidArgument(e.to_string()))?,
        };
        if !persist {
            return Network::from_row(row);
        }
        self.store.meta.add_network(&row)?;
        let row = self
            .store
            .meta
            .network(&id)?
            .ok_or_else(|| EngineError::NoSuchNetwork("bridge".into()))?;
        Network::from_row(row)
    }

    fn pseudo_network(name: &str, driver: &str) -> Network {
        Network {
            id: predefined_id(name),
            name: name.to_string(),
            created: "0001-01-01T00:00:00Z".into(),
            config: NetworkConfig {
                driver: driver.to_string(),
                ..Default::default()
            },
        }
    }

    /// Every network: the predefined three, then the user's, oldest first.
    pub fn networks(&self) -> Result<Vec<Network>, EngineError> {
        let cfg = NetConfig::load()?;
        let default = self.default_network(&cfg, false)?;
        let mut out = vec![
            default,
            Self::pseudo_network("host", "host"),
            Self::pseudo_network("none", "null"),
        ];
        for row in self.store.meta.networks()? {
            if row.name != "bridge" {
                out.push(Network::from_row(row)?);
            }
        }
        Ok(out)
    }

    /// A network by full name, full ID or unique ID prefix, as Docker looks it up.
    pub fn find_network(&self, input: &str) -> Result<Network, EngineError> {
        let all = self.networks()?;
        if let Some(n) = all.iter().find(|n| n.name == input || n.id == input) {
            return Ok(n.clone());
        }
        let by_prefix: Vec<&Network> = all.iter().filter(|n| n.id.starts_with(input)).collect();
        match by_prefix.as_slice() {
            [one] if !input.is_empty() => Ok((*one).clone()),
            [] | [_] => Err(EngineError::NoSuchNetwork(input.to_string())),
            _ => Err(EngineError::InvalidArgument(format!(
                "network {input} is ambiguous ({} matches found based on ID prefix)",
                by_prefix.len()
            ))),
        }
    }

    /// The default network's row, written if it is not yet there.
    pub(crate) fn persist_default_network(&self, cfg: &NetConfig) -> Result<(), EngineError> {
        self.default_network(cfg, true).map(|_| ())
    }

    /// `network create`: checks everything before anything is written, then the row,
    /// then the bridge and its firewall elements (the row goes again if those fail).
    pub fn create_network(&self, req: &CreateNetwork) -> Result<Network, EngineError> {
        if !valid_name(&req.name) {
            return Err(EngineError::InvalidArgument(format!(
                "invalid network name \"{}\": must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                req.name
            )));
        }
        if PREDEFINED.iter().any(|(n, _)| *n == req.name) {
            return Err(EngineError::Forbidden(format!(
                "operation is not permitted on predefined {} network ",
                req.name
            )));
        }
        let driver = if req.driver.is_empty() {
            "bridge"
        } else {
            req.driver.as_str()
        };
        if driver != "bridge" {
            return Err(EngineError::InvalidArgument(format!(
                "plugin \"{driver}\" not found"
            )));
        }
        let cfg = NetConfig::load()?;
        let _lock = self.networks_lock()?;
        let existing = self.networks()?;
        if existing.iter().any(|n| n.name == req.name) {
            return Err(EngineError::Conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let taken: Vec<Subnet> = existing
            .iter()
            .filter_map(|n| Subnet::parse_strict(&n.config.subnet).ok())
            .collect();
        let subnet = match &req.subnet {
            Some(s) => {
                let s = Subnet::parse_strict(s)?;
                if taken.iter().any(|t| t.overlaps(&s)) {
                    return Err(EngineError::Forbidden(
                        "invalid pool request: Pool overlaps with other one on this address space".into(),
                    ));
                }
                s
            }
            None => free_pool(&cfg, &taken).ok_or_else(|| {
                EngineError::InvalidArgument(
                    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                )
            })?,
        };
        let gateway = match &req.gateway {
            Some(g) => {
                let ip: Ipv4Addr = g.parse().map_err(|_| {
                    EngineError::InvalidArgument(format!("invalid gateway address {g}"))
                })?;
                if !subnet.contains(ip) {
                    return Err(EngineError::Forbidden(format!(
                        "failed to allocate gateway ({ip}): No available addresses on this pool"
                    )));
                }
                ip
            }
            None => subnet.first_host(),
        };
        let ip_range = match &req.ip_range {
            Some(r) => {
                let r = Subnet::parse_strict(r)?;
                if !subnet.contains(r.addr()) || r.prefix() < subnet.prefix() {
                    return Err(EngineError::InvalidArgument(format!(
                        "Invalid Address: ip-range {r} is not within subnet {subnet}"
                    )));
                }
                r.to_string()
            }
            None => String::new(),
        };
        let id = crate::container::random_id();
        let bridge = req
            .options
            .get("com.docker.network.bridge.name")
            .cloned()
            .unwrap_or_else(|| format!("kj-{}", &id[..12]));
        let network = Network {
            id: id.clone(),
            name: req.name.clone(),
            created: kujira_runtime::logs::now_rfc3339_nanos(),
            config: NetworkConfig {
                driver: driver.into(),
                subnet: subnet.to_string(),
                gateway: gateway.to_string(),
                ip_range,
                internal: req.internal,
                attachable: req.attachable,
                enable_ipv6: req.enable_ipv6,
                options: req.options.clone(),
                labels: req.labels.clone(),
                bridge,
            },
        };
        let row = NetworkRow {
            id: id.clone(),
            name: network.name.clone(),
            created: network.created.clone(),
            config: serde_json::to_string(&network.config)
                .map_err(|e| EngineError::InvalidArgument(e.to_string()))?,
        };
        if !self.store.meta.add_network(&row)? {
            return Err(EngineError::Conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        if let Err(e) = self.realize(&network, &cfg) {
            let _ = self.store.meta.delete_network(&id);
            let _ = self.unrealize(&network, &cfg);
            return Err(e);
        }
        self.emit_network(&network, "create", &[]);
        Ok(network)
    }

    /// The kernel side of a bridge network: the bridge with its gateway address, and
    /// its firewall elements. Idempotent; cheap when the bridge is there.
    pub(crate) fn realize(&self, n: &Network, cfg: &NetConfig) -> Result<u32, EngineError> {
        let mut nl = Netlink::open()?;
        let pool = n.pool()?;
        let (index, made) =
            nl.ensure_bridge(&n.config.bridge, pool.gateway, pool.subnet.prefix())?;
        // A marker in /run (gone after a reboot, with the bridge and the firewall)
        // holds the bridge's index once it is fully set up: the fast path of every
        // start is then one netlink lookup and one read.
        let marker = PathBuf::from(READY_DIR).join(&n.config.bridge);
        let ready = std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == index.to_string());
        if made || !ready {
            nl.add_address(index, pool.gateway, pool.subnet.prefix())?;
            if cfg.iptables {
                firewall::add_network(&n.rules()?)?;
            }
            std::fs::create_dir_all(READY_DIR)
                .and_then(|_| std::fs::write(&marker, index.to_string()))
                .map_err(|e| EngineError::io(format!("writing {}", marker.display()), e))?;
        }
        Ok(index)
    }

    fn unrealize(&self, n: &Network, cfg: &NetConfig) -> Result<(), EngineError> {
        let _ = std::fs::remove_file(PathBuf::from(READY_DIR).join(&n.config.bridge));
        if cfg.iptables {
            firewall::remove_network(&n.rules()?)?;
        }
        Netlink::open()?.delete_link(&n.config.bridge)?;
        Ok(())
    }

    /// `network rm`: refused for the predefined networks and while a running
    /// container is attached (Docker's 403 "active endpoints").
    pub fn remove_network(&self, n: &Network) -> Result<(), EngineError> {
        if n.is_predefined() {
            return Err(EngineError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        self.sweep_endpoints()?;
        let cfg = NetConfig::load()?;
        let _lock = self.networks_lock()?;
        let in_use = || {
            EngineError::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            ))
        };
        if self.store.meta.network(&n.id)?.is_none() {
            return Err(EngineError::NoSuchNetwork(n.name.clone()));
        }
        if !self.store.meta.network_endpoints(&n.id)?.is_empty() {
            return Err(in_use());
        }
        // The kernel side first, the row last: a crash in between leaves a listed
        // network whose bridge the next use (or `rm`) makes or takes again, never
        // a bridge no row accounts for. A start racing in re-makes the bridge and
        // keeps the row (the guarded delete below refuses).
        self.unrealize(n, &cfg)?;
        if !self.store.meta.delete_network(&n.id)? {
            return Err(in_use());
        }
        self.emit_network(n, "destroy", &[]);
        Ok(())
    }

    /// `network prune`: every user network with no running container on it.
    /// `filters`: `until`, `label` and `label!`, as dockerd's network prune takes.
    pub fn prune_networks(
        &self,
        filters: &[(String, Vec<String>)],
    ) -> Result<Vec<String>, EngineError> {
        self.sweep_endpoints()?;
        let mut gone = Vec::new();
        for n in self.networks()? {
            if n.is_predefined()
                || !self.store.meta.network_endpoints(&n.id)?.is_empty()
                || !filter::prune_keeps(&n, filters)?
            {
                continue;
            }
            match self.remove_network(&n) {
                Ok(()) => gone.push(n.name.clone()),
                Err(EngineError::Forbidden(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(gone)
    }

    fn emit_network(&self, n: &Network, action: &str, extra: &[(&str, &str)]) {
        let mut attrs: Vec<(&str, &str)> = vec![("name", &n.name), ("type", &n.config.driver)];
        attrs.extend_from_slice(extra);
        self.emit("network", action, &n.id, &attrs);
    }
}

/// The first pool subnet that overlaps no network and no route of the host's.
fn free_pool(cfg: &NetConfig, taken: &[Subnet]) -> Option<Subnet> {
    let host_routes = host_routes();
    for (base, size) in &cfg.pools {
        let mut i = 0u32;
        while let Some(s) = base.nth_child(*size, i) {
            i += 1;
            if !taken
                .iter()
                .chain(host_routes.iter())
                .any(|t| t.overlaps(&s))
            {
                return Some(s);
            }
        }
    }
    None
}

/// The host's IPv4 routes other than the default one (`/proc/net/route`), which a
/// new network must not shadow.
fn host_routes() -> Vec<Subnet> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None;
            }
            // Little-endian hex, as the kernel prints it.
            let dest = Ipv4Addr::from(dest.swap_bytes());
            Subnet::new(dest, mask.count_ones() as u8).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker() {
        assert!(valid_name("web_1.net-a"));
        assert!(!valid_name("-x") && !valid_name("") && !valid_name("a b") && !valid_name("a/b"));
    }

    #[test]
    fn pools_skip_taken_subnets() {
        let cfg = NetConfig::default();
        let taken = vec![
            "172.17.0.0/16".parse().unwrap(),
            "172.18.0.0/16".parse().unwrap(),
        ];
        let s = free_pool(&cfg, &taken).unwrap();
        assert!(!taken.iter().any(|t: &Subnet| t.overlaps(&s)));
        assert_eq!(s.prefix(), 16);
    }
}
