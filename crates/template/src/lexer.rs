//! Lexer: splits template source into the same items Go's text/template/parse
//! lexer produces, so the parser can report Go's error texts and positions.
//!
//! The whole input is tokenised up front. Go's lexer is lazy, but it stops at
//! its first error and the parser consumes items strictly in order, so an
//! eager token list ending in the error item behaves identically.

use std::fmt;

use crate::print::quote;

/// Kind of a lexed item. The order mirrors Go's `itemType`; everything from
/// `Block` on is a keyword and prints as `<word>` in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Tok {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Tok::Block
                | Tok::Break
                | Tok::Continue
                | Tok::Dot
                | Tok::Define
                | Tok::Else
                | Tok::End
                | Tok::If
                | Tok::Nil
                | Tok::Range
                | Tok::Template
                | Tok::With
        )
    }
}

/// One lexed item: its kind, byte offset in the source and text (for
/// `Error` items, the message).
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: Tok,
    pub pos: usize,
    pub val: String,
}

/// Go's `item.String()`, which is what "unexpected X in Y" messages show.
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Tok::Eof => f.write_str("EOF"),
            Tok::Error => f.write_str(&self.val),
            k if k.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.len() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", quote(&head))
            }
            _ => f.write_str(&quote(&self.val)),
        }
    }
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";

pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// `-` followed by a space just inside `{{`.
fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

/// A space followed by `-` just before `}}`.
fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

fn left_trim_length(s: &str) -> usize {
    s.len() - s.trim_start_matches(is_space).len()
}

/// Go's `%#U`: `U+0021 '!'` for printable runes, `U+0007` otherwise.
pub(crate) fn sharp_u(c: char) -> String {
    if crate::print::is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

enum State {
    Text,
    Action,
    Done,
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    start: usize,
    paren_depth: i32,
    toks: Vec<Token>,
}

/// Tokenises `src`. The last token is always `Eof` or `Error`.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let mut l = Lexer {
        src,
        pos: 0,
        start: 0,
        paren_depth: 0,
        toks: Vec::new(),
    };
    let mut state = State::Text;
    loop {
        state = match state {
            State::Text => l.lex_text(),
            State::Action => l.lex_inside_action(),
            State::Done => return l.toks,
        };
    }
}

