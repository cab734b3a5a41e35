//! Hijacked connections (`attach`, `exec start`): dockerd answers `101 Switching
//! Protocols` with `Upgrade: tcp`, then the socket carries the raw streams both ways.
//! Detach keys (default ctrl-p ctrl-q) in the client's input end the session and
//! leave the process running.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

use crate::ApiError;

pub type Io = TokioIo<Upgraded>;

/// The upgrade to wait for after answering with [`switching`].
pub fn upgrade_of(req: &mut Request) -> Result<OnUpgrade, ApiError> {
    req.extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or_else(|| ApiError::bad_request("this endpoint needs a connection it can hijack"))
}

/// The 101 answer; `tty` streams are raw, others multiplexed in 8-byte frames.
pub fn switching(tty: bool) -> Response {
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.into_response()
}

/// Waits for the client's side of the upgrade.
pub async fn io(on: OnUpgrade) -> Option<Io> {
    match on.await {
        Ok(u) => Some(TokioIo::new(u)),
        Err(e) => {
            if crate::version::DEBUG.load(std::sync::atomic::Ordering::Relaxed) {
                eprintln!("hijack failed: {e}");
            }
            None
        }
    }
}

/// Docker's 8-byte frame header before each chunk of a non-terminal stream.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// `detachKeys` as dockerd parses them: `ctrl-<c>` and single characters, comma
/// separated; empty means the default ctrl-p,ctrl-q.
pub fn detach_keys(spec: Option<&str>) -> Result<Vec<u8>, ApiError> {
    let spec = spec.filter(|s| !s.is_empty()).unwrap_or("ctrl-p,ctrl-q");
    let mut keys = Vec::new();
    for part in spec.split(',') {
        let b = part.as_bytes();
        let key = match b {
            [c] => *c,
            [b'c', b't', b'r', b'l', b'-', c] => match c {
                b'a'..=b'z' => c - b'a' + 1,
                b'@' => 0,
                b'[' | b'\\' | b']' | b'^' | b'_' => c - b'@',
                _ => return Err(bad_keys(spec)),
            },
            _ => return Err(bad_keys(spec)),
        };
        keys.push(key);
    }
    Ok(keys)
}

fn bad_keys(spec: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid detach keys ({spec}) provided"))
}

/// Watches a client's input for the detach sequence, holding back a partial match.
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachScanner {
    pub fn new(keys: Vec<u8>) -> DetachScanner {
        DetachScanner { keys, matched: 0 }
    }

    /// The bytes to pass on, and whether the sequence was completed.
    pub fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.keys.get(self.matched) == Some(&b) {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
                continue;
            }
            // A broken partial match is passed on as typed.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if self.keys.first() == Some(&b) {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keys_are_ctrl_p_ctrl_q() {
        assert_eq!(detach_keys(None).unwrap(), vec![16, 17]);
        assert_eq!(detach_keys(Some("ctrl-a,x")).unwrap(), vec![1, b'x']);
        assert!(detach_keys(Some("ctrl-1")).is_err());
        assert!(detach_keys(Some("abc")).is_err());
    }

    #[test]
    fn scanner_holds_back_a_partial_match_and_detaches_on_the_whole() {
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(s.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(s.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(s.feed(b"\x11rest"), (Vec::new(), true));
    }
}
