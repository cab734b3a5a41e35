//! The console socket of the OCI runtime protocol: with `terminal: true`, the runtime
//! creates the container's pseudo-terminal and sends its master over a unix socket
//! (`--console-socket`) as `SCM_RIGHTS` ancillary data.

use std::io::IoSliceMut;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use crate::RuntimeError;

pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ConsoleSocket {
    pub fn bind(path: &Path) -> Result<ConsoleSocket, RuntimeError> {
        let _ = std::fs::remove_file(path);
        let listener =
            UnixListener::bind(path).map_err(|e| RuntimeError::io("binding", path, e))?;
        Ok(ConsoleSocket {
            listener,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the runtime to connect and send the terminal master.
    pub fn receive_master(&self) -> Result<OwnedFd, RuntimeError> {
        use std::os::fd::AsRawFd;
        let fail = |e: std::io::Error| RuntimeError::io("receiving the terminal on", &self.path, e);
        let (conn, _) = self.listener.accept().map_err(fail)?;
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .map_err(|e| fail(e.into()))?;
        for cmsg in msg.cmsgs().map_err(|e| fail(e.into()))? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                if let Some(fd) = fds.first() {
                    // SAFETY: the kernel just handed us this descriptor; we own it now.
                    return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
                }
            }
        }
        Err(fail(std::io::Error::other(
            "no terminal descriptor received",
        )))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
