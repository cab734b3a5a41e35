//! Go `text/template` evaluation as the Docker CLI uses it for `--format`,
//! printing byte for byte what Docker prints: Go's fmt `%v` spelling of
//! values, Docker's extra functions (`json`, `join`, `split`, `title`,
//! `lower`, `upper`, `pad`, `truncate`), and Go's parse and execution error
//! texts.
//!
//! Parse once with [`Template::parse`], then [`Template::execute`] per row;
//! execution borrows the data instead of copying it.
//!
//! Why not the `gtmpl` crate: its value model (`gtmpl_value`) keeps objects
//! in a `HashMap`, so it cannot print a Go struct as `{v1 v2}` in field
//! order nor tell a struct from a map (`map[k:v]`), and its printf and error
//! messages differ from Go's. It also pulls in `anyhow`, `lazy_static`, an
//! older `thiserror` and unwraps on template input. A compact parser and
//! evaluator that follow Go's text/template source closely were simpler than
//! bending it.
//!
//! Where Docker's behaviour depends on Go types the data no longer has, the
//! choices are documented at the spot: `index` of a missing map key yields
//! the element type's zero value guessed from the map's entries (an empty
//! map counts as `map[string]string`), and a missing struct field is
//! reported without Go's "in type T" suffix.

mod ast;
mod builtins;
mod exec;
mod funcs;
mod json;
mod lexer;
mod literal;
mod parse;
mod print;
mod printf;
mod value;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use value::Value;

/// A template failure; `Display` is Go's error string, which Docker prints
/// after `template parsing error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The format did not parse (Docker exits 64 for these).
    #[error("{0}")]
    Parse(String),
    /// Executing the template against the data failed.
    #[error("{0}")]
    Exec(String),
}

/// A parsed template, reusable for any number of executions.
#[derive(Debug)]
pub struct Template {
    src: String,
    root: Vec<ast::Node>,
    defs: HashMap<String, Vec<ast::Node>>,
}

impl Template {
    /// Parses `src` with Go's grammar and Docker's function set.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let parsed = parse::parse(src)?;
        Ok(Template {
            src: src.to_string(),
            root: parsed.root,
            defs: parsed.defs,
        })
    }

    /// Executes with `data` as dot and returns the output.
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.execute_into(data, &mut out)?;
        Ok(out)
    }

    /// Executes, appending to `out`, so a caller printing many rows can reuse
    /// one buffer. On error `out` holds whatever was written before it.
    pub fn execute_into(&self, data: &Value, out: &mut String) -> Result<(), TemplateError> {
        exec::run(self, data, out, false)
    }

    /// Executes with Docker's header functions, as Docker renders the title
    /// row of a `table` format: `json`, `split`, `join`, `title`, `lower`,
    /// `upper` and `truncate` return their first argument (the column
    /// title) unchanged, while `pad` still pads. `data` maps field names to
    /// titles, e.g. a `Map` of `"Repository" -> "REPOSITORY"`.
    pub fn execute_header(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec::run(self, data, &mut out, true)?;
        Ok(out)
    }
}

/// Docker's table formats: when `format` starts with `table`, returns the
/// rest (Docker then trims surrounding spaces and renders it as a
/// tab-aligned table with a header row); otherwise `None`.
pub fn split_table(format: &str) -> Option<&str> {
    format.strip_prefix("table")
}
