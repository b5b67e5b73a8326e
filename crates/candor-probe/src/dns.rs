//! DNS probes over UDP, with a small hand-written codec (RFC 1035): one question out, header,
//! answers and response code back. A resolver library would bring its own caching, retries and
//! configuration, which a monitor must not have: it must see exactly what the server answers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use candor_core::condition::{ConditionResult, Observation};
use candor_core::monitor::{DnsCheck, RecordType, format_duration};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

use crate::guard;
use crate::probe::{Attempt, millis};

/// The name of a response code.
pub fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".to_owned(),
        1 => "FORMERR".to_owned(),
        2 => "SERVFAIL".to_owned(),
        3 => "NXDOMAIN".to_owned(),
        4 => "NOTIMP".to_owned(),
        5 => "REFUSED".to_owned(),
        6 => "YXDOMAIN".to_owned(),
        7 => "YXRRSET".to_owned(),
        8 => "NXRRSET".to_owned(),
        9 => "NOTAUTH".to_owned(),
        10 => "NOTZONE".to_owned(),
        other => format!("RCODE{other}"),
    }
}

/// A query message asking for `name`/`record` with recursion desired.
pub fn encode_query(id: u16, name: &str, record: RecordType) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(18 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00]); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1, AN=NS=AR=0
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| *l <= 63)
            .ok_or_else(|| format!("label \"{label}\" of {name} is longer than 63 bytes"))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() - 12 > 255 {
        return Err(format!("{name} is longer than 255 bytes"));
    }
    out.extend_from_slice(&record.code().to_be_bytes());
    out.extend_from_slice(&[0, 1]); // IN
    Ok(out)
}

/// One answer record, rendered as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Its type code.
    pub record_type: u16,
    /// Its data: an address, a name (without the final dot), `PREF NAME` for MX, text for TXT.
    pub data: String,
}

/// A decoded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Message id.
    pub id: u16,
    /// Response code (low 4 bits of the header).
    pub rcode: u8,
    /// Whether the answer was truncated (TC).
    pub truncated: bool,
    /// The answer section.
    pub answers: Vec<Answer>,
}

/// Decodes a response message.
pub fn decode_response(msg: &[u8]) -> Result<Response, String> {
    let short = || "response is too short".to_owned();
    let header = msg.get(..12).ok_or_else(short)?;
    let id = u16::from_be_bytes([header[0], header[1]]);
    if header[2] & 0x80 == 0 {
        return Err("message is a query, not a response".to_owned());
    }
    let truncated = header[2] & 0x02 != 0;
    let rcode = header[3] & 0x0f;
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    let ancount = u16::from_be_bytes([header[6], header[7]]);
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = read_name(msg, pos)?.1;
        pos = pos
            .checked_add(4)
            .filter(|p| *p <= msg.len())
            .ok_or_else(short)?;
    }
    let mut answers = Vec::new();
    for _ in 0..ancount {
        let (_, after_name) = read_name(msg, pos)?;
        let fixed = msg.get(after_name..after_name + 10).ok_or_else(short)?;
        let record_type = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let rdata_at = after_name + 10;
        let rdata = msg.get(rdata_at..rdata_at + rdlength).ok_or_else(short)?;
        let data = match RecordType::from_code(record_type) {
            Some(RecordType::A) => <[u8; 4]>::try_from(rdata)
                .map(|b| Ipv4Addr::from(b).to_string())
                .map_err(|_| "A record is not 4 bytes".to_owned())?,
            Some(RecordType::Aaaa) => <[u8; 16]>::try_from(rdata)
                .map(|b| Ipv6Addr::from(b).to_string())
                .map_err(|_| "AAAA record is not 16 bytes".to_owned())?,
            Some(RecordType::Cname | RecordType::Ns) => read_name(msg, rdata_at)?.0,
            Some(RecordType::Mx) => {
                let pref = rdata.get(..2).ok_or_else(short)?;
                let pref = u16::from_be_bytes([pref[0], pref[1]]);
                format!("{pref} {}", read_name(msg, rdata_at + 2)?.0)
            }
            Some(RecordType::Txt) => {
                let mut text = String::new();
                let mut i = 0;
                while i < rdata.len() {
                    let len = usize::from(rdata[i]);
                    let part = rdata.get(i + 1..i + 1 + len).ok_or_else(short)?;
                    text.push_str(&String::from_utf8_lossy(part));
                    i += 1 + len;
                }
                text
            }
            None => String::new(),
        };
        if RecordType::from_code(record_type).is_some() {
            answers.push(Answer { record_type, data });
        }
        pos = rdata_at + rdlength;
    }
    Ok(Response {
        id,
        rcode,
        truncated,
        answers,
    })
}

