//! A container's endpoints: what it asked for (kept in its config) and, while it
//! runs, its lease on each network (an endpoint row). The monitor attaches the
//! container between `runtime create` and `start`, when its network namespace
//! exists and its process has not run yet, so the process starts with its
//! addresses, routes, `/etc/hosts` and DNS in place; it detaches after the exit.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use kujira_network::dns::DnsServer;
use kujira_network::firewall::{self, PortRule};
use kujira_network::ipam::{format_mac, mac_for};
use kujira_network::netlink::Netlink;
use kujira_network::NetworkError;
use kujira_runtime::ports::PortMapping;

use super::{NetConfig, Network};
use crate::container::Container;
use crate::{Engine, EngineError};

/// How a container is attached to one network: `--network`, `--network-alias`,
/// `--ip`, `--link` or `network connect`, as stored in its config.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct EndpointSpec {
    pub network_id: String,
    pub aliases: Vec<String>,
    pub ipv4_address: String,
    /// `--link NAME[:ALIAS]` (the default network only).
    pub links: Vec<String>,
}

/// A running container's lease on one network (the endpoint row's document).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Live {
    pub ip: String,
    pub prefix: u8,
    pub gateway: String,
    pub mac: String,
    /// The host end of the veth pair.
    pub veth: String,
    /// The interface inside the container (`eth0`, …).
    pub iface: String,
    /// Names it answers to besides the container's name and short ID.
    pub aliases: Vec<String>,
    /// The published ports DNATed to this address (host ports as bound).
    pub ports: Vec<PortMapping>,
}

/// A published port as the firewall rule for the container's address `ip`
/// (IPv6 host addresses are the forwarder's alone).
fn rule(p: &PortMapping, ip: Ipv4Addr) -> Option<PortRule> {
    let host_ip = match p.host_ip.as_str() {
        "" | "0.0.0.0" => None,
        a => Some(a.parse().ok()?),
    };
    Some(PortRule {
        host_ip,
        host_port: p.host_port,
        proto: p.proto.as_str(),
        container_ip: ip,
        container_port: p.container_port,
    })
}

impl Live {
    pub fn rules(&self) -> Vec<PortRule> {
        let Ok(ip) = self.ip.parse() else {
            return Vec::new();
        };
        self.ports.iter().filter_map(|p| rule(p, ip)).collect()
    }
}

/// What attaching made, undone by [`Engine::detach_networks`].
#[derive(Default)]
pub struct Attachment {
    _dns: Option<DnsServer>,
}

/// The host end of a container's veth on a network: fixed by both IDs, so a sweep
/// can find what a crashed monitor left (15 characters, the kernel's limit).
pub fn veth_name(container_id: &str, network_id: &str) -> String {
    format!("kv{}{}", &container_id[..9], &network_id[..4])
}

impl Engine {
    /// Leases addresses, plugs the container (init `pid`, not yet started) into each
    /// of its networks, publishes its ports and starts its DNS server. On error,
    /// what was done is undone.
    pub(crate) fn attach_networks(
        &self,
        c: &Container,
        pid: i32,
    ) -> Result<Attachment, EngineError> {
        if c.config.networks.is_empty() {
            return Ok(Attachment::default());
        }
        self.try_attach(c, pid).inspect_err(|_| {
            self.detach_networks(c, Attachment::default());
        })
    }

    fn try_attach(&self, c: &Container, pid: i32) -> Result<Attachment, EngineError> {
        let cfg = NetConfig::load()?;
        self.sweep_leases()?;
        let netns = File::open(format!("/proc/{pid}/ns/net"))
            .map_err(|e| EngineError::io("opening the container's network namespace", e))?;
        let mut user_networks = false;
        let mut first = None;
        for (i, spec) in c.config.networks.iter().enumerate() {
            let (n, live) = self.plug(c, spec, i, &netns, &cfg, i == 0)?;
            user_networks |= !n.is_default_bridge();
            if first.is_none() {
                first = Some((n, live));
            }
        }
        if let Some((n, mut live)) = first {
            let ip = live.ip.parse().map_err(|_| {
                EngineError::InvalidArgument(format!("bad leased address {}", live.ip))
            })?;
            self.write_hosts_entry(c, ip, &self.link_lines(c, &n)?)?;
            if cfg.iptables {
                self.publish(c, &n, &mut live)?;
            }
        }
        let mut done = Attachment::default();
        if user_networks {
            let names = super::dns::StoreNames::new(self, c.id());
            let upstreams = super::dns::upstreams(c);
            done._dns = Some(kujira_network::dns::serve(
                &netns,
                Arc::new(names),
                upstreams,
            )?);
        }
        Ok(done)
    }

