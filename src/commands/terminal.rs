//! The caller's terminal: raw mode while attached to a container's terminal, and the
//! relay between it and a terminal master kujira holds itself (`exec -t` with the
//! built-in runtime).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

/// The caller's terminal in raw mode while attached to a container's terminal.
pub(crate) struct RawTerminal {
    saved: libc::termios,
}

impl RawTerminal {
    pub(crate) fn enter() -> RawTerminal {
        // SAFETY: termios calls on fd 0 into a struct we own.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            libc::tcgetattr(0, &mut t);
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawTerminal { saved }
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restoring the saved settings.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.saved) };
    }
}

/// The window size of terminal `fd`, if it is one.
pub(crate) fn winsize(fd: i32) -> Option<libc::winsize> {
    // SAFETY: an ioctl on a descriptor we hold, into a struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0).then_some(ws)
    }
}

/// Gives terminal `to` the window size of terminal `from` (if it is one).
fn copy_winsize(from: i32, to: i32) {
    if let Some(ws) = winsize(from) {
        // SAFETY: an ioctl on a descriptor we hold, from a struct we own.
        unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &ws) };
    }
}

/// Relays between the caller's stdio and `master` until the other side closes:
/// output to stdout, stdin to the master when `input`, window-size changes along.
pub(crate) fn relay(master: OwnedFd, input: bool) {
    let raw = master.as_raw_fd();
    copy_winsize(0, raw);
    // SAFETY: blocking SIGWINCH in this thread (and the threads it spawns) so that
    // the watcher below receives it with sigwait.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        std::thread::spawn(move || loop {
            let mut sig = 0;
            if libc::sigwait(&set, &mut sig) == 0 {
                copy_winsize(0, raw);
            }
        });
    }
    let mut out = File::from(master);
    if input {
        if let Ok(mut to) = out.try_clone() {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to);
            });
        }
    }
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 8192];
    // Ends with EIO once the last process holding the slave is gone.
    while let Ok(n) = out.read(&mut buf) {
        if n == 0 || stdout.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = stdout.flush();
    }
}
