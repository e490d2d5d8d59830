//! Connecting to the Docker engine the docker CLI would use (`endpoint.rs`): a unix socket, tcp
//! plain or with TLS (rustls), ssh (`ssh_dial.rs`), with an error that says which part failed
//! and what to do.

use anyhow::{anyhow, bail, Result};
use bollard::{ClientVersion, Docker};

use super::endpoint::Endpoint;
use super::ssh_dial::{self, Dialer};
use crate::ui::Ui;

/// A client that answered ping and the ssh dialer behind it (kept alive with it). With `api`
/// (remembered of this endpoint) the client speaks that API version; without, it asks the
/// engine's version and speaks the highest both know.
pub async fn connect(
    ui: Ui,
    ep: &Endpoint,
    api: Option<&ClientVersion>,
) -> Result<(Docker, Option<Dialer>)> {
    let negotiate = api.is_none();
    let version = api.unwrap_or(bollard::API_DEFAULT_VERSION);
    let t = std::time::Instant::now();
    let host = ep.host.as_str();
    let scheme = host.split_once("://").map(|(s, _)| s).unwrap_or("");
    let advice = match scheme {
        "unix" | "npipe" => {
            "start the daemon (e.g. `sudo systemctl start docker`) or point DOCKER_HOST / DOCKER_CONTEXT at one that runs"
        }
        "ssh" => "check `ssh` to that host works without a password prompt and `docker` runs there",
        _ => "check the engine runs and listens there, and that its address and port are right",
    };
    let unreachable = |e: String| {
        let advice = if e.starts_with("TLS:") {
            "fix the TLS files (DOCKER_CERT_PATH, or the context's) or ask for the engine's CA and a client certificate it trusts"
        } else if e.contains("HTTP request to an HTTPS server") {
            "the engine speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to its CA and your client certificate"
        } else {
            advice
        };
        anyhow!(
            "cannot reach the Docker daemon at {host} ({}): {}; {advice}",
            ep.from,
            e.trim()
        )
    };
    let mut dialer = None;
    let docker = match (scheme, &ep.tls) {
        ("unix", _) => Docker::connect_with_unix(host, 120, version),
        ("tcp" | "http", None) => Docker::connect_with_http(host, 120, version),
        ("tcp" | "https", Some(tls)) => {
            if !tls.verify {
                bail!(
                    "{host} ({}): TLS without checking the engine's certificate (DOCKER_TLS, \
                     SkipTLSVerify) is not supported; give its CA as {} and set DOCKER_TLS_VERIFY=1",
                    ep.from,
                    tls.file("ca.pem").display()
                );
            }
            for f in ["ca.pem", "cert.pem", "key.pem"] {
                let path = tls.file(f);
                if !path.is_file() {
                    bail!(
                        "TLS for {host} ({}): {} is missing; the docker CLI reads ca.pem, cert.pem \
                         and key.pem from DOCKER_CERT_PATH (or the context's TLS directory)",
                        ep.from,
                        path.display()
                    );
                }
            }
            Ok(super::tls_client::connect(host, tls)
                .map_err(|e| unreachable(tls_reason(&format!("{e:#}"), ep)))?)
        }
        ("https", None) => bail!(
            "{host} ({}): an https endpoint needs TLS files: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH",
            ep.from
        ),
        ("ssh", _) => {
            let d = ssh_dial::start(host)?;
            let docker = super::unix_pool::connect(d.socket.clone());
            dialer = Some(d);
            docker.map_err(|e| bollard::errors::Error::IOError {
                err: std::io::Error::other(e.to_string()),
            })
        }
        _ => bail!(
            "the Docker endpoint {host} ({}) has a scheme this tool does not know: use unix://, tcp://, or ssh://",
            ep.from
        ),
    }
    .map_err(|e| unreachable(tls_reason(&e.to_string(), ep)))?;
    if let Err(e) = docker.ping().await {
        if scheme == "ssh" {
            // ssh's stderr reaches the dialer as ssh exits: give it a moment.
            for _ in 0..20 {
                if dialer.as_ref().and_then(Dialer::last_error).is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let why = match (scheme, dialer.as_ref().and_then(Dialer::last_error)) {
            ("ssh", Some(ssh)) if ssh.starts_with("ssh:") => ssh,
            ("ssh", Some(ssh)) => format!("ssh: {ssh}"),
            _ => tls_reason(&chain(&e), ep),
        };
        return Err(unreachable(why));
    }
    if !negotiate {
        ui.api(&format!("connect {host} (ping)"), t.elapsed());
        return Ok((docker, dialer));
    }
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| anyhow!("the Docker engine at {host} did not answer its version: {e}"))?;
    ui.api(&format!("connect {host} (ping, version)"), t.elapsed());
    Ok((docker, dialer))
}

/// An error with its causes (hyper hides the TLS reason two levels down).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// A TLS failure said in terms of the files and the check: rustls's words are terse.
fn tls_reason(err: &str, ep: &Endpoint) -> String {
    let Some(tls) = &ep.tls else {
        return err.to_string();
    };
    let ca = tls.file("ca.pem");
    let cert = tls.file("cert.pem");
    let why = if err.contains("UnknownIssuer") || err.contains("BadSignature") {
        format!("the engine's certificate is not signed by {}", ca.display())
    } else if err.contains("NotValidForName") {
        format!(
            "the engine's certificate does not name the host of {} (its subjectAltName)",
            ep.host
        )
    } else if err.contains("Expired") || err.contains("NotValidYet") {
        "the engine's certificate is out of its validity dates".to_string()
    } else if err.contains("CertificateRequired")
        || err.contains("BadCertificate")
        || err.contains("UnknownCA")
    {
        format!(
            "the engine refused this client's certificate {} (not signed by the CA it trusts)",
            cert.display()
        )
    } else if err.contains("CertPath") || err.contains("CertParse") {
        format!("cannot read the TLS files in {}", tls.dir.display())
    } else {
        return err.to_string();
    };
    format!("TLS: {why} ({err})")
}
