//! Shell-style pattern matching with the semantics of Go's `path.Match`,
//! which Docker uses for `--filter reference=<pattern>`.
//!
//! The details matter for compatibility: `*` and `?` never cross a `/`,
//! literals compare bytes while `?` and classes consume whole characters, and
//! a malformed pattern is reported even when the name already failed to match.

use crate::ReferenceError;

/// Reports whether `name` matches the shell `pattern` as a whole.
///
/// Syntax: `*` (any run of non-`/` characters), `?` (one non-`/`
/// character), `[` `^`? ranges `]` (a class of `c`, `\c` or `lo-hi`), `\c`
/// (a literal `c`). A malformed pattern gives [`ReferenceError::BadPattern`].
pub fn path_match(pattern: &str, name: &str) -> Result<bool, ReferenceError> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        // A chunk that is not the last may leave input for the next one;
        // the last must consume everything, or a later star offset may.
        if let Some(left) = match_chunk(chunk, name)? {
            if left.is_empty() || !pattern.is_empty() {
                name = left;
                continue;
            }
        }
        if star {
            let mut skip = 0;
            while skip < name.len() && name[skip] != b'/' {
                skip += 1;
                if let Some(left) = match_chunk(chunk, &name[skip..])? {
                    if pattern.is_empty() && !left.is_empty() {
                        continue;
                    }
                    name = left;
                    continue 'chunks;
                }
            }
        }
        // Go still rejects a malformed remainder of the pattern here, so a
        // typo is not silently reported as "no match".
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the next chunk: optional leading stars, then everything up to
/// the next star outside a character class.
fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut start = 0;
    while pattern.get(start) == Some(&b'*') {
        start += 1;
    }
    let star = start > 0;
    let pattern = &pattern[start..];
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // A trailing backslash is reported by match_chunk.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return (star, &pattern[..i], &pattern[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, pattern, &pattern[pattern.len()..])
}

/// Matches a star-free chunk against the start of `s`, returning what is
/// left of `s`, or `None` on mismatch. After a mismatch the rest of the chunk
/// is still parsed so syntax errors surface.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<Option<&'a [u8]>, ReferenceError> {
    let mut failed = false;
    while let Some(&op) = chunk.first() {
        if s.is_empty() {
            failed = true;
        }
        match op {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (c, n) = decode_char(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chunk.first() == Some(&b']') {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = class_char(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_char(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                let literal = if op == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(ReferenceError::BadPattern)?
                } else {
                    op
                };
                if !failed {
                    if literal != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// Reads one possibly escaped character of a class. The class must go on
/// after it, so running out of pattern is an error too.
fn class_char(chunk: &[u8]) -> Result<(char, &[u8]), ReferenceError> {
    let chunk = match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(ReferenceError::BadPattern),
        Some(b'\\') => &chunk[1..],
        Some(_) => chunk,
    };
    if chunk.is_empty() {
        return Err(ReferenceError::BadPattern);
    }
    let (c, n) = decode_char(chunk);
    if (c == char::REPLACEMENT_CHARACTER && n == 1) || n == chunk.len() {
        return Err(ReferenceError::BadPattern);
    }
    Ok((c, &chunk[n..]))
}

/// Decodes the first character of a non-empty byte string like Go's
/// `utf8.DecodeRune`: a byte that does not start a valid sequence decodes as
/// U+FFFD of width 1. Star skipping advances byte by byte, so this can start
/// in the middle of a character.
fn decode_char(s: &[u8]) -> (char, usize) {
    let width = match s[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 0,
    };
    s.get(..width)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.chars().next())
        .map_or((char::REPLACEMENT_CHARACTER, 1), |c| (c, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match_cases() {
        // (pattern, name, Some(matched) or None for a syntax error); the
        // behaviour of Go's path.Match for these inputs.
        let cases: &[(&str, &str, Option<bool>)] = &[
            ("abc", "abc", Some(true)),
            ("*", "abc", Some(true)),
            ("*c", "abc", Some(true)),
            ("a*", "a", Some(true)),
            ("a*", "abc", Some(true)),
            ("a*", "ab/c", Some(false)),
            ("a*/b", "abc/b", Some(true)),
            ("a*/b", "a/c/b", Some(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Some(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Some(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Some(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Some(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Some(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Some(false)),
            ("ab[c]", "abc", Some(true)),
            ("ab[b-d]", "abc", Some(true)),
            ("ab[e-g]", "abc", Some(false)),
            ("ab[^c]", "abc", Some(false)),
            ("ab[^b-d]", "abc", Some(false)),
            ("ab[^e-g]", "abc", Some(true)),
            ("a\\*b", "a*b", Some(true)),
            ("a\\*b", "ab", Some(false)),
            ("a?b", "a☺b", Some(true)),
            ("a[^a]b", "a☺b", Some(true)),
            ("a???b", "a☺b", Some(false)),
            ("a[^a][^a][^a]b", "a☺b", Some(false)),
            ("[a-ζ]*", "α", Some(true)),
            ("*[a-ζ]", "A", Some(false)),
            ("a?b", "a/b", Some(false)),
            ("a*b", "a/b", Some(false)),
            ("[\\]a]", "]", Some(true)),
            ("[\\-]", "-", Some(true)),
            ("[x\\-]", "x", Some(true)),
            ("[x\\-]", "-", Some(true)),
            ("[x\\-]", "z", Some(false)),
            ("[\\-x]", "x", Some(true)),
            ("[\\-x]", "-", Some(true)),
            ("[\\-x]", "a", Some(false)),
            ("[]a]", "]", None),
            ("[-]", "-", None),
            ("[x-]", "x", None),
            ("[x-]", "-", None),
            ("[x-]", "z", None),
            ("[-x]", "x", None),
            ("[-x]", "-", None),
            ("[-x]", "a", None),
            ("\\", "a", None),
            ("[a-b-c]", "a", None),
            ("[", "a", None),
            ("[^", "a", None),
            ("[^bc", "a", None),
            ("a[", "a", None),
            ("a[", "ab", None),
            ("a[", "x", None),
            ("a/b[", "x", None),
            ("*x", "xxx", Some(true)),
            ("", "", Some(true)),
            ("", "a", Some(false)),
            ("*", "", Some(true)),
            ("**", "a", Some(true)),
            ("*☺", "a☺", Some(true)),
            ("*?", "☺", Some(true)),
        ];
        for &(pattern, name, want) in cases {
            let got = path_match(pattern, name).ok();
            assert_eq!(got, want, "path_match({pattern:?}, {name:?})");
        }
    }
}
