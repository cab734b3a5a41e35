//! Parser: builds the tree from lexed items following Go's
//! text/template/parse grammar, checks function names and variables at parse
//! time as Go does, and reports errors in Go's words
//! (`template: :1: unexpected "}" in operand`).

use std::collections::HashMap;

use crate::ast::{Arg, Branch, Command, Node, Pipe, Pos};
use crate::funcs::Func;
use crate::lexer::{lex, Tok, Token};
use crate::literal::{number, unquote};
use crate::print::quote;
use crate::value::Value;
use crate::TemplateError;

/// How deeply control structures and parentheses may nest. Go's limit is
/// far higher, but Go's stack grows; this keeps a hostile format string
/// from overflowing ours.
const MAX_NESTING: usize = 100;

/// A parsed source: the main template and the ones it defines.
pub(crate) struct Parsed {
    pub root: Vec<Node>,
    pub defs: HashMap<String, Vec<Node>>,
}

/// What ends an item list.
enum Terminator {
    End,
    Else,
}

impl Terminator {
    fn text(&self) -> &'static str {
        match self {
            Terminator::End => "{{end}}",
            Terminator::Else => "{{else}}",
        }
    }
}

enum Item {
    Node(Node),
    Stop(Terminator),
}

type PResult<T> = Result<T, TemplateError>;

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    idx: usize,
    /// Index of the furthest token read: Go reports that token's line.
    furthest: usize,
    vars: Vec<String>,
    range_depth: usize,
    nesting: usize,
    action_line: usize,
    defs: HashMap<String, Vec<Node>>,
}

pub(crate) fn parse(src: &str) -> PResult<Parsed> {
    let mut p = Parser {
        src,
        toks: lex(src),
        idx: 0,
        furthest: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        nesting: 0,
        action_line: 0,
        defs: HashMap::new(),
    };
    let mut root = p.parse_top()?;
    // A {{define ""}} names the main template itself.
    if let Some(def) = p.defs.remove("") {
        if is_empty_tree(&root) {
            root = def;
        } else if !is_empty_tree(&def) {
            return Err(p.errorf("template: multiple definition of template \"\""));
        }
    }
    Ok(Parsed { root, defs: p.defs })
}

