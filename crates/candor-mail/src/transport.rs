//! Where a composed message goes: an SMTP relay, or `.eml` files in a folder.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use candor_core::config::{
    MailSettings, MailTransport, SecretString, SmtpSecurity, SmtpSettings, is_loopback_host,
};
use candor_store::outbox::{ClaimedMail, QueuedMail};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::MailError;

/// One message on its way out.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The `Message-ID` header value (also names the `.eml` file).
    pub message_id: &'a str,
    /// Envelope sender.
    pub sender: &'a str,
    /// Envelope recipient.
    pub recipient: &'a str,
    /// The complete message, sent byte for byte.
    pub message: &'a [u8],
}

impl<'a> From<&'a QueuedMail> for Outgoing<'a> {
    fn from(mail: &'a QueuedMail) -> Self {
        Outgoing {
            message_id: &mail.message_id,
            sender: &mail.sender,
            recipient: &mail.recipient,
            message: &mail.message,
        }
    }
}

impl<'a> From<&'a ClaimedMail> for Outgoing<'a> {
    fn from(mail: &'a ClaimedMail) -> Self {
        Outgoing {
            message_id: &mail.message_id,
            sender: &mail.sender,
            recipient: &mail.recipient,
            message: &mail.message,
        }
    }
}

/// A failed delivery attempt. The text never contains a password or the recipient's address
/// (it is written to logs and to the outbox's `last_error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct SendError {
    detail: String,
    permanent: bool,
}

impl SendError {
    /// True when the relay answered 5xx: retrying as is will most likely fail again.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

/// The configured transport.
#[derive(Debug, Clone)]
pub enum Transport {
    /// `.eml` files (the default: works offline).
    File(FileTransport),
    /// An SMTP relay (boxed: the client is large and built once).
    Smtp(Box<SmtpTransport>),
}

impl Transport {
    /// Builds the transport from `[mail]`, reading the CA and password files now so that a
    /// mistake shows at start and not at the first mail.
    pub fn from_settings(settings: &MailSettings) -> Result<Transport, MailError> {
        match &settings.transport {
            MailTransport::File { dir } => Ok(Transport::File(FileTransport::new(dir))),
            MailTransport::Smtp(smtp) => Ok(Transport::Smtp(Box::new(SmtpTransport::new(
                smtp,
                settings.from.domain(),
            )?))),
        }
    }

    /// Delivers one message.
    pub async fn send(&self, mail: Outgoing<'_>) -> Result<(), SendError> {
        match self {
            Transport::File(t) => t.send(mail).await,
            Transport::Smtp(t) => t.send(mail).await,
        }
    }

    /// What the transport is, safe to log: `files in …` or the relay URL without password.
    pub fn describe(&self) -> String {
        match self {
            Transport::File(t) => format!("files in {}", t.dir.display()),
            Transport::Smtp(t) => t.relay.clone(),
        }
    }
}

// ---- files ----

/// Writes each message to `<dir>/<message-id>.eml`, atomically (temporary file, then rename), so
/// a retry of the same message replaces its file instead of adding another.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    /// Files go into `dir`, created on first use (mode 0700: the mail holds sign-in links).
    pub fn new(dir: impl Into<PathBuf>) -> FileTransport {
        FileTransport { dir: dir.into() }
    }

    /// The file a message with this Message-ID is written to.
    pub fn path_for(&self, message_id: &str) -> PathBuf {
        self.dir.join(file_name(message_id))
    }

    /// Writes the message.
    pub async fn send(&self, mail: Outgoing<'_>) -> Result<(), SendError> {
        let target = self.path_for(mail.message_id);
        let dir = self.dir.clone();
        let bytes = mail.message.to_vec();
        tokio::task::spawn_blocking(move || write_atomic(&dir, &target, &bytes))
            .await
            .map_err(|e| temporary(format!("the file writer stopped: {e}")))?
            .map_err(|e| temporary(format!("cannot write to {}: {e}", dir_display(&self.dir))))
    }
}

fn dir_display(dir: &Path) -> String {
    dir.display().to_string()
}

/// `<hex@acme.example>` → `hex@acme.example.eml`; anything outside `[A-Za-z0-9._@+-]` becomes
/// `_`, so a Message-ID can never name a path outside the folder.
fn file_name(message_id: &str) -> String {
    let inner = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let mut name: String = inner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._@+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    format!("{name}.eml")
}

fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(std::io::Error::other)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        target
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        u64::from_le_bytes(suffix)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, target));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed?;
    // The rename is durable once the folder is synced.
    std::fs::File::open(dir).and_then(|d| d.sync_all())
}

// ---- SMTP ----

