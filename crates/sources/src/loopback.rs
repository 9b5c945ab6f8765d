//! Test support: a plain HTTP/1.1 server on 127.0.0.1 whose tasks run on
//! the test's runtime, so it shares a paused (virtual) clock with the client
//! under test. Each connection carries one request; `answer` turns it into
//! a status and a JSON body.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server read it.
pub(crate) struct Request {
    pub path: String,
    pub body: String,
}

/// Serves every request with `answer`; returns the base URL.
pub(crate) async fn serve(
    answer: impl Fn(Request) -> (u16, String) + Send + Sync + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let answer = answer.clone();
            tokio::spawn(async move { reply(socket, |request| answer(request)).await });
        }
    });
    uri
}

/// Reads one request (head and `content-length` body), writes the answer
/// and closes the connection.
async fn reply(mut socket: TcpStream, answer: impl Fn(Request) -> (u16, String)) {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let request = loop {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the request ended early");
        bytes.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&bytes);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        if body.len() >= length {
            let path = head.split(' ').nth(1).unwrap_or_default().to_string();
            break Request {
                path,
                body: body.to_string(),
            };
        }
    };
    let (status, body) = answer(request);
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await.unwrap();
    socket.shutdown().await.unwrap();
}
