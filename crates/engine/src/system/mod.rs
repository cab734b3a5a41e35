//! System-wide services: disk usage (`system df`), `info`, and the store check.

pub mod df;
pub mod info;
