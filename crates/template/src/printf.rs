//! Go's fmt package for template values: `%v` printing (how every action's
//! result is written), Sprintf with flags, width, precision and argument
//! indexes, Sprint and Sprintln, including fmt's `%!verb(type=value)`
//! complaints, since those are what Docker prints for a bad `printf`.

use crate::print::{
    can_backquote, format_float, is_print, quote, quote_ascii, quote_rune, type_name,
};
use crate::value::Value;

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// The operand being printed, for bad-verb messages. Map keys are not
/// values of their own, hence the second case.
#[derive(Clone, Copy)]
enum Operand<'v> {
    Val(&'v Value),
    Key(&'v str),
}

/// Go's `pp`: formats operands into a borrowed buffer.
pub(crate) struct Printer<'o, 'v> {
    buf: &'o mut String,
    f: Flags,
    arg: Operand<'v>,
}

impl<'o, 'v> Printer<'o, 'v> {
    pub(crate) fn new(buf: &'o mut String) -> Self {
        Printer {
            buf,
            f: Flags::default(),
            arg: Operand::Val(&crate::value::NIL),
        }
    }

    /// fmt's printArg: `Nil` is the nil interface.
    pub(crate) fn print_arg(&mut self, arg: &'v Value, verb: char) {
        self.arg = Operand::Val(arg);
        if let Value::Nil = arg {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb),
            }
            return;
        }
        match verb {
            'T' => {
                self.fmt_s(type_name(arg));
                return;
            }
            // Our values have no addresses.
            'p' => {
                self.bad_verb(verb);
                return;
            }
            _ => {}
        }
        self.print_value(arg, verb, 0);
    }

    fn print_value(&mut self, v: &'v Value, verb: char, depth: usize) {
        if depth > 0 {
            self.arg = Operand::Val(v);
        }
        match v {
            Value::Nil => {
                if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.pad("<nil>");
                }
            }
            Value::Bool(b) => self.fmt_bool(*b, verb),
            Value::Int(i) => self.fmt_integer(*i as u64, true, verb),
            Value::Uint(u) => self.fmt_integer(*u, false, verb),
            Value::Float(x) => self.fmt_float(*x, verb),
            Value::String(s) => self.fmt_string(s, verb),
            Value::List(items) => {
                self.buf.push_str(if self.f.sharp_v {
                    "[]interface {}{"
                } else {
                    "["
                });
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(x, verb, depth + 1);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Map(m) => {
                self.buf.push_str(if self.f.sharp_v {
                    "map[string]interface {}{"
                } else {
                    "map["
                });
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.arg = Operand::Key(k);
                    self.fmt_string(k, verb);
                    self.buf.push(':');
                    self.print_value(x, verb, depth + 1);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Struct(fields) => {
                if self.f.sharp_v {
                    self.buf.push_str("struct");
                }
                self.buf.push('{');
                for (i, (name, x)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    if self.f.plus_v || self.f.sharp_v {
                        self.buf.push_str(name);
                        self.buf.push(':');
                    }
                    self.print_value(x, verb, depth + 1);
                }
                self.buf.push('}');
            }
        }
    }

    fn bad_verb(&mut self, verb: char) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match self.arg {
            Operand::Val(Value::Nil) => self.buf.push_str("<nil>"),
            Operand::Val(v) => {
                self.buf.push_str(type_name(v));
                self.buf.push('=');
                self.print_arg(v, 'v');
            }
            Operand::Key(k) => {
                self.buf.push_str("string=");
                self.fmt_string(k, 'v');
            }
        }
        self.buf.push(')');
    }

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    /// Pads to the width (counted in runes) on the side the flags ask for.
    fn pad(&mut self, s: &str) {
        let Some(w) = self.f.wid else {
            self.buf.push_str(s);
            return;
        };
        let n = s.chars().count();
        if w <= n {
            self.buf.push_str(s);
        } else if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(w - n);
        } else {
            self.write_padding(w - n);
            self.buf.push_str(s);
        }
    }

    fn fmt_bool(&mut self, b: bool, verb: char) {
        match verb {
            't' | 'v' => self.pad(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb),
        }
    }

    fn fmt_integer(&mut self, u: u64, signed: bool, verb: char) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = self.f.sharp;
                self.f.sharp = true;
                self.fmt_int(u, 16, signed, verb, LDIGITS);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.fmt_int(u, 10, signed, verb, LDIGITS),
            'b' => self.fmt_int(u, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_int(u, 8, signed, verb, LDIGITS),
            'x' => self.fmt_int(u, 16, signed, verb, LDIGITS),
            'X' => self.fmt_int(u, 16, signed, verb, UDIGITS),
            'c' => {
                let c = rune(u);
                self.pad(c.encode_utf8(&mut [0; 4]));
            }
            'q' => {
                let q = quote_rune(rune(u), self.f.plus);
                self.pad(&q);
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb),
        }
    }

    /// fmt.fmtInteger.
    fn fmt_int(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        // Two ways to ask for leading zeros, %.3d and %03d; with both the
        // zero flag is ignored.
        let mut prec = 0;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = zero;
                return;
            }
        } else if let (true, Some(w)) = (self.f.zero && !self.f.minus, self.f.wid) {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        // Built right to left, reversed at the end.
        let mut rev: Vec<u8> = Vec::with_capacity(24);
        loop {
            rev.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(digits[16]);
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let s = String::from_utf8_lossy(&rev).into_owned();
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut hex = format!("{u:X}");
        let min = self.f.prec.unwrap_or(4).max(4);
        while hex.len() < min {
            hex.insert(0, '0');
        }
        let mut s = format!("U+{hex}");
        if self.f.sharp && u <= 0x10FFFF {
            let c = rune(u);
            if is_print(c) {
                s.push_str(&format!(" '{c}'"));
            }
        }
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn fmt_float(&mut self, v: f64, verb: char) {
        let (fmt, default_prec) = match verb {
            'v' | 'g' => ('g', None),
            'G' => ('G', None),
            'e' | 'E' | 'f' => (verb, Some(6)),
            'F' => ('f', Some(6)),
            _ => return self.bad_verb(verb),
        };
        let num = format_float(v, fmt, self.f.prec.or(default_prec));
        let (mut sign, body) = match num.strip_prefix('-') {
            Some(rest) => ('-', rest),
            None => ('+', num.strip_prefix('+').unwrap_or(&num)),
        };
        if self.f.space && sign == '+' && !self.f.plus {
            sign = ' ';
        }
        if body == "Inf" || body == "NaN" {
            // Not numbers, so never zero padded.
            let zero = self.f.zero;
            self.f.zero = false;
            let s = if body == "NaN" && !self.f.space && !self.f.plus {
                body.to_string()
            } else {
                format!("{sign}{body}")
            };
            self.pad(&s);
            self.f.zero = zero;
            return;
        }
        if self.f.plus || sign != '+' {
            let len = body.chars().count() + 1;
            match self.f.wid {
                Some(w) if self.f.zero && w > len => {
                    // Sign before the zeros.
                    self.buf.push(sign);
                    self.write_padding(w - len);
                    self.buf.push_str(body);
                }
                _ => self.pad(&format!("{sign}{body}")),
            }
            return;
        }
        self.pad(body);
    }

    fn fmt_string(&mut self, s: &str, verb: char) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb),
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => s.char_indices().nth(p).map_or(s, |(i, _)| &s[..i]),
            None => s,
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        let q = if self.f.sharp && can_backquote(s) {
            format!("`{s}`")
        } else if self.f.plus {
            quote_ascii(s)
        } else {
            quote(s)
        };
        self.pad(&q);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        let bytes = s.as_bytes();
        let n = self.f.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
        let mut out = String::with_capacity(n * 2);
        for (i, b) in bytes[..n].iter().enumerate() {
            if i > 0 && self.f.space {
                out.push(' ');
            }
            if self.f.sharp && (self.f.space || i == 0) {
                out.push('0');
                out.push(digits[16] as char);
            }
            out.push(digits[(b >> 4) as usize] as char);
            out.push(digits[(b & 0xF) as usize] as char);
        }
        self.pad(&out);
    }
}

