//! Published ports (`-p [ip:]hostPort:containerPort[/udp]`): the monitor binds each on
//! the host, then forwards every connection (TCP) or datagram flow (UDP) to the
//! container's loopback from a thread that has joined the container's network
//! namespace. Sockets keep the namespace they were made in, so the listener stays on
//! the host while the connections it forwards to are made inside the container; no
//! firewall rules or bridge are needed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(&self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Empty for every address (`0.0.0.0`).
    pub host_ip: String,
    /// 0 asks for any free port (`-P`, or `-p 80`); the bound one is recorded.
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortMapping {
    /// Parses `-p` (`80`, `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`, `53:53/udp`,
    /// `8000-8001:80-81`).
    pub fn parse(spec: &str) -> Result<Vec<PortMapping>, RuntimeError> {
        let bad = |reason: &str| RuntimeError::InvalidOption {
            what: "port specification",
            reason: format!("{spec:?}: {reason}"),
        };
        let (rest, proto) = match spec.rsplit_once('/') {
            Some((r, "tcp")) => (r, Proto::Tcp),
            Some((r, "udp")) => (r, Proto::Udp),
            Some((_, p)) => return Err(bad(&format!("invalid proto: {p}"))),
            None => (spec, Proto::Tcp),
        };
        // An IPv6 host address is bracketed: [::1]:8080:80.
        let (ip, ports) = if let Some(r) = rest.strip_prefix('[') {
            let (ip, after) = r.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            (ip.to_string(), after.trim_start_matches(':').to_string())
        } else {
            let parts: Vec<&str> = rest.split(':').collect();
            match parts.len() {
                1 | 2 => (String::new(), rest.to_string()),
                3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
                _ => return Err(bad("too many colons")),
            }
        };
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(bad(&format!("invalid IP address: {ip}")));
        }
        let (host, ctr) = match ports.split_once(':') {
            Some((h, c)) => (h, c),
            None => ("", ports.as_str()),
        };
        let range = |s: &str| -> Result<(u16, u16), RuntimeError> {
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            let p = |x: &str| {
                x.parse::<u16>()
                    .map_err(|_| bad(&format!("invalid port: {x}")))
            };
            let (a, b) = (p(a)?, p(b)?);
            if a > b {
                return Err(bad("invalid port range"));
            }
            Ok((a, b))
        };
        let (c0, c1) = range(ctr)?;
        if c0 == 0 {
            return Err(bad("invalid containerPort: 0"));
        }
        let hosts: Vec<u16> = if host.is_empty() {
            vec![0; (c1 - c0 + 1) as usize]
        } else {
            let (h0, h1) = range(host)?;
            if h1 - h0 != c1 - c0 {
                return Err(bad("host and container port ranges differ in size"));
            }
            (h0..=h1).collect()
        };
        Ok((c0..=c1)
            .zip(hosts)
            .map(|(c, h)| PortMapping {
                host_ip: ip.clone(),
                host_port: h,
                container_port: c,
                proto,
            })
            .collect())
    }

    fn bind_addr(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        if ip.contains(':') {
            format!("[{ip}]:{}", self.host_port)
        } else {
            format!("{ip}:{}", self.host_port)
        }
    }
}

/// A bound host socket.
pub enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Binds every mapping on the host, in the caller's network namespace. Ports asked
/// as 0 get a free one, written back into the mapping.
pub fn bind(maps: &mut [PortMapping]) -> Result<Vec<Listener>, RuntimeError> {
    let mut out = Vec::with_capacity(maps.len());
    for m in maps.iter_mut() {
        let addr = m.bind_addr();
        let failed = |e: std::io::Error| RuntimeError::InvalidOption {
            what: "port",
            reason: if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "driver failed programming external connectivity: Bind for {addr} failed: port is already allocated"
                )
            } else {
                format!(
                    "driver failed programming external connectivity: listen {} {addr}: {e}",
                    m.proto.as_str()
                )
            },
        };
        let l = match m.proto {
            Proto::Tcp => Listener::Tcp(TcpListener::bind(&addr).map_err(failed)?),
            Proto::Udp => Listener::Udp(UdpSocket::bind(&addr).map_err(failed)?),
        };
        let local = match &l {
            Listener::Tcp(t) => t.local_addr(),
            Listener::Udp(u) => u.local_addr(),
        };
        if let Ok(a) = local {
            m.host_port = a.port();
        }
        out.push(l);
    }
    Ok(out)
}

/// Forwards every bound port into the container's current network namespace. The
/// namespace can change (a restarted container gets a new one), so each connection's
/// thread joins whichever is current when it starts.
pub struct Forwarder {
    netns: Arc<Mutex<Option<File>>>,
}