/// Go's IsEmptyTree: nothing but whitespace text.
fn is_empty_tree(list: &[Node]) -> bool {
    list.iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

pub(crate) fn line_of(src: &str, pos: Pos) -> usize {
    1 + src.as_bytes()[..pos.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

impl Parser<'_> {
    fn token(&self, i: usize) -> Token {
        let last = self.toks.len().saturating_sub(1);
        self.toks.get(i.min(last)).cloned().unwrap_or(Token {
            kind: Tok::Eof,
            pos: self.src.len(),
            val: String::new(),
        })
    }

    fn next(&mut self) -> Token {
        let t = self.token(self.idx);
        self.furthest = self.furthest.max(self.idx);
        self.idx += 1;
        t
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&mut self) -> Token {
        self.furthest = self.furthest.max(self.idx);
        self.token(self.idx)
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.kind != Tok::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn errorf(&self, msg: impl std::fmt::Display) -> TemplateError {
        let line = line_of(self.src, self.token(self.furthest).pos);
        TemplateError::Parse(format!("template: :{line}: {msg}"))
    }

    fn unexpected(&self, tok: &Token, context: &str) -> TemplateError {
        if tok.kind == Tok::Error {
            let mut extra = String::new();
            let line = line_of(self.src, tok.pos);
            if self.action_line != 0 && self.action_line != line {
                extra = format!(" in action started at :{}", self.action_line);
                if tok.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{tok}{extra}"));
        }
        self.errorf(format!("unexpected {tok} in {context}"))
    }

    fn expect(&mut self, kind: Tok, context: &str) -> PResult<Token> {
        let t = self.next_non_space();
        if t.kind != kind {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn nest(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.errorf("max expression depth exceeded"));
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().kind != Tok::Eof {
            if self.peek().kind == Tok::LeftDelim {
                let save = self.idx;
                self.next();
                if self.next_non_space().kind == Tok::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = save;
            }
            match self.text_or_action()? {
                Item::Stop(t) => return Err(self.errorf(format!("unexpected {}", t.text()))),
                Item::Node(n) => root.push(n),
            }
        }
        Ok(root)
    }

    /// Runs `f` as the body of a separately named template: its own
    /// variables and no enclosing range.
    fn in_new_tree<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let range_depth = std::mem::take(&mut self.range_depth);
        let r = f(self);
        self.vars = vars;
        self.range_depth = range_depth;
        r
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let t = self.next_non_space();
        if t.kind != Tok::String && t.kind != Tok::RawString {
            return Err(self.unexpected(&t, CONTEXT));
        }
        let name = unquote(&t.val).map_err(|e| self.errorf(e))?;
        self.expect(Tok::RightDelim, CONTEXT)?;
        let (list, end) = self.in_new_tree(Self::item_list)?;
        if let Terminator::Else = end {
            return Err(self.errorf(format!("unexpected {} in {CONTEXT}", end.text())));
        }
        self.add_definition(name, list)
    }

    fn add_definition(&mut self, name: String, list: Vec<Node>) -> PResult<()> {
        match self.defs.get(&name) {
            Some(old) if !is_empty_tree(old) => {
                if !is_empty_tree(&list) {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        quote(&name)
                    )));
                }
            }
            _ => {
                self.defs.insert(name, list);
            }
        }
        Ok(())
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Terminator)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Tok::Eof {
            match self.text_or_action()? {
                Item::Stop(t) => return Ok((list, t)),
                Item::Node(n) => list.push(n),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Tok::Text => Ok(Item::Node(Node::Text(t.val))),
            Tok::LeftDelim => {
                self.action_line = line_of(self.src, t.pos);
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Tok::Block => return self.block_control().map(Item::Node),
            Tok::Break => return self.loop_control(t.pos, "break").map(Item::Node),
            Tok::Continue => return self.loop_control(t.pos, "continue").map(Item::Node),
            Tok::Else => return self.else_control(),
            Tok::End => {
                self.expect(Tok::RightDelim, "end")?;
                return Ok(Item::Stop(Terminator::End));
            }
            Tok::If => return self.parse_control("if").map(|b| Item::Node(Node::If(b))),
            Tok::Range => {
                return self
                    .parse_control("range")
                    .map(|b| Item::Node(Node::Range(b)))
            }
            Tok::With => {
                return self
                    .parse_control("with")
                    .map(|b| Item::Node(Node::With(b)))
            }
            Tok::Template => return self.template_control().map(Item::Node),
            _ => {}
        }
        self.backup();
        let pos = self.peek().pos;
        let pipe = self.pipeline("command", Tok::RightDelim)?;
        Ok(Item::Node(Node::Action { pos, pipe }))
    }

    fn loop_control(&mut self, pos: Pos, word: &str) -> PResult<Node> {
        let t = self.next_non_space();
        if t.kind != Tok::RightDelim {
            return Err(self.unexpected(&t, &format!("{{{{{word}}}}}")));
        }
        if self.range_depth == 0 {
            return Err(self.errorf(format!("{{{{{word}}}}} outside {{{{range}}}}")));
        }
        Ok(if word == "break" {
            Node::Break(pos)
        } else {
            Node::Continue(pos)
        })
    }

    fn else_control(&mut self) -> PResult<Item> {
        // "{{else if" and "{{else with" leave the keyword for parse_control.
        let peek = self.peek_non_space();
        if peek.kind != Tok::If && peek.kind != Tok::With {
            self.expect(Tok::RightDelim, "else")?;
        }
        Ok(Item::Stop(Terminator::Else))
    }

    fn parse_control(&mut self, context: &'static str) -> PResult<Branch> {
        self.nest()?;
        let vars = self.vars.len();
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let body = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = body?;
        let mut else_list = None;
        if let Terminator::Else = next {
            let chained = self.peek().kind;
            if context == "if" && chained == Tok::If {
                // {{else if b}} is {{else}}{{if b}}…{{end}}{{end}} sharing one end.
                self.next();
                else_list = Some(vec![Node::If(self.parse_control("if")?)]);
            } else if context == "with" && chained == Tok::With {
                self.next();
                else_list = Some(vec![Node::With(self.parse_control("with")?)]);
            } else {
                let (list, next) = self.item_list()?;
                if let Terminator::Else = next {
                    return Err(self.errorf(format!("expected end; found {}", next.text())));
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(vars);
        self.nesting -= 1;
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&self, t: &Token, context: &str) -> PResult<String> {
        match t.kind {
            Tok::String | Tok::RawString => unquote(&t.val).map_err(|e| self.errorf(e)),
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let pipe = if self.next_non_space().kind != Tok::RightDelim {
            self.backup();
            Some(self.pipeline(CONTEXT, Tok::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe,
        })
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Tok::RightDelim)?;
        self.nest()?;
        let (list, end) = self.in_new_tree(Self::item_list)?;
        self.nesting -= 1;
        if let Terminator::Else = end {
            return Err(self.errorf(format!("unexpected {} in {CONTEXT}", end.text())));
        }
        self.add_definition(name.clone(), list)?;
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: "$x :=", "$x =", or in range "$i, $v :=".
        loop {
            let v = self.peek_non_space();
            if v.kind != Tok::Variable {
                break;
            }
            let save = self.idx;
            self.next();
            let next = self.peek_non_space();
            match next.kind {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = next.kind == Tok::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                }
                Tok::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Tok::Variable | Tok::RightDelim | Tok::RightParen => continue,
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ => self.idx = save,
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            match t.kind {
                k if k == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                Tok::Bool
                | Tok::CharConstant
                | Tok::Complex
                | Tok::Dot
                | Tok::Field
                | Tok::Identifier
                | Tok::Number
                | Tok::Nil
                | Tok::RawString
                | Tok::String
                | Tok::Variable
                | Tok::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some(
                Arg::Bool { .. } | Arg::Dot(_) | Arg::Nil(_) | Arg::Number { .. } | Arg::Str { .. },
            ) = c.args.first()
            {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let t = self.next();
            match t.kind {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Tok::Field {
            return Ok(Some(node));
        }
        // Go positions the combined node at the first trailing field.
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Tok::Field {
            let t = self.next();
            fields.push(t.val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. } | Arg::Str { .. } | Arg::Number { .. } | Arg::Nil(_) | Arg::Dot(_) => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    quote(&node.to_string())
                )));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.kind {
            Tok::Identifier => match Func::lookup(&t.val) {
                Some(func) => Arg::Ident { pos, func },
                None => return Err(self.errorf(format!("function {} not defined", quote(&t.val)))),
            },
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Variable => {
                if !self.vars.contains(&t.val) {
                    return Err(self.errorf(format!("undefined variable {}", quote(&t.val))));
                }
                Arg::Variable {
                    pos,
                    idents: vec![t.val],
                }
            }
            Tok::Field => Arg::Field {
                pos,
                idents: vec![t.val[1..].to_string()],
            },
            Tok::Bool => Arg::Bool {
                pos,
                value: Value::Bool(t.val == "true"),
            },
            Tok::CharConstant | Tok::Complex | Tok::Number => {
                let num =
                    number(&t.val, t.kind == Tok::CharConstant).map_err(|e| self.errorf(e))?;
                Arg::Number {
                    pos,
                    text: t.val,
                    num,
                }
            }
            Tok::LeftParen => {
                self.nest()?;
                let pipe = self.pipeline("parenthesized pipeline", Tok::RightParen)?;
                self.nesting -= 1;
                Arg::Pipe(Box::new(pipe))
            }
            Tok::String | Tok::RawString => {
                let s = unquote(&t.val).map_err(|e| self.errorf(e))?;
                Arg::Str {
                    pos,
                    quoted: t.val,
                    value: Value::String(s),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        match parse(src) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parse_errors_match_go() {
        let cases = [
            ("{{.Foo}", "template: :1: unexpected \"}\" in operand"),
            ("{{.Foo", "template: :1: unclosed action"),
            ("{{.Foo\n\n", "template: :3: unclosed action started at :1"),
            ("{{nope}}", "template: :1: function \"nope\" not defined"),
            ("{{}}", "template: :1: missing value for command"),
            ("{{end}}", "template: :1: unexpected {{end}}"),
            ("{{else}}", "template: :1: unexpected {{else}}"),
            ("{{if .X}}a", "template: :1: unexpected EOF"),
            ("{{if}}{{end}}", "template: :1: missing value for if"),
            ("{{$x}}", "template: :1: undefined variable \"$x\""),
            (
                "{{range .X}}{{end}}{{$i}}",
                "template: :1: undefined variable \"$i\"",
            ),
            (
                "{{.X | 3}}",
                "template: :1: non executable command in pipeline stage 2",
            ),
            ("{{break}}", "template: :1: {{break}} outside {{range}}"),
            (
                "{{if .X}}{{else}}{{else}}{{end}}",
                "template: :1: expected end; found {{else}}",
            ),
            (
                "{{range $a, $b, $c := .}}{{end}}",
                "template: :1: too many declarations in range",
            ),
            (
                "{{with $x, $y := .}}{{end}}",
                "template: :1: too many declarations in with",
            ),
            (
                "{{\"a\".X}}",
                "template: :1: unexpected . after term \"\\\"a\\\"\"",
            ),
            ("{{/* x", "template: :1: unclosed comment"),
            ("a\n{{.X!}}", "template: :2: bad character U+0021 '!'"),
            (
                "{{define \"x\"}}a{{end}}{{define \"x\"}}b{{end}}",
                "template: :1: template: multiple definition of template \"x\"",
            ),
            (
                "{{template .X}}",
                "template: :1: unexpected \".X\" in template clause",
            ),
            (
                "{{template .}}",
                "template: :1: unexpected <.> in template clause",
            ),
            ("{{3 | printf}}", "ok"),
            (
                "{{99999999999999999999}}",
                "template: :1: integer overflow: 99999999999999999999",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(err(src), want, "source {src:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "{{if 1}}".repeat(MAX_NESTING + 1) + &"{{end}}".repeat(MAX_NESTING + 1);
        assert_eq!(err(&deep), "template: :1: max expression depth exceeded");
        let parens = "{{".to_string()
            + &"(".repeat(MAX_NESTING + 1)
            + "1"
            + &")".repeat(MAX_NESTING + 1)
            + "}}";
        assert_eq!(err(&parens), "template: :1: max expression depth exceeded");
        let ok = "{{if 1}}".repeat(MAX_NESTING) + &"{{end}}".repeat(MAX_NESTING);
        assert_eq!(err(&ok), "ok");
    }

    #[test]
    fn field_chain_position_is_go_quirk() {
        let parsed = parse("{{.Config.Nope}}").map_err(|e| e.to_string());
        let pos = match parsed.as_ref().map(|p| &p.root[..]) {
            Ok([Node::Action { pipe, .. }]) => pipe.cmds[0].args[0].pos(),
            _ => usize::MAX,
        };
        assert_eq!(pos, 9);
    }
}
