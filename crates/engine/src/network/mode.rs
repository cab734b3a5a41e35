//! `--network` as `create` takes it: the namespace the container gets and the
//! networks it joins.

use kujira_runtime::NetworkMode;

use super::EndpointSpec;
use crate::container::create::CreateOptions;
use crate::{Engine, EngineError};

impl Engine {
    /// The stored mode name (`bridge`, `host`, `none`, `container:ID` or the user
    /// network's name), the runtime's namespace mode, and the endpoints to attach.
    pub(crate) fn network_mode(
        &self,
        opts: &CreateOptions,
    ) -> Result<((String, NetworkMode), Vec<EndpointSpec>), EngineError> {
        let asked = opts
            .network
            .clone()
            .or_else(|| opts.endpoints.first().map(|(n, _)| n.clone()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        let no_endpoint_options = || {
            if !opts.network_aliases.is_empty() || opts.ip.is_some() {
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
                if !opts.publish.is_empty() || opts.publish_all {
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
            "default" | "bridge" => "bridge".to_string(),
            other => other.to_string(),
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
        // The docker CLI names the default network `default` in EndpointsConfig.
        let canonical = |n: &str| {
            if n == "default" {
                "bridge".to_string()
            } else {
                n.to_string()
            }
        };
        let mut first = opts
            .endpoints
            .iter()
            .find(|(n, _)| canonical(n) == mode || *n == primary.id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        first.network_id = primary.id.clone();
        for a in &opts.network_aliases {
            if !first.aliases.contains(a) {
                first.aliases.push(a.clone());
            }
        }
        if let Some(ip) = &opts.ip {
            first.ipv4_address = ip.clone();
        }
        first.links = opts.links.clone();
        specs.push(first);
        for (name, spec) in &opts.endpoints {
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
            let mut spec = spec.clone();
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
        let Some(target) = c.config.network.strip_prefix("container:") else {
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
