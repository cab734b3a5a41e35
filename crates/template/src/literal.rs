//! Go literal syntax inside actions: strconv.Unquote for strings and
//! characters, and the number readings text/template/parse gives a literal.

use crate::ast::Number;
use crate::print::quote;
use crate::value::Value;

const SYNTAX: &str = "invalid syntax";

fn unhex(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// strconv.UnquoteChar: one possibly escaped character from the front of
/// `s`, as either a rune or (for `\x` and octal escapes) a raw byte.
fn unquote_char(s: &str, quote_char: u8) -> Result<(Unit, &str), &'static str> {
    let b = s.as_bytes();
    let Some(&c) = b.first() else {
        return Err(SYNTAX);
    };
    if c == quote_char {
        return Err(SYNTAX);
    }
    if c != b'\\' {
        let ch = s.chars().next().ok_or(SYNTAX)?;
        return Ok((Unit::Char(ch), &s[ch.len_utf8()..]));
    }
    let esc = *b.get(1).ok_or(SYNTAX)?;
    if !esc.is_ascii() {
        return Err(SYNTAX);
    }
    let rest = &s[2..];
    let simple = match esc {
        b'a' => Some('\u{7}'),
        b'b' => Some('\u{8}'),
        b'f' => Some('\u{c}'),
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        b'v' => Some('\u{b}'),
        b'\\' => Some('\\'),
        b'\'' | b'"' if esc == quote_char => Some(esc as char),
        _ => None,
    };
    if let Some(ch) = simple {
        return Ok((Unit::Char(ch), rest));
    }
    match esc {
        b'x' | b'u' | b'U' => {
            let n = match esc {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = rest.as_bytes().get(..n).ok_or(SYNTAX)?;
            let mut v: u32 = 0;
            for &d in digits {
                v = (v << 4) | unhex(d).ok_or(SYNTAX)?;
            }
            let tail = &rest[n..];
            if esc == b'x' {
                return Ok((Unit::Byte(v as u8), tail));
            }
            let ch = char::from_u32(v).ok_or(SYNTAX)?;
            Ok((Unit::Char(ch), tail))
        }
        b'0'..=b'7' => {
            let digits = rest.as_bytes().get(..2).ok_or(SYNTAX)?;
            let mut v = u32::from(esc - b'0');
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(SYNTAX);
                }
                v = (v << 3) | u32::from(d - b'0');
            }
            let byte = u8::try_from(v).map_err(|_| SYNTAX)?;
            Ok((Unit::Byte(byte), &rest[2..]))
        }
        _ => Err(SYNTAX),
    }
}

enum Unit {
    Char(char),
    Byte(u8),
}

impl Unit {
    fn value(&self) -> u32 {
        match self {
            Unit::Char(c) => *c as u32,
            Unit::Byte(b) => u32::from(*b),
        }
    }
}

/// strconv.Unquote for `"..."` and `` `...` `` literals.
pub(crate) fn unquote(s: &str) -> Result<String, &'static str> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] || !matches!(b[0], b'"' | b'`') {
        return Err(SYNTAX);
    }
    let body = &s[1..s.len() - 1];
    match b[0] {
        b'`' => {
            if body.contains('`') {
                return Err(SYNTAX);
            }
            Ok(body.replace('\r', ""))
        }
        b'"' => {
            if body.contains('\n') {
                return Err(SYNTAX);
            }
            // Bytes, since \x and octal escapes may spell UTF-8 piecewise.
            let mut out: Vec<u8> = Vec::with_capacity(body.len());
            let mut rest = body;
            while !rest.is_empty() {
                let (unit, tail) = unquote_char(rest, b'"')?;
                match unit {
                    Unit::Char(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    Unit::Byte(x) => out.push(x),
                }
                rest = tail;
            }
            Ok(String::from_utf8(out)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        }
        _ => Err(SYNTAX),
    }
}

/// strconv's underscoreOK: underscores only between digits.
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// strconv.ParseUint(s, 0, 64).
fn parse_uint(s0: &str) -> Option<u64> {
    let mut s = s0;
    let mut base = 10;
    if s.starts_with('0') {
        let b = s.as_bytes();
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (base, s) = (2, &s[2..]),
            Some(b'o') if b.len() >= 3 => (base, s) = (8, &s[2..]),
            Some(b'x') if b.len() >= 3 => (base, s) = (16, &s[2..]),
            _ => (base, s) = (8, &s[1..]),
        }
    }
    if s0.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in s.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s0) {
        return None;
    }
    Some(n)
}

