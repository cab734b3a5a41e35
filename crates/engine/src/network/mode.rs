//! `--network` as `create` takes it: the namespace the container gets and the
//! networks it joins.

use kujira_runtime::NetworkMode;

use super::EndpointSpec;
use crate::{Engine, EngineError};
use bollard_stubs::models::{EndpointSettings, HostConfig, NetworkingConfig};

impl Engine {
    /// The stored mode name (`bridge`, `host`, `none`, `container:ID` or the user
    /// network's name), the runtime's namespace mode, and the endpoints to attach:
    /// `HostConfig.NetworkMode` (or the first of `EndpointsConfig`), with
    /// `NetworkingConfig.EndpointsConfig`'s aliases and addresses, and
    /// `HostConfig.Links` on the default bridge.
    pub(crate) fn network_mode(
        &self,
        hc: &HostConfig,
        networking: Option<&NetworkingConfig>,
        publishing: bool,
    ) -> Result<((String, NetworkMode), Vec<EndpointSpec>), EngineError> {
        let mut endpoints: Vec<(&String, &EndpointSettings)> = networking
            .and_then(|n| n.endpoints_config.as_ref())
            .into_iter()
            .flatten()
            .collect();
        endpoints.sort_by(|a, b| a.0.cmp(b.0));
        let asked = hc
            .network_mode
            .clone()
            .or_else(|| endpoints.first().map(|(n, _)| n.to_string()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        // The docker CLI names the default network `default`.
        let canonical = |n: &str| {
            if n == "default" {
                "bridge".to_string()
            } else {
                n.to_string()
            }
        };
        let spec_of = |e: &EndpointSettings| EndpointSpec {
            network_id: String::new(),
            aliases: e.aliases.clone().unwrap_or_default(),
            ipv4_address: e
                .ipam_config
                .as_ref()
                .and_then(|c| c.ipv4_address.clone())
                .unwrap_or_default(),
            links: e.links.clone().unwrap_or_default(),
        };
        let asked_primary = endpoints
            .iter()
            .find(|(n, _)| canonical(n) == canonical(&asked))
            .map(|(_, e)| spec_of(e))
            .unwrap_or_default();
        let no_endpoint_options = || {
            if !asked_primary.aliases.is_empty() || !asked_primary.ipv4_address.is_empty() {
                return Err(EngineError::InvalidArgument(
                    "network-scoped aliases and static addresses are only supported for user-defined networks".into(),
                ));
            }
            Ok(())
        };
        let mode = match asked.as_str() {
            "host" => {
                no_endpoint_options()?;
                return Ok((("host".into(), NetworkMode::Host), Vec::new()));
            }
            "none" => {
                no_endpoint_options()?;
                return Ok((("none".into(), NetworkMode::None), Vec::new()));
            }
            m if m.starts_with("container:") => {
                no_endpoint_options()?;
                let target = self.find_container(&m["container:".len()..])?;
                if publishing {
                    return Err(EngineError::InvalidArgument(
                        "conflicting options: port publishing and the container type network mode"
                            .into(),
                    ));
                }
                return Ok((
                    (format!("container:{}", target.id()), NetworkMode::Host),
                    Vec::new(),
                ));
            }
            other => canonical(other),
        };
        let mut specs = Vec::new();
        let primary = self.find_network(&mode)?;
        if !primary.has_addresses() {
            return Err(EngineError::InvalidArgument(format!(
                "container cannot be connected to network {} with driver {}",
                primary.name, primary.config.driver
            )));
        }
        if primary.is_default_bridge() {
            no_endpoint_options()?;
        }
        let mut first = endpoints
            .iter()
            .find(|(n, _)| canonical(n) == mode || **n == primary.id)
            .map(|(_, e)| spec_of(e))
            .unwrap_or_default();
        first.network_id = primary.id.clone();
        if first.links.is_empty() {
            first.links = hc.links.clone().unwrap_or_default();
        }
        specs.push(first);
        for (name, e) in &endpoints {
            let n = self.find_network(&canonical(name))?;
            if n.id == primary.id {
                continue;
            }
            if n.is_predefined() {
                return Err(EngineError::InvalidArgument(format!(
                    "Container cannot be connected to network endpoints: {mode}, {}",
                    n.name
                )));
            }
            let mut spec = spec_of(e);
            spec.network_id = n.id.clone();
            specs.push(spec);
        }
        Ok(((primary.name.clone(), NetworkMode::Private), specs))
    }
}

impl Engine {
    /// `--network container:ID`: that container's network namespace, which must be
    /// running.
    pub(crate) fn target_netns(
        &self,
        c: &crate::container::Container,
    ) -> Result<Option<std::fs::File>, EngineError> {
        let Some(target) = c.config.network().strip_prefix("container:") else {
            return Ok(None);
        };
        let t = self.find_container(target)?;
        if !t.is_running() {
            return Err(EngineError::Conflict(format!(
                "cannot join network namespace of a non running container: container {} is {}",
                t.id(),
                t.status()
            )));
        }
        std::fs::File::open(format!("/proc/{}/ns/net", t.row.state.pid))
            .map(Some)
            .map_err(|e| EngineError::io("opening the container's network namespace", e))
    }
}
