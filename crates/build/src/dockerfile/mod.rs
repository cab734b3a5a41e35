//! A Dockerfile as the builder reads it: parser directives, the global `ARG`s, and
//! stages of instructions, each with the line it starts on (for BuildKit-style error
//! messages). Parsing (with heredocs and spans) is the `parse-dockerfile` crate's;
//! variable expansion happens later, per stage, in [`expand`].

pub mod expand;

use parse_dockerfile as pd;

use crate::BuildError;

/// The exec form (`["a", "b"]`) or the shell form (`a b`) of RUN, CMD, ENTRYPOINT.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandForm {
    Exec(Vec<String>),
    Shell(String),
}

/// A `COPY`/`ADD` source.
#[derive(Debug, Clone)]
pub enum Source {
    Path(String),
    HereDoc { content: String, expand: bool },
}

/// A heredoc attached to `RUN`.
#[derive(Debug, Clone)]
pub struct HereDoc {
    pub content: String,
    pub expand: bool,
}

/// One instruction, its arguments as written (not yet expanded).
#[derive(Debug, Clone)]
pub enum Inst {
    Arg(Vec<String>),
    Run {
        flags: Vec<(String, String)>,
        cmd: CommandForm,
        heredocs: Vec<HereDoc>,
    },
    Copy {
        add: bool,
        flags: Vec<(String, String)>,
        srcs: Vec<Source>,
        dest: String,
    },
    Env(String),
    Label(String),
    Cmd(CommandForm),
    Entrypoint(CommandForm),
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Shell(Vec<String>),
    Stopsignal(String),
    Healthcheck {
        flags: Vec<(String, String)>,
        cmd: Option<CommandForm>,
    },
    Onbuild(String),
    Maintainer(String),
}

/// An instruction and where it is.
#[derive(Debug, Clone)]
pub struct Located {
    /// 1-based line of its keyword.
    pub line: usize,
    /// 1-based last line.
    pub end_line: usize,
    pub inst: Inst,
}

/// `FROM [--platform=P] IMAGE [AS NAME]`.
#[derive(Debug, Clone)]
pub struct From {
    pub image: String,
    pub platform: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    /// The `AS` name, lowercased as BuildKit compares them.
    pub name: Option<String>,
    pub from: From,
    pub steps: Vec<Located>,
}

