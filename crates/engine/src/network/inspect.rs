//! Networks and endpoints as `network inspect`, `/networks` and a container's
//! `NetworkSettings` show them, in dockerd's shape.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::endpoint::Live;
use super::Network;
use crate::container::Container;
use crate::{Engine, EngineError};

impl Engine {
    /// `network inspect`'s document (`Containers` holds the running ones).
    pub fn inspect_network(&self, n: &Network) -> Result<Value, EngineError> {
        let mut containers = BTreeMap::new();
        if n.has_addresses() {
            for ep in self.store.meta.network_endpoints(&n.id)? {
                let Ok(live) = serde_json::from_str::<Live>(&ep.config) else {
                    continue;
                };
                let name = self
                    .store
                    .meta
                    .container(&ep.container_id)?
                    .map(|r| r.name)
                    .unwrap_or_default();
                containers.insert(
                    ep.container_id.clone(),
                    json!({
                        "Name": name,
                        "EndpointID": endpoint_id(&n.id, &ep.container_id),
                        "MacAddress": live.mac,
                        "IPv4Address": format!("{}/{}", live.ip, live.prefix),
                        "IPv6Address": "",
                    }),
                );
            }
        }
        let mut ipam_config = Vec::new();
        if !n.config.subnet.is_empty() {
            let mut c = json!({"Subnet": n.config.subnet, "Gateway": n.config.gateway});
            if !n.config.ip_range.is_empty() {
                c["IPRange"] = json!(n.config.ip_range);
            }
            ipam_config.push(c);
        }
        Ok(json!({
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": "local",
            "Driver": n.config.driver,
            "EnableIPv4": true,
            "EnableIPv6": n.config.enable_ipv6,
            "IPAM": {"Driver": "default", "Options": null, "Config": ipam_config},
            "Internal": n.config.internal,
            "Attachable": n.config.attachable,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            "Options": n.config.options,
            "Labels": n.config.labels,
        }))
    }

    /// A container's `NetworkSettings.Networks`: every network it is configured
    /// for, with the live address while it runs (empty strings when stopped, as
    /// dockerd shows them).
    pub fn container_networks(&self, c: &Container) -> Value {
        let live: BTreeMap<String, Live> = self
            .store
            .meta
            .container_endpoints(c.id())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| Some((r.network_id, serde_json::from_str(&r.config).ok()?)))
            .collect();
        let mut out = serde_json::Map::new();
        if c.config.networks.is_empty() {
            let mode = match c.config.network() {
                "default" => "bridge",
                m if m.starts_with("container:") => return Value::Object(out),
                m => m,
            };
            out.insert(
                mode.to_string(),
                endpoint_doc(mode, &super::predefined_id(mode), c, None, &[]),
            );
            return Value::Object(out);
        }
        for spec in &c.config.networks {
            let name = self
                .store
                .meta
                .network(&spec.network_id)
                .ok()
                .flatten()
                .map(|r| r.name)
                .unwrap_or_else(|| {
                    // The default bridge's row is written at its first use.
                    if spec.network_id == super::predefined_id("bridge") {
                        "bridge".to_string()
                    } else {
                        spec.network_id.clone()
                    }
                });
            let l = live.get(&spec.network_id);
            out.insert(
                name.clone(),
                endpoint_doc(&name, &spec.network_id, c, l, &spec.aliases),
            );
        }
        Value::Object(out)
    }
}

/// The ID of a container's endpoint on a network: stable for the pair.
fn endpoint_id(network_id: &str, container_id: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(
        format!("{network_id}/{container_id}").as_bytes(),
    ))
}

fn endpoint_doc(
    name: &str,
    network_id: &str,
    c: &Container,
    live: Option<&Live>,
    aliases: &[String],
) -> Value {
    let user = !matches!(name, "bridge" | "host" | "none");
    let (ip, prefix, gw, mac, eid) = match live {
        Some(l) => (
            l.ip.clone(),
            l.prefix,
            l.gateway.clone(),
            l.mac.clone(),
            endpoint_id(network_id, c.id()),
        ),
        None => Default::default(),
    };
    // The short ID among the aliases too, as dockerd answered before API 1.45
    // (docker-compose 1.29 looks for it there).
    let mut aliases = aliases.to_vec();
    if user && !aliases.iter().any(|a| *a == c.id()[..12]) {
        aliases.push(c.id()[..12].to_string());
    }
    let mut dns_names = Vec::new();
    if user {
        dns_names.push(c.name().to_string());
        dns_names.extend(aliases.iter().cloned());
    }
    json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": if aliases.is_empty() { Value::Null } else { json!(aliases) },
        "MacAddress": mac,
        "DriverOpts": null,
        "GwPriority": 0,
        "NetworkID": network_id,
        "EndpointID": eid,
        "Gateway": gw,
        "IPAddress": ip,
        "IPPrefixLen": prefix,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": if dns_names.is_empty() { Value::Null } else { json!(dns_names) },
    })
}
