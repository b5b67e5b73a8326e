//! Candor's outgoing mail (magic links, notifications).
//!
//! Every mail goes through the persistent outbox in the database, so nothing is lost across a
//! restart or a relay outage:
//!
//! 1. [`Composer::compose`] turns a [`Mail`] into an RFC 5322 message with a `Message-ID`
//!    assigned once, here, so every retry carries the same one;
//! 2. [`Outbox::send`] (or [`Outbox::queue`]) stores it with
//!    [`MailOutbox::enqueue`](candor_store::outbox::MailOutbox::enqueue) and wakes the worker;
//! 3. the worker ([`Outbox::spawn`]) claims due mail under a lease, hands it to the
//!    [`Transport`] (an SMTP relay, or `.eml` files for the demo), marks it sent, or retries it
//!    with exponential backoff for as long as it takes.
//!
//! `Outbox::from_settings` builds all of it from the resolved `[mail]` configuration.
#![forbid(unsafe_code)]

pub mod message;
pub mod outbox;
pub mod transport;

pub use message::{Composer, Mail};
pub use outbox::{Backoff, DeliveryReport, Outbox, OutboxOptions};
pub use transport::{FileTransport, Outgoing, SendError, SmtpTransport, Transport};

use candor_store::StoreError;

/// Why a mail could not be composed or queued, or a transport built; phrased for the person
/// who can fix it. Never contains a password.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A header value would span lines: refused, so nobody can inject headers.
    #[error(
        "the {field} contains a line break (CR or LF) or another control character; a header value must be one line of text"
    )]
    LineBreak {
        /// Which value (`subject`, `recipient`, `sender name`).
        field: &'static str,
    },
    /// An address is not a valid mailbox.
    #[error(
        "the {field} \"{value}\" is not a mail address; expected local@domain or \"Name <local@domain>\""
    )]
    InvalidAddress {
        /// Which value.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// The message could not be built.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The transport settings cannot be used (unreadable CA or password file, …).
    #[error("mail transport: {0}")]
    Transport(String),
    /// The outbox could not store the mail.
    #[error("cannot queue the mail: {0}")]
    Store(#[from] StoreError),
}

/// The domain of an address, for logs that must not name the person.
pub(crate) fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("?", |(_, d)| d)
}
