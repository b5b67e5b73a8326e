//! TCP and TLS probes, and reading a certificate's notAfter.

use std::net::SocketAddr;
use std::sync::Arc;

use candor_core::condition::Observation;
use candor_core::monitor::{Endpoint, TlsCheck, format_duration};
use rustls::pki_types::ServerName;
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::guard;
use crate::http::millis_between;
use crate::probe::{Attempt, millis};

/// The TLS client settings shared by HTTPS and TLS monitors.
pub(crate) fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(roots.clone())
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth()
        })
}

/// Connects to the first address that accepts, trying each allowed one in turn.
async fn connect(
    target: &Endpoint,
    allow_private: bool,
    also_allow: &[std::net::IpAddr],
    kind: &str,
    start: Instant,
    deadline: Instant,
) -> Result<(TcpStream, SocketAddr), Attempt> {
    let addrs = match timeout_at(
        deadline,
        guard::resolve(&target.host, target.port, allow_private, also_allow),
    )
    .await
    {
        Err(_) => {
            return Err(Attempt::fatal(
                format!("timed out resolving {}", target.host),
                start.elapsed(),
            ));
        }
        Ok(Err(message)) => return Err(Attempt::fatal(message, start.elapsed())),
        Ok(Ok(addrs)) => addrs,
    };
    let mut last_error = None;
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(Attempt::fatal(
                    format!("timed out connecting to {addr} ({kind})"),
                    start.elapsed(),
                ));
            }
            Ok(Ok(stream)) => return Ok((stream, addr)),
            Ok(Err(e)) => last_error = Some((addr, e)),
        }
    }
    let message = match last_error {
        Some((addr, e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("connection refused to {addr} ({kind})")
        }
        Some((addr, e)) => format!("could not connect to {addr} ({kind}): {e}"),
        None => format!("no address to connect to for {target} ({kind})"),
    };
    let mut attempt = Attempt::fatal(message, start.elapsed());
    // Not connecting is an observation ([CONNECTED] == false), not a broken probe.
    attempt.fatal = false;
    attempt.observation.connected = Some(false);
    Err(attempt)
}

/// A TCP connection attempt.
pub(crate) async fn tcp_probe(
    target: &Endpoint,
    allow_private: bool,
    also_allow: &[std::net::IpAddr],
    start: Instant,
    deadline: Instant,
) -> Attempt {
    match connect(target, allow_private, also_allow, "tcp", start, deadline).await {
        Err(attempt) => attempt,
        Ok((_stream, addr)) => Attempt {
            observation: Observation {
                response_time_ms: millis(start.elapsed()),
                ip: Some(addr.ip()),
                connected: Some(true),
                ..Observation::default()
            },
            ..Attempt::default()
        },
    }
}

