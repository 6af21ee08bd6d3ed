//! A raw HTTP/1.1 client: one request per connection (`Connection: close`), read to EOF.

use std::io;
use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What came back.
#[derive(Debug)]
pub(crate) struct Raw {
    /// Status, or `None` when the connection closed or reset before a status line.
    pub(crate) status: Option<u16>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// The read ended with an error (a reset) rather than EOF.
    pub(crate) reset: bool,
}

impl Raw {
    pub(crate) fn status(&self) -> u16 {
        self.status
            .unwrap_or_else(|| panic!("no response: {self:?}"))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// The error envelope's `type`.
    pub(crate) fn error_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    pub(crate) fn promised_len(&self) -> Option<usize> {
        self.header("content-length").and_then(|v| v.parse().ok())
    }
}

/// Sends one request and reads until the server closes the connection.
pub(crate) async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    try_send(addr, method, target, headers, body)
        .await
        .expect("connect")
}

pub(crate) async fn try_send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Raw> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let mut reset = false;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => {
                reset = true;
                break;
            }
        }
    }
    Ok(parse(&bytes, reset))
}

fn parse(bytes: &[u8], reset: bool) -> Raw {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Raw {
            status: None,
            headers: Vec::new(),
            body: bytes.to_vec(),
            reset,
        };
    };
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok());
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
        reset,
    }
}

/// A client with a fixed `Authorization` header.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) addr: SocketAddr,
    pub(crate) auth: String,
}

impl Client {
    pub(crate) fn new(addr: SocketAddr, credential: &str) -> Self {
        Self {
            addr,
            auth: format!("Bearer {credential}"),
        }
    }

    pub(crate) async fn get(&self, target: &str) -> Raw {
        send(
            self.addr,
            "GET",
            target,
            &[("Authorization", &self.auth)],
            b"",
        )
        .await
    }

    pub(crate) async fn post(&self, target: &str, body: &str) -> Raw {
        let headers = [
            ("Authorization", self.auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        send(self.addr, "POST", target, &headers, body.as_bytes()).await
    }

    /// `POST /v2/device-requests/{device}?async-id={async_id}` with a small command.
    pub(crate) async fn command(&self, device: &str, async_id: &str) -> Raw {
        let target = format!("/v2/device-requests/{device}?async-id={async_id}");
        self.post(&target, r#"{"method":"GET","uri":"/3/0/0"}"#)
            .await
    }
}
