//! Loopback servers with switchable misbehaviour, and monitor specs written as TOML.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use candor_core::monitor::{MonitorSpec, MonitorsFile, validate_monitors};
use candor_probe::{ProbeOptions, Prober, Sample};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// How the test HTTP server answers a path.
#[derive(Clone)]
pub enum Reply {
    /// Status, extra headers, body.
    Full(u16, Vec<(String, String)>, String),
    /// Accept the request and never answer.
    Hang,
    /// Answer 200 and stream bytes forever.
    Forever,
    /// Answer 200 with a declared length, then one byte every 200 ms.
    Trickle,
    /// Wait, then answer.
    After(Duration, Box<Reply>),
}

pub fn ok(body: &str) -> Reply {
    Reply::Full(200, vec![], body.to_owned())
}

pub fn redirect(status: u16, location: &str) -> Reply {
    Reply::Full(
        status,
        vec![("Location".into(), location.into())],
        String::new(),
    )
}

/// A loopback HTTP/1.1 server; counts the requests it received.
pub struct HttpServer {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
}

impl HttpServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub async fn http_server(
    ip: &str,
    route: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> HttpServer {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let route = Arc::new(route);
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let route = Arc::clone(&route);
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let _ = serve(stream, route, counter).await;
            });
        }
    });
    HttpServer { addr, hits }
}

async fn serve(
    mut stream: TcpStream,
    route: Arc<impl Fn(&str) -> Reply>,
    hits: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        // Read one request head.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end);
        hits.fetch_add(1, Ordering::SeqCst);
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut reply = route(&path);
        while let Reply::After(delay, inner) = reply {
            tokio::time::sleep(delay).await;
            reply = *inner;
        }
        match reply {
            Reply::Full(status, headers, body) => {
                let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (n, v) in headers {
                    out.push_str(&format!("{n}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&body);
                stream.write_all(out.as_bytes()).await?;
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            Reply::Forever => {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                    .await?;
                let chunk = vec![b'x'; 64 * 1024];
                loop {
                    stream.write_all(&chunk).await?;
                }
            }
            Reply::Trickle => {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                    .await?;
                loop {
                    stream.write_all(b"x").await?;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            Reply::After(..) => unreachable!(),
        }
    }
}

/// A port on 127.0.0.1 where nothing listens.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// How the test DNS server answers.
#[derive(Clone)]
pub enum DnsReply {
    /// This response code, no answers.
    Rcode(u8),
    /// NOERROR with these IPv4 answers.
    A(Vec<[u8; 4]>),
    /// Never answer.
    Silent,
}

/// A UDP DNS responder on 127.0.0.1.
pub async fn dns_server(reply: DnsReply) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let query = &buf[..n];
            let (rcode, answers) = match &reply {
                DnsReply::Silent => continue,
                DnsReply::Rcode(r) => (*r, vec![]),
                DnsReply::A(ips) => (0, ips.clone()),
            };
            let mut out = query.to_vec();
            out[2] = 0x81;
            out[3] = 0x80 | rcode;
            out[7] = answers.len() as u8;
            for ip in answers {
                out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                out.extend_from_slice(&ip);
            }
            let _ = socket.send_to(&out, from).await;
        }
    });
    addr
}

/// A CA, and a TLS server on 127.0.0.1 with a certificate for `names` valid until `not_after`.
pub struct TlsServer {
    pub addr: SocketAddr,
    pub roots: rustls::RootCertStore,
}

static CA_SERIAL: AtomicUsize = AtomicUsize::new(0);

pub async fn tls_server(names: &[&str], not_after: OffsetDateTime) -> TlsServer {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!(
            "Candor probe test CA {}",
            CA_SERIAL.fetch_add(1, Ordering::SeqCst)
        ),
    );
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.not_before = not_after - time::Duration::days(400);
    params.not_after = not_after;
    let cert = params.signed_by(&key, &ca).unwrap();
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut buf = [0u8; 1024];
                    let _ = tls.read(&mut buf).await;
                }
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der().to_vec())).unwrap();
    TlsServer { addr, roots }
}

/// Validated specs from `[[monitors]]` TOML.
pub fn specs(text: &str) -> Vec<MonitorSpec> {
    let file: MonitorsFile = toml::from_str(text).unwrap();
    validate_monitors(&file.monitors, text, Path::new("candor.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One validated spec; `body` is the inside of a `[[monitors]]` table.
pub fn spec(body: &str) -> MonitorSpec {
    specs(&format!("[[monitors]]\nid = \"m\"\n{body}\n")).remove(0)
}

pub fn prober() -> Prober {
    Prober::new(ProbeOptions::default()).unwrap()
}

pub async fn probe(spec: &MonitorSpec) -> Sample {
    prober().probe(spec, OffsetDateTime::now_utc()).await
}
