//! Container networking for kujira, as Docker's bridge driver does it: a Linux bridge
//! per network, a veth pair per container endpoint, addresses from a small IPAM,
//! outbound masquerade and published ports in an nftables table of kujira's own, and
//! Docker's embedded DNS server for user-defined networks.
//!
//! This crate knows nothing of the store: the engine decides which network and
//! address a container gets and calls in here to make it so.

pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod netlink;
pub mod netns;

pub use ipam::{Pool, Subnet};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{0}")]
    InvalidCidr(String),
    #[error("{0}")]
    InvalidAddress(String),
    #[error("Address already in use")]
    AddressInUse(String),
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("{0}: {1}")]
    Errno(String, std::io::Error),
    #[error("firewall: {0}")]
    Firewall(String),
}
