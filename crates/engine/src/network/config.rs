//! The networking keys of `config.toml` (Docker's `daemon.json` names): `bip`,
//! `default-address-pools`, `iptables`, and `bridge` (the default network's device).
//! Read from the same files as the registry settings, later files winning.

use serde::Deserialize;

use kujira_network::Subnet;

use crate::EngineError;

#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The default bridge's gateway and subnet (`172.17.0.1/16`).
    pub bip: (std::net::Ipv4Addr, Subnet),
    /// The Linux bridge behind the default network.
    pub bridge: String,
    /// Where user networks without `--subnet` get theirs: (pool, size of each).
    pub pools: Vec<(Subnet, u8)>,
    /// false: kujira leaves the firewall alone (no NAT; ports via the forwarder).
    pub iptables: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    bip: Option<String>,
    bridge: Option<String>,
    default_address_pools: Option<Vec<PoolEntry>>,
    iptables: Option<bool>,
}

#[derive(Deserialize)]
struct PoolEntry {
    base: String,
    size: u8,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        let sub = |s: &str| s.parse::<Subnet>().unwrap_or_else(|_| unreachable!());
        NetConfig {
            bip: (std::net::Ipv4Addr::new(172, 17, 0, 1), sub("172.17.0.0/16")),
            bridge: "kujira0".into(),
            // Docker's defaults: 172.17–172.31 as /16s, then 192.168 as /20s.
            pools: (17..=31)
                .map(|b| (sub(&format!("172.{b}.0.0/16")), 16))
                .chain([(sub("192.168.0.0/16"), 20)])
                .collect(),
            iptables: true,
        }
    }
}

impl NetConfig {
    pub fn load() -> Result<NetConfig, EngineError> {
        let mut cfg = NetConfig::default();
        for path in kujira_registry::config_files() {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(EngineError::io(format!("reading {}", path.display()), e)),
            };
            let bad = |e: String| EngineError::InvalidArgument(format!("{}: {e}", path.display()));
            let file: FileConfig = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
            if let Some(bip) = file.bip {
                let (gw, prefix) =
                    kujira_network::ipam::parse_cidr(&bip).map_err(|e| bad(e.to_string()))?;
                cfg.bip = (gw, Subnet::new(gw, prefix).map_err(|e| bad(e.to_string()))?);
            }
            if let Some(b) = file.bridge {
                if b.is_empty() || b.len() > 15 || b.contains('/') || b.contains(' ') {
                    return Err(bad(format!("invalid bridge name {b:?}")));
                }
                cfg.bridge = b;
            }
            if let Some(pools) = file.default_address_pools {
                cfg.pools = pools
                    .into_iter()
                    .map(|p| {
                        let base = Subnet::parse_strict(&p.base).map_err(|e| bad(e.to_string()))?;
                        if p.size < base.prefix() || p.size > 30 {
                            return Err(bad(format!(
                                "invalid pool size {} for {}",
                                p.size, p.base
                            )));
                        }
                        Ok((base, p.size))
                    })
                    .collect::<Result<_, _>>()?;
            }
            if let Some(i) = file.iptables {
                cfg.iptables = i;
            }
        }
        Ok(cfg)
    }
}
