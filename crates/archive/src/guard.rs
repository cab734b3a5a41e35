//! A watchdog on the tar block structure, sitting just below the tar parser.
//!
//! The `tar` crate reads GNU long names/links and PAX records entirely into
//! memory, and keeps every GNU sparse extension block it sees. A few
//! kilobytes of gzip can declare gigabytes of such metadata, so this reader
//! follows the same block layout the parser does and refuses oversized
//! metadata before the parser starts buffering it (Go's archive/tar, and so
//! Docker, caps it at 1 MiB likewise).

use std::io::{self, Read};

use tar::Header;

use crate::stream::StreamError;

const BLOCK: usize = 512;
/// Largest GNU long name/link or PAX record block accepted (Go's limit).
const MAX_METADATA: u64 = 1 << 20;
/// Each block holds 21 regions, so this allows ~340k regions per file.
const MAX_SPARSE_BLOCKS: u64 = 16 * 1024;
/// `isextended` flag in a GNU sparse extension block.
const EXT_IS_EXTENDED: usize = 504;

enum State {
    /// Collecting a header block.
    Header,
    /// Passing over entry data and padding.
    Skip(u64),
    /// Collecting a PAX record block, then skipping its padding.
    Pax { remaining: u64, padding: u64 },
    /// Collecting GNU sparse extension blocks; `data` follows them.
    SparseExt { data: u64 },
    /// The parser stops at the first zero block; what follows is not tar.
    Done,
}

pub(crate) struct Guard<R> {
    inner: R,
    state: State,
    block: Box<[u8; BLOCK]>,
    filled: usize,
    pax: Vec<u8>,
    /// PAX `size` that overrides the next real entry's header size.
    pax_size: Option<u64>,
    sparse_blocks: u64,
}

impl<R: Read> Guard<R> {
    pub(crate) fn new(inner: R) -> Self {
        Guard {
            inner,
            state: State::Header,
            block: Box::new([0; BLOCK]),
            filled: 0,
            pax: Vec::new(),
            pax_size: None,
            sparse_blocks: 0,
        }
    }

    fn observe(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match self.state {
                State::Done => return Ok(()),
                State::Skip(n) => {
                    let k = n.min(data.len() as u64);
                    data = &data[k as usize..];
                    self.state = if n == k {
                        State::Header
                    } else {
                        State::Skip(n - k)
                    };
                }
                State::Pax { remaining, padding } => {
                    let k = remaining.min(data.len() as u64);
                    self.pax.extend_from_slice(&data[..k as usize]);
                    data = &data[k as usize..];
                    if remaining == k {
                        self.pax_size = pax_size(&self.pax);
                        self.state = skip(padding);
                    } else {
                        self.state = State::Pax {
                            remaining: remaining - k,
                            padding,
                        };
                    }
                }
                State::Header | State::SparseExt { .. } => {
                    let k = (BLOCK - self.filled).min(data.len());
                    self.block[self.filled..self.filled + k].copy_from_slice(&data[..k]);
                    self.filled += k;
                    data = &data[k..];
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.on_block()?;
                    }
                }
            }
        }
        Ok(())
    }

    fn on_block(&mut self) -> io::Result<()> {
        if let State::SparseExt { data } = self.state {
            self.sparse_blocks += 1;
            if self.sparse_blocks > MAX_SPARSE_BLOCKS {
                return Err(structure(format!(
                    "a sparse entry lists more than {MAX_SPARSE_BLOCKS} blocks of regions"
                )));
            }
            if self.block[EXT_IS_EXTENDED] == 0 {
                self.state = round_up(data).map_or(State::Done, skip);
            }
            return Ok(());
        }
        if self.block.iter().all(|&b| b == 0) {
            self.state = State::Done;
            return Ok(());
        }
        let header = Header::from_byte_slice(&self.block[..]);
        let kind = header.entry_type();
        let recognized = header.as_gnu().is_some() || header.as_ustar().is_some();
        let extension = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        // Past a header the parser cannot read, the parser itself fails;
        // nothing more to watch.
        let Ok(mut size) = header.entry_size() else {
            self.state = State::Done;
            return Ok(());
        };
        if !extension {
            if let Some(pax) = self.pax_size.take() {
                size = pax;
            }
        }
        let buffered = recognized
            && (kind.is_gnu_longname() || kind.is_gnu_longlink() || kind.is_pax_local_extensions());
        if buffered && size > MAX_METADATA {
            return Err(structure(format!(
                "an entry declares {size} bytes of extended header data; at most {MAX_METADATA} are allowed"
            )));
        }
        let Some(padded) = round_up(size) else {
            self.state = State::Done;
            return Ok(());
        };
        self.sparse_blocks = 0;
        self.state = if recognized && kind.is_pax_local_extensions() {
            self.pax.clear();
            if size == 0 {
                skip(0)
            } else {
                State::Pax {
                    remaining: size,
                    padding: padded - size,
                }
            }
        } else if kind.is_gnu_sparse() && header.as_gnu().is_some_and(|g| g.is_extended()) {
            State::SparseExt { data: size }
        } else {
            skip(padded)
        };
        Ok(())
    }
}

fn skip(n: u64) -> State {
    if n == 0 {
        State::Header
    } else {
        State::Skip(n)
    }
}

fn round_up(size: u64) -> Option<u64> {
    Some(size.checked_add(BLOCK as u64 - 1)? & !(BLOCK as u64 - 1))
}

fn structure(msg: String) -> io::Error {
    StreamError::Structure(msg).into_io()
}

/// The `size` record of a PAX block, parsed exactly as the `tar` crate does
/// so both agree on where the next header starts.
fn pax_size(data: &[u8]) -> Option<u64> {
    for ext in tar::PaxExtensions::new(data) {
        let ext = ext.ok()?;
        if ext.key() != Ok("size") {
            continue;
        }
        return ext.value().ok()?.parse::<u64>().ok();
    }
    None
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}
