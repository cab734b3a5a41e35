//! GNU sparse files in PAX form (formats 0.0, 0.1 and 1.0), which GNU tar
//! writes for `--sparse` and Go's archive/tar (so Docker) reads; the `tar`
//! crate only knows the old GNU header form and would hand over the raw
//! stored data under a `GNUSparseFile.N/` name.
//!
//! The records give the real name and size and, for 0.x, the map of data
//! regions; in 1.0 the map is a block-padded text prefix of the entry data.
//! Data regions are written at their offsets and the rest is left as holes.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// Cap on the 1.0 map text, like other metadata (1 MiB, as Go caps
/// special headers): ~100k regions.
const MAX_MAP_TEXT: usize = 1 << 20;
const BLOCK: usize = 512;

/// A PAX-described sparse file.
#[derive(Debug, Default)]
pub(crate) struct PaxSparse {
    /// `GNU.sparse.name`: the real entry name.
    pub(crate) name: Option<Vec<u8>>,
    /// Logical file size.
    pub(crate) real_size: u64,
    /// Data regions (offset, length); `None` for 1.0, where they prefix the data.
    pub(crate) map: Option<Vec<(u64, u64)>>,
}

/// Collects `GNU.sparse.*` records while the PAX block is scanned.
#[derive(Default)]
pub(crate) struct Records {
    major: Option<Vec<u8>>,
    minor: Option<Vec<u8>>,
    name: Option<Vec<u8>>,
    size: Option<Vec<u8>>,
    realsize: Option<Vec<u8>>,
    map: Option<Vec<u8>>,
    /// 0.0 spells the map as repeated offset/numbytes records.
    pairs: Vec<u64>,
    bad: bool,
}

impl Records {
    /// Takes the record if it is a sparse one.
    pub(crate) fn record(&mut self, key: &[u8], value: &[u8]) -> bool {
        let Some(field) = key.strip_prefix(b"GNU.sparse.") else {
            return false;
        };
        let slot = match field {
            b"major" => &mut self.major,
            b"minor" => &mut self.minor,
            b"name" => &mut self.name,
            b"size" => &mut self.size,
            b"realsize" => &mut self.realsize,
            b"map" => &mut self.map,
            b"offset" | b"numbytes" => {
                match number(value) {
                    Some(n) => self.pairs.push(n),
                    None => self.bad = true,
                }
                return true;
            }
            _ => return true,
        };
        *slot = Some(value.to_vec());
        true
    }

    /// Decides, as Go does, whether the entry is a PAX sparse file.
    /// `stored` is the entry's data size, the fallback logical size.
    pub(crate) fn finish(self, stored: u64) -> Result<Option<PaxSparse>, String> {
        let version = (self.major.as_deref(), self.minor.as_deref());
        let v1 = match version {
            (Some(b"0"), Some(b"0" | b"1")) => false,
            (Some(b"1"), Some(b"0")) => true,
            // Unknown versions are plain files to Go; so they are here.
            (Some(_), _) | (_, Some(_)) => return Ok(None),
            _ if self.map.is_some() || !self.pairs.is_empty() => false,
            _ => return Ok(None),
        };
        if self.bad {
            return Err("malformed GNU.sparse.offset/numbytes record".into());
        }
        let real_size = match self.size.or(self.realsize) {
            Some(v) => number(&v).ok_or("malformed GNU.sparse size record")?,
            None => stored,
        };
        let map = if v1 {
            None
        } else {
            let numbers = match self.map {
                Some(text) if !text.is_empty() => text
                    .split(|&b| b == b',')
                    .map(number)
                    .collect::<Option<Vec<u64>>>()
                    .ok_or("malformed GNU.sparse.map record")?,
                _ => self.pairs,
            };
            Some(pairs(&numbers)?)
        };
        Ok(Some(PaxSparse {
            name: self.name,
            real_size,
            map,
        }))
    }
}