impl Lexer<'_> {
    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn accept(&mut self, set: &str) -> bool {
        match self.peek_char() {
            Some(c) if set.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, set: &str) {
        while self.accept(set) {}
    }

    fn emit(&mut self, kind: Tok) -> State {
        self.toks.push(Token {
            kind,
            pos: self.start,
            val: self.src[self.start..self.pos].to_string(),
        });
        self.start = self.pos;
        State::Action
    }

    fn error(&mut self, msg: String) -> State {
        self.toks.push(Token {
            kind: Tok::Error,
            pos: self.start,
            val: msg,
        });
        State::Done
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.src[self.pos..];
        if has_right_trim_marker(rest) && rest[2..].starts_with(RIGHT) {
            return (true, true);
        }
        (rest.starts_with(RIGHT), false)
    }

    /// Whether the next character can end a word (field, variable,
    /// identifier) without an intervening space. Like Go, any character
    /// that starts the right delimiter counts, so `.X}` lexes `}` apart.
    fn at_terminator(&self) -> bool {
        match self.peek_char() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(' | '}') => true,
            _ => false,
        }
    }

    fn lex_text(&mut self) -> State {
        if let Some(x) = self.src[self.pos..].find(LEFT) {
            let delim = self.pos + x;
            if x > 0 {
                let mut end = delim;
                if has_left_trim_marker(&self.src[delim + LEFT.len()..]) {
                    end = self.start + self.src[self.start..delim].trim_end_matches(is_space).len();
                }
                if end > self.start {
                    self.toks.push(Token {
                        kind: Tok::Text,
                        pos: self.start,
                        val: self.src[self.start..end].to_string(),
                    });
                }
            }
            self.pos = delim;
            self.start = delim;
            return self.lex_left_delim();
        }
        self.pos = self.src.len();
        if self.pos > self.start {
            self.toks.push(Token {
                kind: Tok::Text,
                pos: self.start,
                val: self.src[self.start..].to_string(),
            });
            self.start = self.pos;
        }
        self.toks.push(Token {
            kind: Tok::Eof,
            pos: self.pos,
            val: String::new(),
        });
        State::Done
    }

    fn lex_left_delim(&mut self) -> State {
        self.pos += LEFT.len();
        let trim = has_left_trim_marker(&self.src[self.pos..]);
        let after = if trim { 2 } else { 0 };
        if self.src[self.pos + after..].starts_with(LEFT_COMMENT) {
            self.pos += after;
            self.start = self.pos;
            return self.lex_comment();
        }
        self.emit(Tok::LeftDelim);
        self.pos += after;
        self.start = self.pos;
        self.paren_depth = 0;
        State::Action
    }

    fn lex_comment(&mut self) -> State {
        self.pos += LEFT_COMMENT.len();
        match self.src[self.pos..].find(RIGHT_COMMENT) {
            Some(x) => self.pos += x + RIGHT_COMMENT.len(),
            None => return self.error("unclosed comment".into()),
        }
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT.len();
        if trim {
            self.pos += left_trim_length(&self.src[self.pos..]);
        }
        self.start = self.pos;
        State::Text
    }

    fn lex_right_delim(&mut self, trim: bool) -> State {
        if trim {
            self.pos += 2;
            self.start = self.pos;
        }
        self.pos += RIGHT.len();
        self.emit(Tok::RightDelim);
        if trim {
            self.pos += left_trim_length(&self.src[self.pos..]);
            self.start = self.pos;
        }
        State::Text
    }

    fn lex_inside_action(&mut self) -> State {
        let (delim, trim) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return self.lex_right_delim(trim);
            }
            return self.error("unclosed left paren".into());
        }
        let Some(c) = self.next_char() else {
            return self.error("unclosed action".into());
        };
        match c {
            c if is_space(c) => {
                self.pos -= c.len_utf8();
                self.lex_space()
            }
            '=' => self.emit(Tok::Assign),
            ':' => {
                if self.next_char() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.emit(Tok::Declare)
            }
            '|' => self.emit(Tok::Pipe),
            '"' => self.lex_quote('"', Tok::String, "unterminated quoted string"),
            '\'' => self.lex_quote('\'', Tok::CharConstant, "unterminated character constant"),
            '`' => self.lex_raw_quote(),
            '$' => {
                if self.at_terminator() {
                    return self.emit(Tok::Variable);
                }
                self.lex_field_or_variable(Tok::Variable)
            }
            '.' => {
                // ".5" is a number, ".Field" a field, a lone "." is dot.
                match self.src.as_bytes().get(self.pos) {
                    Some(b) if !b.is_ascii_digit() => self.lex_field_or_variable(Tok::Field),
                    _ => {
                        self.pos = self.start;
                        self.lex_number()
                    }
                }
            }
            '+' | '-' | '0'..='9' => {
                self.pos = self.start;
                self.lex_number()
            }
            c if is_alnum(c) => {
                self.pos = self.start;
                self.lex_identifier()
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(Tok::LeftParen)
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error("unexpected right paren".into());
                }
                self.emit(Tok::RightParen)
            }
            c if c.is_ascii_graphic() => self.emit(Tok::Char),
            c => self.error(format!("unrecognized character in action: {}", sharp_u(c))),
        }
    }

    fn lex_space(&mut self) -> State {
        let mut n = 0;
        while let Some(c) = self.peek_char() {
            if !is_space(c) {
                break;
            }
            self.pos += c.len_utf8();
            n += 1;
        }
        // A space that belongs to a " -}}" trim marker is not a space item.
        let p = self.pos - 1;
        if has_right_trim_marker(&self.src[p..]) && self.src[p + 2..].starts_with(RIGHT) {
            self.pos -= 1;
            if n == 1 {
                return State::Action;
            }
        }
        self.emit(Tok::Space)
    }

    /// The `.` or `$` has been consumed.
    fn lex_field_or_variable(&mut self, kind: Tok) -> State {
        if self.at_terminator() {
            return self.emit(if kind == Tok::Variable {
                Tok::Variable
            } else {
                Tok::Dot
            });
        }
        while let Some(c) = self.peek_char() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        if !self.at_terminator() {
            return self.bad_character();
        }
        self.emit(kind)
    }

    fn bad_character(&mut self) -> State {
        let c = self.peek_char().unwrap_or('\u{FFFD}');
        self.error(format!("bad character {}", sharp_u(c)))
    }

    fn lex_identifier(&mut self) -> State {
        while let Some(c) = self.peek_char() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        if !self.at_terminator() {
            return self.bad_character();
        }
        let kind = match &self.src[self.start..self.pos] {
            "block" => Tok::Block,
            "break" => Tok::Break,
            "continue" => Tok::Continue,
            "define" => Tok::Define,
            "else" => Tok::Else,
            "end" => Tok::End,
            "if" => Tok::If,
            "nil" => Tok::Nil,
            "range" => Tok::Range,
            "template" => Tok::Template,
            "with" => Tok::With,
            "true" | "false" => Tok::Bool,
            _ => Tok::Identifier,
        };
        self.emit(kind)
    }

    fn lex_number(&mut self) -> State {
        if !self.scan_number() {
            let text = quote(&self.src[self.start..self.pos]);
            return self.error(format!("bad number syntax: {text}"));
        }
        if matches!(self.peek_char(), Some('+' | '-')) {
            // Complex literal such as 1+2i.
            if !self.scan_number() || !self.src[..self.pos].ends_with('i') {
                let text = quote(&self.src[self.start..self.pos]);
                return self.error(format!("bad number syntax: {text}"));
            }
            return self.emit(Tok::Complex);
        }
        self.emit(Tok::Number)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        match self.peek_char() {
            Some(c) if is_alnum(c) => {
                self.pos += c.len_utf8();
                false
            }
            _ => true,
        }
    }

    fn lex_quote(&mut self, close: char, kind: Tok, unterminated: &str) -> State {
        loop {
            match self.next_char() {
                Some('\\') => match self.next_char() {
                    Some(c) if c != '\n' => {}
                    _ => return self.error(unterminated.into()),
                },
                None | Some('\n') => return self.error(unterminated.into()),
                Some(c) if c == close => break,
                Some(_) => {}
            }
        }
        self.emit(kind)
    }

    fn lex_raw_quote(&mut self) -> State {
        loop {
            match self.next_char() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Tok::RawString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, String)> {
        lex(src).into_iter().map(|t| (t.kind, t.val)).collect()
    }

    #[test]
    fn tokens() {
        use Tok::*;
        let cases: &[(&str, &[(Tok, &str)])] = &[
            ("hello", &[(Text, "hello"), (Eof, "")]),
            (
                "a{{.X.Y}}b",
                &[
                    (Text, "a"),
                    (LeftDelim, "{{"),
                    (Field, ".X"),
                    (Field, ".Y"),
                    (RightDelim, "}}"),
                    (Text, "b"),
                    (Eof, ""),
                ],
            ),
            (
                "{{$x := 3}}",
                &[
                    (LeftDelim, "{{"),
                    (Variable, "$x"),
                    (Space, " "),
                    (Declare, ":="),
                    (Space, " "),
                    (Number, "3"),
                    (RightDelim, "}}"),
                    (Eof, ""),
                ],
            ),
            (
                "a \n{{- . -}}\n b",
                &[
                    (Text, "a"),
                    (LeftDelim, "{{"),
                    (Dot, "."),
                    (RightDelim, "}}"),
                    (Text, "b"),
                    (Eof, ""),
                ],
            ),
            (
                "x {{- /* c */ -}} y",
                &[(Text, "x"), (Text, "y"), (Eof, "")],
            ),
            (
                "{{if true}}",
                &[
                    (LeftDelim, "{{"),
                    (If, "if"),
                    (Space, " "),
                    (Bool, "true"),
                    (RightDelim, "}}"),
                    (Eof, ""),
                ],
            ),
            (
                "{{-3}}",
                &[
                    (LeftDelim, "{{"),
                    (Number, "-3"),
                    (RightDelim, "}}"),
                    (Eof, ""),
                ],
            ),
            (
                "{{.X",
                &[(LeftDelim, "{{"), (Field, ".X"), (Error, "unclosed action")],
            ),
            ("{{/* x", &[(Error, "unclosed comment")]),
            (
                "{{/* x */ }}",
                &[(Error, "comment ends before closing delimiter")],
            ),
            (
                "{{\"a\\\"b\" `r`}}",
                &[
                    (LeftDelim, "{{"),
                    (String, "\"a\\\"b\""),
                    (Space, " "),
                    (RawString, "`r`"),
                    (RightDelim, "}}"),
                    (Eof, ""),
                ],
            ),
            (
                "{{\"abc}}",
                &[(LeftDelim, "{{"), (Error, "unterminated quoted string")],
            ),
            (
                "{{3x}}",
                &[(LeftDelim, "{{"), (Error, "bad number syntax: \"3x\"")],
            ),
            (
                "{{.X!}}",
                &[(LeftDelim, "{{"), (Error, "bad character U+0021 '!'")],
            ),
            (
                "{{)}}",
                &[(LeftDelim, "{{"), (Error, "unexpected right paren")],
            ),
            (
                "{{(.X}}",
                &[
                    (LeftDelim, "{{"),
                    (LeftParen, "("),
                    (Field, ".X"),
                    (Error, "unclosed left paren"),
                ],
            ),
            (
                "{{.X}",
                &[
                    (LeftDelim, "{{"),
                    (Field, ".X"),
                    (Char, "}"),
                    (Error, "unclosed action"),
                ],
            ),
            (
                "{{a:b}}",
                &[(LeftDelim, "{{"), (Identifier, "a"), (Error, "expected :=")],
            ),
        ];
        for (src, want) in cases {
            let want: Vec<(Tok, std::string::String)> =
                want.iter().map(|(k, v)| (*k, v.to_string())).collect();
            assert_eq!(kinds(src), want, "source {src:?}");
        }
    }

    #[test]
    fn positions_are_byte_offsets() {
        let toks = lex("ab{{ .X }}");
        let field = toks.iter().find(|t| t.kind == Tok::Field).map(|t| t.pos);
        assert_eq!(field, Some(5));
    }

    #[test]
    fn token_display_matches_go() {
        let t = |kind, val: &str| Token {
            kind,
            pos: 0,
            val: val.into(),
        };
        assert_eq!(t(Tok::Char, "}").to_string(), "\"}\"");
        assert_eq!(t(Tok::End, "end").to_string(), "<end>");
        assert_eq!(t(Tok::Eof, "").to_string(), "EOF");
        assert_eq!(
            t(Tok::String, "\"0123456789abc\"").to_string(),
            "\"\\\"012345678\"..."
        );
    }
}
