//! Execution: walks the tree against a Value the way Go's
//! text/template/exec.go does, tracking the node being evaluated so errors
//! carry Go's `template: :LINE:COL: executing "NAME" at <NODE>: ...` prefix.

use crate::ast::{Arg, Branch, Command, Node, Pipe, Pos};
use crate::builtins::is_true;
use crate::funcs::{call, Func, Param};
use crate::print::{quote, type_name};
use crate::printf::Printer;
use crate::value::{Val, Value, NIL};
use crate::{Template, TemplateError};

/// Bound on nested control structures plus template calls at run time, so
/// a template that calls itself fails instead of overflowing the stack.
pub(crate) const MAX_DEPTH: usize = 1000;

/// The node errors are reported at: Go's `state.node`.
#[derive(Clone, Copy)]
enum At<'a> {
    Node(&'a Node),
    Pipe(&'a Pipe),
    Cmd(&'a Command),
    Arg(&'a Arg),
}

impl At<'_> {
    fn pos(&self) -> Pos {
        match self {
            At::Node(n) => n.pos(),
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn context(&self) -> String {
        match self {
            At::Node(n) => n.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

/// How a walk ended: normally, or by {{break}} / {{continue}}.
enum Flow {
    Normal,
    Break,
    Continue,
}

type R<T> = Result<T, TemplateError>;

pub(crate) struct Exec<'a, 'o> {
    tmpl: &'a Template,
    out: &'o mut String,
    vars: Vec<(&'a str, Val<'a>)>,
    at: At<'a>,
    name: &'a str,
    depth: usize,
    header: bool,
}

/// Runs the main template of `tmpl` with `data` as dot, appending to `out`.
pub(crate) fn run<'a>(
    tmpl: &'a Template,
    data: &'a Value,
    out: &mut String,
    header: bool,
) -> R<()> {
    let Some(first) = tmpl.root.first() else {
        return Ok(());
    };
    let mut s = Exec {
        tmpl,
        out,
        vars: vec![("$", Val::Ref(data))],
        at: At::Node(first),
        name: "",
        depth: 0,
        header,
    };
    s.walk_list(&Val::Ref(data), &tmpl.root).map(|_| ())
}

impl<'a> Exec<'a, '_> {
    fn errorf(&self, msg: impl std::fmt::Display) -> TemplateError {
        let src = self.tmpl.src.as_str();
        let pos = self.at.pos().min(src.len());
        let before = &src.as_bytes()[..pos];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let col = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(pos, |nl| pos - nl - 1);
        TemplateError::Exec(format!(
            "template: :{line}:{col}: executing {} at <{}>: {msg}",
            quote(self.name),
            self.at.context()
        ))
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.errorf(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        Ok(())
    }

    fn var_value(&self, name: &str) -> R<Val<'a>> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    fn set_var(&mut self, name: &str, value: Val<'a>) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    fn set_top_var(&mut self, n: usize, value: Val<'a>) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = value;
        }
    }

    fn walk_list(&mut self, dot: &Val<'a>, list: &'a [Node]) -> R<Flow> {
        for node in list {
            match self.walk(dot, node)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Val<'a>, node: &'a Node) -> R<Flow> {
        self.at = At::Node(node);
        match node {
            Node::Text(t) => self.out.push_str(t),
            Node::Action { pipe, .. } => {
                // Variables an action declares live until the enclosing {{end}}.
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node);
                    self.print_value(&v);
                }
            }
            Node::If(b) => return self.walk_if_or_with(false, dot, b),
            Node::With(b) => return self.walk_if_or_with(true, dot, b),
            Node::Range(b) => return self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => {
                self.walk_template(dot, node, name, pipe.as_ref())?
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn print_value(&mut self, v: &Val<'a>) {
        match v.get() {
            None => self.out.push_str("<no value>"),
            Some(Value::String(s)) => self.out.push_str(s),
            Some(v) => Printer::new(self.out).print_arg(v, 'v'),
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Val<'a>, b: &'a Branch) -> R<Flow> {
        self.enter()?;
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if is_true(&val) {
            let inner = if with { &val } else { dot };
            self.walk_list(inner, &b.list)?
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Val<'a>, node: &'a Node, b: &'a Branch) -> R<Flow> {
        self.enter()?;
        self.at = At::Node(node);
        let outer = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let items: Vec<(Val<'a>, Val<'a>)> = match val.get() {
            None | Some(Value::Nil) => Vec::new(),
            Some(Value::List(list)) => (0..list.len())
                .map(|i| (Val::own(Value::Int(i as i64)), val.element(i)))
                .collect(),
            Some(Value::Map(m)) => m
                .keys()
                .map(|k| {
                    (
                        Val::own(Value::String(k.clone())),
                        val.project(Value::field, k),
                    )
                })
                .collect(),
            Some(Value::Int(_) | Value::Uint(_)) if b.pipe.decl.len() > 1 => {
                let shown = val.get().map(Value::to_string).unwrap_or_default();
                return Err(self.errorf(format!(
                    "can't use {shown} to iterate over more than one variable"
                )));
            }
            Some(Value::Int(n)) => (0..*n)
                .map(|i| (Val::own(Value::Int(i)), Val::own(Value::Int(i))))
                .collect(),
            Some(Value::Uint(n)) => (0..*n as i64)
                .map(|i| (Val::own(Value::Int(i)), Val::own(Value::Int(i))))
                .collect(),
            Some(other) => return Err(self.errorf(format!("range can't iterate over {other}"))),
        };
        let mut flow = Flow::Normal;
        for (index, elem) in items.iter() {
            match self.one_iteration(b, mark, index, elem)? {
                Flow::Break => break,
                Flow::Continue | Flow::Normal => {}
            }
        }
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                flow = self.walk_list(dot, e)?;
            }
        }
        self.vars.truncate(outer);
        self.depth -= 1;
        Ok(flow)
    }

    fn one_iteration(
        &mut self,
        b: &'a Branch,
        mark: usize,
        index: &Val<'a>,
        elem: &Val<'a>,
    ) -> R<Flow> {
        let decl = &b.pipe.decl;
        // One variable gets the element, two get index and element.
        if b.pipe.is_assign {
            match decl.as_slice() {
                [v] => self.set_var(v, elem.clone())?,
                [i, v] => {
                    self.set_var(i, index.clone())?;
                    self.set_var(v, elem.clone())?;
                }
                _ => {}
            }
        } else {
            if !decl.is_empty() {
                self.set_top_var(1, elem.clone());
            }
            if decl.len() > 1 {
                self.set_top_var(2, index.clone());
            }
        }
        let flow = self.walk_list(elem, &b.list);
        self.vars.truncate(mark);
        flow
    }

    fn walk_template(
        &mut self,
        dot: &Val<'a>,
        node: &'a Node,
        name: &'a str,
        pipe: Option<&'a Pipe>,
    ) -> R<()> {
        self.at = At::Node(node);
        let Some(list) = self.tmpl.defs.get(name) else {
            return Err(self.errorf(format!("template {} not defined", quote(name))));
        };
        self.enter()?;
        // Variables the pipeline declares stay in the caller's scope.
        let dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Val::Missing,
        };
        // No dynamic scoping: the callee sees only $.
        let vars = std::mem::replace(&mut self.vars, vec![("$", dot.clone())]);
        let caller = std::mem::replace(&mut self.name, name);
        let r = self.walk_list(&dot, list);
        self.vars = vars;
        self.name = caller;
        self.depth -= 1;
        r.map(|_| ())
    }

    fn eval_pipeline(&mut self, dot: &Val<'a>, pipe: &'a Pipe) -> R<Val<'a>> {
        self.at = At::Pipe(pipe);
        let mut value: Option<Val<'a>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Val::Missing);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &'a [Arg], has_final: bool) -> R<()> {
        if args.len() > 1 || has_final {
            let first = args.first().map(Arg::to_string).unwrap_or_default();
            return Err(self.errorf(format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    /// One command of a pipeline; `last` is the previous command's value,
    /// passed as the final argument.
    fn eval_command(
        &mut self,
        dot: &Val<'a>,
        cmd: &'a Command,
        last: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        let Some(first) = cmd.args.first() else {
            self.at = At::Cmd(cmd);
            return Err(self.errorf("empty command"));
        };
        let has_args = cmd.args.len() > 1 || last.is_some();
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                return self.eval_field_chain(dot.clone(), idents, has_args);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, has_args),
            Arg::Ident { func, .. } => {
                return self.eval_function(dot, first, *func, At::Cmd(cmd), &cmd.args[1..], last)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, last.is_some())?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, has_args),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, last.is_some())?;
        match first {
            Arg::Bool { value, .. } | Arg::Str { value, .. } => Ok(Val::Ref(value)),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Err(self.errorf("nil is not a command")),
            Arg::Number { .. } => self.ideal_constant(first),
            _ => Err(self.errorf(format!(
                "can't evaluate command {}",
                quote(&first.to_string())
            ))),
        }
    }

    /// A number where no type is expected: an int, or a float if written
    /// like one.
    fn ideal_constant(&mut self, node: &'a Arg) -> R<Val<'a>> {
        self.at = At::Arg(node);
        match node {
            Arg::Number { num, text, .. } => match &num.ideal {
                Some(v) => Ok(Val::Ref(v)),
                None => Err(self.errorf(format!("{text} overflows int"))),
            },
            _ => Ok(Val::Missing),
        }
    }

    fn eval_field_chain(
        &mut self,
        receiver: Val<'a>,
        idents: &'a [String],
        has_args: bool,
    ) -> R<Val<'a>> {
        let mut cur = receiver;
        for (i, name) in idents.iter().enumerate() {
            cur = self.eval_field(&cur, name, has_args && i + 1 == idents.len())?;
        }
        Ok(cur)
    }

    fn eval_field(&self, receiver: &Val<'a>, name: &str, has_args: bool) -> R<Val<'a>> {
        let Some(v) = receiver.get() else {
            // Fields of a missing value are missing too.
            return Ok(Val::Missing);
        };
        match v {
            Value::Nil => Err(self.errorf(format!("nil pointer evaluating interface {{}}.{name}"))),
            Value::Struct(fields) => {
                if !fields.iter().any(|(k, _)| k == name) {
                    // Go adds "in type T" here; the data carries no Go type.
                    return Err(self.errorf(format!("can't evaluate field {name}")));
                }
                if has_args {
                    return Err(self.errorf(format!(
                        "{name} has arguments but cannot be invoked as function"
                    )));
                }
                Ok(receiver.project(Value::field, name))
            }
            Value::Map(_) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                Ok(receiver.project(Value::field, name))
            }
            other => Err(self.errorf(format!(
                "can't evaluate field {name} in type {}",
                type_name(other)
            ))),
        }
    }

    fn eval_chain(&mut self, dot: &Val<'a>, node: &'a Arg, has_args: bool) -> R<Val<'a>> {
        self.at = At::Arg(node);
        let Arg::Chain {
            node: inner,
            fields,
            ..
        } = node
        else {
            return Ok(Val::Missing);
        };
        if let Arg::Nil(_) = **inner {
            return Err(self.errorf(format!("indirection through explicit nil in {node}")));
        }
        let receiver = self.eval_arg(dot, None, inner)?;
        self.eval_field_chain(receiver, fields, has_args)
    }

    fn eval_variable(&mut self, dot: &Val<'a>, node: &'a Arg, has_args: bool) -> R<Val<'a>> {
        self.at = At::Arg(node);
        let Arg::Variable { idents, .. } = node else {
            return Ok(dot.clone());
        };
        let Some((var, fields)) = idents.split_first() else {
            return Ok(Val::Missing);
        };
        let value = self.var_value(var)?;
        if fields.is_empty() {
            if has_args {
                return Err(self.errorf(format!("can't give argument to non-function {node}")));
            }
            return Ok(value);
        }
        self.eval_field_chain(value, fields, has_args)
    }

    /// Go's evalFunction and evalCall: checks the argument count, evaluates
    /// each argument against its parameter type, then calls.
    fn eval_function(
        &mut self,
        dot: &Val<'a>,
        ident: &'a Arg,
        func: Func,
        cmd: At<'a>,
        args: &'a [Arg],
        last: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        self.at = At::Arg(ident);
        let name = func.name();
        let sig = func.signature(self.header);
        let num_in = args.len() + usize::from(last.is_some());

        if matches!(func, Func::And | Func::Or) {
            if num_in < 1 {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                )));
            }
            // Short-circuit: stop at the first false (and) / true (or).
            let stop_at = func == Func::Or;
            let mut v = Val::Missing;
            for a in args {
                v = self.eval_arg(dot, Some(Param::Value), a)?;
                if is_true(&v) == stop_at {
                    return Ok(v);
                }
            }
            return Ok(last.unwrap_or(v));
        }

        let fixed = sig.fixed.len();
        if sig.variadic.is_some() {
            if num_in < fixed {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {fixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != fixed {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {fixed} got {num_in}"
            )));
        }

        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let param = sig.fixed.get(i).copied().or(sig.variadic);
            argv.push(self.eval_arg(dot, param, a)?);
        }
        if let Some(v) = last {
            let param = sig.fixed.get(num_in - 1).copied().or(sig.variadic);
            argv.push(self.validate_type(v, param)?);
        }

        let callee = match (func, args.first()) {
            (Func::Call, Some(a)) => a.to_string(),
            _ => String::new(),
        };
        call(func, &argv, self.header, &callee).map_err(|msg| {
            self.at = cmd;
            self.errorf(format!("error calling {name}: {msg}"))
        })
    }

    /// Go's evalArg: evaluates `node` for a parameter of type `param`
    /// (`None` where Go passes no type and takes the value as it is).
    fn eval_arg(&mut self, dot: &Val<'a>, param: Option<Param>, node: &'a Arg) -> R<Val<'a>> {
        self.at = At::Arg(node);
        let value = match node {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => {
                return match param {
                    Some(Param::Any) => Ok(Val::Ref(&NIL)),
                    Some(Param::Value) => Ok(Val::Missing),
                    Some(Param::StrList) => Ok(Val::own(Value::List(Vec::new()))),
                    Some(p) => Err(self.errorf(format!("cannot assign nil to {}", p.go_name()))),
                    None => Err(self.errorf("cannot assign nil to untyped value")),
                };
            }
            Arg::Field { idents, .. } => self.eval_field_chain(dot.clone(), idents, false)?,
            Arg::Variable { .. } => self.eval_variable(dot, node, false)?,
            Arg::Pipe(p) => {
                self.enter()?;
                let v = self.eval_pipeline(dot, p)?;
                self.depth -= 1;
                v
            }
            Arg::Ident { func, .. } => {
                self.eval_function(dot, node, *func, At::Arg(node), &[], None)?
            }
            Arg::Chain { .. } => self.eval_chain(dot, node, false)?,
            Arg::Bool { value, .. } | Arg::Str { value, .. } => {
                return match param {
                    None | Some(Param::Any | Param::Value) => Ok(Val::Ref(value)),
                    Some(Param::Str) => match value {
                        Value::String(_) => Ok(Val::Ref(value)),
                        _ => Err(self.errorf(format!("expected string; found {node}"))),
                    },
                    Some(Param::Int) => Err(self.errorf(format!("expected integer; found {node}"))),
                    Some(Param::StrList) => {
                        Err(self.errorf(format!("can't handle {node} for arg of type []string")))
                    }
                };
            }
            Arg::Number { num, .. } => {
                return match param {
                    None | Some(Param::Any | Param::Value) => self.ideal_constant(node),
                    Some(Param::Int) => match num.int {
                        Some(i) => Ok(Val::own(Value::Int(i))),
                        None => Err(self.errorf(format!("expected integer; found {node}"))),
                    },
                    Some(Param::Str) => Err(self.errorf(format!("expected string; found {node}"))),
                    Some(Param::StrList) => {
                        Err(self.errorf(format!("can't handle {node} for arg of type []string")))
                    }
                };
            }
        };
        self.validate_type(value, param)
    }

    /// Go's validateType: is the value assignable to the parameter?
    fn validate_type(&self, v: Val<'a>, param: Option<Param>) -> R<Val<'a>> {
        let Some(param) = param else {
            return Ok(v);
        };
        let wrong = |got: &Value| {
            format!(
                "wrong type for value; expected {}; got {}",
                param.go_name(),
                type_name(got)
            )
        };
        match (param, v.get()) {
            (Param::Value, _) => Ok(v),
            (Param::Any, None) => Ok(Val::Ref(&NIL)),
            (Param::Any, Some(_)) => Ok(v),
            // A nil or missing list is an empty []string.
            (Param::StrList, None | Some(Value::Nil)) => Ok(Val::own(Value::List(Vec::new()))),
            (_, None) => Err(self.errorf(format!("invalid value; expected {}", param.go_name()))),
            (Param::Str, Some(Value::String(_))) | (Param::Int, Some(Value::Int(_))) => Ok(v),
            (Param::Int, Some(Value::Uint(u))) => match i64::try_from(*u) {
                Ok(i) => Ok(Val::own(Value::Int(i))),
                Err(_) => Err(self.errorf(format!("{u} overflows int"))),
            },
            (Param::StrList, Some(got @ Value::List(items))) => {
                if items.iter().all(|x| matches!(x, Value::String(_))) {
                    Ok(v)
                } else {
                    Err(self.errorf(wrong(got)))
                }
            }
            (_, Some(got)) => Err(self.errorf(wrong(got))),
        }
    }
}
