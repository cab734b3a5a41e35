//! Helpers for tests that run containers: free ports, plain HTTP GETs over loopback,
//! polling, a pseudo-terminal to drive `run -it`, and finding a container's monitor.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// `GET /` on `127.0.0.1:port`: the response body, or the error.
pub fn http_get(port: u16) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") => Ok(body.to_string()),
        _ => Err(format!("not an HTTP response: {text:?}")),
    }
}

/// Retries [`http_get`] until it answers (a server just started) or `timeout` ends.
pub fn http_get_retry(port: u16, timeout: Duration) -> String {
    let end = Instant::now() + timeout;
    loop {
        match http_get(port) {
            Ok(body) => return body,
            Err(e) if Instant::now() >= end => panic!("GET 127.0.0.1:{port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Polls `cond` every 20 ms until true; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A command running on the slave side of a new pseudo-terminal, as if typed at one.
pub struct Pty {
    master: std::fs::File,
    pub child: Child,
    seen: Vec<u8>,
}

impl Pty {
    pub fn spawn(mut cmd: Command) -> Pty {
        let (mut m, mut s) = (-1, -1);
        // SAFETY: openpty fills two descriptors we then own.
        let rc = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: fresh descriptors from openpty.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        let sfd = slave.as_raw_fd();
        cmd.stdin(slave.try_clone().expect("dup slave"))
            .stdout(slave.try_clone().expect("dup slave"))
            .stderr(slave.try_clone().expect("dup slave"));
        // SAFETY: setsid and ioctl are async-signal-safe; the slave becomes the
        // controlling terminal of the new session, as a login shell's is.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::ioctl(sfd, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        drop(slave);
        Pty {
            master: std::fs::File::from(master),
            child,
            seen: Vec::new(),
        }
    }

    pub fn send(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .expect("write to the pty");
    }

    /// Reads until `token` appears in what the terminal showed since the last match.
    pub fn expect(&mut self, token: &str, timeout: Duration) -> String {
        let fd = self.master.as_raw_fd();
        let end = Instant::now() + timeout;
        loop {
            let text = String::from_utf8_lossy(&self.seen).into_owned();
            if let Some(i) = text.find(token) {
                let upto = i + token.len();
                self.seen.drain(..upto.min(self.seen.len()));
                return text[..upto].to_string();
            }
            assert!(
                Instant::now() < end,
                "no {token:?} on the terminal; saw {text:?}"
            );
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one descriptor we own.
            let n = unsafe { libc::poll(&mut pfd, 1, 100) };
            if n > 0 {
                let mut buf = [0u8; 4096];
                match self.master.read(&mut buf) {
                    Ok(0) | Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    Ok(k) => self.seen.extend_from_slice(&buf[..k]),
                }
            }
        }
    }

    /// Waits for the command to exit; its exit code.
    pub fn wait(mut self, timeout: Duration) -> i32 {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st.code().unwrap_or(-1);
            }
            assert!(Instant::now() < end, "the command on the pty did not exit");
            // Keep draining so the writer never blocks on a full terminal.
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: as above.
            if unsafe { libc::poll(&mut pfd, 1, 50) } > 0 {
                let mut buf = [0u8; 4096];
                let _ = self.master.read(&mut buf);
            }
        }
    }
}

/// The pid of the monitor process of container `id` (by its command line).
pub fn monitor_pid(id: &str) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_monitor = args.contains(&&b"container-monitor"[..]);
        if is_monitor && args.contains(&id.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// A static UDP echo server (`udp-echo PORT`: every datagram is sent back prefixed
/// with `echo: `), built once with gcc: busybox's `nc` has no UDP mode, and a
/// container needs a static binary.
pub fn udp_echo_binary() -> &'static std::path::Path {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        const SOURCE: &str = r#"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(argc > 1 ? atoi(argv[1]) : 9000);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    for (;;) {
        char buf[2048], out[2100];
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n < 0) continue;
        memcpy(out, "echo: ", 6);
        memcpy(out + 6, buf, n);
        sendto(s, out, n + 6, 0, (struct sockaddr *)&from, len);
    }
}
"#;
        let dir = crate::image::cache_dir().join("udp-echo");
        std::fs::create_dir_all(&dir).expect("create the udp-echo directory");
        let src = dir.join("udp-echo.c");
        let bin = dir.join("udp-echo");
        std::fs::write(&src, SOURCE).expect("write udp-echo.c");
        let out = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("gcc (needed to build the UDP echo server for the port tests)");
        assert!(
            out.status.success(),
            "gcc -static failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}
