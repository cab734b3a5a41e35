//! `--format` handling shared by every listing command, as Docker's formatter does
//! it: `table …` formats go through a tab writer (min width 10, padding 3) with a
//! header row; other formats print one rendered line per row; `json` prints each row
//! as JSON.

use std::io::Write;

use kujira_template::{Template, TemplateError, Value};

/// A parsed `--format`.
pub struct Format {
    template: Template,
    table: bool,
}

/// A `--format` problem, with Docker's exit status.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Docker: "template parsing error: …" (exit status 64 for `inspect`, 1 elsewhere).
    #[error("template parsing error: {0}")]
    Parse(TemplateError),
    /// Listings report execution errors under the same prefix.
    #[error("template parsing error: {0}")]
    Exec(TemplateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl FormatError {
    pub fn exit_code(&self) -> i32 {
        1
    }
}

impl Format {
    /// Parses a user's `--format` (or a command's default). Literal `\t` and `\n` in
    /// the text become tab and newline, as Docker does for shells that pass them raw.
    pub fn parse(format: &str) -> Result<Format, FormatError> {
        let format = format.trim_start();
        let (body, table) = if format == "json" {
            ("{{json .}}".to_string(), false)
        } else if let Some(rest) = kujira_template::split_table(format) {
            (rest.trim_start().to_string(), true)
        } else {
            (format.to_string(), false)
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let template = Template::parse(&body).map_err(FormatError::Parse)?;
        Ok(Format { template, table })
    }

    /// Renders `rows`; for tables, `header` (field name → column title) first.
    pub fn write(
        &self,
        out: &mut impl Write,
        header: &Value,
        rows: impl IntoIterator<Item = Value>,
    ) -> Result<(), FormatError> {
        let mut buf = String::new();
        if self.table {
            let h = self
                .template
                .execute_header(header)
                .map_err(FormatError::Exec)?;
            if !h.trim().is_empty() {
                buf.push_str(&h);
                buf.push('\n');
            }
        }
        for row in rows {
            buf.push_str(&self.template.execute(&row).map_err(FormatError::Exec)?);
            buf.push('\n');
        }
        if self.table {
            // Go's tabwriter counts the padding inside its min width (10), this crate
            // adds it on top: 7 + 3 gives Docker's columns.
            let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
            tw.write_all(buf.as_bytes())?;
            let bytes = tw
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            out.write_all(&bytes)?;
        } else {
            out.write_all(buf.as_bytes())?;
        }
        Ok(())
    }
}

/// A Go struct value from `(field, text)` pairs.
pub fn row(fields: Vec<(&str, String)>) -> Value {
    Value::Struct(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect(),
    )
}
