//! A small ESMTP server on 127.0.0.1 for tests: EHLO/HELO, STARTTLS or implicit TLS (a CA and
//! a server certificate made with rcgen at start), AUTH PLAIN and LOGIN, MAIL/RCPT/DATA with
//! dot-unstuffing, RSET, NOOP, QUIT. It records what it accepted and can be told to misbehave.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How the server protects its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS offered.
    Plain,
    /// STARTTLS offered after EHLO.
    StartTls,
    /// TLS from the first byte.
    Tls,
}

/// A misbehaviour the server can be switched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Behave.
    None,
    /// Close every connection at once, before the greeting.
    Refuse,
    /// Answer MAIL FROM with 451 (temporary failure).
    TempFail,
    /// Close the connection after the first line of DATA.
    DropMidData,
    /// Answer AUTH with 535.
    AuthFail,
}

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as the client meant it (dot-unstuffed, without the final ".").
    pub data: Vec<u8>,
    /// Whom AUTH identified, if anyone.
    pub authenticated: Option<String>,
    /// Whether the session was encrypted.
    pub tls: bool,
}

struct State {
    security: Security,
    credentials: Option<(String, String)>,
    mechanisms: &'static str,
    fault: Mutex<Fault>,
    received: watch::Sender<Vec<Received>>,
    tls: TlsAcceptor,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    pki: Pki,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct Builder {
    security: Security,
    credentials: Option<(String, String)>,
    mechanisms: &'static str,
    pki: Option<Pki>,
}

/// A test CA and a server certificate for localhost and 127.0.0.1 signed by it, made with
/// rcgen. A server restarted with the same `Pki` is trusted by the same CA file.
#[derive(Clone)]
pub struct Pki {
    ca_pem: String,
    acceptor: TlsAcceptor,
}

impl Pki {
    pub fn new() -> Pki {
        let (ca_pem, acceptor) = test_pki();
        Pki { ca_pem, acceptor }
    }

    /// Writes the CA certificate to `dir/test-ca.pem` and returns the path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("test-ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }
}

impl SmtpServer {
    pub fn builder(security: Security) -> Builder {
        Builder {
            security,
            credentials: None,
            mechanisms: "PLAIN LOGIN",
            pki: None,
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = fault;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.borrow().clone()
    }

    /// Waits (at most 10 s) until `n` messages were accepted.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let mut rx = self.state.received.subscribe();
        match tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|r| r.len() >= n)).await {
            Ok(Ok(received)) => received.clone(),
            _ => panic!("the SMTP server did not receive {n} message(s) in 10 s"),
        }
    }

    /// Writes the CA certificate to `dir/test-ca.pem` and returns the path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        self.pki.write_ca(dir)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Builder {
    /// Requires AUTH with these credentials before MAIL.
    pub fn credentials(mut self, user: &str, password: &str) -> Builder {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Uses this CA and certificate instead of new ones.
    pub fn pki(mut self, pki: &Pki) -> Builder {
        self.pki = Some(pki.clone());
        self
    }

    /// The AUTH mechanisms advertised (default "PLAIN LOGIN").
    pub fn mechanisms(mut self, mechanisms: &'static str) -> Builder {
        self.mechanisms = mechanisms;
        self
    }

    pub async fn start(self) -> SmtpServer {
        self.start_on(0).await
    }

    pub async fn start_on(self, port: u16) -> SmtpServer {
        let pki = self.pki.unwrap_or_else(Pki::new);
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            security: self.security,
            credentials: self.credentials,
            mechanisms: self.mechanisms,
            fault: Mutex::new(Fault::None),
            received: watch::channel(Vec::new()).0,
            tls: pki.acceptor.clone(),
        });
        let task = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let _ = session(state, socket).await;
                    });
                }
            }
        });
        SmtpServer {
            addr,
            pki,
            state,
            task,
        }
    }
}

