//! The functions a template can call: Go's text/template builtins and the
//! ones Docker's CLI installs (json, split, join, title, lower, upper, pad,
//! truncate), plus Docker's header variants used to render table headings.

use crate::builtins::{
    eq, eval_args, html_escape, index, is_true, js_escape, le, length, lt, query_escape, slice,
};
use crate::print::type_name;
use crate::printf::{sprint, sprintf, sprintln};
use crate::value::{Val, Value, NIL};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    And,
    Call,
    Html,
    Index,
    Slice,
    Js,
    Len,
    Not,
    Or,
    Print,
    Printf,
    Println,
    Urlquery,
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
    Ne,
    Json,
    Split,
    Join,
    Title,
    Lower,
    Upper,
    Pad,
    Truncate,
}

const FUNCS: &[(&str, Func)] = &[
    ("and", Func::And),
    ("call", Func::Call),
    ("html", Func::Html),
    ("index", Func::Index),
    ("slice", Func::Slice),
    ("js", Func::Js),
    ("len", Func::Len),
    ("not", Func::Not),
    ("or", Func::Or),
    ("print", Func::Print),
    ("printf", Func::Printf),
    ("println", Func::Println),
    ("urlquery", Func::Urlquery),
    ("eq", Func::Eq),
    ("ge", Func::Ge),
    ("gt", Func::Gt),
    ("le", Func::Le),
    ("lt", Func::Lt),
    ("ne", Func::Ne),
    ("json", Func::Json),
    ("split", Func::Split),
    ("join", Func::Join),
    ("title", Func::Title),
    ("lower", Func::Lower),
    ("upper", Func::Upper),
    ("pad", Func::Pad),
    ("truncate", Func::Truncate),
];

/// A parameter's Go type, which decides how an argument is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `interface{}`: a missing value arrives as nil.
    Any,
    /// `reflect.Value`: a missing value arrives as missing.
    Value,
    Str,
    Int,
    /// `[]string`.
    StrList,
}

impl Param {
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Value => "reflect.Value",
            Param::Str => "string",
            Param::Int => "int",
            Param::StrList => "[]string",
        }
    }
}

/// Fixed parameters and the element type of a trailing `...` parameter.
pub(crate) struct Sig {
    pub fixed: &'static [Param],
    pub variadic: Option<Param>,
}

const fn sig(fixed: &'static [Param], variadic: Option<Param>) -> Sig {
    Sig { fixed, variadic }
}

impl Func {
    pub(crate) fn lookup(name: &str) -> Option<Func> {
        FUNCS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub(crate) fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(n, _)| n)
    }

    /// Go's signatures; `header` selects Docker's HeaderFunctions, which
    /// take the column title string and hand it back unchanged.
    pub(crate) fn signature(self, header: bool) -> Sig {
        use Param::*;
        match self {
            Func::And | Func::Or | Func::Call | Func::Index | Func::Slice | Func::Eq => {
                sig(&[Value], Some(Value))
            }
            Func::Html | Func::Js | Func::Urlquery | Func::Print | Func::Println => {
                sig(&[], Some(Any))
            }
            Func::Printf => sig(&[Str], Some(Any)),
            Func::Len | Func::Not => sig(&[Value], None),
            Func::Ge | Func::Gt | Func::Le | Func::Lt | Func::Ne => sig(&[Value, Value], None),
            Func::Json if header => sig(&[Str], None),
            Func::Json => sig(&[Any], None),
            Func::Split => sig(&[Str, Str], None),
            Func::Join if header => sig(&[Str, Str], None),
            Func::Join => sig(&[StrList, Str], None),
            Func::Title | Func::Lower | Func::Upper => sig(&[Str], None),
            Func::Pad => sig(&[Str, Int, Int], None),
            Func::Truncate => sig(&[Str, Int], None),
        }
    }
}

fn str_of<'b>(v: &'b Val<'_>) -> &'b str {
    match v.get() {
        Some(Value::String(s)) => s,
        _ => "",
    }
}

fn int_of(v: &Val<'_>) -> i64 {
    match v.get() {
        Some(Value::Int(i)) => *i,
        _ => 0,
    }
}

