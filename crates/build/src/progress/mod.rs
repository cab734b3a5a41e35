//! What a build reports as it goes, and BuildKit's renderings of it: plain (what
//! `docker build --progress=plain` prints) and the live terminal view. The API
//! server renders the same events as the legacy builder's JSON stream.

mod tty;

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

/// One thing that happened. `vertex` numbers BuildKit's `#N` lines.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A vertex began: `name` as BuildKit shows it (`[2/4] RUN make`).
    Start {
        vertex: usize,
        name: &'a str,
    },
    /// A status line of a vertex (`transferring context: 2.1kB done`).
    Status {
        vertex: usize,
        text: &'a str,
    },
    /// Output of a `RUN` step.
    Output {
        vertex: usize,
        data: &'a [u8],
    },
    Cached {
        vertex: usize,
    },
    Done {
        vertex: usize,
        seconds: f64,
    },
    Error {
        vertex: usize,
        message: &'a str,
    },
    /// Every instruction in order, as the legacy builder numbers them
    /// (`Step 2/5 : RUN make`).
    Step {
        step: usize,
        total: usize,
        text: &'a str,
    },
    /// A step's result ID (the legacy builder's ` ---> 1a2b3c4d5e6f`).
    StepResult {
        id: &'a str,
        cached: bool,
    },
}

pub use tty::Tty;

/// Where events go.
pub trait Progress: Sync {
    fn event(&self, e: Event<'_>);

    /// A rendering that numbers steps in one sequence (the legacy builder's
    /// `Step N/M`) reads wrong when stages interleave: it asks for one stage at a
    /// time.
    fn sequential(&self) -> bool {
        false
    }
}

/// Discards everything (`-q`).
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: Event<'_>) {}
}

/// BuildKit's plain progress: `#N name`, output lines with their time since the
/// vertex began, `#N DONE 0.3s` / `#N CACHED`, a blank line between vertices.
/// The writer, when each vertex started, and the vertex written last.
type PlainState<W> = (W, Vec<(usize, Instant)>, Option<usize>);

pub struct Plain<W: Write + Send> {
    out: Mutex<PlainState<W>>,
    start: Instant,
}

impl<W: Write + Send> Plain<W> {
    pub fn new(out: W) -> Plain<W> {
        Plain {
            out: Mutex::new((out, Vec::new(), None)),
            start: Instant::now(),
        }
    }

    /// The elapsed time BuildKit prints before a step's output.
    fn since(&self, started: Option<Instant>) -> f64 {
        started.unwrap_or(self.start).elapsed().as_secs_f64()
    }
}

impl<W: Write + Send> Progress for Plain<W> {
    fn event(&self, e: Event<'_>) {
        let Ok(mut g) = self.out.lock() else {
            return;
        };
        let (out, started, last) = &mut *g;
        let started_at =
            |v: usize, s: &Vec<(usize, Instant)>| s.iter().find(|(n, _)| *n == v).map(|(_, t)| *t);
        // A vertex interrupted by another one is introduced again, as BuildKit does.
        let header = |out: &mut W, v: usize, last: &mut Option<usize>| {
            if *last != Some(v) {
                if last.is_some() {
                    let _ = writeln!(out);
                }
                *last = Some(v);
                true
            } else {
                false
            }
        };
        match e {
            Event::Start { vertex, name } => {
                started.push((vertex, Instant::now()));
                header(out, vertex, last);
                let _ = writeln!(out, "#{vertex} {name}");
            }
            Event::Status { vertex, text } => {
                header(out, vertex, last);
                let _ = writeln!(out, "#{vertex} {text}");
            }
            Event::Output { vertex, data } => {
                header(out, vertex, last);
                let t = self.since(started_at(vertex, started));
                let text = String::from_utf8_lossy(data);
                for line in text.split_inclusive('\n') {
                    let _ = writeln!(out, "#{vertex} {t:.3} {}", line.trim_end_matches('\n'));
                }
            }
            Event::Cached { vertex } => {
                header(out, vertex, last);
                let _ = writeln!(out, "#{vertex} CACHED");
            }
            Event::Done { vertex, seconds } => {
                header(out, vertex, last);
                let _ = writeln!(out, "#{vertex} DONE {seconds:.1}s");
            }
            Event::Error { vertex, message } => {
                header(out, vertex, last);
                let _ = writeln!(out, "#{vertex} ERROR: {message}");
            }
            Event::Step { .. } | Event::StepResult { .. } => {}
        }
        let _ = out.flush();
    }
}