/// An SMTP relay: implicit TLS, required STARTTLS, or (loopback only) none; AUTH PLAIN or LOGIN
/// when credentials are configured. One connection per message.
#[derive(Clone)]
pub struct SmtpTransport {
    client: AsyncSmtpTransport<Tokio1Executor>,
    relay: String,
    password: Option<SecretString>,
}

impl fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("relay", &self.relay)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

impl SmtpTransport {
    /// A client for the relay in `settings`; `hello_name` is sent in EHLO.
    pub fn new(settings: &SmtpSettings, hello_name: &str) -> Result<SmtpTransport, MailError> {
        let relay = settings.relay();
        let tls_parameters = || -> Result<TlsParameters, MailError> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(ca_file) = &settings.ca_file {
                let pem = std::fs::read(ca_file).map_err(|e| {
                    MailError::Transport(format!(
                        "cannot read smtp_ca_file {}: {e}",
                        ca_file.display()
                    ))
                })?;
                let has_certificate = String::from_utf8_lossy(&pem).contains("BEGIN CERTIFICATE");
                let certificate = Certificate::from_pem(&pem)
                    .ok()
                    .filter(|_| has_certificate)
                    .ok_or_else(|| {
                        MailError::Transport(format!(
                            "smtp_ca_file {} holds no PEM certificate; expected -----BEGIN CERTIFICATE----- blocks",
                            ca_file.display()
                        ))
                    })?;
                // Only the given CA: an internal relay is trusted by its own CA and nothing else.
                builder = builder
                    .certificate_store(CertificateStore::None)
                    .add_root_certificate(certificate);
            }
            builder
                .build_rustls()
                .map_err(|e| MailError::Transport(format!("TLS settings for {relay}: {e}")))
        };
        let tls = match settings.security {
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            // Checked when the configuration was read; checked again because a password must
            // never cross a network in clear.
            SmtpSecurity::None if is_loopback_host(&settings.host) => Tls::None,
            SmtpSecurity::None => {
                return Err(MailError::Transport(format!(
                    "{relay}: a relay without TLS is only allowed on this machine"
                )));
            }
        };
        let password = match (&settings.password, &settings.password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(file)) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    MailError::Transport(format!(
                        "cannot read smtp_password_file {}: {e}",
                        file.display()
                    ))
                })?;
                Some(SecretString::new(text.trim_end_matches(['\r', '\n'])))
            }
            (None, None) => None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(Duration::from_millis(settings.timeout_ms)))
            .hello_name(ClientId::Domain(hello_name.to_owned()));
        if let Some(user) = &settings.username {
            let secret = password.as_ref().map_or("", SecretString::expose);
            builder = builder
                .credentials(Credentials::new(user.clone(), secret.to_owned()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(SmtpTransport {
            client: builder.build(),
            relay,
            password,
        })
    }

    /// Sends one message: MAIL FROM, RCPT TO, DATA with the stored bytes.
    pub async fn send(&self, mail: Outgoing<'_>) -> Result<(), SendError> {
        let scrub = |text: String| self.scrub(text, mail.recipient);
        let sender: Address = mail.sender.parse().map_err(|_| SendError {
            detail: "the queued sender is not an address".into(),
            permanent: true,
        })?;
        let recipient: Address = mail.recipient.parse().map_err(|_| SendError {
            detail: "the queued recipient is not an address".into(),
            permanent: true,
        })?;
        let envelope =
            lettre::address::Envelope::new(Some(sender), vec![recipient]).map_err(|e| {
                SendError {
                    detail: scrub(e.to_string()),
                    permanent: true,
                }
            })?;
        // The client ends DATA with CRLF "." CRLF after the bytes, adding a line end of its own;
        // without the message's final CRLF the relay receives exactly the queued bytes.
        let body = mail.message.strip_suffix(b"\r\n").unwrap_or(mail.message);
        match self.client.send_raw(&envelope, body).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError {
                detail: scrub(format!("{}: {}", self.relay, error_chain(&e))),
                permanent: e.is_permanent(),
            }),
        }
    }

    /// Removes the password and the recipient's address from text bound for logs.
    fn scrub(&self, mut text: String, recipient: &str) -> String {
        if let Some(p) = &self.password
            && !p.expose().is_empty()
        {
            text = text.replace(p.expose(), "***");
        }
        if !recipient.is_empty() {
            text = text.replace(recipient, "<recipient>");
        }
        text
    }
}

/// An error and its sources on one line (lettre puts the relay's answer in the source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text.replace(['\r', '\n'], " ")
}

fn temporary(detail: String) -> SendError {
    SendError {
        detail,
        permanent: false,
    }
}
