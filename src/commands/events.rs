//! `events`: the store's event log, followed live (or between `--since` and
//! `--until`), printed as Docker's CLI prints it.

use std::io::Write;

use kujira_engine::system::events::{Event, EventFilters, Until};
use kujira_engine::Engine;
use kujira_template::Value;

use super::container::parse_time;
use crate::cli::EventsArgs;
use crate::error::CliError;
use crate::format::table::Format;

fn nanos(t: f64) -> i64 {
    (t * 1e9) as i64
}

/// Docker's line: `TIME TYPE ACTION ID (k=v, …)`, local time with nanoseconds.
fn line(e: &Event) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(e.time_nano).with_timezone(&chrono::Local);
    let mut s = format!(
        "{} {} {} {}",
        t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        e.kind,
        e.action,
        e.actor.id
    );
    if !e.actor.attributes.is_empty() {
        let attrs: Vec<String> = e
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push_str(&format!(" ({})", attrs.join(", ")));
    }
    s
}

pub fn run(engine: &Engine, args: &EventsArgs) -> Result<(), CliError> {
    let filters = EventFilters::parse(&args.filter)?;
    let since = args
        .since
        .as_deref()
        .map(parse_time)
        .transpose()?
        .map(nanos);
    let until = match args.until.as_deref().map(parse_time).transpose()? {
        Some(t) => Until::Time(nanos(t)),
        None => Until::Forever,
    };
    let format = args.format.as_deref().map(Format::parse).transpose()?;
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    engine.events(since, until, &filters, |e| {
        let Some(e) = e else {
            return true;
        };
        let r = match &format {
            Some(f) => {
                let json = serde_json::to_value(e).unwrap_or_default();
                let v = Value::from_json(&json, &["Actor.Attributes"]);
                f.write(&mut out, &Value::Nil, [v]).map_err(CliError::from)
            }
            None => writeln!(out, "{}", line(e)).map_err(|e| CliError::new(1, e.to_string())),
        };
        if let Err(err) = r.and_then(|_| out.flush().map_err(|e| CliError::new(1, e.to_string()))) {
            failed = Some(err);
            return false;
        }
        true
    })?;
    match failed {
        // A closed pipe (`events | head`) is the reader's choice, not an error.
        Some(e) if e.message.contains("Broken pipe") => Ok(()),
        Some(e) => Err(e),
        None => Ok(()),
    }
}