impl Stage {
    /// How BuildKit's progress names the stage: its `AS` name, else `stage-N`.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub escape: char,
    pub global_args: Vec<Located>,
    pub stages: Vec<Stage>,
    /// The source, for the excerpt an error shows.
    pub text: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn flags(list: &[pd::Flag<'_>]) -> Vec<(String, String)> {
    list.iter()
        .map(|f| {
            (
                f.name.value.to_string(),
                f.value
                    .as_ref()
                    .map(|v| v.value.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// BuildKit hands the shell form to the shell with its line continuations removed
/// (the escape character and the newline; the next line's indentation stays).
fn join_continuations(s: &str, escape: char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == escape {
            // `\` + optional spaces + newline is a continuation.
            let mut look = chars.clone();
            let mut spaces = 0;
            while matches!(look.peek(), Some(' ' | '\t')) {
                look.next();
                spaces += 1;
            }
            match look.peek() {
                Some('\n') => {
                    for _ in 0..=spaces {
                        chars.next();
                    }
                    continue;
                }
                Some('\r') => {
                    for _ in 0..=spaces + 1 {
                        chars.next();
                    }
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    // Comment lines inside a continued instruction are dropped, as the parser does.
    out.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn command(c: &pd::Command<'_>, escape: char) -> CommandForm {
    match c {
        pd::Command::Exec(v) => {
            CommandForm::Exec(v.value.iter().map(|s| s.value.to_string()).collect())
        }
        pd::Command::Shell(s) => CommandForm::Shell(join_continuations(s.value, escape)),
        _ => CommandForm::Shell(String::new()),
    }
}

fn keyword_start(i: &pd::Instruction<'_>) -> usize {
    use pd::Instruction as I;
    match i {
        I::Add(x) => x.add.span.start,
        I::Arg(x) => x.arg.span.start,
        I::Cmd(x) => x.cmd.span.start,
        I::Copy(x) => x.copy.span.start,
        I::Entrypoint(x) => x.entrypoint.span.start,
        I::Env(x) => x.env.span.start,
        I::Expose(x) => x.expose.span.start,
        I::From(x) => x.from.span.start,
        I::Healthcheck(x) => x.healthcheck.span.start,
        I::Label(x) => x.label.span.start,
        I::Maintainer(x) => x.maintainer.span.start,
        I::Onbuild(x) => x.onbuild.span.start,
        I::Run(x) => x.run.span.start,
        I::Shell(x) => x.shell.span.start,
        I::Stopsignal(x) => x.stopsignal.span.start,
        I::User(x) => x.user.span.start,
        I::Volume(x) => x.volume.span.start,
        I::Workdir(x) => x.workdir.span.start,
        _ => 0,
    }
}

fn sources(list: &[pd::Source<'_>]) -> Vec<Source> {
    list.iter()
        .map(|s| match s {
            pd::Source::Path(p) => Source::Path(p.value.to_string()),
            pd::Source::HereDoc(h) => Source::HereDoc {
                content: h.value.to_string(),
                expand: h.expand,
            },
            _ => Source::Path(String::new()),
        })
        .collect()
}

fn convert(i: &pd::Instruction<'_>, text: &str, escape: char) -> Result<Inst, String> {
    use pd::Instruction as I;
    Ok(match i {
        I::Arg(a) => Inst::Arg(vec![a.arguments.value.to_string()]),
        I::Run(r) => Inst::Run {
            flags: flags(&r.options),
            cmd: command(&r.arguments, escape),
            heredocs: r
                .here_docs
                .iter()
                .map(|h| HereDoc {
                    content: h.value.to_string(),
                    expand: h.expand,
                })
                .collect(),
        },
        I::Copy(c) => Inst::Copy {
            add: false,
            flags: flags(&c.options),
            srcs: sources(&c.src),
            dest: c.dest.value.to_string(),
        },
        I::Add(c) => Inst::Copy {
            add: true,
            flags: flags(&c.options),
            srcs: sources(&c.src),
            dest: c.dest.value.to_string(),
        },
        I::Env(e) => Inst::Env(join_continuations(&e.arguments.value, escape)),
        I::Label(l) => Inst::Label(join_continuations(&l.arguments.value, escape)),
        I::Cmd(c) => Inst::Cmd(command(&c.arguments, escape)),
        I::Entrypoint(c) => Inst::Entrypoint(command(&c.arguments, escape)),
        I::Expose(e) => Inst::Expose(e.arguments.iter().map(|s| s.value.to_string()).collect()),
        I::Volume(v) => Inst::Volume(match &v.arguments {
            pd::JsonOrStringArray::Json(j) => j.value.iter().map(|s| s.value.to_string()).collect(),
            pd::JsonOrStringArray::String(s) => s.iter().map(|s| s.value.to_string()).collect(),
        }),
        I::User(u) => Inst::User(u.arguments.value.to_string()),
        I::Workdir(w) => Inst::Workdir(w.arguments.value.to_string()),
        I::Shell(s) => Inst::Shell(s.arguments.iter().map(|s| s.value.to_string()).collect()),
        I::Stopsignal(s) => Inst::Stopsignal(s.arguments.value.to_string()),
        I::Healthcheck(h) => Inst::Healthcheck {
            flags: flags(&h.options),
            cmd: match &h.arguments {
                pd::HealthcheckArguments::Cmd { arguments, .. } => Some(command(arguments, escape)),
                _ => None,
            },
        },
        I::Onbuild(o) => {
            // The trigger as written: the rest of the ONBUILD line(s).
            let start = keyword_start(&o.instruction);
            let rest = &text[start.min(text.len())..];
            let end = rest.find('\n').unwrap_or(rest.len());
            Inst::Onbuild(rest[..end].trim().to_string())
        }
        I::Maintainer(m) => Inst::Maintainer(m.name.value.to_string()),
        I::From(_) => return Err("FROM in the wrong place".into()),
        _ => return Err("unsupported instruction".into()),
    })
}

/// Parses a Dockerfile; errors name the line and column.
pub fn parse(text: &str) -> Result<Dockerfile, BuildError> {
    let moved = move_heredoc_markers(text);
    let parsed = pd::parse(&moved).map_err(|e| BuildError::Parse {
        line: e.line(),
        column: e.column(),
        message: first_line(&e.to_string()),
    })?;
    let escape = parsed
        .parser_directives
        .escape
        .as_ref()
        .map(|d| d.value.value)
        .unwrap_or('\\');
    let mut out = Dockerfile {
        escape,
        global_args: Vec::new(),
        stages: Vec::new(),
        text: text.to_string(),
    };
    let starts: Vec<usize> = parsed.instructions.iter().map(keyword_start).collect();
    for (n, i) in parsed.instructions.iter().enumerate() {
        let line = line_of(&moved, starts[n]);
        let end_line = starts
            .get(n + 1)
            .map(|s| line_of(&moved, *s).saturating_sub(1).max(line))
            .unwrap_or_else(|| line_of(&moved, moved.trim_end().len()));
        if let pd::Instruction::From(f) = i {
            let platform = f
                .options
                .iter()
                .find(|o| o.name.value == "platform")
                .and_then(|o| o.value.as_ref().map(|v| v.value.to_string()));
            out.stages.push(Stage {
                index: out.stages.len(),
                name: f.as_.as_ref().map(|(_, n)| n.value.to_lowercase()),
                from: From {
                    image: f.image.value.to_string(),
                    platform,
                    line,
                },
                steps: Vec::new(),
            });
            continue;
        }
        let inst = convert(i, &moved, escape).map_err(|message| BuildError::Parse {
            line,
            column: 1,
            message,
        })?;
        let located = Located {
            line,
            end_line,
            inst,
        };
        match out.stages.last_mut() {
            Some(s) => s.steps.push(located),
            None if matches!(located.inst, Inst::Arg(_)) => out.global_args.push(located),
            None => {
                return Err(BuildError::Parse {
                    line,
                    column: 1,
                    message: "no build stage in current context".into(),
                })
            }
        }
    }
    if out.stages.is_empty() {
        return Err(BuildError::Parse {
            line: 1,
            column: 1,
            message: "the Dockerfile (Dockerfile) cannot be empty".into(),
        });
    }
    Ok(out)
}

/// Where a moved heredoc marker stood in a `RUN` command (a private-use character
/// no Dockerfile holds): the executor puts the heredoc back there.
pub const HEREDOC_MARK: char = '\u{E000}';

/// The parser takes a heredoc only where it opens the command (`RUN <<EOF cmd`);
/// Dockerfiles put it anywhere (`RUN cat <<EOF > /f`). A single-line `RUN` with one
/// marker later on is rewritten to open with it, its place kept as
/// [`HEREDOC_MARK`]; lines (and so line numbers) stay as they were.
fn move_heredoc_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        out.push_str(&move_marker(line).unwrap_or_else(|| line.to_string()));
    }
    out
}

fn move_marker(line: &str) -> Option<String> {
    let body = line.trim_end_matches(['\n', '\r']);
    let ending = &line[body.len()..];
    let indent = body.len() - body.trim_start().len();
    let rest = body.trim_start();
    if rest.len() < 4
        || !rest[..3].eq_ignore_ascii_case("RUN")
        || !rest[3..].starts_with([' ', '\t'])
    {
        return None;
    }
    let mut cmd = rest[3..].trim_start();
    let mut flags = String::new();
    while let Some(f) = cmd.strip_prefix("--") {
        let end = f.find([' ', '\t']).unwrap_or(f.len());
        flags.push_str(&cmd[..end + 2]);
        flags.push(' ');
        cmd = f[end..].trim_start();
    }
    if cmd.starts_with("<<") || cmd.starts_with('[') || body.ends_with('\\') {
        return None;
    }
    // Exactly one marker, outside quotes: `<<` or `<<-`, an optionally quoted word.
    let at = cmd.find("<<")?;
    if cmd[at + 2..].contains("<<") || cmd[..at].matches(['"', '\'']).count() % 2 == 1 {
        return None;
    }
    let after = &cmd[at + 2..];
    let dash = after.starts_with('-');
    let after = after.strip_prefix('-').unwrap_or(after);
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
    let word_start = usize::from(quote.is_some());
    let word: String = after[word_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if word.is_empty() {
        return None;
    }
    let mut marker_len = 2 + usize::from(dash) + word_start + word.len();
    if let Some(q) = quote {
        if !after[word_start + word.len()..].starts_with(q) {
            return None;
        }
        marker_len += 1;
    }
    let marker = &cmd[at..at + marker_len];
    let command = format!("{}{HEREDOC_MARK}{}", &cmd[..at], &cmd[at + marker_len..]);
    Some(format!(
        "{}RUN {flags}{marker} {}{ending}",
        &body[..indent],
        command.trim()
    ))
}

/// Parses one `ONBUILD` trigger (as stored in an image config).
pub fn parse_trigger(text: &str) -> Result<Inst, BuildError> {
    // The parser wants a whole Dockerfile: the trigger goes under a stand-in FROM.
    let file = format!("FROM scratch\n{text}\n");
    let parsed = pd::parse(&file).map_err(|e| BuildError::Parse {
        line: e.line(),
        column: e.column(),
        message: first_line(&e.to_string()),
    })?;
    let i = parsed
        .instructions
        .get(1)
        .ok_or_else(|| BuildError::Parse {
            line: 1,
            column: 1,
            message: format!("empty ONBUILD trigger {text:?}"),
        })?;
    convert(i, &file, '\\').map_err(|message| BuildError::Parse {
        line: 1,
        column: 1,
        message,
    })
}

fn first_line(s: &str) -> String {
    // The crate appends " at line N column M"; the caller formats position itself.
    let s = s.lines().next().unwrap_or_default();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_lines_and_continuations() {
        let df = parse(
            "ARG B=busybox\nFROM $B AS Build\nRUN echo a \\\n  && echo b\nFROM scratch\nCOPY --from=build /a /b\n",
        )
        .unwrap();
        assert_eq!(df.global_args.len(), 1);
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        let run = &df.stages[0].steps[0];
        assert_eq!((run.line, run.end_line), (3, 4));
        match &run.inst {
            Inst::Run { cmd, .. } => {
                assert_eq!(cmd, &CommandForm::Shell("echo a   && echo b".into()))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(df.stages[1].display_name(), "stage-1");
    }

    #[test]
    fn errors_name_the_line() {
        match parse("FROM busybox\nBOGUS x\n") {
            Err(BuildError::Parse { line, message, .. }) => {
                assert_eq!(line, 2);
                assert!(message.contains("BOGUS"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("RUN true\n"),
            Err(BuildError::Parse { line: 1, .. })
        ));
    }

    #[test]
    fn a_heredoc_after_the_command_keeps_its_place() {
        let df = parse("FROM x\nRUN cat <<EOF | sh > /out\necho hi\nEOF\nRUN true\n").unwrap();
        match &df.stages[0].steps[0].inst {
            Inst::Run {
                cmd: CommandForm::Shell(cmd),
                heredocs,
                ..
            } => {
                assert_eq!(cmd.trim(), format!("cat {HEREDOC_MARK} | sh > /out"));
                assert_eq!(heredocs[0].content, "echo hi\n");
            }
            other => panic!("{other:?}"),
        }
        // Line numbers are the file's.
        assert_eq!(df.stages[0].steps[1].line, 5);
        assert!(df.text.contains("RUN cat <<EOF | sh"));
        assert_eq!(
            move_marker("RUN --mount=type=cache,target=/c cat <<'X' >f\n").unwrap(),
            format!("RUN --mount=type=cache,target=/c <<'X' cat {HEREDOC_MARK} >f\n")
        );
        assert!(move_marker("RUN echo '<<EOF'\n").is_none());
    }

    #[test]
    fn heredocs_and_onbuild() {
        let df = parse("FROM x\nRUN <<EOT\necho hi\nEOT\nONBUILD RUN echo trig\n").unwrap();
        match &df.stages[0].steps[0].inst {
            Inst::Run { heredocs, .. } => assert_eq!(heredocs[0].content, "echo hi\n"),
            other => panic!("{other:?}"),
        }
        match &df.stages[0].steps[1].inst {
            Inst::Onbuild(t) => assert_eq!(t, "RUN echo trig"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_trigger("RUN echo trig"),
            Ok(Inst::Run { .. })
        ));
    }
}
