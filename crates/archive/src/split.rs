//! The tar-split format: enough about an uncompressed layer tar to write it
//! again byte for byte from the directory it was extracted to, so the store
//! need not keep the tar itself (what Docker does with vbatts/tar-split).
//!
//! Everything in the stream that is not the content of a regular file
//! written to the layer directory — headers, PAX and GNU extension blocks,
//! padding, data of entries that were skipped, end-of-archive blocks and any
//! trailing bytes up to EOF — is stored verbatim; file contents are stored
//! as a reference to the file. For typical layers that is about 1 KiB per
//! entry.
//!
//! # Format, version 1
//! A stream of bytes, written and read front to back:
//!
//! ```text
//! split   = magic record* end
//! magic   = "kjsplit" 0x01            ; the last byte is the version
//! record  = raw | file
//! raw     = 'R' uvarint(len) byte{len}          ; bytes copied verbatim
//! file    = 'F' uvarint(plen) byte{plen} uvarint(size)
//!                                     ; `size` bytes read from the regular
//!                                     ; file at that path beneath the layer
//!                                     ; directory: clean, relative, '/'-
//!                                     ; separated, no "." or ".." component
//! end     = 'E' uvarint(total)        ; length of the whole tar stream
//! ```
//!
//! `uvarint` is unsigned LEB128 (7 bits per byte, least significant first,
//! high bit set on all but the last byte, at most 10 bytes). Adjacent raw
//! bytes are merged into records of up to 1 MiB. Nothing may follow `end`.
//! A reader that meets an unknown version or tag must refuse the split.

use std::io::{self, BufRead, BufWriter, Read, Write};

pub(crate) mod record;

pub(crate) const MAGIC: &[u8; 8] = b"kjsplit\x01";
const TAG_RAW: u8 = b'R';
const TAG_FILE: u8 = b'F';
const TAG_END: u8 = b'E';
/// Largest raw record written; bounds the encoder's buffer.
const RAW_RECORD: usize = 1 << 20;
/// Paths longer than extraction accepts cannot be in a valid split.
const MAX_PATH: u64 = crate::resolve::MAX_NAME as u64;

/// Writes a split; call [`Encoder::finish`] or the split is invalid.
pub(crate) struct Encoder<W: Write> {
    out: BufWriter<W>,
    raw: Vec<u8>,
    total: u64,
}

impl<W: Write> Encoder<W> {
    pub(crate) fn new(out: W) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(64 * 1024, out);
        out.write_all(MAGIC)?;
        Ok(Encoder {
            out,
            raw: Vec::new(),
            total: 0,
        })
    }

    pub(crate) fn raw(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.total = self.total.saturating_add(data.len() as u64);
        while !data.is_empty() {
            let k = (RAW_RECORD - self.raw.len()).min(data.len());
            self.raw.extend_from_slice(&data[..k]);
            data = &data[k..];
            if self.raw.len() == RAW_RECORD {
                self.flush_raw()?;
            }
        }
        Ok(())
    }

    pub(crate) fn file(&mut self, path: &[u8], size: u64) -> io::Result<()> {
        self.flush_raw()?;
        self.total = self.total.saturating_add(size);
        self.out.write_all(&[TAG_FILE])?;
        write_uvarint(&mut self.out, path.len() as u64)?;
        self.out.write_all(path)?;
        write_uvarint(&mut self.out, size)
    }

    pub(crate) fn finish(&mut self) -> io::Result<u64> {
        self.flush_raw()?;
        self.out.write_all(&[TAG_END])?;
        write_uvarint(&mut self.out, self.total)?;
        self.out.flush()?;
        Ok(self.total)
    }

    fn flush_raw(&mut self) -> io::Result<()> {
        if self.raw.is_empty() {
            return Ok(());
        }
        self.out.write_all(&[TAG_RAW])?;
        write_uvarint(&mut self.out, self.raw.len() as u64)?;
        self.out.write_all(&self.raw)?;
        self.raw.clear();
        Ok(())
    }
}

fn write_uvarint<W: Write>(out: &mut W, mut v: u64) -> io::Result<()> {
    let mut buf = [0u8; 10];
    let mut n = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf[n] = byte;
            n += 1;
            break;
        }
        buf[n] = byte | 0x80;
        n += 1;
    }
    out.write_all(&buf[..n])
}

/// One record header; the bytes of a `Raw` record follow it in the reader.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record {
    Raw(u64),
    File { path: Vec<u8>, size: u64 },
    End(u64),
}