/// Reads a possibly compressed name at `pos`: (name without the final dot, position after it).
fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg
            .get(pos)
            .ok_or("name runs past the end of the message")?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Ok((labels.join("."), end.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or("label runs past the end of the message")?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or("pointer runs past the end")?;
                jumps += 1;
                if jumps > 32 {
                    return Err("name compression loop".to_owned());
                }
                end.get_or_insert(pos + 2);
                pos = (usize::from(len & 0x3f) << 8) | usize::from(low);
            }
            _ => return Err("unsupported label type".to_owned()),
        }
    }
}

/// The first nameserver of /etc/resolv.conf.
pub fn system_resolver() -> Result<SocketAddr, String> {
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("no resolver configured and /etc/resolv.conf is unreadable: {e}"))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| {
            "no resolver configured and /etc/resolv.conf has no nameserver line".to_owned()
        })
}

/// One query to the resolver.
pub(crate) async fn probe(
    check: &DnsCheck,
    allow_private: bool,
    also_allow: &[IpAddr],
    start: Instant,
    deadline: Instant,
) -> Attempt {
    let fail = |message: String| Attempt::fatal(message, start.elapsed());
    // An explicit resolver is a target like any other; the system's own is trusted.
    let resolver = match check.resolver {
        Some(addr) => {
            if let Err(refused) =
                guard::filter(&addr.ip().to_string(), [addr], allow_private, also_allow)
            {
                return fail(refused.to_string());
            }
            addr
        }
        None => match system_resolver() {
            Ok(a) => a,
            Err(m) => return fail(m),
        },
    };
    let mut id_bytes = [0u8; 2];
    if getrandom::fill(&mut id_bytes).is_err() {
        return fail("no randomness for the DNS query id".to_owned());
    }
    let id = u16::from_be_bytes(id_bytes);
    let query = match encode_query(id, &check.query, check.record) {
        Ok(q) => q,
        Err(m) => return fail(m),
    };
    let bind: SocketAddr = if resolver.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => return fail(format!("could not open a UDP socket: {e}")),
    };
    if let Err(e) = socket.connect(resolver).await {
        return fail(format!("could not reach resolver {resolver}: {e}"));
    }
    if let Err(e) = socket.send(&query).await {
        return fail(format!(
            "could not send the query to resolver {resolver}: {e}"
        ));
    }
    let mut buf = vec![0u8; 4096];
    let response = loop {
        let n = match timeout_at(deadline, socket.recv(&mut buf)).await {
            Err(_) => {
                return fail(format!(
                    "DNS resolver {resolver} did not answer within {} (query {} {})",
                    format_duration(deadline.saturating_duration_since(start)),
                    check.record,
                    check.query
                ));
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return fail(format!(
                    "DNS resolver {resolver} refused the connection (nothing listens on that port)"
                ));
            }
            Ok(Err(e)) => return fail(format!("DNS resolver {resolver}: {e}")),
            Ok(Ok(n)) => n,
        };
        // Anything that is not the answer to this query (stray or spoofed) is ignored.
        match decode_response(buf.get(..n).unwrap_or_default()) {
            Ok(r) if r.id == id => break r,
            _ => continue,
        }
    };
    let elapsed = start.elapsed();
    let rcode = rcode_name(response.rcode);
    let texts: Vec<String> = response.answers.iter().map(|a| a.data.clone()).collect();
    let ip = response
        .answers
        .iter()
        .filter(|a| a.record_type == 1 || a.record_type == 28)
        .find_map(|a| a.data.parse::<IpAddr>().ok());
    let wanted: Vec<&str> = response
        .answers
        .iter()
        .filter(|a| a.record_type == check.record.code())
        .map(|a| a.data.as_str())
        .collect();
    let extra = check
        .expect
        .iter()
        .map(|expected| {
            let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
            let found = wanted.iter().any(|w| norm(w) == norm(expected));
            ConditionResult {
                passed: found,
                detail: format!(
                    "expect {} {expected} ({})",
                    check.record,
                    if found { "present" } else { "absent" }
                ),
            }
        })
        .collect();
    let error = (response.rcode != 0)
        .then(|| format!("DNS lookup failed for {}: {rcode}", check.query))
        .or_else(|| {
            (response.truncated && wanted.is_empty()).then(|| {
                format!(
                    "the answer for {} was truncated (TC) and DNS over TCP is not supported",
                    check.query
                )
            })
        });
    Attempt {
        observation: Observation {
            response_time_ms: millis(elapsed),
            ip,
            dns_rcode: Some(rcode),
            dns_answers: texts,
            ..Observation::default()
        },
        error,
        fatal: false,
        extra,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Builds a response to `query` with the given rcode and answers (type, rdata).
    fn respond(query: &[u8], rcode: u8, answers: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut out = query.to_vec();
        out[2] = 0x81;
        out[3] = 0x80 | rcode;
        out[7] = u8::try_from(answers.len()).unwrap();
        for (t, rdata) in answers {
            out.extend_from_slice(&[0xc0, 12]);
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            out.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
            out.extend_from_slice(rdata);
        }
        out
    }

    #[test]
    fn query_encodes_name_type_and_class() {
        let q = encode_query(0x1234, "example.com.", RecordType::Aaaa).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..25], b"\x07example\x03com\x00");
        assert_eq!(&q[25..], &[0, 28, 0, 1]);
        assert!(encode_query(1, &"a".repeat(64), RecordType::A).is_err());
    }

    #[test]
    fn answers_decode_with_compression() {
        let q = encode_query(7, "example.com", RecordType::Mx).unwrap();
        let r = respond(
            &q,
            0,
            &[
                (1, vec![93, 184, 216, 34]),
                (28, Ipv6Addr::LOCALHOST.octets().to_vec()),
                (15, vec![0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 12]),
                (5, vec![0xc0, 12]),
                (16, b"\x05hello\x06 world".to_vec()),
                (99, vec![1, 2, 3]),
            ],
        );
        let d = decode_response(&r).unwrap();
        assert_eq!(d.id, 7);
        assert_eq!(d.rcode, 0);
        let data: Vec<&str> = d.answers.iter().map(|a| a.data.as_str()).collect();
        assert_eq!(
            data,
            [
                "93.184.216.34",
                "::1",
                "10 mail.example.com",
                "example.com",
                "hello world"
            ]
        );
    }

    #[test]
    fn rcode_and_malformed_messages() {
        let q = encode_query(9, "nope.invalid", RecordType::A).unwrap();
        let d = decode_response(&respond(&q, 3, &[])).unwrap();
        assert_eq!(rcode_name(d.rcode), "NXDOMAIN");
        assert!(decode_response(&q).is_err(), "a query is not a response");
        assert!(decode_response(&[0; 5]).is_err());
        // A pointer to itself must not loop forever.
        let mut looped = respond(&q, 0, &[(5, vec![0xc0, 0])]);
        let n = looped.len();
        looped[n - 2] = 0xc0;
        looped[n - 1] = u8::try_from(n - 2).unwrap();
        assert!(decode_response(&looped).is_err());
        // Truncated answers are errors, not panics.
        let full = respond(&q, 0, &[(1, vec![1, 2, 3, 4])]);
        for cut in 0..full.len() {
            let _ = decode_response(&full[..cut]);
        }
    }
}
