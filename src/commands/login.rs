//! `login` and `logout`: credentials in Docker's `config.json` (or its helpers).

use std::io::{BufRead, IsTerminal};

use kujira_engine::Engine;

use crate::cli::{LoginArgs, LogoutArgs};
use crate::error::CliError;

/// Docker's name for Docker Hub when no server is given.
const DEFAULT_SERVER: &str = "https://index.docker.io/v1/";

pub fn login(engine: &Engine, args: &LoginArgs) -> Result<(), CliError> {
    let server = args
        .server
        .clone()
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    let password = match (&args.password, args.password_stdin) {
        (Some(_), true) => {
            return Err(CliError::new(
                1,
                "--password and --password-stdin are mutually exclusive",
            ))
        }
        (Some(p), false) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            Some(p.clone())
        }
        (None, true) => {
            if args.username.is_none() {
                return Err(CliError::new(
                    1,
                    "Must provide --username with --password-stdin",
                ));
            }
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            Some(line.trim_end_matches(['\n', '\r']).to_string())
        }
        (None, false) => None,
    };
    let (Some(user), Some(password)) = (args.username.clone(), password) else {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new(
                1,
                "Error: Cannot perform an interactive login from a non TTY device",
            ));
        }
        return Err(CliError::new(
            1,
            "Error: interactive login is not supported yet: use -u and --password-stdin",
        ));
    };
    engine.login(&server, &user, &password)?;
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(engine: &Engine, args: &LogoutArgs) -> Result<(), CliError> {
    let server = args
        .server
        .clone()
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    if engine.logout(&server)? {
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(())
}
