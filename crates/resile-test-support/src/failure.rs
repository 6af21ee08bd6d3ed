//! Real `reqwest::Error`s for transport failures (reqwest has no public
//! constructor), produced on loopback.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::OnceCell;

/// A genuine connect error: a connection to a loopback port nobody listens on.
pub async fn connect_error() -> reqwest::Error {
    // Bind and drop a listener to find a port that is (almost certainly) closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        l.local_addr().expect("local addr").port()
    };
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .expect_err("nothing listens on the port")
}

static CLOSER: OnceCell<SocketAddr> = OnceCell::const_new();

/// A genuine "connection closed before message completed" error: a loopback
/// server that accepts and closes at once.
pub async fn reset_error() -> reqwest::Error {
    let addr = CLOSER
        .get_or_init(|| async {
            let l = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind loopback");
            let addr = l.local_addr().expect("local addr");
            tokio::spawn(async move {
                while let Ok((sock, _)) = l.accept().await {
                    drop(sock);
                }
            });
            addr
        })
        .await;
    reqwest::Client::new()
        .get(format!("http://{addr}/"))
        .send()
        .await
        .expect_err("the server closes every connection")
}