fn rune(u: u64) -> char {
    u32::try_from(u)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

fn too_large(n: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&n)
}

/// fmt's parsenum: a decimal number at `start`, or None.
fn parse_num(b: &[u8], start: usize, end: usize) -> (Option<usize>, usize) {
    let mut i = start;
    let mut num: i64 = 0;
    let mut found = false;
    while i < end && b[i].is_ascii_digit() {
        if too_large(num) {
            return (None, end);
        }
        num = num * 10 + i64::from(b[i] - b'0');
        found = true;
        i += 1;
    }
    (found.then_some(num as usize), i)
}

/// State of one Sprintf run that argument indexes (`%[2]d`) change.
struct ArgState {
    num: usize,
    good: bool,
    reordered: bool,
}

impl ArgState {
    /// fmt's argNumber: consumes `[n]` at `i` if present.
    fn arg_number(&mut self, b: &[u8], i: usize, nargs: usize) -> (usize, bool) {
        if i >= b.len() || b[i] != b'[' {
            return (i, false);
        }
        self.reordered = true;
        let (index, width, ok) = parse_arg_number(&b[i..]);
        if ok && index < nargs {
            self.num = index;
            return (i + width, true);
        }
        self.good = false;
        (i + width, ok)
    }

    /// fmt's intFromArg, for `*` widths and precisions.
    fn int_from_arg(&mut self, args: &[&Value]) -> Option<i64> {
        let mut out = None;
        if let Some(a) = args.get(self.num) {
            out = match a {
                Value::Int(i) => Some(*i),
                Value::Uint(u) => i64::try_from(*u).ok(),
                _ => None,
            };
            self.num += 1;
            if out.is_some_and(too_large) {
                out = None;
            }
        }
        out
    }
}

