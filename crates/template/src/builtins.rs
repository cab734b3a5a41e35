//! Go's text/template builtins that need more than a line: truth, len,
//! index and slice, the comparison functions, and html/js/urlquery escaping.

use std::collections::BTreeMap;

use crate::print::{is_print, type_name};
use crate::printf::sprint;
use crate::value::{Val, Value};

/// text/template's truth: the zero value of a type is false, structs are
/// always true.
pub(crate) fn is_true(v: &Val<'_>) -> bool {
    match v.get() {
        None | Some(Value::Nil) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Int(i)) => *i != 0,
        Some(Value::Uint(u)) => *u != 0,
        Some(Value::Float(f)) => *f != 0.0,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::List(l)) => !l.is_empty(),
        Some(Value::Map(m)) => !m.is_empty(),
        Some(Value::Struct(_)) => true,
    }
}

pub(crate) fn length(v: &Val<'_>) -> Result<i64, String> {
    match v.get() {
        None | Some(Value::Nil) => Err("len of nil pointer".into()),
        Some(Value::String(s)) => Ok(s.len() as i64),
        Some(Value::List(l)) => Ok(l.len() as i64),
        Some(Value::Map(m)) => Ok(m.len() as i64),
        Some(other) => Err(format!("len of type {}", type_name(other))),
    }
}

fn index_arg(i: &Val<'_>, cap: usize) -> Result<usize, String> {
    let x = match i.get() {
        Some(Value::Int(n)) => *n,
        Some(Value::Uint(u)) => *u as i64,
        None | Some(Value::Nil) => return Err("cannot index slice/array with nil".into()),
        Some(other) => {
            return Err(format!(
                "cannot index slice/array with type {}",
                type_name(other)
            ))
        }
    };
    match usize::try_from(x) {
        Ok(n) if n <= cap => Ok(n),
        _ => Err(format!("index out of range: {x}")),
    }
}

/// The zero value of a map's element type, which Go's index returns for a
/// missing key. Element types are not recorded, so it is inferred from an
/// entry; an empty map is taken to be map[string]string, the type of
/// Docker's labels and options, whose zero prints as nothing.
fn zero_like(m: &BTreeMap<String, Value>) -> Value {
    match m.values().next() {
        None | Some(Value::String(_)) => Value::String(String::new()),
        Some(Value::Bool(_)) => Value::Bool(false),
        Some(Value::Int(_)) => Value::Int(0),
        Some(Value::Uint(_)) => Value::Uint(0),
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(Value::List(_)) => Value::List(Vec::new()),
        Some(Value::Map(_)) => Value::Map(BTreeMap::new()),
        Some(Value::Struct(f)) if f.is_empty() => Value::Struct(Vec::new()),
        // A struct with fields is most likely behind a pointer: nil.
        Some(Value::Struct(_) | Value::Nil) => Value::Nil,
    }
}

pub(crate) fn index<'a>(item: &Val<'a>, indexes: &[Val<'a>]) -> Result<Val<'a>, String> {
    if matches!(item.get(), None | Some(Value::Nil)) {
        return Err("index of untyped nil".into());
    }
    let mut cur = item.clone();
    for i in indexes {
        let next = match cur.get() {
            None | Some(Value::Nil) => return Err("index of nil pointer".into()),
            Some(Value::List(items)) => {
                let x = index_arg(i, items.len())?;
                if x >= items.len() {
                    return Err(format!("index out of range: {x}"));
                }
                cur.element(x)
            }
            Some(Value::String(s)) => {
                let x = index_arg(i, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Val::own(Value::Uint(u64::from(*b))),
                    None => return Err(format!("index out of range: {x}")),
                }
            }
            Some(Value::Map(m)) => {
                let key = match i.get() {
                    Some(Value::String(k)) => k.as_str(),
                    None | Some(Value::Nil) => {
                        return Err("value is nil; should be of type string".into())
                    }
                    Some(other) => {
                        return Err(format!(
                            "value has type {}; should be string",
                            type_name(other)
                        ))
                    }
                };
                if m.contains_key(key) {
                    cur.project(Value::field, key)
                } else {
                    Val::own(zero_like(m))
                }
            }
            Some(other) => return Err(format!("can't index item of type {}", type_name(other))),
        };
        cur = next;
    }
    Ok(cur)
}

pub(crate) fn slice<'a>(item: &Val<'a>, indexes: &[Val<'a>]) -> Result<Val<'a>, String> {
    let Some(v) = item.get().filter(|v| !matches!(v, Value::Nil)) else {
        return Err("slice of untyped nil".into());
    };
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let cap = match v {
        Value::String(_) if indexes.len() == 3 => {
            return Err("cannot 3-index slice a string".into())
        }
        Value::String(s) => s.len(),
        Value::List(items) => items.len(),
        other => return Err(format!("can't slice item of type {}", type_name(other))),
    };
    let mut bounds = [0, cap, 0];
    for (k, i) in indexes.iter().enumerate() {
        bounds[k] = index_arg(i, cap)?;
    }
    if bounds[0] > bounds[1] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    if indexes.len() == 3 && bounds[1] > bounds[2] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[1], bounds[2]
        ));
    }
    let (from, to) = (bounds[0], bounds[1]);
    Ok(match v {
        Value::String(s) => Val::own(Value::String(
            String::from_utf8_lossy(&s.as_bytes()[from..to]).into_owned(),
        )),
        Value::List(items) => Val::own(Value::List(items[from..to].to_vec())),
        _ => Val::Missing,
    })
}

