//! A TCP proxy in front of the registry that cuts one blob download
//! mid-body: the first `GET …/blobs/…` answer is forwarded up to `cut_after`
//! body bytes, then both connections are shut. Later connections pass
//! untouched, so a client that resumes with a Range request succeeds.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A running proxy; stops accepting on drop.
pub struct CutProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    cuts: Arc<AtomicU64>,
    blob_requests: Arc<AtomicU64>,
}

impl CutProxy {
    /// Proxies 127.0.0.1:<new port> to `target` (`host:port`).
    pub fn start(target: &str, cut_after: u64) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let armed = Arc::new(AtomicBool::new(true));
        let cuts = Arc::new(AtomicU64::new(0));
        let blob_requests = Arc::new(AtomicU64::new(0));
        let (stop2, cuts2, blobs2) = (stop.clone(), cuts.clone(), blob_requests.clone());
        let target = target.to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                let st = State {
                    armed: armed.clone(),
                    cuts: cuts2.clone(),
                    blob_requests: blobs2.clone(),
                    blob_pending: Arc::new(AtomicBool::new(false)),
                    cut_after,
                };
                std::thread::spawn(move || st.run(client, upstream));
            }
        });
        CutProxy {
            port,
            stop,
            cuts,
            blob_requests,
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many connections were cut (0 or 1).
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst)
    }

    /// How many blob GETs went through.
    pub fn blob_requests(&self) -> u64 {
        self.blob_requests.load(Ordering::SeqCst)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[derive(Clone)]
struct State {
    armed: Arc<AtomicBool>,
    cuts: Arc<AtomicU64>,
    blob_requests: Arc<AtomicU64>,
    /// A blob GET was forwarded on this connection and its answer has not
    /// started yet.
    blob_pending: Arc<AtomicBool>,
    cut_after: u64,
}

impl State {
    fn run(self, client: TcpStream, upstream: TcpStream) {
        let (Ok(mut c_read), Ok(mut u_write)) = (client.try_clone(), upstream.try_clone()) else {
            return;
        };
        let st = self.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0; 64 << 10];
            while let Ok(n) = c_read.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let data = &buf[..n];
                if data.starts_with(b"GET ") && contains(data, b"/blobs/sha256:") {
                    st.blob_requests.fetch_add(1, Ordering::SeqCst);
                    st.blob_pending.store(true, Ordering::SeqCst);
                }
                if u_write.write_all(data).is_err() {
                    break;
                }
            }
            let _ = u_write.shutdown(Shutdown::Write);
        });
        let (mut u_read, mut c_write) = (upstream, client);
        let mut buf = vec![0; 64 << 10];
        // Header bytes of the watched answer seen so far, then body count.
        let mut head: Option<Vec<u8>> = None;
        let mut body = 0u64;
        while let Ok(n) = u_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut data = &buf[..n];
            if head.is_none()
                && self.armed.load(Ordering::SeqCst)
                && self.blob_pending.swap(false, Ordering::SeqCst)
            {
                head = Some(Vec::new());
                body = 0;
            }
            let mut cut_here = None;
            if let Some(h) = head.as_mut() {
                let body_start = if let Some(pos) = find(h, data) {
                    Some(pos)
                } else {
                    h.extend_from_slice(data);
                    None
                };
                if let Some(start) = body_start {
                    let in_body = (data.len() - start) as u64;
                    if body + in_body >= self.cut_after {
                        cut_here = Some(start + (self.cut_after - body) as usize);
                    } else {
                        body += in_body;
                        // Keep counting in later reads: mark head complete.
                        h.clear();
                        h.extend_from_slice(b"\r\n\r\n");
                    }
                }
            }
            // Only the first answer to reach the cut point is cut, even when two
            // answers were watched at once (a busy machine overlaps connections).
            if let Some(end) = cut_here.filter(|_| self.armed.swap(false, Ordering::SeqCst)) {
                data = &data[..end];
                let _ = c_write.write_all(data);
                let _ = c_write.flush();
                self.cuts.fetch_add(1, Ordering::SeqCst);
                let _ = c_write.shutdown(Shutdown::Both);
                let _ = u_read.shutdown(Shutdown::Both);
                return;
            }
            if c_write.write_all(data).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(Shutdown::Write);
    }
}

/// Where the body starts in `data`, given the header bytes seen before it
/// (`seen` ends with CRLFCRLF once the header is complete).
fn find(seen: &[u8], data: &[u8]) -> Option<usize> {
    if seen.ends_with(b"\r\n\r\n") {
        return Some(0);
    }
    let mut joined = seen[seen.len().saturating_sub(3)..].to_vec();
    let carried = joined.len();
    joined.extend_from_slice(data);
    joined
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4 - carried)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
