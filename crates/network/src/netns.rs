//! Running a piece of work inside another network namespace: on a thread of its own
//! that joins the namespace and ends with the work, so no other thread of the caller
//! ever changes namespace.

use std::fs::File;

use nix::sched::{setns, CloneFlags};

use crate::NetworkError;

pub fn run_in<T: Send>(
    netns: &File,
    work: impl FnOnce() -> Result<T, NetworkError> + Send,
) -> Result<T, NetworkError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(netns, CloneFlags::CLONE_NEWNET).map_err(|e| {
                NetworkError::Netlink(format!("entering the container's network namespace: {e}"))
            })?;
            work()
        })
        .join()
        .unwrap_or_else(|_| {
            Err(NetworkError::Netlink(
                "network setup thread panicked".into(),
            ))
        })
    })
}
