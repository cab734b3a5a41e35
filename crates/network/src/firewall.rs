//! kujira's firewall: one nftables table of its own, `ip kujira`, laid out as Docker's
//! iptables chains (`DOCKER` for published ports, `DOCKER-USER` for the admin's rules,
//! `DOCKER-ISOLATION` between networks) so nothing else on the host is touched and
//! `nft delete table ip kujira` undoes all of it.
//!
//! Per-network and per-port state lives in sets and maps, not in rules, so adding or
//! removing a network or a published port is adding or deleting elements by key: no
//! rule handles to find, one `nft -f` transaction each, nothing to reorder.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::ipam::Subnet;
use crate::NetworkError;

pub const TABLE: &str = "ip kujira";

/// The table, its sets and chains, and the rules that read them; idempotent (the base
/// chains are flushed and refilled in the same transaction).
fn base_script() -> String {
    format!(
        "add table {TABLE}
add set {TABLE} bridges {{ type ifname; }}
add set {TABLE} internal {{ type ifname; }}
add set {TABLE} same {{ type ifname . ifname; }}
add set {TABLE} masq {{ type ipv4_addr; flags interval; }}
add map {TABLE} dnat_any {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}
add map {TABLE} dnat_addr {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}
add chain {TABLE} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}
add chain {TABLE} output {{ type nat hook output priority -100; policy accept; }}
add chain {TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
add chain {TABLE} forward {{ type filter hook forward priority filter; policy accept; }}
add chain {TABLE} DOCKER
add chain {TABLE} DOCKER-USER
add chain {TABLE} DOCKER-ISOLATION
flush chain {TABLE} prerouting
flush chain {TABLE} output
flush chain {TABLE} postrouting
flush chain {TABLE} forward
flush chain {TABLE} DOCKER
flush chain {TABLE} DOCKER-ISOLATION
add rule {TABLE} prerouting fib daddr type local jump DOCKER
add rule {TABLE} output ip daddr != 127.0.0.0/8 fib daddr type local jump DOCKER
add rule {TABLE} DOCKER iifname @bridges return
add rule {TABLE} DOCKER dnat ip to ip daddr . meta l4proto . th dport map @dnat_addr
add rule {TABLE} DOCKER dnat ip to meta l4proto . th dport map @dnat_any
add rule {TABLE} postrouting ip saddr @masq oifname != @bridges masquerade
add rule {TABLE} forward jump DOCKER-USER
add rule {TABLE} forward jump DOCKER-ISOLATION
add rule {TABLE} DOCKER-ISOLATION iifname . oifname @same return
add rule {TABLE} DOCKER-ISOLATION iifname @internal drop
add rule {TABLE} DOCKER-ISOLATION oifname @internal drop
add rule {TABLE} DOCKER-ISOLATION iifname @bridges oifname @bridges drop
"
    )
}

/// A network as the firewall sees it.
#[derive(Debug, Clone)]
pub struct NetworkRules<'a> {
    pub bridge: &'a str,
    pub subnet: Subnet,
    pub internal: bool,
}

/// A published port as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRule {
    /// `None` for every address (`-p 8080:80`), else `-p ADDR:8080:80`.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub proto: &'static str,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

impl PortRule {
    fn key(&self) -> String {
        match self.host_ip {
            None => format!("{} . {}", self.proto, self.host_port),
            Some(a) => format!("{a} . {} . {}", self.proto, self.host_port),
        }
    }

    fn map(&self) -> &'static str {
        if self.host_ip.is_some() {
            "dnat_addr"
        } else {
            "dnat_any"
        }
    }
}

fn network_elements(verb: &str, n: &NetworkRules) -> String {
    let b = n.bridge;
    let mut s = format!(
        "{verb} element {TABLE} bridges {{ \"{b}\" }}\n{verb} element {TABLE} same {{ \"{b}\" . \"{b}\" }}\n"
    );
    if n.internal {
        s.push_str(&format!("{verb} element {TABLE} internal {{ \"{b}\" }}\n"));
    } else {
        s.push_str(&format!("{verb} element {TABLE} masq {{ {} }}\n", n.subnet));
    }
    s
}

/// Sets the table up (again) and adds `n`'s elements; also turns on IPv4 forwarding,
/// as Docker does, without which nothing leaves a bridge.
pub fn add_network(n: &NetworkRules) -> Result<(), NetworkError> {
    enable_forwarding()?;
    let mut script = base_script();
    script.push_str(&network_elements("add", n));
    nft(&script)
}

/// Drops `n`'s elements (each on its own when a batch fails because some are gone).
pub fn remove_network(n: &NetworkRules) -> Result<(), NetworkError> {
    delete_each(&network_elements("delete", n))
}

pub fn add_ports(ports: &[PortRule]) -> Result<(), NetworkError> {
    if ports.is_empty() {
        return Ok(());
    }
    let mut script = String::new();
    for p in ports {
        script.push_str(&format!(
            "add element {TABLE} {} {{ {} : {} . {} }}\n",
            p.map(),
            p.key(),
            p.container_ip,
            p.container_port
        ));
    }
    nft(&script)
}

pub fn remove_ports(ports: &[PortRule]) -> Result<(), NetworkError> {
    let script: String = ports
        .iter()
        .map(|p| format!("delete element {TABLE} {} {{ {} }}\n", p.map(), p.key()))
        .collect();
    delete_each(&script)
}

/// Runs a batch of deletions; if it fails (an element already gone makes the whole
/// transaction fail), runs them one by one and ignores those that are gone.
fn delete_each(script: &str) -> Result<(), NetworkError> {
    if script.is_empty() || nft(script).is_ok() {
        return Ok(());
    }
    for line in script.lines() {
        let _ = nft(line);
    }
    Ok(())
}

/// The table's whole ruleset as `nft list` prints it (for tests and `system check`).
pub fn list() -> Result<String, NetworkError> {
    let out = Command::new("nft")
        .args(["list", "table", "ip", "kujira"])
        .output()
        .map_err(|e| NetworkError::Firewall(format!("running nft: {e}")))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn nft(script: &str) -> Result<(), NetworkError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            NetworkError::Firewall(format!("running nft (is nftables installed?): {e}"))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| NetworkError::Firewall(format!("writing to nft: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetworkError::Firewall(format!("waiting for nft: {e}")))?;
    if !out.status.success() {
        return Err(NetworkError::Firewall(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

fn enable_forwarding() -> Result<(), NetworkError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(path, "1")
        .map_err(|e| NetworkError::Firewall(format!("enabling IPv4 forwarding: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_keys_name_the_map_by_address() {
        let any = PortRule {
            host_ip: None,
            host_port: 8001,
            proto: "tcp",
            container_ip: "172.17.0.2".parse().unwrap(),
            container_port: 80,
        };
        assert_eq!((any.map(), any.key().as_str()), ("dnat_any", "tcp . 8001"));
        let one = PortRule {
            host_ip: Some("192.0.2.2".parse().unwrap()),
            ..any
        };
        assert_eq!(one.key(), "192.0.2.2 . tcp . 8001");
    }

    #[test]
    fn internal_networks_get_no_masquerade() {
        let n = NetworkRules {
            bridge: "kj-0123",
            subnet: "10.1.0.0/24".parse().unwrap(),
            internal: true,
        };
        let s = network_elements("add", &n);
        assert!(s.contains("internal { \"kj-0123\" }") && !s.contains("masq"));
    }
}
