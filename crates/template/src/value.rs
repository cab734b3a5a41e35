//! The data templates run against: a model of the Go values Docker hands to
//! text/template, including the struct-versus-map distinction that decides
//! whether fmt prints `{a b}` or `map[k:v]`.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::printf::Printer;

/// A Go value as text/template sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A nil pointer, slice, map or interface; printed `<nil>`.
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    String(String),
    /// A slice; printed `[a b]`.
    List(Vec<Value>),
    /// A Go map; printed `map[k:v ...]` with keys sorted, ranged in key order.
    Map(BTreeMap<String, Value>),
    /// A Go struct; printed `{v1 v2 ...}` in field order, fields found by name.
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// Converts a JSON document. Objects become `Struct` (keeping field
    /// order) except at the dotted `map_paths`, which become `Map`; a `*`
    /// segment matches any key or list index, e.g. `"Containers.*.Labels"`.
    pub fn from_json(v: &serde_json::Value, map_paths: &[&str]) -> Value {
        let patterns: Vec<Vec<&str>> = map_paths.iter().map(|p| p.split('.').collect()).collect();
        let live: Vec<&[&str]> = patterns.iter().map(Vec::as_slice).collect();
        convert(v, &live)
    }

    /// A struct field or map entry by name.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            Value::Map(m) => m.get(name),
            _ => None,
        }
    }
}

/// `live` holds the unmatched remainders of the map paths whose prefix
/// matched the path walked so far; an empty remainder means "here".
fn convert(v: &serde_json::Value, live: &[&[&str]]) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    if live.is_empty() {
                        convert(x, live)
                    } else {
                        convert(x, &descend(live, &i.to_string()))
                    }
                })
                .collect(),
        ),
        serde_json::Value::Object(obj) => {
            let child = |k: &str, x| {
                if live.is_empty() {
                    convert(x, live)
                } else {
                    convert(x, &descend(live, k))
                }
            };
            if live.iter().any(|p| p.is_empty()) {
                Value::Map(obj.iter().map(|(k, x)| (k.clone(), child(k, x))).collect())
            } else {
                Value::Struct(obj.iter().map(|(k, x)| (k.clone(), child(k, x))).collect())
            }
        }
    }
}

fn descend<'p>(live: &[&'p [&'p str]], key: &str) -> Vec<&'p [&'p str]> {
    live.iter()
        .filter_map(|&p| match p {
            [head, rest @ ..] if *head == "*" || *head == key => Some(rest),
            _ => None,
        })
        .collect()
}

/// Prints like Go's `fmt.Print`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        Printer::new(&mut s).print_arg(self, 'v');
        f.write_str(&s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::Uint(u)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}

/// A value during execution. Field access and indexing into the caller's
/// data borrow (`Ref`) so a row template never copies the document;
/// results computed by functions are shared (`Own`) so variables and dot can
/// hold them cheaply. `Missing` is Go's invalid reflect.Value: a map key that
/// is not there, printed `<no value>`.
#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Missing,
    Ref(&'a Value),
    Own(Rc<Value>),
}

pub(crate) static NIL: Value = Value::Nil;

impl<'a> Val<'a> {
    pub(crate) fn own(v: Value) -> Self {
        Val::Own(Rc::new(v))
    }

    pub(crate) fn get(&self) -> Option<&Value> {
        match self {
            Val::Missing => None,
            Val::Ref(v) => Some(v),
            Val::Own(v) => Some(v),
        }
    }

    /// A part of this value, borrowed when this value is borrowed.
    pub(crate) fn project(
        &self,
        pick: for<'x> fn(&'x Value, &str) -> Option<&'x Value>,
        key: &str,
    ) -> Val<'a> {
        match self {
            Val::Missing => Val::Missing,
            Val::Ref(v) => pick(v, key).map_or(Val::Missing, Val::Ref),
            Val::Own(v) => pick(v, key).map_or(Val::Missing, |x| Val::own(x.clone())),
        }
    }

    /// The list element at `i`, borrowed when this value is borrowed.
    pub(crate) fn element(&self, i: usize) -> Val<'a> {
        fn at(v: &Value, i: usize) -> Option<&Value> {
            match v {
                Value::List(items) => items.get(i),
                _ => None,
            }
        }
        match self {
            Val::Missing => Val::Missing,
            Val::Ref(v) => at(v, i).map_or(Val::Missing, Val::Ref),
            Val::Own(v) => at(v, i).map_or(Val::Missing, |x| Val::own(x.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_json_structs_and_maps() {
        let doc = json!({
            "Id": "sha256:abc",
            "Size": 187000000,
            "Big": 18446744073709551615u64,
            "Ratio": 0.5,
            "Parent": null,
            "Config": {"Env": ["A=1"], "ExposedPorts": {"80/tcp": {}}, "Labels": {"b": "2", "a": "1"}},
            "Containers": [{"Labels": {"x": "y"}, "Other": {"k": "v"}}]
        });
        let v = Value::from_json(
            &doc,
            &[
                "Config.ExposedPorts",
                "Config.Labels",
                "Containers.*.Labels",
            ],
        );
        let cases: &[(&[&str], &str)] = &[
            (&["Id"], "sha256:abc"),
            (&["Size"], "187000000"),
            (&["Big"], "18446744073709551615"),
            (&["Ratio"], "0.5"),
            (&["Parent"], "<nil>"),
            (&["Config", "ExposedPorts"], "map[80/tcp:{}]"),
            (&["Config", "Labels"], "map[a:1 b:2]"),
            (&["Config", "Env"], "[A=1]"),
            (&["Config"], "{[A=1] map[80/tcp:{}] map[a:1 b:2]}"),
            (&["Containers"], "[{map[x:y] {v}}]"),
        ];
        for (path, want) in cases {
            let mut cur = &v;
            for p in *path {
                cur = cur.field(p).expect("test path exists");
            }
            assert_eq!(cur.to_string(), *want, "{path:?}");
        }
    }

    #[test]
    fn display_is_go_print() {
        let cases: Vec<(Value, &str)> = vec![
            (Value::Nil, "<nil>"),
            (Value::Float(1e6), "1e+06"),
            (Value::Struct(vec![]), "{}"),
            (
                vec!["PATH=/usr/bin", "NGINX_VERSION=1.25"].into(),
                "[PATH=/usr/bin NGINX_VERSION=1.25]",
            ),
            (
                Value::Map(
                    [(
                        "a".to_string(),
                        Value::Map([("b".to_string(), "c".into())].into()),
                    )]
                    .into(),
                ),
                "map[a:map[b:c]]",
            ),
            (Value::List(vec![Value::Nil, Value::Int(-3)]), "[<nil> -3]"),
        ];
        for (v, want) in cases {
            assert_eq!(v.to_string(), want);
        }
    }
}
