//! Docker's `json` template function: Go's encoding/json Encoder with
//! SetEscapeHTML(false), trailing newline trimmed. Struct fields keep their
//! order, map keys are sorted, floats use encoding/json's spelling.

use crate::print::format_float;
use crate::value::Value;

/// Encodes `v`; `None` when Go's encoder would fail (NaN or infinity), in
/// which case Docker's function prints nothing.
pub(crate) fn encode(v: &Value) -> Option<String> {
    let mut out = String::new();
    write(&mut out, v)?;
    Some(out)
}

fn write(out: &mut String, v: &Value) -> Option<()> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&float(*f)?),
        Value::String(s) => string(out, s),
        Value::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, x)?;
            }
            out.push(']');
        }
        Value::Map(m) => object(out, m.iter().map(|(k, v)| (k.as_str(), v)))?,
        Value::Struct(fields) => object(out, fields.iter().map(|(k, v)| (k.as_str(), v)))?,
    }
    Some(())
}

fn object<'v>(out: &mut String, entries: impl Iterator<Item = (&'v str, &'v Value)>) -> Option<()> {
    out.push('{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, k);
        out.push(':');
        write(out, v)?;
    }
    out.push('}');
    Some(())
}

/// encoding/json's float format: shortest, 'e' only for very small or very
/// large magnitudes, and a one-digit negative exponent kept short.
fn float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    let fmt = if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        'e'
    } else {
        'f'
    };
    let mut s = format_float(f, fmt, None);
    if fmt == 'e' {
        let b = s.as_bytes();
        let n = b.len();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
    }
    Some(s)
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // Still escaped with HTML escaping off: they break JavaScript.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_go() {
        let cases: Vec<(Value, Option<&str>)> = vec![
            (Value::Nil, Some("null")),
            (Value::Int(-3), Some("-3")),
            (Value::Float(1.5), Some("1.5")),
            (Value::Float(1e21), Some("1e+21")),
            (Value::Float(1e-7), Some("1e-7")),
            (Value::Float(100.0), Some("100")),
            (Value::Float(f64::NAN), None),
            (
                Value::String("a<b>&\"\\\n\u{1}\u{2028}".into()),
                Some("\"a<b>&\\\"\\\\\\n\\u0001\\u2028\""),
            ),
            (
                Value::Struct(vec![
                    ("Z".into(), Value::Bool(true)),
                    ("A".into(), Value::List(vec![])),
                ]),
                Some("{\"Z\":true,\"A\":[]}"),
            ),
            (
                Value::Map(
                    [
                        ("b".to_string(), Value::Int(1)),
                        ("a".to_string(), Value::Struct(vec![])),
                    ]
                    .into(),
                ),
                Some("{\"a\":{},\"b\":1}"),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(encode(&v).as_deref(), want, "{v:?}");
        }
    }
}
