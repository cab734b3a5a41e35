//! BuildKit's live view on a terminal: a header with the elapsed time and how many
//! steps are done, one line per step (`=> [2/4] RUN make  1.3s`, `=> CACHED …`),
//! and the last lines of output of the steps still running; redrawn in place.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Event, Progress};

/// Output lines of a running step kept on screen.
const TAIL: usize = 6;

struct Vertex {
    id: usize,
    name: String,
    started: Instant,
    finished: Option<Duration>,
    cached: bool,
    error: bool,
    tail: Vec<String>,
}

struct State<W> {
    out: W,
    vertices: Vec<Vertex>,
    drawn: usize,
    last_draw: Option<Instant>,
}

/// The live view; call [`Tty::finish`] at the end for the final frame.
pub struct Tty<W: Write + Send> {
    state: Mutex<State<W>>,
    start: Instant,
    width: usize,
}

impl<W: Write + Send> Tty<W> {
    pub fn new(out: W, width: usize) -> Tty<W> {
        Tty {
            state: Mutex::new(State {
                out,
                vertices: Vec::new(),
                drawn: 0,
                last_draw: None,
            }),
            start: Instant::now(),
            width: width.max(40),
        }
    }

    fn draw(&self, st: &mut State<W>, force: bool) {
        // At most 20 frames a second: a chatty RUN must not cost more than it prints.
        if !force
            && st
                .last_draw
                .is_some_and(|t| t.elapsed() < Duration::from_millis(50))
        {
            return;
        }
        st.last_draw = Some(Instant::now());
        let done = st.vertices.iter().filter(|v| v.finished.is_some()).count();
        let clip = |s: &str, w: usize| s.chars().take(w).collect::<String>();
        let mut lines = vec![format!(
            "[+] Building {:.1}s ({}/{}){}",
            self.start.elapsed().as_secs_f64(),
            done,
            st.vertices.len(),
            if force { " FINISHED" } else { "" }
        )];
        for v in &st.vertices {
            let time = v.finished.unwrap_or_else(|| v.started.elapsed());
            let mark = if v.error {
                "=> ERROR "
            } else if v.cached {
                "=> CACHED "
            } else {
                "=> "
            };
            let t = format!("{:.1}s", time.as_secs_f64());
            let name = clip(
                &format!(" {mark}{}", v.name),
                self.width.saturating_sub(t.len() + 1),
            );
            let pad = self.width.saturating_sub(name.chars().count() + t.len());
            lines.push(format!("{name}{}{t}", " ".repeat(pad)));
            if v.finished.is_none() || v.error {
                for l in &v.tail {
                    lines.push(clip(&format!(" => => # {l}"), self.width));
                }
            }
        }
        let mut frame = String::new();
        if st.drawn > 0 {
            frame.push_str(&format!("\x1b[{}A", st.drawn));
        }
        for l in &lines {
            frame.push_str("\x1b[2K");
            frame.push_str(l);
            frame.push('\n');
        }
        // Lines of a longer previous frame are cleared.
        for _ in lines.len()..st.drawn {
            frame.push_str("\x1b[2K\n");
        }
        let extra = st.drawn.saturating_sub(lines.len());
        if extra > 0 {
            frame.push_str(&format!("\x1b[{extra}A"));
        }
        st.drawn = lines.len();
        let _ = st.out.write_all(frame.as_bytes());
        let _ = st.out.flush();
    }

    /// Redraws now: the caller's clock (every 100 ms or so) keeps the times moving
    /// and shows output that arrived between throttled frames.
    pub fn tick(&self) {
        if let Ok(mut st) = self.state.lock() {
            if !st.vertices.is_empty() {
                self.draw(&mut st, false);
            }
        }
    }

    /// The last frame, with every step's final state.
    pub fn finish(&self) {
        if let Ok(mut st) = self.state.lock() {
            self.draw(&mut st, true);
        }
    }
}

impl<W: Write + Send> Progress for Tty<W> {
    fn event(&self, e: Event<'_>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let find = |st: &mut State<W>, id: usize| st.vertices.iter_mut().position(|v| v.id == id);
        match e {
            Event::Start { vertex, name } => st.vertices.push(Vertex {
                id: vertex,
                name: name.to_string(),
                started: Instant::now(),
                finished: None,
                cached: false,
                error: false,
                tail: Vec::new(),
            }),
            Event::Output { vertex, data } => {
                if let Some(i) = find(&mut st, vertex) {
                    let v = &mut st.vertices[i];
                    for l in String::from_utf8_lossy(data).lines() {
                        v.tail.push(l.to_string());
                    }
                    let n = v.tail.len();
                    if n > TAIL {
                        v.tail.drain(..n - TAIL);
                    }
                }
            }
            Event::Cached { vertex } | Event::Done { vertex, .. } | Event::Error { vertex, .. } => {
                if let Some(i) = find(&mut st, vertex) {
                    let v = &mut st.vertices[i];
                    v.finished = Some(v.started.elapsed());
                    v.cached = matches!(e, Event::Cached { .. });
                    v.error = matches!(e, Event::Error { .. });
                }
            }
            Event::Status { .. } | Event::Step { .. } | Event::StepResult { .. } => return,
        }
        self.draw(&mut st, false);
    }
}