/// Why a split could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    Invalid(String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReadError::Invalid("it ends before its end record".into())
        } else {
            ReadError::Io(e)
        }
    }
}

/// Checks the magic at the start of a split.
pub(crate) fn read_magic<R: Read>(r: &mut R) -> Result<(), ReadError> {
    let mut magic = [0u8; MAGIC.len()];
    r.read_exact(&mut magic)
        .map_err(|_| ReadError::Invalid("it is too short to be a tar-split".into()))?;
    if magic[..7] != MAGIC[..7] {
        return Err(ReadError::Invalid(
            "it does not start with the kujira tar-split magic".into(),
        ));
    }
    if magic[7] != MAGIC[7] {
        return Err(ReadError::Invalid(format!(
            "format version {} is not supported (only {})",
            magic[7], MAGIC[7]
        )));
    }
    Ok(())
}

/// Reads the next record header.
pub(crate) fn read_record<R: BufRead>(r: &mut R) -> Result<Record, ReadError> {
    let mut tag = [0u8];
    r.read_exact(&mut tag)?;
    match tag[0] {
        TAG_RAW => Ok(Record::Raw(read_uvarint(r)?)),
        TAG_FILE => {
            let len = read_uvarint(r)?;
            if len == 0 || len > MAX_PATH {
                return Err(ReadError::Invalid(format!(
                    "a file record has a path of {len} bytes"
                )));
            }
            let mut path = vec![0u8; len as usize];
            r.read_exact(&mut path)?;
            let size = read_uvarint(r)?;
            Ok(Record::File { path, size })
        }
        TAG_END => Ok(Record::End(read_uvarint(r)?)),
        other => Err(ReadError::Invalid(format!(
            "unknown record tag 0x{other:02x}"
        ))),
    }
}

fn read_uvarint<R: BufRead>(r: &mut R) -> Result<u64, ReadError> {
    let mut v = 0u64;
    for i in 0..10 {
        let mut b = [0u8];
        r.read_exact(&mut b)?;
        let bits = u64::from(b[0] & 0x7f);
        // The tenth byte may only carry the top bit of a u64.
        if i == 9 && b[0] > 1 {
            break;
        }
        v |= bits << (7 * i);
        if b[0] & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(ReadError::Invalid(
        "a number does not fit in 64 bits".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out).unwrap();
        enc.raw(b"head").unwrap();
        enc.raw(b"er").unwrap();
        enc.file(b"a/b", 300).unwrap();
        enc.file(b"c", u64::MAX - 306 - RAW_RECORD as u64 - 1)
            .unwrap();
        enc.raw(&vec![7u8; RAW_RECORD + 1]).unwrap();
        assert_eq!(enc.finish().unwrap(), u64::MAX);
        drop(enc);

        let mut r = &out[..];
        read_magic(&mut r).unwrap();
        assert_eq!(read_record(&mut r).unwrap(), Record::Raw(6));
        r = &r[6..];
        assert_eq!(
            read_record(&mut r).unwrap(),
            Record::File {
                path: b"a/b".to_vec(),
                size: 300
            }
        );
        assert_eq!(
            read_record(&mut r).unwrap(),
            Record::File {
                path: b"c".to_vec(),
                size: u64::MAX - 306 - RAW_RECORD as u64 - 1
            }
        );
        assert_eq!(read_record(&mut r).unwrap(), Record::Raw(RAW_RECORD as u64));
        r = &r[RAW_RECORD..];
        assert_eq!(read_record(&mut r).unwrap(), Record::Raw(1));
        r = &r[1..];
        assert_eq!(read_record(&mut r).unwrap(), Record::End(u64::MAX));
        assert!(r.is_empty());
    }

    #[test]
    fn malformed_numbers_and_tags_are_refused() {
        let mut r = &[0xffu8; 11][..];
        assert!(matches!(read_uvarint(&mut r), Err(ReadError::Invalid(_))));
        let mut r = &b"X"[..];
        assert!(matches!(read_record(&mut r), Err(ReadError::Invalid(_))));
        let mut r = &b"R\x80"[..];
        assert!(matches!(read_record(&mut r), Err(ReadError::Invalid(_))));
        let mut r = &b"kjsplit\x02"[..];
        assert!(
            matches!(read_magic(&mut r), Err(ReadError::Invalid(m)) if m.contains("version 2"))
        );
    }
}