/// A TLS handshake: chain, validity dates and host name are verified; the leaf's notAfter fills
/// `[CERTIFICATE_EXPIRATION]`.
pub(crate) async fn tls_probe(
    check: &TlsCheck,
    allow_private: bool,
    also_allow: &[std::net::IpAddr],
    config: &Arc<rustls::ClientConfig>,
    start: Instant,
    deadline: Instant,
    now: OffsetDateTime,
) -> Attempt {
    let (stream, addr) = match connect(
        &check.target,
        allow_private,
        also_allow,
        "tls",
        start,
        deadline,
    )
    .await
    {
        Err(attempt) => return attempt,
        Ok(s) => s,
    };
    let name = match ServerName::try_from(check.hostname.clone()) {
        Ok(n) => n,
        Err(_) => {
            return Attempt::fatal(
                format!("\"{}\" is not a valid TLS server name", check.hostname),
                start.elapsed(),
            );
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
    let tls = match timeout_at(deadline, connector.connect(name, stream)).await {
        Err(_) => {
            return Attempt::fatal(
                format!(
                    "timed out after {} in the TLS handshake with {addr}",
                    format_duration(deadline.saturating_duration_since(start))
                ),
                start.elapsed(),
            );
        }
        Ok(Err(e)) => {
            let detail = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map_or_else(|| e.to_string(), |r| describe_tls_error(r, &check.hostname));
            let mut attempt = Attempt::fatal(
                format!("TLS handshake with {} failed: {detail}", check.target),
                start.elapsed(),
            );
            attempt.observation.connected = Some(true);
            attempt.observation.ip = Some(addr.ip());
            return attempt;
        }
        Ok(Ok(tls)) => tls,
    };
    let expiry = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| not_after(leaf.as_ref()));
    Attempt {
        observation: Observation {
            response_time_ms: millis(start.elapsed()),
            ip: Some(addr.ip()),
            connected: Some(true),
            certificate_expiration_ms: expiry.map(|t| millis_between(now, t)),
            ..Observation::default()
        },
        error: expiry
            .is_none()
            .then(|| "could not read the certificate's expiry date".to_owned()),
        ..Attempt::default()
    }
}

fn describe_tls_error(e: &rustls::Error, hostname: &str) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => format!("the certificate has expired ({c})"),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the certificate is not valid yet ({c})")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("the certificate is not valid for {hostname} ({c})")
            }
            C::UnknownIssuer => {
                "the certificate is not signed by a trusted authority (unknown issuer)".to_owned()
            }
            C::Revoked => "the certificate has been revoked".to_owned(),
            other => format!("invalid certificate: {other}"),
        },
        other => other.to_string(),
    }
}

/// The notAfter of a DER-encoded X.509 certificate (RFC 5280 §4.1.2.5).
pub fn not_after(der: &[u8]) -> Option<OffsetDateTime> {
    let (certificate, _) = der_item(der, 0x30)?;
    let (tbs, _) = der_item(certificate, 0x30)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional
    if rest.first() == Some(&0xa0) {
        rest = der_item(rest, 0xa0)?.1;
    }
    rest = der_item(rest, 0x02)?.1; // serialNumber
    rest = der_item(rest, 0x30)?.1; // signature
    rest = der_item(rest, 0x30)?.1; // issuer
    let (validity, _) = der_item(rest, 0x30)?;
    let after_not_before = skip_any(validity)?;
    let tag = *after_not_before.first()?;
    let (time, _) = der_item(after_not_before, tag)?;
    parse_time(tag, time)
}

/// Reads one TLV with the expected tag: (contents, rest).
fn der_item(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *input.first()? != tag {
        return None;
    }
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in input.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((input.get(header..end)?, input.get(end..)?))
}

fn skip_any(input: &[u8]) -> Option<&[u8]> {
    let tag = *input.first()?;
    der_item(input, tag).map(|(_, rest)| rest)
}

fn parse_time(tag: u8, text: &[u8]) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(text).ok()?;
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: i32 = digits.get(..2)?.parse().ok()?;
            (
                if yy >= 50 { 1900 + yy } else { 2000 + yy },
                digits.get(2..)?,
            )
        }
        (0x18, 14) => (digits.get(..4)?.parse().ok()?, digits.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| -> Option<u8> { rest.get(i..i + 2)?.parse().ok() };
    let month = time::Month::try_from(field(0)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, field(2)?).ok()?;
    let clock = time::Time::from_hms(field(4)?, field(6)?, field(8)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, clock).assume_utc())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn times_parse_in_both_encodings() {
        assert_eq!(parse_time(0x17, b"491231235959Z").unwrap().year(), 2049);
        assert_eq!(parse_time(0x17, b"500101000000Z").unwrap().year(), 1950);
        let t = parse_time(0x18, b"20301231120000Z").unwrap();
        assert_eq!((t.year(), t.hour()), (2030, 12));
        assert!(parse_time(0x18, b"20301331120000Z").is_none());
        assert!(parse_time(0x17, b"301231120000").is_none());
    }

    #[test]
    fn truncated_or_garbage_der_gives_none() {
        assert!(not_after(&[]).is_none());
        assert!(not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(not_after(&[0x30, 0x03, 0x30, 0x01, 0x02]).is_none());
    }
}
