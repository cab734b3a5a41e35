//! The names a container's embedded DNS server answers: those of the running
//! containers on its user-defined networks (name, short ID, aliases, and
//! `name.network`), read from the store at each question, so containers that start,
//! stop or are renamed later are seen at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};

use kujira_network::dns::Names;
use kujira_store::Metadata;

use super::endpoint::Live;
use crate::container::Container;
use crate::Engine;

pub(crate) struct StoreNames {
    /// Opened at the first question: most containers never ask, and opening a
    /// connection costs the start a few milliseconds.
    meta: OnceLock<Option<Mutex<Metadata>>>,
    db: std::path::PathBuf,
    asker: String,
}

impl StoreNames {
    /// With a connection of its own: the monitor's is not shared with its threads.
    pub(crate) fn new(engine: &Engine, asker: &str) -> StoreNames {
        StoreNames {
            meta: OnceLock::new(),
            db: engine.root().join("kujira.db"),
            asker: asker.to_string(),
        }
    }
}

impl Names for StoreNames {
    fn lookup(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        let meta = self
            .meta
            .get_or_init(|| Metadata::open(&self.db).ok().map(Mutex::new))
            .as_ref()?
            .lock()
            .ok()?;
        let mut found = Vec::new();
        // The asker's networks now (a live `network connect` adds one).
        let networks: Vec<String> = meta
            .container_endpoints(&self.asker)
            .ok()?
            .into_iter()
            .map(|e| e.network_id)
            .collect();
        for net in &networks {
            let Ok(Some(network)) = meta.network(net) else {
                continue;
            };
            if network.name == "bridge" {
                continue;
            }
            let Ok(endpoints) = meta.network_endpoints(net) else {
                continue;
            };
            for ep in endpoints {
                let Ok(live) = serde_json::from_str::<Live>(&ep.config) else {
                    continue;
                };
                let cname = meta
                    .container(&ep.container_id)
                    .ok()
                    .flatten()
                    .map(|r| r.name.trim_start_matches('/').to_ascii_lowercase())
                    .unwrap_or_default();
                let qualified = format!("{cname}.{}", network.name.to_ascii_lowercase());
                let hit = (!cname.is_empty() && (cname == name || qualified == name))
                    || live.aliases.iter().any(|a| a.eq_ignore_ascii_case(name));
                if hit {
                    if let Ok(ip) = live.ip.parse::<Ipv4Addr>() {
                        if !found.contains(&ip) {
                            found.push(ip);
                        }
                    }
                }
            }
        }
        // Docker's round robin: several answers (a scaled service) come shuffled.
        use rand::seq::SliceRandom;
        found.shuffle(&mut rand::rng());
        (!found.is_empty()).then_some(found)
    }
}

/// Where other names go: the container's `--dns` servers, else the host's.
pub(crate) fn upstreams(c: &Container) -> Vec<SocketAddr> {
    let servers: Vec<String> = if c.config.dns().is_empty() {
        std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver"))
            .map(|s| s.trim().to_string())
            .collect()
    } else {
        c.config.dns().to_vec()
    };
    servers
        .iter()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}