/// A CA and a server certificate for localhost and 127.0.0.1 signed by it.
fn test_pki() -> (String, TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Candor test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    (ca.pem(), TlsAcceptor::from(Arc::new(config)))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Stream = BufReader<Pin<Box<dyn Io>>>;

async fn reply(stream: &mut Stream, text: &str) -> std::io::Result<()> {
    stream.get_mut().write_all(text.as_bytes()).await?;
    stream.get_mut().flush().await
}

async fn read_line(stream: &mut Stream) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

fn fault(state: &State) -> Fault {
    *state.fault.lock().unwrap()
}

async fn session(state: Arc<State>, socket: TcpStream) -> std::io::Result<()> {
    if fault(&state) == Fault::Refuse {
        return Ok(());
    }
    let mut tls = state.security == Security::Tls;
    let io: Pin<Box<dyn Io>> = if tls {
        Box::pin(state.tls.accept(socket).await?)
    } else {
        Box::pin(socket)
    };
    let mut stream: Stream = BufReader::new(io);
    reply(&mut stream, "220 mx.test ESMTP ready\r\n").await?;
    let mut authenticated: Option<String> = None;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    while let Some(line) = read_line(&mut stream).await? {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or_default();
        match verb {
            "EHLO" => {
                let mut text = String::from("250-mx.test\r\n250-8BITMIME\r\n");
                if state.security == Security::StartTls && !tls {
                    text.push_str("250-STARTTLS\r\n");
                }
                if state.credentials.is_some() {
                    text.push_str(&format!("250-AUTH {}\r\n", state.mechanisms));
                }
                text.push_str("250 SMTPUTF8\r\n");
                reply(&mut stream, &text).await?;
            }
            "HELO" => reply(&mut stream, "250 mx.test\r\n").await?,
            "STARTTLS" if state.security == Security::StartTls && !tls => {
                reply(&mut stream, "220 2.0.0 go ahead\r\n").await?;
                let inner = stream.into_inner();
                stream = BufReader::new(Box::pin(state.tls.accept(inner).await?));
                tls = true;
                authenticated = None;
                mail_from = None;
                rcpt_to.clear();
            }
            "AUTH" => {
                let words: Vec<&str> = line.split(' ').collect();
                let mechanism = words.get(1).map(|m| m.to_ascii_uppercase());
                let (user, password) = match mechanism.as_deref() {
                    Some("PLAIN") if state.mechanisms.contains("PLAIN") => {
                        let encoded = match words.get(2) {
                            Some(e) => (*e).to_owned(),
                            None => {
                                reply(&mut stream, "334 \r\n").await?;
                                read_line(&mut stream).await?.unwrap_or_default()
                            }
                        };
                        let decoded = B64.decode(encoded.trim()).unwrap_or_default();
                        let parts: Vec<String> = decoded
                            .split(|b| *b == 0)
                            .map(|p| String::from_utf8_lossy(p).into_owned())
                            .collect();
                        (
                            parts.get(1).cloned().unwrap_or_default(),
                            parts.get(2).cloned().unwrap_or_default(),
                        )
                    }
                    Some("LOGIN") if state.mechanisms.contains("LOGIN") => {
                        let user = match words.get(2) {
                            Some(e) => (*e).to_owned(),
                            None => {
                                reply(&mut stream, "334 VXNlcm5hbWU6\r\n").await?;
                                read_line(&mut stream).await?.unwrap_or_default()
                            }
                        };
                        reply(&mut stream, "334 UGFzc3dvcmQ6\r\n").await?;
                        let password = read_line(&mut stream).await?.unwrap_or_default();
                        let decode = |s: &str| {
                            String::from_utf8_lossy(&B64.decode(s.trim()).unwrap_or_default())
                                .into_owned()
                        };
                        (decode(&user), decode(&password))
                    }
                    _ => {
                        reply(&mut stream, "504 5.5.4 mechanism not supported\r\n").await?;
                        continue;
                    }
                };
                let ok = fault(&state) != Fault::AuthFail
                    && state.credentials.as_ref() == Some(&(user.clone(), password));
                if ok {
                    authenticated = Some(user);
                    reply(&mut stream, "235 2.7.0 authenticated\r\n").await?;
                } else {
                    reply(
                        &mut stream,
                        "535 5.7.8 authentication credentials invalid\r\n",
                    )
                    .await?;
                }
            }
            "MAIL" => {
                if state.credentials.is_some() && authenticated.is_none() {
                    reply(&mut stream, "530 5.7.0 authentication required\r\n").await?;
                } else if fault(&state) == Fault::TempFail {
                    reply(
                        &mut stream,
                        "451 4.3.0 mailbox temporarily unavailable, try again later\r\n",
                    )
                    .await?;
                } else {
                    mail_from = Some(between_angles(&line));
                    rcpt_to.clear();
                    reply(&mut stream, "250 2.1.0 ok\r\n").await?;
                }
            }
            "RCPT" if mail_from.is_some() => {
                rcpt_to.push(between_angles(&line));
                reply(&mut stream, "250 2.1.5 ok\r\n").await?;
            }
            "DATA" if mail_from.is_some() && !rcpt_to.is_empty() => {
                reply(&mut stream, "354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = Vec::new();
                loop {
                    let mut raw = Vec::new();
                    if stream.read_until(b'\n', &mut raw).await? == 0 {
                        return Ok(());
                    }
                    if fault(&state) == Fault::DropMidData {
                        return Ok(());
                    }
                    if raw == b".\r\n" {
                        break;
                    }
                    let unstuffed = if raw.starts_with(b"..") {
                        &raw[1..]
                    } else {
                        &raw[..]
                    };
                    data.extend_from_slice(unstuffed);
                }
                let message = Received {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                    authenticated: authenticated.clone(),
                    tls,
                };
                state.received.send_modify(|r| r.push(message));
                reply(&mut stream, "250 2.0.0 queued\r\n").await?;
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                reply(&mut stream, "250 2.0.0 ok\r\n").await?;
            }
            "NOOP" => reply(&mut stream, "250 2.0.0 ok\r\n").await?,
            "QUIT" => {
                reply(&mut stream, "221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => reply(&mut stream, "503 5.5.1 bad sequence of commands\r\n").await?,
        }
    }
    Ok(())
}

fn between_angles(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(inner, _)| inner.to_owned())
        .unwrap_or_default()
}
