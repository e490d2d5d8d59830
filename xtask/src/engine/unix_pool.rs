//! A client over a unix socket that keeps its connections, for the ssh dialer's socket: bollard's
//! own unix client keeps none (`pool_max_idle_per_host(0)`), so every Engine API call over ssh
//! was a new `ssh … docker system dial-stdio`, 30–40 ms each. This is hyper's pooled client with
//! a connector that opens the socket, handed to bollard as a custom transport, as `tls_client.rs`
//! does for TLS: after the first call, each one rides a connection already through ssh.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{anyhow, Result};
use bollard::{BollardRequest, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::UnixStream;

/// Opens `path` for every new connection the pool asks for.
#[derive(Clone)]
struct Connector {
    path: Arc<PathBuf>,
}

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = TokioIo<UnixStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let path = Arc::clone(&self.path);
        Box::pin(async move { UnixStream::connect(path.as_path()).await.map(TokioIo::new) })
    }
}

/// A bollard client whose requests go over `socket`, connections kept between calls.
pub fn connect(socket: PathBuf) -> Result<Docker> {
    let client = Arc::new(Client::builder(TokioExecutor::new()).build(Connector {
        path: Arc::new(socket),
    }));
    let transport = move |req: BollardRequest| {
        let client = Arc::clone(&client);
        async move {
            client
                .request(req)
                .await
                .map_err(bollard::errors::Error::from)
        }
    };
    Docker::connect_with_custom_transport(
        transport,
        Some("http://moby-xtask-ssh"),
        120,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| anyhow!("{e}"))
}
