//! The embedded DNS server of user-defined networks, as Docker's: it answers at
//! 127.0.0.11:53 inside the container, for the names of the containers on the same
//! networks, and passes every other question to the host's resolvers.
//!
//! It runs in the container's monitor (it lives exactly as long as the container
//! that asks): the socket is opened inside the container's network namespace, and
//! the thread reading it, like the sockets it forwards through, stays in the host's.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use simple_dns::rdata::{RData, A};
use simple_dns::{Packet, PacketFlag, ResourceRecord, CLASS, QTYPE, RCODE, TYPE};

use crate::NetworkError;

/// Where Docker's embedded resolver answers inside a container.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// Answers for the names the server knows; `None` hands the question upstream.
pub trait Names: Send + Sync {
    /// The addresses of `name` (lower case, no trailing dot), or `None` if it is not
    /// a name of this container's networks.
    fn lookup(&self, name: &str) -> Option<Vec<Ipv4Addr>>;
}

/// A running server; dropping it stops the thread at once.
pub struct DnsServer {
    stop: Arc<AtomicBool>,
    sock: Arc<UdpSocket>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocked recv (Linux ends it on a shut-down UDP socket), so the
        // container's exit does not wait for the read timeout.
        // SAFETY: shutdown on a socket this server owns.
        unsafe { libc::shutdown(self.sock.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts answering inside network namespace `netns`.
pub fn serve(
    netns: &File,
    names: Arc<dyn Names>,
    upstreams: Vec<SocketAddr>,
) -> Result<DnsServer, NetworkError> {
    let sock = crate::netns::run_in(netns, || {
        UdpSocket::bind((ADDRESS, 53)).map_err(|e| {
            NetworkError::Netlink(format!("binding the DNS server at {ADDRESS}:53: {e}"))
        })
    })?;
    sock.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| NetworkError::Netlink(format!("DNS socket: {e}")))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let upstreams = Arc::new(upstreams);
    let sock = Arc::new(sock);
    let serving = sock.clone();
    let thread = std::thread::spawn(move || {
        let sock = serving;
        let mut buf = [0u8; 4096];
        while !flag.load(Ordering::SeqCst) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let query = buf[..n].to_vec();
            match answer(&query, names.as_ref()) {
                Some(reply) => {
                    let _ = sock.send_to(&reply, from);
                }
                None => {
                    let (sock, ups) = (sock.clone(), upstreams.clone());
                    // A slow upstream must not hold up the names we answer ourselves.
                    std::thread::spawn(move || {
                        let reply =
                            forward(&query, &ups).or_else(|| fail(&query, RCODE::ServerFailure));
                        if let Some(r) = reply {
                            let _ = sock.send_to(&r, from);
                        }
                    });
                }
            }
        }
    });
    Ok(DnsServer {
        stop,
        sock,
        thread: Some(thread),
    })
}

/// The reply to `query` when it asks about a known name (or is malformed); `None`
/// when it should go upstream.
pub fn answer(query: &[u8], names: &dyn Names) -> Option<Vec<u8>> {
    let Ok(packet) = Packet::parse(query) else {
        return None;
    };
    let q = packet.questions.first()?;
    let name = q
        .qname
        .to_string()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let addrs = names.lookup(&name)?;
    let mut reply = Packet::new_reply(packet.id());
    reply.set_flags(PacketFlag::RECURSION_AVAILABLE);
    if packet.has_flags(PacketFlag::RECURSION_DESIRED) {
        reply.set_flags(PacketFlag::RECURSION_DESIRED);
    }
    reply.questions.push(q.clone());
    if q.qtype == QTYPE::TYPE(TYPE::A) || q.qtype == QTYPE::ANY {
        for a in addrs {
            reply.answers.push(ResourceRecord::new(
                q.qname.clone(),
                CLASS::IN,
                600,
                RData::A(A::from(a)),
            ));
        }
    }
    // A known name with no record of the asked type: an empty NOERROR, so the
    // resolver does not go on to the search domains.
    reply.build_bytes_vec().ok()
}

/// A reply to `query` carrying only `code`.
fn fail(query: &[u8], code: RCODE) -> Option<Vec<u8>> {
    let packet = Packet::parse(query).ok()?;
    let mut reply = Packet::new_reply(packet.id());
    *reply.rcode_mut() = code;
    reply.questions = packet.questions.clone();
    reply.build_bytes_vec().ok()
}

/// Asks each upstream in turn (from the host's namespace) and returns the first
/// answer.
fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        let bind: SocketAddr = if up.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(s) = UdpSocket::bind(bind) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        if s.send_to(query, up).is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            if from == *up {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::{Name, Question};

    struct Fixed;
    impl Names for Fixed {
        fn lookup(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
            (name == "web").then(|| vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)])
        }
    }

    fn query(name: &str, t: TYPE) -> Vec<u8> {
        let mut p = Packet::new_query(7);
        p.set_flags(PacketFlag::RECURSION_DESIRED);
        p.questions.push(Question::new(
            Name::new_unchecked(name),
            QTYPE::TYPE(t),
            simple_dns::QCLASS::CLASS(CLASS::IN),
            false,
        ));
        p.build_bytes_vec().unwrap()
    }

    #[test]
    fn known_names_get_every_address_others_go_upstream() {
        let r = answer(&query("WEB.", TYPE::A), &Fixed).unwrap();
        let p = Packet::parse(&r).unwrap();
        assert_eq!(p.id(), 7);
        assert_eq!(p.answers.len(), 2);
        let r = answer(&query("web", TYPE::AAAA), &Fixed).unwrap();
        let p = Packet::parse(&r).unwrap();
        assert!(p.answers.is_empty() && p.rcode() == RCODE::NoError);
        assert!(answer(&query("example.org", TYPE::A), &Fixed).is_none());
        assert!(answer(b"\x00\x01garbage", &Fixed).is_none());
    }
}
