//! A WebSocket carried over a byte stream: each chunk read from `pipe` goes out as
//! one binary message, each message in (text or binary) is written to `pipe`. Ends
//! when the output ends or the client closes.

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

pub async fn bridge(socket: WebSocket, pipe: DuplexStream) {
    let (mut tx, mut rx) = socket.split();
    let (mut prd, mut pwr) = tokio::io::split(pipe);
    let outbound = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match prd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send(Message::Binary(buf[..n].to_vec().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Message::Close(None)).await;
    };
    let inbound = async {
        while let Some(Ok(msg)) = rx.next().await {
            let data = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            if pwr.write_all(&data).await.is_err() {
                break;
            }
        }
        // The client closed: it wants nothing more (a WebSocket has no half-close).
        let _ = pwr.shutdown().await;
    };
    tokio::select! {
        _ = outbound => {}
        _ = inbound => {}
    }
}
