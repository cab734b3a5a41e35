//! Turning the raw layer input (gzip, zstd or plain tar) into the
//! uncompressed tar byte stream, with errors tagged by where they came from.
//!
//! The tar parser only sees `io::Error`s, so errors raised below it carry a
//! [`StreamError`] payload; extraction downcasts it to tell "the gzip data is
//! truncated" apart from "the tar data is malformed".

use std::fmt;
use std::io::{self, BufReader, Cursor, Read};

use crate::{ArchiveError, Compression};

/// Big reads keep syscalls and decoder calls per byte low on the hot path.
pub(crate) const INPUT_BUFFER: usize = 256 * 1024;

/// Enough bytes to recognise every magic number we look for (bzip2's is 10).
const MAGIC: usize = 10;

/// Where an error below the tar parser came from.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// Reading the caller's input failed.
    Input(io::Error),
    /// The compressed stream ended early.
    Truncated(&'static str),
    /// The compressed stream cannot be decoded.
    Corrupt(&'static str, String),
    /// The tar structure is hostile or broken in a way the parser would not
    /// catch before spending memory on it.
    Structure(String),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Input(e) => write!(f, "{e}"),
            StreamError::Truncated(what) => write!(f, "{what} stream is truncated"),
            StreamError::Corrupt(what, msg) => write!(f, "{what} stream is corrupt: {msg}"),
            StreamError::Structure(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for StreamError {}

impl StreamError {
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match self {
            StreamError::Input(ref e) => e.kind(),
            StreamError::Truncated(_) => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// Recovers the tag of an error that went through the tar parser.
    pub(crate) fn from_io(err: &io::Error) -> Option<&StreamError> {
        err.get_ref()?.downcast_ref::<StreamError>()
    }

    pub(crate) fn into_archive(self) -> ArchiveError {
        match self {
            StreamError::Input(e) => ArchiveError::Read(e),
            StreamError::Truncated(what) => ArchiveError::Truncated(what),
            StreamError::Corrupt(format, message) => ArchiveError::Corrupt { format, message },
            StreamError::Structure(msg) => ArchiveError::InvalidTar(msg),
        }
    }
}

/// Converts an error surfacing from the tar parser (or from reading entry
/// data) into an [`ArchiveError`]; `eof` says whether the uncompressed stream
/// had already ended, i.e. the tar data stops in the middle of something.
pub(crate) fn classify(err: io::Error, eof: bool) -> ArchiveError {
    if StreamError::from_io(&err).is_some() {
        let tag = err
            .into_inner()
            .map(|inner| inner.downcast::<StreamError>());
        return match tag {
            Some(Ok(tag)) => tag.into_archive(),
            // Cannot happen: the payload was just checked to be a StreamError.
            _ => ArchiveError::InvalidTar("unreadable stream error".into()),
        };
    }
    if eof || err.kind() == io::ErrorKind::UnexpectedEof {
        return ArchiveError::Truncated("tar");
    }
    ArchiveError::InvalidTar(err.to_string())
}

/// [`classify`] for an error that must also be passed on: tagged errors are
/// rebuilt from their tag, untagged ones from their text.
pub(crate) fn classify_ref(err: &io::Error) -> ArchiveError {
    match StreamError::from_io(err) {
        Some(StreamError::Input(e)) => ArchiveError::Read(io::Error::new(e.kind(), e.to_string())),
        Some(StreamError::Truncated(what)) => ArchiveError::Truncated(what),
        Some(StreamError::Corrupt(format, message)) => ArchiveError::Corrupt {
            format,
            message: message.clone(),
        },
        Some(StreamError::Structure(msg)) => ArchiveError::InvalidTar(msg.clone()),
        None => ArchiveError::Read(io::Error::new(err.kind(), err.to_string())),
    }
}

/// Marks errors of the caller's reader so they are reported as read errors,
/// even after passing through a decoder.
pub(crate) struct InputReader<R>(R);

impl<R: Read> Read for InputReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| StreamError::Input(e).into_io())
    }
}

type Buffered<R> = BufReader<io::Chain<Cursor<[u8; MAGIC]>, InputReader<R>>>;

/// The uncompressed tar stream of a layer.
pub(crate) enum Decoder<R: Read> {
    Plain(Buffered<R>),
    Gzip(Box<flate2::bufread::MultiGzDecoder<Buffered<R>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, Buffered<R>>>),
}

impl<R: Read> Decoder<R> {
    /// Sniffs the compression from the first bytes and sets up decoding.
    pub(crate) fn open(input: R) -> Result<Self, ArchiveError> {
        let mut input = InputReader(input);
        // Read the magic before buffering: a BufReader cannot be asked to
        // hold at least N bytes, and a pipe may hand them over one by one.
        let mut magic = [0u8; MAGIC];
        let mut have = 0;
        while have < magic.len() {
            match input.read(&mut magic[have..]) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(classify(e, false)),
            }
        }
        if let Some(name) = unsupported_compression(&magic[..have]) {
            return Err(ArchiveError::UnsupportedCompression(name));
        }
        let compression = crate::detect_compression(&magic[..have]);
        let reader = BufReader::with_capacity(INPUT_BUFFER, chain(magic, have, input));
        Ok(match compression {
            Compression::None => Decoder::Plain(reader),
            Compression::Gzip => {
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
            }
            Compression::Zstd => {
                let dec = zstd::stream::read::Decoder::with_buffer(reader).map_err(|e| {
                    ArchiveError::Corrupt {
                        format: "zstd",
                        message: e.to_string(),
                    }
                })?;
                Decoder::Zstd(Box::new(dec))
            }
        })
    }
}

/// Puts the sniffed bytes back in front of the rest of the input.
fn chain<R: Read>(
    mut magic: [u8; MAGIC],
    have: usize,
    rest: InputReader<R>,
) -> io::Chain<Cursor<[u8; MAGIC]>, InputReader<R>> {
    // A short input leaves the tail of the array unused; move the bytes read
    // to the end so the cursor can start at them.
    let skip = MAGIC - have;
    magic.rotate_right(skip);
    let mut cursor = Cursor::new(magic);
    cursor.set_position(skip as u64);
    cursor.chain(rest)
}

/// Formats Docker once accepted for layers; naming them beats a checksum error.
fn unsupported_compression(magic: &[u8]) -> Option<&'static str> {
    if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some("xz")
    } else if magic.len() == MAGIC
        && magic.starts_with(b"BZh")
        && magic[3].is_ascii_digit()
        && magic[4..] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
    {
        Some("bzip2")
    } else {
        None
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (format, res) = match self {
            Decoder::Plain(r) => return r.read(buf),
            Decoder::Gzip(r) => ("gzip", r.read(buf)),
            Decoder::Zstd(r) => ("zstd", r.read(buf)),
        };
        res.map_err(|e| tag_decoder_error(format, e))
    }
}

fn tag_decoder_error(format: &'static str, err: io::Error) -> io::Error {
    if StreamError::from_io(&err).is_some() {
        return err;
    }
    let msg = err.to_string();
    // zstd reports a frame cut short as "incomplete frame" with kind Other.
    if err.kind() == io::ErrorKind::UnexpectedEof || msg.contains("incomplete") {
        StreamError::Truncated(format).into_io()
    } else {
        StreamError::Corrupt(format, msg).into_io()
    }
}
