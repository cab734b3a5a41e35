//! `resize`: a container's or exec's terminal gets a new window size. The terminal is
//! reached through the process's own standard input (`/proc/PID/fd/0`, its slave),
//! so no monitor or relay has to be asked: the kernel sends the process SIGWINCH.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use super::Container;
use crate::{Engine, EngineError};

/// Sets the window size of the terminal open on `fd`.
pub fn set_winsize(fd: i32, height: u16, width: u16) -> Result<(), EngineError> {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: an ioctl on a descriptor the caller holds, reading a struct we own.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(EngineError::io(
            "resizing the terminal",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Sets the window size of the terminal that process `pid` has as its stdin.
pub fn resize_process(pid: i64, height: u16, width: u16) -> Result<(), EngineError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(format!("/proc/{pid}/fd/0"))
        .map_err(|e| EngineError::io("opening the container's terminal", e))?;
    set_winsize(f.as_raw_fd(), height, width)
}

impl Engine {
    /// Docker's `resize` of a running container with a terminal.
    pub fn resize_container(
        &self,
        c: &Container,
        height: u16,
        width: u16,
    ) -> Result<(), EngineError> {
        if !c.is_running() {
            return Err(EngineError::NotRunning(c.id().to_string()));
        }
        if !c.config.tty() {
            // Docker answers a resize of a container without a terminal with success.
            return Ok(());
        }
        resize_process(c.row.state.pid, height, width)
    }
}
