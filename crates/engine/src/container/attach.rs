//! Attaching to a running container (`attach`, and `start -a` of a running one): its
//! monitor serves a unix socket; each client gets the container's output from then on,
//! in Docker's multiplexed framing (`[stream, 0, 0, 0, len u32 BE] payload`, stream 1
//! stdout, 2 stderr; a terminal's output is all stream 1), and what it sends goes to
//! the container's stdin when it has one open.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kujira_runtime::logs::JsonLogWriter;

use super::Container;
use crate::{Engine, EngineError};

/// Where a container's output goes: its log, the monitor's own stdio when a
/// foreground `run` is attached, and every attached client.
pub(crate) struct Streams {
    pub log: Arc<JsonLogWriter>,
    pub foreground: bool,
    clients: Mutex<Vec<UnixStream>>,
    /// The container's stdin while it has one open (`-i`): a pipe or the terminal.
    stdin: Mutex<Option<File>>,
}

impl Streams {
    pub fn new(log: Arc<JsonLogWriter>, foreground: bool) -> Arc<Streams> {
        Arc::new(Streams {
            log,
            foreground,
            clients: Mutex::new(Vec::new()),
            stdin: Mutex::new(None),
        })
    }

    pub fn set_stdin(&self, f: Option<File>) {
        if let Ok(mut s) = self.stdin.lock() {
            *s = f;
        }
    }

    fn write_stdin(&self, data: &[u8]) -> bool {
        match self.stdin.lock() {
            Ok(mut s) => match s.as_mut() {
                Some(f) => f.write_all(data).is_ok(),
                None => false,
            },
            Err(_) => false,
        }
    }

    /// Copies one chunk of `stream` ("stdout"/"stderr") everywhere it goes.
    fn publish(&self, stream: &str, pending: &mut Vec<u8>, data: &[u8]) {
        self.log.write_lines(stream, pending, data);
        if self.foreground {
            if stream == "stderr" {
                let _ = std::io::stderr().lock().write_all(data);
            } else {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(data);
                let _ = o.flush();
            }
        }
        if let Ok(mut clients) = self.clients.lock() {
            if clients.is_empty() {
                return;
            }
            let mut frame = Vec::with_capacity(8 + data.len());
            frame.push(if stream == "stderr" { 2 } else { 1 });
            frame.extend_from_slice(&[0, 0, 0]);
            frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
            frame.extend_from_slice(data);
            clients.retain_mut(|c| c.write_all(&frame).is_ok());
        }
    }

    /// Ends every client's stream (the container exited).
    pub fn close_clients(&self) {
        if let Ok(mut clients) = self.clients.lock() {
            for c in clients.drain(..) {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// Reads `from` to its end into `streams` as `stream`.
pub(crate) fn pump(mut from: File, streams: &Streams, stream: &str) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut pending = Vec::new();
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => streams.publish(stream, &mut pending, &buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: the terminal's last slave closed.
            Err(_) => break,
        }
    }
    streams.log.flush_partial(stream, &mut pending);
}

/// The attach socket of a container (short: unix socket paths stop at 108 bytes).
pub(crate) fn socket_path(engine: &Engine, id: &str) -> PathBuf {
    engine
        .root()
        .join("run")
        .join(format!("attach-{}.sock", &id[..12]))
}

/// Serves attach clients for as long as the monitor lives.
pub(crate) fn serve(path: PathBuf, streams: Arc<Streams>) -> Result<(), EngineError> {
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| EngineError::io(format!("binding {}", path.display()), e))?;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let Ok(mut input) = conn.try_clone() else {
                continue;
            };
            if let Ok(mut clients) = streams.clients.lock() {
                clients.push(conn);
            }
            let s = streams.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = input.read(&mut buf) {
                    if n == 0 || !s.write_stdin(&buf[..n]) {
                        break;
                    }
                }
            });
        }
    });
    Ok(())
}

impl Engine {
    /// A connection to a running container's monitor: the container's output from
    /// now on in multiplexed frames, and what is written goes to its stdin.
    pub fn attach_socket(&self, c: &Container) -> Result<UnixStream, EngineError> {
        if !c.is_running() {
            return Err(EngineError::InvalidArgument(
                "You cannot attach to a stopped container, start it first".into(),
            ));
        }
        if c.status() == "paused" {
            return Err(EngineError::InvalidArgument(
                "You cannot attach to a paused container, unpause it first".into(),
            ));
        }
        let path = socket_path(self, c.id());
        UnixStream::connect(&path)
            .map_err(|e| EngineError::io(format!("attaching to {}", c.name()), e))
    }

    /// `attach`: the container's output to our stdout/stderr (and our stdin to it
    /// with `stdin`) until it stops; its exit code.
    pub fn attach_container(&self, c: &Container, stdin: bool) -> Result<i64, EngineError> {
        let mut conn = self.attach_socket(c)?;
        if stdin {
            let mut w = conn
                .try_clone()
                .map_err(|e| EngineError::io("attaching", e))?;
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut w);
                let _ = w.shutdown(std::net::Shutdown::Write);
            });
        }
        let mut head = [0u8; 8];
        while conn.read_exact(&mut head).is_ok() {
            let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
            let mut data = vec![0u8; len];
            if conn.read_exact(&mut data).is_err() {
                break;
            }
            if head[0] == 2 {
                let _ = std::io::stderr().lock().write_all(&data);
            } else {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(&data);
                let _ = o.flush();
            }
        }
        self.wait_monitor(c.id(), None);
        Ok(self
            .store
            .meta
            .container(c.id())?
            .map(|r| r.state.exit_code)
            .unwrap_or(0))
    }
}
