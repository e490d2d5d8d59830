//! A TLS client for `tcp://` engines that keeps its connections: bollard's own (`connect_with_ssl`)
//! opens a new TCP and TLS connection for every request without `TCP_NODELAY`, which costs about
//! 45 ms a call on loopback (delayed ACKs). This one is hyper's pooled client over rustls with
//! `TCP_NODELAY`, handed to bollard as a custom transport. It trusts exactly the engine's CA
//! (`ca.pem`) and presents `cert.pem` / `key.pem`, as the docker CLI does.

use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use bollard::{BollardRequest, Docker};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::engine::endpoint::Tls;

/// A client for `host` (`tcp://h:p` or `https://h:p`) with the TLS files of `tls`.
pub fn connect(host: &str, tls: &Tls) -> Result<Docker> {
    let (ca, cert, key) = (
        tls.file("ca.pem"),
        tls.file("cert.pem"),
        tls.file("key.pem"),
    );
    let certs = |path: &std::path::Path| -> Result<Vec<CertificateDer<'static>>> {
        CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| anyhow!("CertParse: cannot read {}: {e}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs(&ca)?);
    if added == 0 {
        return Err(anyhow!("CertParse: no certificate in {}", ca.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| anyhow!("CertParse: cannot read the key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs(&cert)?, key)
        .map_err(|e| {
            anyhow!(
                "CertParse: {} and its key do not go together: {e}",
                cert.display()
            )
        })?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    let client = Arc::new(Client::builder(TokioExecutor::new()).build(https));
    let addr = host
        .split_once("://")
        .map(|(_, a)| a)
        .unwrap_or(host)
        .trim_end_matches('/');
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
        Some(format!("https://{addr}")),
        120,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| anyhow!("{e}"))
}
