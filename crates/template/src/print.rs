//! Go's number and string spelling: strconv.FormatFloat, strconv.Quote and
//! the type names fmt shows, shared by value printing, printf and json.

use crate::value::Value;

/// The Go type name fmt would show for a value decoded from a document:
/// used by `%T`, bad-verb output and type errors. Lists, maps and structs
/// have no static element type here, so they get the dynamic spelling.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Struct(_) => "struct",
    }
}

/// Approximates Go's `unicode.IsPrint`: letters, marks, numbers,
/// punctuation, symbols and the ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c,
            '\u{AD}'
            | '\u{600}'..='\u{605}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{F0000}'..='\u{10FFFF}'))
}

fn push_escaped(out: &mut String, c: char, quote_char: char, ascii_only: bool) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote_char => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x80 && is_print(c) => out.push(c),
        c if !ascii_only && is_print(c) => out.push(c),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// strconv.Quote.
pub(crate) fn quote(s: &str) -> String {
    quote_with(s, false)
}

/// strconv.QuoteToASCII, for `%+q`.
pub(crate) fn quote_ascii(s: &str) -> String {
    quote_with(s, true)
}

fn quote_with(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// strconv.QuoteRune (or QuoteRuneToASCII), for `%q` of an integer.
pub(crate) fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// strconv.CanBackquote, for `%#q`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !(c.is_control() || c == '\u{7f}')))
}

/// Decimal digits of a float: value = 0.d₁d₂… × 10^dp, no trailing zeros
/// (Go's `decimalSlice`). Zero has no digits.
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

impl Digits {
    fn nd(&self) -> i32 {
        self.d.len() as i32
    }
}

/// Parses Rust's `{:e}` output ("1.2345e-5") into digits and exponent.
/// Rust's float printing is exact and round-trip shortest, as is Go's.
fn digits_from_exp_form(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

fn shortest_digits(abs: f64) -> Digits {
    if abs == 0.0 {
        return Digits {
            d: Vec::new(),
            dp: 0,
        };
    }
    digits_from_exp_form(&format!("{abs:e}"))
}

/// Digits rounded to `sig` significant places, trailing zeros trimmed.
fn rounded_digits(abs: f64, sig: usize) -> Digits {
    if abs == 0.0 {
        return Digits {
            d: Vec::new(),
            dp: 0,
        };
    }
    let prec = sig.saturating_sub(1);
    digits_from_exp_form(&format!("{abs:.prec$e}"))
}

fn fmt_e(out: &mut String, d: &Digits, prec: i32, e: char) {
    out.push(d.d.first().map_or('0', |&b| b as char));
    if prec > 0 {
        out.push('.');
        let mut i = 1;
        let m = d.nd().min(prec + 1);
        while i < m {
            out.push(d.d[i as usize] as char);
            i += 1;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(e);
    let mut exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, d: &Digits, prec: i32) {
    if d.dp > 0 {
        let m = d.nd().min(d.dp);
        out.extend(d.d[..m as usize].iter().map(|&b| b as char));
        for _ in m..d.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            let ch = if j >= 0 && j < d.nd() {
                d.d[j as usize] as char
            } else {
                '0'
            };
            out.push(ch);
        }
    }
}

/// strconv.FormatFloat(f, fmt, prec, 64) for fmt in e E f g G, with
/// `None` meaning Go's precision -1 (shortest representation).
pub(crate) fn format_float(f: f64, fmt: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    let abs = f.abs();
    match fmt {
        'e' | 'E' => {
            let d = match prec {
                None => shortest_digits(abs),
                Some(p) => rounded_digits(abs, p + 1),
            };
            let p = prec.map_or((d.nd() - 1).max(0), |p| p as i32);
            fmt_e(&mut out, &d, p, fmt);
        }
        'g' | 'G' => {
            let shortest = prec.is_none();
            let (d, mut p) = match prec {
                None => {
                    let d = shortest_digits(abs);
                    let n = d.nd();
                    (d, n)
                }
                Some(p) => {
                    let p = p.max(1);
                    (rounded_digits(abs, p), p as i32)
                }
            };
            let mut eprec = p;
            if eprec > d.nd() && d.nd() >= d.dp {
                eprec = d.nd();
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            let e = if fmt == 'g' { 'e' } else { 'E' };
            if exp < -4 || exp >= eprec {
                if p > d.nd() {
                    p = d.nd();
                }
                fmt_e(&mut out, &d, p - 1, e);
            } else {
                if p > d.dp {
                    p = d.nd();
                }
                fmt_f(&mut out, &d, (p - d.dp).max(0));
            }
        }
        _ => match prec {
            None => {
                let d = shortest_digits(abs);
                fmt_f(&mut out, &d, (d.nd() - d.dp).max(0));
            }
            Some(p) => out.push_str(&format!("{abs:.p$}")),
        },
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_strconv() {
        let cases: &[(f64, char, Option<usize>, &str)] = &[
            (1000000.0, 'g', None, "1e+06"),
            (100000.0, 'g', None, "100000"),
            (0.5, 'g', None, "0.5"),
            (0.0001, 'g', None, "0.0001"),
            (0.00001, 'g', None, "1e-05"),
            (123456789.0, 'g', None, "1.23456789e+08"),
            (187000000.0, 'g', None, "1.87e+08"),
            (0.0, 'g', None, "0"),
            (-2.5, 'g', None, "-2.5"),
            (1e21, 'g', None, "1e+21"),
            (1.0, 'g', None, "1"),
            (1.23456, 'f', Some(2), "1.23"),
            (3.0, 'f', Some(6), "3.000000"),
            (1234.5678, 'e', Some(6), "1.234568e+03"),
            (0.0, 'e', Some(2), "0.00e+00"),
            (1234.5678, 'g', Some(3), "1.23e+03"),
            (1.0, 'g', Some(3), "1"),
            (0.1, 'f', None, "0.1"),
            (1e20, 'f', None, "100000000000000000000"),
            (f64::NAN, 'g', None, "NaN"),
            (f64::INFINITY, 'g', None, "+Inf"),
        ];
        for (f, fmt, prec, want) in cases {
            assert_eq!(format_float(*f, *fmt, *prec), *want, "{f} {fmt} {prec:?}");
        }
    }

    #[test]
    fn quoting() {
        let cases = [
            ("abc", "\"abc\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("tab\there\n", "\"tab\\there\\n\""),
            ("\u{1}", "\"\\x01\""),
            ("héllo", "\"héllo\""),
            ("\u{a0}", "\"\\u00a0\""),
        ];
        for (s, want) in cases {
            assert_eq!(quote(s), want);
        }
        assert_eq!(quote_ascii("é"), "\"\\u00e9\"");
        assert_eq!(quote_rune('x', false), "'x'");
        assert_eq!(quote_rune('\'', false), "'\\''");
    }
}
