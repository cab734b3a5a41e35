//! The few rtnetlink requests a bridge network needs (bridge, veth pair, address,
//! default route, link removal), spoken over one blocking socket with
//! `netlink-packet-route`'s message types. Blocking on purpose: the callers are the
//! monitor's start path and short CLI commands, where a tokio runtime (rtnetlink)
//! would cost more than the requests themselves.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::NetworkError;

pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// A netlink error number as the kernel sent it, with what was being done.
fn nl_err(what: &str, e: std::io::Error) -> NetworkError {
    NetworkError::Netlink(format!("{what}: {e}"))
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink, NetworkError> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| nl_err("opening netlink", e))?;
        sock.bind_auto().map_err(|e| nl_err("binding netlink", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| nl_err("connecting netlink", e))?;
        Ok(Netlink {
            sock,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Sends one request and collects the answers until the ACK (or the end of a
    /// dump). A NACK becomes the error `errno`, for callers that expect some.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &str,
    ) -> Result<Vec<RouteNetlinkMessage>, NetworkError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        // Every request but a dump asks for an ACK: a GET answers with its message and
        // then the ACK, so the loop below always knows when the answer is complete.
        let ack = if flags & NLM_F_DUMP == NLM_F_DUMP {
            0
        } else {
            NLM_F_ACK
        };
        header.flags = NLM_F_REQUEST | flags | ack;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.sock
            .send(&out, 0)
            .map_err(|e| nl_err(&format!("sending {what}"), e))?;
        let mut answers = Vec::new();
        loop {
            let n = self
                .sock
                .recv(&mut &mut self.buf[..], 0)
                .map_err(|e| nl_err(&format!("reading the answer to {what}"), e))?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..n])
                    .map_err(|e| NetworkError::Netlink(format!("{what}: bad answer: {e}")))?;
                let len = msg.header.length as usize;
                if msg.header.sequence_number != self.seq {
                    off += len.max(1);
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answers),
                            Some(_) => Err(NetworkError::Errno(what.to_string(), e.to_io())),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::InnerMessage(m) => answers.push(m),
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                off += len;
            }
        }
    }

    /// Every link's index and name.
    pub fn links(&mut self) -> Result<Vec<(u32, String)>, NetworkError> {
        let msgs = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "listing links",
        )?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => {
                    let name = l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some(n.clone()),
                        _ => None,
                    })?;
                    Some((l.header.index, name))
                }
                _ => None,
            })
            .collect())
    }

    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>, NetworkError> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0, "looking up a link") {
            Ok(m) => Ok(m.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(NetworkError::Errno(_, e)) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The bridge `name`, up and holding `gateway/prefix`; made if missing. Returns
    /// its index and whether it was made now. Safe against a concurrent maker.
    pub fn ensure_bridge(
        &mut self,
        name: &str,
        gateway: Ipv4Addr,
        prefix: u8,
    ) -> Result<(u32, bool), NetworkError> {
        if let Some(index) = self.link_index(name)? {
            return Ok((index, false));
        }
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        let made = match self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            &format!("creating bridge {name}"),
        ) {
            Ok(_) => true,
            Err(NetworkError::Errno(_, e)) if e.raw_os_error() == Some(libc::EEXIST) => false,
            Err(e) => return Err(e),
        };
        let index = self
            .link_index(name)?
            .ok_or_else(|| NetworkError::Netlink(format!("bridge {name} vanished")))?;
        self.add_address(index, gateway, prefix)?;
        Ok((index, made))
    }

    /// `ip addr add ip/prefix dev index` (already there is fine).
    pub fn add_address(
        &mut self,
        index: u32,
        ip: Ipv4Addr,
        prefix: u8,
    ) -> Result<(), NetworkError> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.scope = AddressScope::Universe;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(ip.into()));
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        let host_bits = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
        msg.attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(
                u32::from(ip) | host_bits,
            )));
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            &format!("adding address {ip}/{prefix}"),
        ) {
            Err(NetworkError::Errno(_, e)) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// A veth pair: `host` here, up, a port of bridge `master`; `peer` (MAC `mac`)
    /// made straight inside the network namespace `netns`, so it never appears here.
    /// The peer is set up from inside (the kernel refuses to open one end before
    /// the other exists: ENOTCONN).
    pub fn add_veth(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        mac: [u8; 6],
        netns: BorrowedFd<'_>,
    ) -> Result<(), NetworkError> {
        let mut inner = LinkMessage::default();
        inner
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        inner.attributes.push(LinkAttribute::Address(mac.to_vec()));
        inner
            .attributes
            .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        msg.attributes.push(LinkAttribute::Controller(master));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(inner))),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            &format!("creating veth {host}"),
        )
        .map(|_| ())
    }

    /// `ip link set up`.
    pub fn set_up(&mut self, index: u32) -> Result<(), NetworkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(msg), 0, "setting a link up")
            .map(|_| ())
    }

    /// `ip route add default via gateway`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<(), NetworkError> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            &format!("adding the default route via {gateway}"),
        )
        .map(|_| ())
    }

    /// Deletes link `name`; false when there was none.
    pub fn delete_link(&mut self, name: &str) -> Result<bool, NetworkError> {
        let Some(index) = self.link_index(name)? else {
            return Ok(false);
        };
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.request(
            RouteNetlinkMessage::DelLink(msg),
            NLM_F_ACK,
            &format!("deleting link {name}"),
        ) {
            Ok(_) => Ok(true),
            Err(NetworkError::Errno(_, e)) if e.raw_os_error() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