fn parse_arg_number(b: &[u8]) -> (usize, usize, bool) {
    if b.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..b.len() {
        if b[i] == b']' {
            return match parse_num(b, 1, i) {
                (Some(n), end) if end == i && n > 0 => (n - 1, i + 1, true),
                _ => (0, i + 1, false),
            };
        }
    }
    (0, 1, false)
}

/// fmt.Sprintf. `Value::Nil` operands are nil interfaces.
pub(crate) fn sprintf(out: &mut String, format: &str, args: &[&Value]) {
    let b = format.as_bytes();
    let end = b.len();
    let mut p = Printer::new(out);
    let mut st = ArgState {
        num: 0,
        good: true,
        reordered: false,
    };
    let mut i = 0;
    'format: while i < end {
        st.good = true;
        let last = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.buf.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            match b[i] {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                c => {
                    // Fast path: a lower-case verb straight after the flags.
                    if c.is_ascii_lowercase() && st.num < args.len() {
                        if c == b'v' {
                            p.f.sharp_v = p.f.sharp;
                            p.f.sharp = false;
                            p.f.plus_v = p.f.plus;
                            p.f.plus = false;
                        }
                        p.print_arg(args[st.num], c as char);
                        st.num += 1;
                        i += 1;
                        continue 'format;
                    }
                    break;
                }
            }
            i += 1;
        }

        let (ni, mut after_index) = st.arg_number(b, i, args.len());
        i = ni;

        if i < end && b[i] == b'*' {
            i += 1;
            match st.int_from_arg(args) {
                Some(w) => {
                    if w < 0 {
                        p.f.minus = true;
                        p.f.zero = false;
                    }
                    p.f.wid = Some(w.unsigned_abs() as usize);
                }
                None => p.buf.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (w, ni) = parse_num(b, i, end);
            i = ni;
            p.f.wid = w;
            if after_index && w.is_some() {
                st.good = false;
            }
        }

        if i + 1 < end && b[i] == b'.' {
            i += 1;
            if after_index {
                st.good = false;
            }
            let (ni, ai) = st.arg_number(b, i, args.len());
            i = ni;
            after_index = ai;
            if i < end && b[i] == b'*' {
                i += 1;
                match st.int_from_arg(args) {
                    Some(pr) if pr >= 0 => p.f.prec = Some(pr as usize),
                    _ => {
                        p.f.prec = None;
                        p.buf.push_str("%!(BADPREC)");
                    }
                }
                after_index = false;
            } else {
                let (pr, ni) = parse_num(b, i, end);
                i = ni;
                p.f.prec = Some(pr.unwrap_or(0));
            }
        }

        if !after_index {
            let (ni, _) = st.arg_number(b, i, args.len());
            i = ni;
        }

        let Some(verb) = format.get(i..).and_then(|s| s.chars().next()) else {
            p.buf.push_str("%!(NOVERB)");
            break;
        };
        i += verb.len_utf8();

        if verb == '%' {
            p.buf.push('%');
        } else if !st.good {
            p.buf.push_str("%!");
            p.buf.push(verb);
            p.buf.push_str("(BADINDEX)");
        } else if st.num >= args.len() {
            p.buf.push_str("%!");
            p.buf.push(verb);
            p.buf.push_str("(MISSING)");
        } else {
            if verb == 'v' {
                p.f.sharp_v = p.f.sharp;
                p.f.sharp = false;
                p.f.plus_v = p.f.plus;
                p.f.plus = false;
            }
            p.print_arg(args[st.num], verb);
            st.num += 1;
        }
    }

    if !st.reordered && st.num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, a) in args[st.num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            if let Value::Nil = a {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(type_name(a));
                p.buf.push('=');
                p.print_arg(a, 'v');
            }
        }
        p.buf.push(')');
    }
}

