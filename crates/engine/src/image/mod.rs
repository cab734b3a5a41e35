//! Image services: getting images into the store (load, import), out of it (save),
//! naming them (tag), looking at them (list, inspect, history) and removing them
//! (rmi, prune).

pub mod built;
pub mod changes;
pub mod config;
pub mod distribution;
pub mod history;
pub mod import;
mod ingest;
pub mod inspect;
pub mod list;
pub mod load;
mod net;
pub use net::RegistryAuth;
pub mod prune;
pub mod pull;
pub mod push;
pub(crate) mod register;
pub mod remove;
pub mod resolve;
mod rollback;
pub mod save;
pub mod search;
pub mod tag;

pub use ingest::LayerSource;
pub use register::Registered;