/// strconv.ParseInt(s, 0, 64).
fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg {
        if u <= 1 << 63 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

fn parse_float(s: &str) -> Option<f64> {
    if s.contains('_') {
        if !underscore_ok(s) {
            return None;
        }
        return s.replace('_', "").parse().ok();
    }
    s.parse().ok()
}

const FLOAT_MARKS: [char; 5] = ['.', 'e', 'E', 'p', 'P'];

/// text/template/parse's newNumber, for number and character literals.
pub(crate) fn number(text: &str, is_char: bool) -> Result<Number, String> {
    if is_char {
        let (unit, tail) = unquote_char(text.get(1..).unwrap_or(""), b'\'')?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        let v = i64::from(unit.value());
        return Ok(Number {
            int: Some(v),
            ideal: Some(Value::Int(v)),
        });
    }
    if text.ends_with('i') {
        return Err(format!("complex numbers are not supported: {text}"));
    }
    let uint = parse_uint(text);
    let mut int = parse_int(text);
    let float = if let Some(i) = int {
        Some(i as f64)
    } else if let Some(u) = uint {
        Some(u as f64)
    } else {
        match parse_float(text) {
            Some(f) => {
                if !text.contains(FLOAT_MARKS) {
                    return Err(format!("integer overflow: {text}"));
                }
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
                {
                    int = Some(f as i64);
                }
                Some(f)
            }
            None => None,
        }
    };
    let Some(f) = float else {
        return Err(format!("illegal number syntax: {}", quote(text)));
    };
    let hex_int = text.len() > 2
        && text.starts_with('0')
        && matches!(text.as_bytes()[1], b'x' | b'X')
        && !text.contains(['p', 'P']);
    let ideal = if !hex_int && text.contains(FLOAT_MARKS) {
        Some(Value::Float(f))
    } else {
        int.map(Value::Int)
    };
    // An unsigned literal too big for int has no ideal value: using one
    // where no type is known is Go's "overflows int" error.
    Ok(Number { int, ideal })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes() {
        let cases = [
            ("\"abc\"", Ok("abc")),
            ("\"a\\tb\\\"\"", Ok("a\tb\"")),
            ("\"\\x41\\101\\u00e9\"", Ok("AAé")),
            ("\"\\xc3\\xa9\"", Ok("é")),
            ("`raw\\n`", Ok("raw\\n")),
            ("\"bad\\q\"", Err(SYNTAX)),
            ("\"it\\'s\"", Err(SYNTAX)),
            ("\"\\é\"", Err(SYNTAX)),
            ("'a'", Err(SYNTAX)),
        ];
        for (src, want) in cases {
            assert_eq!(unquote(src).as_deref().map_err(|e| *e), want, "{src}");
        }
    }

    #[test]
    fn numbers() {
        type Case<'c> = (&'c str, bool, Result<(Option<i64>, Option<Value>), &'c str>);
        let cases: &[Case] = &[
            ("42", false, Ok((Some(42), Some(Value::Int(42))))),
            ("-7", false, Ok((Some(-7), Some(Value::Int(-7))))),
            ("0x1F", false, Ok((Some(31), Some(Value::Int(31))))),
            ("017", false, Ok((Some(15), Some(Value::Int(15))))),
            ("1_000", false, Ok((Some(1000), Some(Value::Int(1000))))),
            ("3.0", false, Ok((Some(3), Some(Value::Float(3.0))))),
            ("1e3", false, Ok((Some(1000), Some(Value::Float(1000.0))))),
            ("0.5", false, Ok((None, Some(Value::Float(0.5))))),
            ("18446744073709551615", false, Ok((None, None))),
            ("'a'", true, Ok((Some(97), Some(Value::Int(97))))),
            ("'\\n'", true, Ok((Some(10), Some(Value::Int(10))))),
            (
                "99999999999999999999",
                false,
                Err("integer overflow: 99999999999999999999"),
            ),
            (".", false, Err("illegal number syntax: \".\"")),
        ];
        for (text, is_char, want) in cases {
            let got = number(text, *is_char).map(|n| (n.int, n.ideal));
            let want = want.clone().map_err(String::from);
            assert_eq!(got, want, "{text}");
        }
    }
}
