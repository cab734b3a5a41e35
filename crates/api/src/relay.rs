//! Copying between a hijacked client and a process's streams: output framed (or raw
//! for a terminal), input scanned for the detach keys.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::hijack::{self, DetachScanner};

/// Where output comes from: the monitor's framed socket, or one raw pipe.
pub enum Source {
    Framed(Box<dyn AsyncRead + Unpin + Send>),
    Raw(u8, Box<dyn AsyncRead + Unpin + Send>),
}

/// Where the client's input goes.
pub type Input = Box<dyn AsyncWrite + Unpin + Send>;

/// Which of the streams the client asked for.
#[derive(Clone, Copy)]
pub struct Wanted {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Reads one chunk: `(stream, data)`, or `None` at the end.
async fn next_chunk(src: &mut Source) -> Option<(u8, Vec<u8>)> {
    match src {
        Source::Framed(r) => {
            let mut head = [0u8; 8];
            r.read_exact(&mut head).await.ok()?;
            let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
            let mut data = vec![0u8; len];
            r.read_exact(&mut data).await.ok()?;
            Some((head[0], data))
        }
        Source::Raw(stream, r) => {
            let mut buf = vec![0u8; 32 * 1024];
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((*stream, buf))
                }
            }
        }
    }
}

/// Copies the process's output to the client until it ends, and the client's
/// input (when asked) to the process until it ends or the detach keys come.
/// `finished`, when given, is awaited after the output ends and before the client
/// is let go (an exec's exit code must be known when its client asks for it).
pub async fn relay<Io>(
    io: Io,
    input: Option<Input>,
    mut sources: Vec<Source>,
    tty: bool,
    wanted: Wanted,
    keys: Vec<u8>,
    finished: Option<tokio::sync::oneshot::Receiver<()>>,
) where
    Io: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut crd, mut cwr) = tokio::io::split(io);
    let (detach_tx, detach_rx) = tokio::sync::oneshot::channel::<()>();
    let input_task = input.map(|mut to| {
        tokio::spawn(async move {
            let mut scan = DetachScanner::new(keys);
            let mut buf = vec![0u8; 8192];
            loop {
                match crd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (pass, detach) = scan.feed(&buf[..n]);
                        if !pass.is_empty() && to.write_all(&pass).await.is_err() {
                            break;
                        }
                        if detach {
                            let _ = detach_tx.send(());
                            return;
                        }
                    }
                }
            }
            // The client's end of input is the container's.
            let _ = to.shutdown().await;
        })
    });
    let output = async {
        let mut live: Vec<bool> = sources.iter().map(|_| true).collect();
        while live.iter().any(|l| *l) {
            let chunk = {
                let futs = sources
                    .iter_mut()
                    .zip(live.iter())
                    .enumerate()
                    .filter(|(_, (_, l))| **l)
                    .map(|(i, (s, _))| Box::pin(async move { (i, next_chunk(s).await) }));
                futures_util::future::select_all(futs).await.0
            };
            match chunk {
                (i, None) => live[i] = false,
                (_, Some((stream, data))) => {
                    let keep = if stream == 2 {
                        wanted.stderr
                    } else {
                        wanted.stdout
                    };
                    if !keep {
                        continue;
                    }
                    let bytes = if tty {
                        data
                    } else {
                        hijack::frame(stream, &data)
                    };
                    if cwr.write_all(&bytes).await.is_err() || cwr.flush().await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    // A dropped sender (no input, or input ended) is no detach.
    let detached = async {
        if detach_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let ended = tokio::select! {
        _ = output => true,
        _ = detached => false,
    };
    if let (true, Some(f)) = (ended, finished) {
        let _ = f.await;
    }
    let _ = cwr.shutdown().await;
    if let Some(t) = input_task {
        t.abort();
    }
}