    /// Plugs `c` into one network inside namespace `netns`: a lease, a veth pair
    /// (`eth{slot}` inside), the address, and the default route for the primary one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn plug(
        &self,
        c: &Container,
        spec: &EndpointSpec,
        slot: usize,
        netns: &File,
        cfg: &NetConfig,
        primary: bool,
    ) -> Result<(Network, Live), EngineError> {
        if spec.network_id == super::predefined_id("bridge") {
            self.persist_default_network(cfg)?;
        }
        let row = self
            .store
            .meta
            .network(&spec.network_id)?
            .ok_or_else(|| EngineError::NoSuchNetwork(spec.network_id.clone()))?;
        let n = Network::from_row(row)?;
        let index = self.realize(&n, cfg)?;
        let pool = n.pool()?;
        let iface = format!("eth{slot}");
        let veth = veth_name(c.id(), &n.id);
        let mut aliases = spec.aliases.clone();
        if !n.is_default_bridge() {
            aliases.push(c.id()[..12].to_string());
        }
        let mut live = Live {
            prefix: pool.subnet.prefix(),
            gateway: pool.gateway.to_string(),
            veth: veth.clone(),
            iface: iface.clone(),
            aliases,
            ..Default::default()
        };
        let ip = self.lease(c, &n, spec, &mut live)?;
        let mac = mac_for(ip);
        live.mac = format_mac(&mac);
        // The document again, now with the address the lease took and its MAC.
        self.store
            .meta
            .set_endpoint_config(&n.id, c.id(), &to_json(&live)?)?;
        let mut nl = Netlink::open()?;
        if let Err(e) = nl.add_veth(&veth, index, &iface, mac, netns.as_fd()) {
            // A veth of this container's last run that its dying namespace has not
            // yet let go of: take it away and try once more.
            if !matches!(&e, NetworkError::Errno(_, io) if io.raw_os_error() == Some(libc::EEXIST))
            {
                return Err(e.into());
            }
            nl.delete_link(&veth)?;
            nl.add_veth(&veth, index, &iface, mac, netns.as_fd())?;
        }
        let route = (primary && !n.config.internal).then_some(pool.gateway);
        let prefix = pool.subnet.prefix();
        kujira_network::netns::run_in(netns, || {
            let mut nl = Netlink::open()?;
            let index = nl
                .link_index(&iface)?
                .ok_or_else(|| NetworkError::Netlink(format!("{iface} did not arrive")))?;
            nl.add_address(index, ip, prefix)?;
            nl.set_up(index)?;
            if let Some(gw) = route {
                nl.add_default_route(gw)?;
            }
            Ok(())
        })?;
        Ok((n, live))
    }

    /// Takes an address on `n` for `c` (the one it asked for, or the next free one)
    /// in one store transaction, so concurrent starts never share one.
    fn lease(
        &self,
        c: &Container,
        n: &Network,
        spec: &EndpointSpec,
        live: &mut Live,
    ) -> Result<Ipv4Addr, EngineError> {
        let pool = n.pool()?;
        let mut failure: Option<EngineError> = None;
        let wanted: Option<Ipv4Addr> = if spec.ipv4_address.is_empty() {
            None
        } else {
            Some(spec.ipv4_address.parse().map_err(|_| {
                EngineError::InvalidArgument(format!("invalid IPv4 address: {}", spec.ipv4_address))
            })?)
        };
        let json = to_json(live)?;
        let got = self
            .store
            .meta
            .add_endpoint(&n.id, c.id(), &json, |last, taken| {
                let taken: Vec<Ipv4Addr> = taken.iter().filter_map(|t| t.parse().ok()).collect();
                match wanted {
                    Some(ip) => match pool.check_static(ip, &taken) {
                        Ok(()) => Some(ip.to_string()),
                        Err(e) => {
                            failure = Some(e.into());
                            None
                        }
                    },
                    None => {
                        let got = pool.next_free(last.parse().ok(), &taken);
                        if got.is_none() {
                            failure = Some(EngineError::Forbidden(format!(
                            "no available IPv4 addresses on this network's address pools: {} ({})",
                            n.name, n.id
                        )));
                        }
                        got.map(|ip| ip.to_string())
                    }
                }
            })?;
        let Some(ip) = got else {
            return Err(failure.unwrap_or_else(|| EngineError::NoSuchNetwork(n.name.clone())));
        };
        live.ip = ip.clone();
        ip.parse()
            .map_err(|_| EngineError::InvalidArgument(format!("bad leased address {ip}")))
    }

    /// The kernel DNAT of the container's published ports to `ip` (the userland
    /// forwarder keeps serving loopback and other containers, as docker-proxy does).
    fn publish(&self, c: &Container, n: &Network, live: &mut Live) -> Result<(), EngineError> {
        live.ports = c
            .config
            .ports
            .iter()
            .filter(|p| !p.host_ip.contains(':'))
            .cloned()
            .collect();
        if live.ports.is_empty() {
            return Ok(());
        }
        // Recorded before the rules exist, so a crash in between leaves a lease whose
        // sweep removes them.
        self.store
            .meta
            .set_endpoint_config(&n.id, c.id(), &to_json(live)?)?;
        firewall::add_ports(&live.rules())?;
        Ok(())
    }

    /// `/etc/hosts` gets the container's address for its hostname (in place: the
    /// file is bind-mounted, a rename would not reach the container).
    fn write_hosts_entry(
        &self,
        c: &Container,
        ip: Ipv4Addr,
        links: &[String],
    ) -> Result<(), EngineError> {
        let path = self.container_paths(c.id()).dir.join("hosts");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let host = if c.config.hostname().is_empty() {
            &c.id()[..12]
        } else {
            c.config.hostname()
        };
        let mut out: String = text
            .lines()
            .filter(|l| !l.ends_with(&format!("\t{host}")))
            .map(|l| format!("{l}\n"))
            .collect();
        out.push_str(&format!("{ip}\t{host}\n"));
        for l in links {
            if !out.contains(l.as_str()) {
                out.push_str(l);
                out.push('\n');
            }
        }
        std::fs::write(&path, out)
            .map_err(|e| EngineError::io(format!("writing {}", path.display()), e))
    }

    /// `--link NAME[:ALIAS]`: a line `IP\tALIAS ID NAME` for each linked container
    /// (which must be running, on the same network), as Docker writes them.
    fn link_lines(&self, c: &Container, n: &Network) -> Result<Vec<String>, EngineError> {
        let Some(spec) = c.config.networks.iter().find(|s| s.network_id == n.id) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for link in &spec.links {
            let (name, alias) = link
                .split_once(':')
                .unwrap_or((link.as_str(), link.as_str()));
            let name = name.trim_start_matches('/');
            let target = self.find_container(name).map_err(|_| {
                EngineError::InvalidArgument(format!(
                    "could not get container for {name}: No such container: {name}"
                ))
            })?;
            let live: Option<Live> = self
                .store
                .meta
                .container_endpoints(target.id())?
                .into_iter()
                .find(|r| r.network_id == n.id)
                .and_then(|r| serde_json::from_str(&r.config).ok());
            let Some(live) = live.filter(|_| target.is_running()) else {
                return Err(EngineError::Conflict(format!(
                    "Cannot link to a non running container: /{} AS /{}/{alias}",
                    target.name(),
                    c.name()
                )));
            };
            let mut names = vec![alias.to_string()];
            names.push(target.id()[..12].to_string());
            if alias != target.name() {
                names.push(target.name().to_string());
            }
            out.push(format!("{}\t{}", live.ip, names.join(" ")));
        }
        Ok(out)
    }

    /// Undoes an attachment: every lease of the container (those a live `network
    /// connect` added too) and its DNAT elements. The veth pairs go with the
    /// container's network namespace.
    pub(crate) fn detach_networks(&self, c: &Container, done: Attachment) {
        // The DNS server first: nobody asks it once the container is gone.
        drop(done);
        for row in self
            .store
            .meta
            .container_endpoints(c.id())
            .unwrap_or_default()
        {
            let live: Live = serde_json::from_str(&row.config).unwrap_or_default();
            let rules = live.rules();
            if !rules.is_empty() {
                let _ = firewall::remove_ports(&rules);
            }
            let _ = self.store.meta.delete_endpoint(&row.network_id, c.id());
        }
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String, EngineError> {
    serde_json::to_string(v).map_err(|e| EngineError::InvalidArgument(e.to_string()))
}
