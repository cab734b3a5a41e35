//! `network connect` and `network disconnect`: the container's stored endpoints
//! change, and a running container is plugged in or out at once.

use std::fs::File;

use kujira_network::firewall;
use kujira_network::netlink::Netlink;

use super::endpoint::{to_json, EndpointSpec, Live};
use super::{NetConfig, Network};
use crate::container::Container;
use crate::{Engine, EngineError};

impl Engine {
    fn save_networks(&self, c: &Container, networks: Vec<EndpointSpec>) -> Result<(), EngineError> {
        let mut cfg = c.config.clone();
        cfg.networks = networks;
        self.store
            .meta
            .set_container_config(c.id(), &to_json(&cfg)?)?;
        Ok(())
    }

    pub fn connect_network(
        &self,
        n: &Network,
        c: &Container,
        aliases: Vec<String>,
        ip: Option<String>,
    ) -> Result<(), EngineError> {
        if !n.has_addresses() {
            return Err(EngineError::Forbidden(format!(
                "container cannot be disconnected from {0} network or connected to {0} network",
                n.name
            )));
        }
        let mode = c.config.network();
        if mode == "none" {
            return Err(EngineError::Forbidden(
                "container cannot be connected to multiple networks with one of the networks in private (none) mode".into(),
            ));
        }
        if mode == "host" || mode.starts_with("container:") {
            return Err(EngineError::Forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network".into(),
            ));
        }
        if c.config.networks.iter().any(|s| s.network_id == n.id) {
            return Err(EngineError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                c.name(),
                n.name
            )));
        }
        if n.is_default_bridge() && (!aliases.is_empty() || ip.is_some()) {
            return Err(EngineError::InvalidArgument(
                "network-scoped aliases and static addresses are only supported for user-defined networks".into(),
            ));
        }
        let spec = EndpointSpec {
            network_id: n.id.clone(),
            aliases,
            ipv4_address: ip.unwrap_or_default(),
            links: Vec::new(),
        };
        let mut networks = c.config.networks.clone();
        networks.push(spec.clone());
        if c.is_running() && c.row.state.pid > 0 {
            let netns = File::open(format!("/proc/{}/ns/net", c.row.state.pid))
                .map_err(|e| EngineError::io("opening the container's network namespace", e))?;
            let used: Vec<String> = self
                .store
                .meta
                .container_endpoints(c.id())?
                .into_iter()
                .filter_map(|r| serde_json::from_str::<Live>(&r.config).ok())
                .map(|l| l.iface)
                .collect();
            let slot = (0..)
                .find(|i| !used.contains(&format!("eth{i}")))
                .unwrap_or(0);
            let cfg = NetConfig::load()?;
            let primary = used.is_empty();
            if let Err(e) = self.plug(c, &spec, slot, &netns, &cfg, primary) {
                self.unplug(c, &n.id);
                return Err(e);
            }
        }
        self.save_networks(c, networks)?;
        self.emit(
            "network",
            "connect",
            &n.id,
            &[
                ("container", c.id()),
                ("name", &n.name),
                ("type", &n.config.driver),
            ],
        );
        Ok(())
    }

    pub fn disconnect_network(&self, n: &Network, c: &Container) -> Result<(), EngineError> {
        if !c.config.networks.iter().any(|s| s.network_id == n.id) {
            return Err(EngineError::Forbidden(format!(
                "container {} is not connected to network {}",
                c.id(),
                n.name
            )));
        }
        let networks: Vec<EndpointSpec> = c
            .config
            .networks
            .iter()
            .filter(|s| s.network_id != n.id)
            .cloned()
            .collect();
        self.unplug(c, &n.id);
        // The network mode stays (dockerd's too): a container taken off its last
        // network is connected again later, as docker-compose does after create.
        let mut cfg = c.config.clone();
        cfg.networks = networks;
        self.store
            .meta
            .set_container_config(c.id(), &to_json(&cfg)?)?;
        self.emit(
            "network",
            "disconnect",
            &n.id,
            &[
                ("container", c.id()),
                ("name", &n.name),
                ("type", &n.config.driver),
            ],
        );
        Ok(())
    }

    /// Takes a running container off one network: its DNAT elements, its veth (the
    /// inside end goes with it) and its lease.
    fn unplug(&self, c: &Container, network_id: &str) {
        let Ok(rows) = self.store.meta.container_endpoints(c.id()) else {
            return;
        };
        for row in rows.into_iter().filter(|r| r.network_id == network_id) {
            let live: Live = serde_json::from_str(&row.config).unwrap_or_default();
            let rules = live.rules();
            if !rules.is_empty() {
                let _ = firewall::remove_ports(&rules);
            }
            if let Ok(mut nl) = Netlink::open() {
                let _ = nl.delete_link(&live.veth);
            }
            let _ = self.store.meta.delete_endpoint(network_id, c.id());
        }
    }
}