fn values<'b>(args: &'b [Val<'_>]) -> Vec<&'b Value> {
    args.iter().map(|a| a.get().unwrap_or(&NIL)).collect()
}

fn text<'a>(s: String) -> Val<'a> {
    Val::own(Value::String(s))
}

/// Runs `f` on arguments already checked against its signature. `callee`
/// is the source text of `call`'s first argument. Errors are the text Go
/// puts after "error calling NAME: ".
pub(crate) fn call<'a>(
    f: Func,
    args: &[Val<'a>],
    header: bool,
    callee: &str,
) -> Result<Val<'a>, String> {
    let missing = Val::Missing;
    let arg = |i: usize| args.get(i).unwrap_or(&missing);
    if header
        && matches!(
            f,
            Func::Json
                | Func::Split
                | Func::Join
                | Func::Title
                | Func::Lower
                | Func::Upper
                | Func::Truncate
        )
    {
        return Ok(arg(0).clone());
    }
    Ok(match f {
        // Short-circuiting and/or are evaluated by the executor.
        Func::And | Func::Or => arg(args.len().saturating_sub(1)).clone(),
        Func::Call => {
            return match arg(0).get() {
                None | Some(Value::Nil) => Err("call of nil".into()),
                Some(v) => Err(format!("non-function {callee} of type {}", type_name(v))),
            }
        }
        Func::Not => Val::own(Value::Bool(!is_true(arg(0)))),
        Func::Len => Val::own(Value::Int(length(arg(0))?)),
        Func::Index => index(arg(0), args.get(1..).unwrap_or(&[]))?,
        Func::Slice => slice(arg(0), args.get(1..).unwrap_or(&[]))?,
        Func::Print => {
            let mut out = String::new();
            sprint(&mut out, &values(args));
            text(out)
        }
        Func::Println => {
            let mut out = String::new();
            sprintln(&mut out, &values(args));
            text(out)
        }
        Func::Printf => {
            let mut out = String::new();
            let vals = values(args);
            sprintf(&mut out, str_of(arg(0)), vals.get(1..).unwrap_or(&[]));
            text(out)
        }
        Func::Html => text(html_escape(&eval_args(args))),
        Func::Js => text(js_escape(&eval_args(args))),
        Func::Urlquery => text(query_escape(&eval_args(args))),
        Func::Eq => Val::own(Value::Bool(eq(arg(0), args.get(1..).unwrap_or(&[]))?)),
        Func::Ne => Val::own(Value::Bool(!eq(arg(0), std::slice::from_ref(arg(1)))?)),
        Func::Lt => Val::own(Value::Bool(lt(arg(0), arg(1))?)),
        Func::Le => Val::own(Value::Bool(le(arg(0), arg(1))?)),
        Func::Gt => Val::own(Value::Bool(!le(arg(0), arg(1))?)),
        Func::Ge => Val::own(Value::Bool(!lt(arg(0), arg(1))?)),
        Func::Json => text(crate::json::encode(arg(0).get().unwrap_or(&NIL)).unwrap_or_default()),
        Func::Split => Val::own(split(str_of(arg(0)), str_of(arg(1)))),
        Func::Join => {
            let sep = str_of(arg(1));
            let joined = match arg(0).get() {
                Some(Value::List(items)) => items
                    .iter()
                    .map(|v| {
                        if let Value::String(s) = v {
                            s.as_str()
                        } else {
                            ""
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(sep),
                _ => String::new(),
            };
            text(joined)
        }
        Func::Title => text(title(str_of(arg(0)))),
        Func::Lower => text(map_runes(str_of(arg(0)), char::to_lowercase)),
        Func::Upper => text(map_runes(str_of(arg(0)), char::to_uppercase)),
        Func::Pad => {
            let s = str_of(arg(0));
            let (before, after) = (int_of(arg(1)), int_of(arg(2)));
            if s.is_empty() {
                return Ok(text(String::new()));
            }
            let (Ok(before), Ok(after)) = (usize::try_from(before), usize::try_from(after)) else {
                return Err("strings: negative Repeat count".into());
            };
            text(format!("{}{s}{}", " ".repeat(before), " ".repeat(after)))
        }
        Func::Truncate => {
            let s = str_of(arg(0));
            let n = int_of(arg(1));
            if (s.len() as i64) < n {
                return Ok(arg(0).clone());
            }
            let Ok(mut n) = usize::try_from(n) else {
                return Err(format!("runtime error: slice bounds out of range [:{n}]"));
            };
            // Docker cuts bytes; a cut inside a character drops it.
            while !s.is_char_boundary(n) {
                n -= 1;
            }
            text(s[..n].to_string())
        }
    })
}

/// strings.Split, including its "split into characters" meaning of an
/// empty separator.
fn split(s: &str, sep: &str) -> Value {
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep).map(|p| Value::String(p.to_string())).collect()
    };
    Value::List(parts)
}

/// Maps each rune the way Go's unicode.ToUpper/ToLower do: one rune to one
/// rune, leaving runes whose full mapping would expand (ß) alone.
fn map_runes<I: Iterator<Item = char>>(s: &str, f: fn(char) -> I) -> String {
    s.chars()
        .map(|c| {
            let mut m = f(c);
            match (m.next(), m.next()) {
                (Some(x), None) => x,
                _ => c,
            }
        })
        .collect()
}

/// strings.Title: upper-cases the first letter of each word, where words
/// are separated by anything but letters, digits and underscore.
fn title(s: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) {
                let mut m = c.to_uppercase();
                match (m.next(), m.next()) {
                    (Some(x), None) => x,
                    _ => c,
                }
            } else {
                c
            };
            prev = c;
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Val<'static> {
        text(x.to_string())
    }

    fn i(n: i64) -> Val<'static> {
        Val::own(Value::Int(n))
    }

    fn run(f: Func, args: Vec<Val<'static>>) -> Result<String, String> {
        call(f, &args, false, "")
            .map(|v| v.get().map_or("<no value>".to_string(), Value::to_string))
    }

    #[test]
    fn docker_functions() {
        let list = Val::own(Value::List(vec!["a".into(), "b".into()]));
        let cases: Vec<(Func, Vec<Val<'static>>, Result<&str, &str>)> = vec![
            (Func::Upper, vec![s("linux")], Ok("LINUX")),
            (Func::Lower, vec![s("ÀB")], Ok("àb")),
            (
                Func::Title,
                vec![s("hello world-wide_web")],
                Ok("Hello World-Wide_web"),
            ),
            (Func::Split, vec![s("a:b:c"), s(":")], Ok("[a b c]")),
            (Func::Split, vec![s("abc"), s("")], Ok("[a b c]")),
            (Func::Join, vec![list, s(", ")], Ok("a, b")),
            (Func::Pad, vec![s("x"), i(2), i(1)], Ok("  x ")),
            (Func::Pad, vec![s(""), i(2), i(1)], Ok("")),
            (
                Func::Pad,
                vec![s("x"), i(-1), i(1)],
                Err("strings: negative Repeat count"),
            ),
            (Func::Truncate, vec![s("abcdef"), i(3)], Ok("abc")),
            (Func::Truncate, vec![s("ab"), i(3)], Ok("ab")),
            (Func::Truncate, vec![s("héllo"), i(2)], Ok("h")),
            (
                Func::Truncate,
                vec![s("ab"), i(-1)],
                Err("runtime error: slice bounds out of range [:-1]"),
            ),
            (Func::Json, vec![s("<a&b>")], Ok("\"<a&b>\"")),
        ];
        for (f, args, want) in cases {
            assert_eq!(
                run(f, args),
                want.map(String::from).map_err(String::from),
                "{f:?}"
            );
        }
    }

    #[test]
    fn header_functions_return_the_title() {
        for f in [Func::Json, Func::Upper, Func::Lower, Func::Title] {
            let got = call(f, &[s("REPOSITORY")], true, "").map(|v| v.get().map(Value::to_string));
            assert_eq!(got, Ok(Some("REPOSITORY".to_string())));
        }
        let got = call(Func::Truncate, &[s("IMAGE ID"), i(3)], true, "")
            .map(|v| v.get().map(Value::to_string));
        assert_eq!(got, Ok(Some("IMAGE ID".to_string())));
    }
}
