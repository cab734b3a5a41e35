//! Advisory file locks (flock) that coordinate several kujira processes on one store.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::StoreError;

/// Held until dropped; the kernel releases it if the process dies, so a killed
/// kujira never leaves a stale lock behind.
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub fn shared(path: &Path) -> Result<StoreLock, StoreError> {
        Self::take(path, libc::LOCK_SH)
    }

    pub fn exclusive(path: &Path) -> Result<StoreLock, StoreError> {
        Self::take(path, libc::LOCK_EX)
    }

    /// Non-blocking exclusive attempt: `Ok(None)` when someone else holds it.
    pub fn try_exclusive(path: &Path) -> Result<Option<StoreLock>, StoreError> {
        let file = open(path)?;
        // SAFETY: flock on a valid, owned file descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(Some(StoreLock { _file: file }));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(None)
        } else {
            Err(StoreError::io(path, err))
        }
    }

    fn take(path: &Path, op: libc::c_int) -> Result<StoreLock, StoreError> {
        let file = open(path)?;
        loop {
            // SAFETY: flock on a valid, owned file descriptor.
            if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
                return Ok(StoreLock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(StoreError::io(path, err));
            }
        }
    }
}

fn open(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))
}