impl Forwarder {
    /// Starts accepting on `listeners` (in the caller's, the host's, namespace).
    pub fn start(maps: &[PortMapping], listeners: Vec<Listener>) -> Forwarder {
        let netns: Arc<Mutex<Option<File>>> = Arc::default();
        for (m, l) in maps.iter().zip(listeners) {
            let port = m.container_port;
            let ns = netns.clone();
            std::thread::spawn(move || match l {
                Listener::Tcp(t) => tcp_loop(t, port, ns),
                Listener::Udp(u) => udp_loop(u, port, ns),
            });
        }
        Forwarder { netns }
    }

    /// Points the forwarder at a network namespace (an open `/proc/<pid>/ns/net`).
    pub fn set_netns(&self, ns: File) {
        if let Ok(mut slot) = self.netns.lock() {
            *slot = Some(ns);
        }
    }
}

/// Moves the calling thread into the current container namespace; a connection that
/// arrives while the container is still starting (or restarting) waits for it.
fn enter(netns: &Mutex<Option<File>>) -> bool {
    for _ in 0..200 {
        {
            let Ok(slot) = netns.lock() else { return false };
            if let Some(f) = slot.as_ref() {
                return nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).is_ok();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn tcp_loop(listener: TcpListener, port: u16, netns: Arc<Mutex<Option<File>>>) {
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        let ns = netns.clone();
        std::thread::spawn(move || {
            if !enter(&ns) {
                return;
            }
            // Made after joining, so inside the container's namespace.
            let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let back = std::thread::spawn(move || pump(server, c2));
            pump(client, s2);
            let _ = back.join();
        });
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A socket inside the container's namespace, connected to its `port`.
fn inner_udp(port: u16, netns: &Mutex<Option<File>>) -> Option<UdpSocket> {
    let target: SocketAddr = (Ipv4Addr::LOCALHOST, port).to_socket_addrs().ok()?.next()?;
    std::thread::scope(|s| {
        s.spawn(|| {
            if !enter(netns) {
                return None;
            }
            let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
            sock.connect(target).ok()?;
            Some(sock)
        })
        .join()
        .ok()
        .flatten()
    })
}

/// UDP: each client address gets its own socket inside the container, so replies
/// find their way back; flows idle for a minute are dropped.
fn udp_loop(host: UdpSocket, port: u16, netns: Arc<Mutex<Option<File>>>) {
    let host = Arc::new(host);
    let flows: Arc<Mutex<HashMap<SocketAddr, UdpSocket>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = host.recv_from(&mut buf) else {
            continue;
        };
        let Ok(mut table) = flows.lock() else { return };
        if let std::collections::hash_map::Entry::Vacant(slot) = table.entry(client) {
            let Some(inner) = inner_udp(port, &netns) else {
                continue;
            };
            let _ = inner.set_read_timeout(Some(Duration::from_secs(60)));
            let (Ok(reader), host2, flows2) = (inner.try_clone(), host.clone(), flows.clone())
            else {
                continue;
            };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = reader.recv(&mut buf) {
                    let _ = host2.send_to(&buf[..n], client);
                }
                if let Ok(mut t) = flows2.lock() {
                    t.remove(&client);
                }
            });
            slot.insert(inner);
        }
        if let Some(inner) = table.get(&client) {
            let _ = inner.send(&buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortMapping {
        let v = PortMapping::parse(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn parses_docker_port_specs() {
        let m = one("8001:80");
        assert_eq!(
            (m.host_ip.as_str(), m.host_port, m.container_port, m.proto),
            ("", 8001, 80, Proto::Tcp)
        );
        let m = one("127.0.0.1:8080:80/udp");
        assert_eq!(
            (m.host_ip.as_str(), m.host_port, m.proto),
            ("127.0.0.1", 8080, Proto::Udp)
        );
        let m = one("127.0.0.1::80");
        assert_eq!((m.host_port, m.container_port), (0, 80));
        assert_eq!(one("80").host_port, 0);
        assert_eq!(one("[::1]:9000:90").host_ip, "::1");
        let r = PortMapping::parse("8000-8001:80-81").unwrap();
        assert_eq!(
            r.iter()
                .map(|m| (m.host_port, m.container_port))
                .collect::<Vec<_>>(),
            [(8000, 80), (8001, 81)]
        );
        for bad in [
            "80/sctp",
            "x:80",
            "1.2.3:80:80",
            "8000-8002:80-81",
            "0",
            "a:b:c:d",
        ] {
            assert!(PortMapping::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn busy_port_is_docker_error() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let mut maps = PortMapping::parse(&format!("127.0.0.1:{port}:80")).unwrap();
        let err = bind(&mut maps).err().unwrap().to_string();
        assert!(err.contains("port is already allocated"), "{err}");
        let mut any = PortMapping::parse("127.0.0.1::80").unwrap();
        let ls = bind(&mut any).unwrap();
        assert_eq!(ls.len(), 1);
        assert_ne!(any[0].host_port, 0);
    }
}
