//! Composing RFC 5322 messages: headers that cannot be injected into, a Message-ID fixed once.

use std::fmt::Write as _;
use std::time::SystemTime;

use candor_core::config::MailFrom;
use candor_store::outbox::QueuedMail;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use time::OffsetDateTime;

use crate::MailError;

/// A mail a feature wants to send: one recipient, a subject, a text body and optionally HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// `local@domain` or `"Name <local@domain>"`.
    pub to: String,
    /// The subject, any Unicode (encoded per RFC 2047), on one line.
    pub subject: String,
    /// The plain-text body (UTF-8).
    pub text: String,
    /// An HTML alternative of the same content, if any.
    pub html: Option<String>,
}

impl Mail {
    /// A plain-text mail.
    pub fn new(to: impl Into<String>, subject: impl Into<String>, text: impl Into<String>) -> Mail {
        Mail {
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
            html: None,
        }
    }

    /// Adds an HTML alternative (the message becomes multipart/alternative).
    pub fn with_html(mut self, html: impl Into<String>) -> Mail {
        self.html = Some(html.into());
        self
    }
}

/// Builds messages from the configured sender.
#[derive(Debug, Clone)]
pub struct Composer {
    from: Mailbox,
    domain: String,
}

impl Composer {
    /// A composer for mail from `from` (`[mail] from`).
    pub fn new(from: &MailFrom) -> Result<Composer, MailError> {
        if let Some(name) = &from.name {
            one_line(name, "sender name")?;
        }
        one_line(&from.address, "sender")?;
        let address: Address = from
            .address
            .parse()
            .map_err(|_| MailError::InvalidAddress {
                field: "sender",
                value: from.address.clone(),
            })?;
        Ok(Composer {
            domain: address.domain().to_owned(),
            from: Mailbox::new(from.name.clone(), address),
        })
    }

    /// The envelope sender (a bare address).
    pub fn sender(&self) -> String {
        self.from.email.to_string()
    }

    /// Composes `mail` as of `now`, with a new `Message-ID: <random@from-domain>` that stays
    /// with the message through every retry. Refuses line breaks in header values.
    pub fn compose(&self, mail: &Mail, now: OffsetDateTime) -> Result<QueuedMail, MailError> {
        one_line(&mail.subject, "subject")?;
        one_line(&mail.to, "recipient")?;
        let to: Mailbox = mail.to.parse().map_err(|_| MailError::InvalidAddress {
            field: "recipient",
            value: mail.to.clone(),
        })?;
        let message_id = format!("<{}@{}>", random_hex()?, self.domain);
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to.clone())
            .subject(mail.subject.as_str())
            .date(SystemTime::from(now))
            .message_id(Some(message_id.clone()));
        let message = match &mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            // lettre ends a single-part body with a line end of its own.
            None => builder.singlepart(SinglePart::plain(without_final_line_end(&mail.text))),
        }
        .map_err(|e| MailError::Build(e.to_string()))?;
        let mut bytes = message.formatted();
        // A message ends with a line end; the SMTP transport relies on it (see `transport`).
        if !bytes.ends_with(b"\r\n") {
            bytes.extend_from_slice(b"\r\n");
        }
        Ok(QueuedMail {
            message_id,
            sender: self.sender(),
            recipient: to.email.to_string(),
            message: bytes,
            queued_at: now,
        })
    }
}

/// Refuses CR, LF and other control characters (tab aside) in a header value: they are how a
/// header injection starts.
fn one_line(value: &str, field: &'static str) -> Result<(), MailError> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(MailError::LineBreak { field });
    }
    Ok(())
}

fn without_final_line_end(text: &str) -> String {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
        .to_owned()
}

/// 128 random bits, hex: the unique part of a Message-ID.
fn random_hex() -> Result<String, MailError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| MailError::Build(format!("no randomness for a Message-ID: {e}")))?;
    Ok(bytes.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}