/// fmt.Sprint: a space between operands when neither side is a string.
pub(crate) fn sprint(out: &mut String, args: &[&Value]) {
    let mut p = Printer::new(out);
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
}

/// fmt.Sprintln: spaces between all operands and a final newline.
pub(crate) fn sprintln(out: &mut String, args: &[&Value]) {
    let mut p = Printer::new(out);
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
    }
    p.buf.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }

    #[test]
    fn sprintf_like_go() {
        let list = Value::List(vec![s("a"), s("b")]);
        let st = Value::Struct(vec![("Name".into(), s("x")), ("N".into(), Value::Int(2))]);
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%s|", vec![s("abc")], "abc|"),
            ("%-10s|", vec![s("abc")], "abc       |"),
            ("%10s|", vec![s("abc")], "       abc|"),
            ("%.2s", vec![s("héllo")], "hé"),
            (
                "%5d|%-5d|%05d",
                vec![Value::Int(42), Value::Int(42), Value::Int(-42)],
                "   42|42   |-0042",
            ),
            ("%d", vec![Value::Uint(u64::MAX)], "18446744073709551615"),
            (
                "%x %X %#x %o %b",
                vec![
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5),
                ],
                "ff FF 0xff 10 101",
            ),
            ("%x", vec![s("hi")], "6869"),
            ("%q", vec![s("a\"b")], "\"a\\\"b\""),
            (
                "%v %t",
                vec![Value::Bool(true), Value::Bool(false)],
                "true false",
            ),
            (
                "%f %.2f %e %g",
                vec![
                    Value::Float(3.5),
                    Value::Float(2.34567),
                    Value::Float(1234.5),
                    Value::Float(0.000012),
                ],
                "3.500000 2.35 1.234500e+03 1.2e-05",
            ),
            ("%6.2f|", vec![Value::Float(-1.5)], " -1.50|"),
            (
                "%+d %+.1f",
                vec![Value::Int(3), Value::Float(2.0)],
                "+3 +2.0",
            ),
            ("%v", vec![list.clone()], "[a b]"),
            ("%d", vec![list], "[%!d(string=a) %!d(string=b)]"),
            ("%v|%+v", vec![st.clone(), st], "{x 2}|{Name:x N:2}"),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%s", vec![Value::Int(5)], "%!s(int=5)"),
            ("%d", vec![Value::Nil], "%!d(<nil>)"),
            ("%v", vec![Value::Nil], "<nil>"),
            ("%s %s", vec![s("a")], "a %!s(MISSING)"),
            ("%s", vec![s("a"), Value::Int(1)], "a%!(EXTRA int=1)"),
            ("100%%", vec![], "100%"),
            ("%", vec![], "%!(NOVERB)"),
            ("%[2]s %[1]s", vec![s("a"), s("b")], "b a"),
            ("%*d|", vec![Value::Int(4), Value::Int(7)], "   7|"),
            ("%c%c", vec![Value::Int(72), Value::Int(105)], "Hi"),
            ("%U", vec![Value::Int(0x1F600)], "U+1F600"),
            ("%T %T", vec![s("a"), Value::Float(1.0)], "string float64"),
            ("%z", vec![Value::Int(1)], "%!z(int=1)"),
            ("%5v|", vec![Value::Nil], "<nil>|"),
        ];
        for (format, args, want) in cases {
            let refs: Vec<&Value> = args.iter().collect();
            let mut out = String::new();
            sprintf(&mut out, format, &refs);
            assert_eq!(out, want, "format {format:?}");
        }
    }

    #[test]
    fn sprint_and_sprintln() {
        let args = [s("a"), Value::Int(1), Value::Int(2), s("b"), Value::Nil];
        let refs: Vec<&Value> = args.iter().collect();
        let mut out = String::new();
        sprint(&mut out, &refs);
        assert_eq!(out, "a1 2b<nil>");
        let mut out = String::new();
        sprintln(&mut out, &refs);
        assert_eq!(out, "a 1 2 b <nil>\n");
    }
}
