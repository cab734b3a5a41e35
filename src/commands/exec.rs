//! `exec`: a command in a running container, with the caller's streams (or a
//! terminal relayed to the caller's), and Docker's exit statuses.

use std::io::{IsTerminal, Write};

use kujira_engine::container::exec::ExecRequest;
use kujira_engine::Engine;

use super::terminal::{relay as relay_terminal, RawTerminal};
use crate::cli::ExecArgs;
use crate::error::CliError;

fn spawn_error(e: &std::io::Error, cmd: &[String]) -> CliError {
    let (code, message) = kujira_engine::container::exec::spawn_failure(e, cmd);
    CliError::new(code, message)
}

pub fn exec(engine: &Engine, args: &ExecArgs) -> Result<(), CliError> {
    let (name, cmd) = args
        .container_and_command
        .split_first()
        .ok_or_else(|| CliError::new(1, "kujira: 'exec' requires at least 2 arguments"))?;
    let c = engine.find_container(name)?;
    let env = super::create_body::environment(&args.env_file, &args.env)
        .map_err(|e| CliError::new(1, e))?;
    let req = ExecRequest {
        cmd: cmd.to_vec(),
        tty: args.tty,
        detach: args.detach,
        env,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        privileged: args.privileged,
    };
    let mut command = engine.exec_command(&c, &req)?;
    let relay = command.relays_terminal();
    let direct = command.is_direct();
    if !args.interactive && !relay {
        command.command_mut().stdin(std::process::Stdio::null());
    }
    if args.detach && direct {
        // Detached, the process keeps none of the caller's streams.
        let c = command.command_mut();
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    } else if !args.tty {
        // Without a terminal, stderr passes through a pipe so that the runtime's own
        // failure (a missing command) can be told apart and given Docker's status.
        command.command_mut().stderr(std::process::Stdio::piped());
    }
    let _raw =
        (relay && args.interactive && std::io::stdin().is_terminal()).then(RawTerminal::enter);
    let (mut child, master) = command.spawn().map_err(|e| spawn_error(&e, cmd))?;
    if args.detach && direct {
        return Ok(());
    }
    if let Some(master) = master {
        relay_terminal(master, args.interactive);
    }
    let tail = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut last = Vec::new();
            let mut buf = [0u8; 8192];
            let mut out = std::io::stderr();
            while let Ok(n) = std::io::Read::read(&mut err, &mut buf) {
                if n == 0 {
                    break;
                }
                let _ = out.write_all(&buf[..n]);
                last.extend_from_slice(&buf[..n]);
                let excess = last.len().saturating_sub(4096);
                last.drain(..excess);
            }
            String::from_utf8_lossy(&last).into_owned()
        })
    });
    let status = child
        .wait()
        .map_err(|e| CliError::new(126, format!("Error response from daemon: {e}")))?;
    let tail = tail.and_then(|t| t.join().ok()).unwrap_or_default();
    let code = kujira_engine::container::exec::exit_code(status, &tail);
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::silent(code))
    }
}