fn number(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn pairs(numbers: &[u64]) -> Result<Vec<(u64, u64)>, String> {
    if !numbers.len().is_multiple_of(2) {
        return Err("sparse map has an odd number of values".into());
    }
    Ok(numbers.chunks(2).map(|p| (p[0], p[1])).collect())
}

/// Why reading or applying a sparse map failed.
pub(crate) enum MapError {
    /// Reading entry data failed (truncation included).
    Read(io::Error),
    /// Writing the file failed.
    Write(io::Error),
    /// The map itself is unusable.
    Invalid(String),
}

/// Reads the 1.0 map prefix: a count, then offset/length pairs, one decimal
/// number per line, padded to a 512-byte boundary.
pub(crate) fn read_map_v1<R: Read>(data: &mut R) -> Result<Vec<(u64, u64)>, MapError> {
    let mut text = Vec::new();
    let mut lines = 0usize;
    let mut needed: Option<usize> = None;
    loop {
        let start = text.len();
        text.resize(start + BLOCK, 0);
        data.read_exact(&mut text[start..])
            .map_err(MapError::Read)?;
        lines += text[start..].iter().filter(|&&b| b == b'\n').count();
        if needed.is_none() && lines >= 1 {
            let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
            let count = number(first).ok_or(MapError::Invalid("malformed sparse map".into()))?;
            let count = usize::try_from(count)
                .ok()
                .and_then(|c| c.checked_mul(2)?.checked_add(1))
                .ok_or(MapError::Invalid("sparse map too large".into()))?;
            needed = Some(count);
        }
        if needed.is_some_and(|n| lines >= n) {
            break;
        }
        if text.len() >= MAX_MAP_TEXT {
            return Err(MapError::Invalid("sparse map too large".into()));
        }
    }
    let needed = needed.unwrap_or(1);
    let numbers = text
        .split(|&b| b == b'\n')
        .skip(1)
        .take(needed - 1)
        .map(number)
        .collect::<Option<Vec<u64>>>()
        .ok_or(MapError::Invalid("malformed sparse map".into()))?;
    pairs(&numbers).map_err(MapError::Invalid)
}

/// Writes each data region at its offset, leaving holes between them, and
/// sizes the file to `real_size`. Regions must be ordered, disjoint and
/// inside the file, as Go requires too.
pub(crate) fn copy_map<R: Read>(
    data: &mut R,
    file: &File,
    map: &[(u64, u64)],
    real_size: u64,
    buf: &mut [u8],
) -> Result<(), MapError> {
    let mut end = 0u64;
    for &(offset, len) in map {
        let stop = offset.checked_add(len);
        if offset < end || stop.is_none_or(|s| s > real_size) {
            return Err(MapError::Invalid(
                "sparse map regions overlap or exceed the file size".into(),
            ));
        }
        end = offset + len;
    }
    for &(offset, len) in map {
        let mut done = 0u64;
        while done < len {
            let want = buf.len().min((len - done) as usize);
            let n = match data.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(MapError::Read(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "sparse data ends early",
                    )))
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(MapError::Read(e)),
            };
            file.write_all_at(&buf[..n], offset + done)
                .map_err(MapError::Write)?;
            done += n as u64;
        }
    }
    file.set_len(real_size).map_err(MapError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(list: &[(&str, &str)]) -> Records {
        let mut r = Records::default();
        for (k, v) in list {
            assert!(r.record(k.as_bytes(), v.as_bytes()));
        }
        r
    }

    #[test]
    fn versions() {
        let s = records(&[("GNU.sparse.map", "0,10,100,5"), ("GNU.sparse.size", "200")])
            .finish(15)
            .unwrap()
            .unwrap();
        assert_eq!(s.map.unwrap(), vec![(0, 10), (100, 5)]);
        assert_eq!(s.real_size, 200);

        let s = records(&[
            ("GNU.sparse.size", "50"),
            ("GNU.sparse.offset", "1"),
            ("GNU.sparse.numbytes", "2"),
            ("GNU.sparse.offset", "10"),
            ("GNU.sparse.numbytes", "3"),
        ])
        .finish(5)
        .unwrap()
        .unwrap();
        assert_eq!(s.map.unwrap(), vec![(1, 2), (10, 3)]);

        let s = records(&[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "real"),
            ("GNU.sparse.realsize", "1000"),
        ])
        .finish(512)
        .unwrap()
        .unwrap();
        assert!(s.map.is_none());
        assert_eq!(s.name.as_deref(), Some(&b"real"[..]));

        assert!(
            records(&[("GNU.sparse.major", "2"), ("GNU.sparse.minor", "0")])
                .finish(1)
                .unwrap()
                .is_none()
        );
        assert!(records(&[("GNU.sparse.map", "1,2,3")]).finish(1).is_err());
    }

    #[test]
    fn v1_map() {
        let mut data = b"2\n0\n4\n600\n3\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(b"abcdxyz");
        let mut r = &data[..];
        assert_eq!(read_map_v1(&mut r).ok().unwrap(), vec![(0, 4), (600, 3)]);
        assert_eq!(r, b"abcdxyz");
    }
}