/// Go's comparison kinds: lists, maps, structs and nil have none.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
}

fn basic_kind(v: Option<&Value>) -> Kind {
    match v {
        Some(Value::Bool(_)) => Kind::Bool,
        Some(Value::Int(_)) => Kind::Int,
        Some(Value::Uint(_)) => Kind::Uint,
        Some(Value::Float(_)) => Kind::Float,
        Some(Value::String(_)) => Kind::Str,
        _ => Kind::Invalid,
    }
}

fn is_nil(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Nil))
}

fn sprint_v(v: &Value) -> String {
    v.to_string()
}

pub(crate) fn eq(a: &Val<'_>, rest: &[Val<'_>]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let a = a.get();
    let k1 = basic_kind(a);
    for b in rest {
        let b = b.get();
        let k2 = basic_kind(b);
        let truth = match (a, b) {
            (Some(Value::Int(x)), Some(Value::Uint(y))) => *x >= 0 && *x as u64 == *y,
            (Some(Value::Uint(x)), Some(Value::Int(y))) => *y >= 0 && *x == *y as u64,
            _ if k1 != k2 => match (a, b) {
                (Some(x), Some(y)) if !is_nil(a) && !is_nil(b) => {
                    return Err(format!(
                        "incompatible types for comparison: {} and {}",
                        type_name(x),
                        type_name(y)
                    ));
                }
                _ => false,
            },
            (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
            (Some(Value::Int(x)), Some(Value::Int(y))) => x == y,
            (Some(Value::Uint(x)), Some(Value::Uint(y))) => x == y,
            (Some(Value::Float(x)), Some(Value::Float(y))) => x == y,
            (Some(Value::String(x)), Some(Value::String(y))) => x == y,
            _ if is_nil(a) || is_nil(b) => is_nil(a) == is_nil(b),
            (Some(x), Some(y)) if std::mem::discriminant(x) != std::mem::discriminant(y) => {
                return Err(format!(
                    "non-comparable types {}: {}, {}: {}",
                    sprint_v(x),
                    type_name(x),
                    type_name(y),
                    sprint_v(y)
                ));
            }
            (_, Some(y @ (Value::List(_) | Value::Map(_)))) => {
                return Err(format!(
                    "non-comparable type {}: {}",
                    sprint_v(y),
                    type_name(y)
                ));
            }
            (x, y) => x == y,
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn lt(a: &Val<'_>, b: &Val<'_>) -> Result<bool, String> {
    let (a, b) = (a.get(), b.get());
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    Ok(match (a, b) {
        (Some(Value::Int(x)), Some(Value::Uint(y))) => *x < 0 || (*x as u64) < *y,
        (Some(Value::Uint(x)), Some(Value::Int(y))) => *y >= 0 && *x < *y as u64,
        (Some(x), Some(y)) if k1 != k2 => {
            return Err(format!(
                "incompatible types for comparison: {} and {}",
                type_name(x),
                type_name(y)
            ));
        }
        (Some(Value::Int(x)), Some(Value::Int(y))) => x < y,
        (Some(Value::Uint(x)), Some(Value::Uint(y))) => x < y,
        (Some(Value::Float(x)), Some(Value::Float(y))) => x < y,
        (Some(Value::String(x)), Some(Value::String(y))) => x < y,
        _ => return Err("invalid type for comparison".into()),
    })
}

pub(crate) fn le(a: &Val<'_>, b: &Val<'_>) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// text/template's evalArgs: a lone string as is, otherwise fmt.Sprint of
/// the operands with missing values spelled `<no value>`.
pub(crate) fn eval_args(args: &[Val<'_>]) -> String {
    if let [v] = args {
        if let Some(Value::String(s)) = v.get() {
            return s.clone();
        }
    }
    let no_value = Value::String("<no value>".into());
    let vals: Vec<&Value> = args
        .iter()
        .map(|a| match a.get() {
            None | Some(Value::Nil) => &no_value,
            Some(v) => v,
        })
        .collect();
    let mut out = String::new();
    sprint(&mut out, &vals);
    out
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// net/url.QueryEscape.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::funcs::{call, Func};
    use crate::value::{Val, Value};

    fn s(x: &str) -> Val<'static> {
        Val::own(Value::String(x.to_string()))
    }

    fn i(n: i64) -> Val<'static> {
        Val::own(Value::Int(n))
    }

    fn run(f: Func, args: Vec<Val<'static>>) -> Result<String, String> {
        call(f, &args, false, "")
            .map(|v| v.get().map_or("<no value>".to_string(), Value::to_string))
    }

    #[test]
    fn builtins() {
        let list = || Val::own(Value::List(vec!["a".into(), "b".into(), "c".into()]));
        let map = || Val::own(Value::Map([("k".to_string(), "v".into())].into()));
        let cases: Vec<(Func, Vec<Val<'static>>, Result<&str, &str>)> = vec![
            (Func::Len, vec![list()], Ok("3")),
            (Func::Len, vec![s("héllo")], Ok("6")),
            (Func::Len, vec![i(3)], Err("len of type int")),
            (Func::Len, vec![Val::Missing], Err("len of nil pointer")),
            (Func::Index, vec![list(), i(1)], Ok("b")),
            (
                Func::Index,
                vec![list(), i(3)],
                Err("index out of range: 3"),
            ),
            (Func::Index, vec![map(), s("k")], Ok("v")),
            (Func::Index, vec![map(), s("nope")], Ok("")),
            (
                Func::Index,
                vec![map(), i(1)],
                Err("value has type int; should be string"),
            ),
            (
                Func::Index,
                vec![Val::Missing, i(1)],
                Err("index of untyped nil"),
            ),
            (
                Func::Index,
                vec![i(1), i(1)],
                Err("can't index item of type int"),
            ),
            (Func::Slice, vec![list(), i(1)], Ok("[b c]")),
            (Func::Slice, vec![s("hello"), i(1), i(3)], Ok("el")),
            (
                Func::Slice,
                vec![list(), i(2), i(1)],
                Err("invalid slice index: 2 > 1"),
            ),
            (Func::Eq, vec![s("a"), s("b"), s("a")], Ok("true")),
            (Func::Eq, vec![i(1), Val::own(Value::Uint(1))], Ok("true")),
            (
                Func::Eq,
                vec![i(1), s("1")],
                Err("incompatible types for comparison: int and string"),
            ),
            (Func::Eq, vec![Val::Missing, s("x")], Ok("false")),
            (
                Func::Eq,
                vec![Val::own(Value::Nil), Val::Missing],
                Ok("true"),
            ),
            (
                Func::Eq,
                vec![list(), list()],
                Err("non-comparable type [a b c]: []interface {}"),
            ),
            (Func::Ne, vec![i(1), i(2)], Ok("true")),
            (Func::Lt, vec![i(1), i(2)], Ok("true")),
            (Func::Le, vec![s("b"), s("b")], Ok("true")),
            (
                Func::Gt,
                vec![Val::own(Value::Float(1.5)), Val::own(Value::Float(0.5))],
                Ok("true"),
            ),
            (Func::Ge, vec![i(1), i(2)], Ok("false")),
            (
                Func::Lt,
                vec![Val::own(Value::Bool(true)), Val::own(Value::Bool(false))],
                Err("invalid type for comparison"),
            ),
            (
                Func::Lt,
                vec![i(1), Val::own(Value::Float(2.0))],
                Err("incompatible types for comparison: int and float64"),
            ),
            (Func::Not, vec![s("")], Ok("true")),
            (
                Func::Html,
                vec![s("<a href=\"x\">&'")],
                Ok("&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
            ),
            (Func::Html, vec![Val::Missing], Ok("&lt;no value&gt;")),
            (
                Func::Js,
                vec![s("a'b\"<=>&\n")],
                Ok("a\\'b\\\"\\u003C\\u003D\\u003E\\u0026\\u000A"),
            ),
            (
                Func::Urlquery,
                vec![s("a b&c=d/é")],
                Ok("a+b%26c%3Dd%2F%C3%A9"),
            ),
            (Func::Print, vec![s("a"), i(1), i(2)], Ok("a1 2")),
            (Func::Println, vec![s("a"), i(1)], Ok("a 1\n")),
            (Func::Printf, vec![s("%d-%s"), i(1), s("x")], Ok("1-x")),
            (
                Func::Call,
                vec![s("x")],
                Err("non-function  of type string"),
            ),
            (Func::Call, vec![Val::Missing], Err("call of nil")),
        ];
        for (f, args, want) in cases {
            assert_eq!(
                run(f, args),
                want.map(String::from).map_err(String::from),
                "{f:?}"
            );
        }
    }
}
