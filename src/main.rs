//! kujira: a Docker-compatible container engine in one binary. This is the CLI's
//! edge: flags in, engine calls, Docker's output and exit statuses out.

mod cli;
mod commands;
mod error;
mod format;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

use cli::Cli;
use error::CliError;

fn main() {
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("{}", e.message);
            }
            e.code
        }
    };
    std::process::exit(code);
}

fn run() -> Result<(), CliError> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return Err(usage_error(e)),
    };
    if cli.version {
        println!("kujira version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return Ok(());
    };
    commands::dispatch(&cli.root, command)
}

/// Docker's wording and exit statuses for command-line mistakes.
fn usage_error(e: clap::Error) -> CliError {
    let usage = match e.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        _ => String::new(),
    };
    // "Usage: kujira image rm [OPTIONS] <IMAGE>..." → "kujira image rm"
    let path: String = usage
        .trim_start_matches("Usage: ")
        .split_whitespace()
        .take_while(|w| !w.starts_with('[') && !w.starts_with('<'))
        .collect::<Vec<_>>()
        .join(" ");
    let path = if path.is_empty() {
        "kujira".to_string()
    } else {
        path
    };
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `kujira image` alone shows that command's usage, as `docker image` does.
            let _ = e.print();
            CliError::silent(0)
        }
        ErrorKind::UnknownArgument => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let flag = arg.split('=').next().unwrap_or(&arg).to_string();
            if flag.starts_with('-') {
                CliError::new(125, format!("unknown flag: {flag}\nSee '{path} --help'."))
            } else {
                CliError::new(
                    1,
                    format!("\"{path}\" accepts no argument \"{flag}\".\nSee '{path} --help'."),
                )
            }
        }
        ErrorKind::InvalidSubcommand => {
            let sub = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            CliError::new(1, format!("kujira: unknown command: {path} {sub}\n\nRun '{path} --help' for more information"))
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::TooFewValues
        | ErrorKind::MissingSubcommand => {
            let usage_line = usage.trim().trim_start_matches("Usage:").trim();
            CliError::new(
                1,
                format!(
                    "kujira: '{path}' requires at least 1 argument\n\nUsage:  {usage_line}\n\nSee '{path} --help' for more information"
                ),
            )
        }
        _ => {
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            CliError::new(125, format!("{first}\nSee '{path} --help'."))
        }
    }
}
