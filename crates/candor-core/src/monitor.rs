//! Monitors as declared in `candor.toml` (`[[monitors]]` tables) and their validation into
//! [`MonitorSpec`]s that the probe engine runs. Every problem becomes a [`Diagnostic`] that
//! points at the line of the offending value.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::condition::Condition;
use crate::diagnostic::{Diagnostic, Diagnostics, line_of};

/// Default `interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Shortest `interval` accepted.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Default `timeout` (or 80 % of the interval when that is shorter).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `failure_threshold` (as Gatus).
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// Default `success_threshold` (as Gatus).
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 2;
/// Default `max_body_bytes`: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 20;
/// Largest `max_body_bytes` accepted: 64 MiB.
pub const MAX_MAX_BODY_BYTES: u64 = 64 << 20;
/// Default `max_redirects`.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;
/// Default heartbeat `grace` (as Healthchecks).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// What a monitor checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorKind {
    /// An HTTP(S) request.
    Http,
    /// A TCP connection.
    Tcp,
    /// A DNS query.
    Dns,
    /// A TLS handshake and its certificate.
    Tls,
    /// Pushes from a job (Healthchecks semantics).
    Heartbeat,
}

impl MonitorKind {
    /// Every kind.
    pub const ALL: [MonitorKind; 5] = [
        MonitorKind::Http,
        MonitorKind::Tcp,
        MonitorKind::Dns,
        MonitorKind::Tls,
        MonitorKind::Heartbeat,
    ];

    /// The name used in `kind = "..."`.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorKind::Http => "http",
            MonitorKind::Tcp => "tcp",
            MonitorKind::Dns => "dns",
            MonitorKind::Tls => "tls",
            MonitorKind::Heartbeat => "heartbeat",
        }
    }

    fn from_name(name: &str) -> Option<MonitorKind> {
        MonitorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The conditions a monitor of this kind gets when it declares none.
    pub fn default_conditions(self) -> &'static [&'static str] {
        match self {
            MonitorKind::Http => &["[STATUS] < 400"],
            MonitorKind::Tcp => &["[CONNECTED] == true"],
            MonitorKind::Dns => &["[DNS_RCODE] == NOERROR"],
            MonitorKind::Tls => &["[CERTIFICATE_EXPIRATION] > 0h"],
            MonitorKind::Heartbeat => &[],
        }
    }
}

impl fmt::Display for MonitorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A DNS record type a dns monitor can query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Name server.
    Ns,
}

impl RecordType {
    /// Every supported type.
    pub const ALL: [RecordType; 6] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Ns,
    ];

    /// Its name (`AAAA`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Ns => "NS",
        }
    }

    /// Its numeric code on the wire (RFC 1035, RFC 3596).
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Ns => 2,
            RecordType::Cname => 5,
            RecordType::Mx => 15,
            RecordType::Txt => 16,
            RecordType::Aaaa => 28,
        }
    }

    /// The type with this wire code, if supported.
    pub fn from_code(code: u16) -> Option<RecordType> {
        RecordType::ALL.into_iter().find(|r| r.code() == code)
    }

    fn from_name(name: &str) -> Option<RecordType> {
        RecordType::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[monitors]]` table as written. Unknown keys are rejected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSection {
    /// Stable identifier (`[a-z0-9-]`), unique; samples are stored under it.
    pub id: Spanned<String>,
    /// Display name; default: the id.
    pub name: Option<Spanned<String>>,
    /// `http`, `tcp`, `dns`, `tls` or `heartbeat`.
    pub kind: Spanned<String>,
    /// http: the URL to request.
    pub url: Option<Spanned<String>>,
    /// http: the method; default GET.
    pub method: Option<Spanned<String>>,
    /// http: request headers.
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    /// http: request body.
    pub body: Option<Spanned<String>>,
    /// http: follow redirects; default true.
    pub follow_redirects: Option<Spanned<bool>>,
    /// http: most redirects followed; default 5.
    pub max_redirects: Option<Spanned<i64>>,
    /// http: most body bytes read; default 1 MiB.
    pub max_body_bytes: Option<Spanned<i64>>,
    /// tcp, tls: `host:port`.
    pub target: Option<Spanned<String>>,
    /// dns: the name to query.
    pub query: Option<Spanned<String>>,
    /// dns: the record type; default A.
    pub record: Option<Spanned<String>>,
    /// dns: `ip:port` of the resolver; default: the first nameserver of /etc/resolv.conf.
    pub resolver: Option<Spanned<String>>,
    /// dns: answers that must all be present.
    pub expect: Option<Vec<Spanned<String>>>,
    /// tls: the name to verify; default: the host of `target`.
    pub hostname: Option<Spanned<String>>,
    /// How often to probe; default 60s.
    pub interval: Option<Spanned<String>>,
    /// Time limit of one probe; default 10s (80 % of the interval when shorter).
    pub timeout: Option<Spanned<String>>,
    /// Conditions that must all hold.
    pub conditions: Option<Vec<Spanned<String>>>,
    /// Slower than this (conditions passing) counts as degraded.
    pub degraded_after: Option<Spanned<String>>,
    /// Consecutive failures before the monitor is down; default 3.
    pub failure_threshold: Option<Spanned<i64>>,
    /// Consecutive successes before it is up again; default 2.
    pub success_threshold: Option<Spanned<i64>>,
    /// Allow private, loopback and link-local targets; default false.
    pub allow_private: Option<Spanned<bool>>,
    /// heartbeat: expected time between pings.
    pub period: Option<Spanned<String>>,
    /// heartbeat: extra time after `period` before the monitor is down; default 1h.
    pub grace: Option<Spanned<String>>,
    /// heartbeat: file holding the push token, relative to `candor.toml`.
    pub token_file: Option<Spanned<String>>,
}

/// A validated monitor, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorSpec {
    /// Stable identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What to check, with the kind's settings.
    pub check: Check,
    /// Time between the planned starts of two probes.
    pub interval: Duration,
    /// Time limit of one probe (always shorter than the interval).
    pub timeout: Duration,
    /// Conditions that must all hold (the kind's default when none were declared).
    pub conditions: Vec<Condition>,
    /// Latency above which a passing probe counts as degraded.
    pub degraded_after: Option<Duration>,
    /// Consecutive failures before the monitor is down.
    pub failure_threshold: u32,
    /// Consecutive successes before it is up again.
    pub success_threshold: u32,
    /// Whether private and loopback addresses may be probed.
    pub allow_private: bool,
}

impl MonitorSpec {
    /// The monitor's kind.
    pub fn kind(&self) -> MonitorKind {
        match self.check {
            Check::Http(_) => MonitorKind::Http,
            Check::Tcp(_) => MonitorKind::Tcp,
            Check::Dns(_) => MonitorKind::Dns,
            Check::Tls(_) => MonitorKind::Tls,
            Check::Heartbeat(_) => MonitorKind::Heartbeat,
        }
    }
}

/// The kind-specific part of a monitor.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// An HTTP(S) request.
    Http(HttpCheck),
    /// A TCP connection.
    Tcp(Endpoint),
    /// A DNS query.
    Dns(DnsCheck),
    /// A TLS handshake.
    Tls(TlsCheck),
    /// Pushes from a job.
    Heartbeat(HeartbeatCheck),
}

/// An HTTP(S) request.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Upper-case method.
    pub method: String,
    /// Request headers (values may be credentials: never shown by `Debug`).
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<String>,
    /// Whether redirects are followed.
    pub follow_redirects: bool,
    /// Most redirects followed.
    pub max_redirects: u32,
    /// Most body bytes read.
    pub max_body_bytes: u64,
}

impl fmt::Debug for HttpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, _)| format!("{name}: <redacted>"))
            .collect();
        f.debug_struct("HttpCheck")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("headers", &headers)
            .field("body", &self.body.as_ref().map(|b| b.len()))
            .field("follow_redirects", &self.follow_redirects)
            .field("max_redirects", &self.max_redirects)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// A host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A DNS query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    /// The name to query.
    pub query: String,
    /// The record type.
    pub record: RecordType,
    /// The resolver; `None` means the first nameserver of /etc/resolv.conf at run time.
    pub resolver: Option<SocketAddr>,
    /// Answers that must all be present.
    pub expect: Vec<String>,
}

/// A TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsCheck {
    /// Where to connect.
    pub target: Endpoint,
    /// The name the certificate must be valid for (also sent as SNI).
    pub hostname: String,
}

/// A heartbeat (push) monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatCheck {
    /// Expected time between pings.
    pub period: Duration,
    /// Extra time after `period` before the monitor is down.
    pub grace: Duration,
    /// File holding the push token (absolute); `None`: a token is generated and stored.
    pub token_file: Option<PathBuf>,
}

/// Parses a duration such as `500ms`, `30s`, `30m`, `168h`, `7d` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "\"{text}\" is not a duration; expected a number with a unit: ms, s, m, h or d (e.g. 500ms, 30s, 168h)"
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        let number: u128 = text[start..i].parse().map_err(|_| bad())?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let millis: u128 = match &text[unit_start..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        total = number
            .checked_mul(millis)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= u128::from(u64::MAX))
            .ok_or_else(bad)?;
    }
    let millis = u64::try_from(total).map_err(|_| bad())?;
    Ok(Duration::from_millis(millis))
}

/// Prints a duration in the shortest form [`parse_duration`] reads back (`90s` → `1m30s`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Splits `host:port` (`[v6]:port` for IPv6).
pub fn parse_endpoint(text: &str) -> Result<Endpoint, String> {
    let bad = || {
        format!(
            "\"{text}\" is not host:port; expected e.g. \"db.example.com:5432\" or \"[2001:db8::1]:443\""
        )
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
        host.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        (host, port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
        if host.contains(':') {
            return Err(bad());
        }
        (host, port)
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 || !is_host(host) {
        return Err(bad());
    }
    Ok(Endpoint {
        host: host.to_owned(),
        port,
    })
}

fn is_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The host of an `http(s)://` URL, or why it is not one.
pub fn url_host(url: &str) -> Result<&str, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("\"{url}\" is not an http:// or https:// URL"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("\"{url}\" contains spaces; encode them as %20"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h).unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if !is_host(host) {
        return Err(format!("\"{url}\" has no valid host"));
    }
    Ok(host)
}

/// The monitors of `candor.toml`, as the lead's wrapper reads them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorsFile {
    /// `[[monitors]]`
    #[serde(default)]
    pub monitors: Vec<MonitorSection>,
}

/// Validates every `[[monitors]]` table of `source` (the text of the file at `path`) and
/// returns the runnable specs, or every problem found.
pub fn validate_monitors(
    sections: &[MonitorSection],
    source: &str,
    path: &Path,
) -> Result<Vec<MonitorSpec>, Diagnostics> {
    let mut problems = Diagnostics::default();
    let mut specs = Vec::with_capacity(sections.len());
    let mut seen: HashSet<&str> = HashSet::new();
    for (index, section) in sections.iter().enumerate() {
        let mut v = Validator {
            source,
            path,
            problems: &mut problems,
            prefix: format!("monitors[{index}]"),
        };
        let id = section.id.get_ref();
        if v.check_id(&section.id) && !seen.insert(id.as_str()) {
            v.report(
                &section.id,
                "id",
                format!("duplicate id \"{id}\"; every monitor needs its own id (samples are stored under it)"),
            );
        }
        if let Some(spec) = v.monitor(section) {
            specs.push(spec);
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(problems)
    }
}

/// A problem with a monitor sent through the API: the field (`conditions[1]`, `interval`, or
/// `body` for the object as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// A monitor defined through the API: a JSON object with the keys of a `[[monitors]]` table
/// (the id comes from the URL). It is checked by exactly the rules of `candor.toml`, so a
/// definition moves between the two unchanged. `token_file` is refused: a file path is not
/// something an API caller chooses.
pub fn monitor_from_json(
    id: &str,
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<MonitorSpec, Vec<FieldProblem>> {
    let problem = |field: &str, message: String| FieldProblem {
        field: field.to_owned(),
        message,
    };
    let mut table = serde_json::Map::new();
    table.insert("id".to_owned(), serde_json::Value::String(id.to_owned()));
    for (key, value) in body {
        match (key.as_str(), value) {
            ("id", serde_json::Value::String(given)) if given == id => {}
            ("id", _) => {
                return Err(vec![problem(
                    "id",
                    format!("the id is the one in the URL (\"{id}\"); leave it out or repeat it"),
                )]);
            }
            ("token_file", _) => {
                return Err(vec![problem(
                    "token_file",
                    "a token file can only be named in candor.toml; through the API a push token is generated and returned once".to_owned(),
                )]);
            }
            (_, serde_json::Value::Null) => {}
            _ => {
                table.insert(key.clone(), value.clone());
            }
        }
    }
    let document = serde_json::json!({ "monitors": [table] });
    let text = toml::to_string(&document)
        .map_err(|e| vec![problem("body", format!("the monitor cannot be read: {e}"))])?;
    let file: MonitorsFile = toml::from_str(&text)
        .map_err(|e| vec![problem("body", e.message().trim().replace('`', "\""))])?;
    validate_monitors(&file.monitors, &text, Path::new("request body"))
        .map_err(|d| {
            d.0.into_iter()
                .map(|d| FieldProblem {
                    field: d
                        .key
                        .as_deref()
                        .map(|k| {
                            k.strip_prefix(&format!("monitors.{id}."))
                                .or_else(|| k.strip_prefix("monitors[0]."))
                                .unwrap_or(k)
                                .to_owned()
                        })
                        .unwrap_or_else(|| "body".to_owned()),
                    message: d.message,
                })
                .collect()
        })
        .and_then(|mut specs| {
            specs
                .pop()
                .ok_or_else(|| vec![problem("body", "no monitor was read".to_owned())])
        })
}

struct Validator<'a> {
    source: &'a str,
    path: &'a Path,
    problems: &'a mut Diagnostics,
    prefix: String,
}

impl Validator<'_> {
    fn report<T>(&mut self, at: &Spanned<T>, key: &str, message: impl Into<String>) {
        let line = line_of(self.source, at.span().start);
        self.problems.push(Diagnostic::in_file(
            self.path,
            Some(line),
            Some(&format!("{}.{key}", self.prefix)),
            message,
        ));
    }

    fn check_id(&mut self, id: &Spanned<String>) -> bool {
        let text = id.get_ref();
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            self.prefix = format!("monitors.{text}");
        } else {
            self.report(
                id,
                "id",
                format!("\"{text}\" is not a valid id; use 1 to 64 characters from a-z, 0-9 and '-', e.g. \"api-health\""),
            );
        }
        ok
    }

    fn duration(&mut self, value: &Option<Spanned<String>>, key: &str) -> Option<Option<Duration>> {
        match value {
            None => Some(None),
            Some(v) => match parse_duration(v.get_ref()) {
                Ok(d) => Some(Some(d)),
                Err(m) => {
                    self.report(v, key, m);
                    None
                }
            },
        }
    }

    fn count(
        &mut self,
        value: &Option<Spanned<i64>>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        default: u64,
    ) -> Option<u64> {
        match value {
            None => Some(default),
            Some(v) if range.contains(v.get_ref()) => u64::try_from(*v.get_ref()).ok(),
            Some(v) => {
                self.report(
                    v,
                    key,
                    format!(
                        "{} is out of range; expected {} to {}",
                        v.get_ref(),
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    /// Refuses keys that do not belong to the monitor's kind.
    fn only_for<T>(
        &mut self,
        value: &Option<Spanned<T>>,
        key: &str,
        kind: MonitorKind,
        for_kinds: &str,
    ) {
        if let Some(v) = value {
            self.report(
                v,
                key,
                format!("`{key}` is not used by {kind} monitors (only by {for_kinds}); remove it"),
            );
        }
    }

    fn monitor(&mut self, s: &MonitorSection) -> Option<MonitorSpec> {
        let Some(kind) = MonitorKind::from_name(s.kind.get_ref()) else {
            let known: Vec<&str> = MonitorKind::ALL.iter().map(|k| k.as_str()).collect();
            self.report(
                &s.kind,
                "kind",
                format!(
                    "unknown kind \"{}\"; expected one of {}",
                    s.kind.get_ref(),
                    known.join(", ")
                ),
            );
            return None;
        };
        let mut ok = true;

        // Keys that belong to other kinds.
        use MonitorKind as K;
        if kind != K::Http {
            self.only_for(&s.url, "url", kind, "http");
            self.only_for(&s.method, "method", kind, "http");
            self.only_for(&s.headers, "headers", kind, "http");
            self.only_for(&s.body, "body", kind, "http");
            self.only_for(&s.follow_redirects, "follow_redirects", kind, "http");
            self.only_for(&s.max_redirects, "max_redirects", kind, "http");
            self.only_for(&s.max_body_bytes, "max_body_bytes", kind, "http");
        }
        if !matches!(kind, K::Tcp | K::Tls) {
            self.only_for(&s.target, "target", kind, "tcp and tls");
        }
        if kind != K::Tls {
            self.only_for(&s.hostname, "hostname", kind, "tls");
        }
        if kind != K::Dns {
            self.only_for(&s.query, "query", kind, "dns");
            self.only_for(&s.record, "record", kind, "dns");
            self.only_for(&s.resolver, "resolver", kind, "dns");
            if let Some(first) = s.expect.as_ref().and_then(|e| e.first()) {
                self.report(
                    first,
                    "expect",
                    format!("`expect` is not used by {kind} monitors (only by dns); remove it"),
                );
            }
        }
        if kind != K::Heartbeat {
            self.only_for(&s.period, "period", kind, "heartbeat");
            self.only_for(&s.grace, "grace", kind, "heartbeat");
            self.only_for(&s.token_file, "token_file", kind, "heartbeat");
        } else {
            self.only_for(&s.timeout, "timeout", kind, "http, tcp, dns and tls");
            self.only_for(
                &s.degraded_after,
                "degraded_after",
                kind,
                "http, tcp, dns and tls",
            );
            self.only_for(
                &s.allow_private,
                "allow_private",
                kind,
                "http, tcp, dns and tls",
            );
            if let Some(first) = s.conditions.as_ref().and_then(|c| c.first()) {
                self.report(
                    first,
                    "conditions",
                    "heartbeat monitors take no conditions: a ping is the result",
                );
            }
        }
        let before = self.problems.0.len();

        // Timing.
        let interval = match self.duration(&s.interval, "interval") {
            Some(d) => d.unwrap_or(DEFAULT_INTERVAL),
            None => {
                ok = false;
                DEFAULT_INTERVAL
            }
        };
        if let Some(v) = &s.interval
            && interval < MIN_INTERVAL
        {
            self.report(
                v,
                "interval",
                format!("{} is too short; the shortest interval is 1s", v.get_ref()),
            );
            ok = false;
        }
        let timeout = match self.duration(&s.timeout, "timeout") {
            None => {
                ok = false;
                DEFAULT_TIMEOUT
            }
            Some(Some(t)) => {
                if let Some(v) = &s.timeout {
                    if t >= interval {
                        self.report(
                            v,
                            "timeout",
                            format!(
                                "timeout {} must be shorter than the interval {}, or probes would overlap",
                                v.get_ref(),
                                format_duration(interval)
                            ),
                        );
                        ok = false;
                    } else if t.is_zero() {
                        self.report(v, "timeout", "must be longer than 0s");
                        ok = false;
                    }
                }
                t
            }
            Some(None) => DEFAULT_TIMEOUT.min(interval * 4 / 5),
        };
        let degraded_after = match self.duration(&s.degraded_after, "degraded_after") {
            Some(d) => d,
            None => {
                ok = false;
                None
            }
        };
        let failure_threshold = self.count(
            &s.failure_threshold,
            "failure_threshold",
            1..=100,
            u64::from(DEFAULT_FAILURE_THRESHOLD),
        );
        let success_threshold = self.count(
            &s.success_threshold,
            "success_threshold",
            1..=100,
            u64::from(DEFAULT_SUCCESS_THRESHOLD),
        );

        // Conditions.
        let mut conditions = Vec::new();
        match &s.conditions {
            Some(list) if kind != K::Heartbeat => {
                if list.is_empty() {
                    self.problems.push(Diagnostic::in_file(
                        self.path,
                        line_of(self.source, s.kind.span().start).into(),
                        Some(&format!("{}.conditions", self.prefix)),
                        "is empty; remove it to use the default conditions, or list at least one",
                    ));
                }
                for (i, text) in list.iter().enumerate() {
                    let parsed = Condition::parse(text.get_ref())
                        .and_then(|c| c.check_kind(kind).map(|()| c));
                    match parsed {
                        Ok(c) => conditions.push(c),
                        Err(e) => self.report(
                            text,
                            &format!("conditions[{i}]"),
                            format!("{e} in \"{}\"", text.get_ref()),
                        ),
                    }
                }
            }
            _ => {
                for text in kind.default_conditions() {
                    match Condition::parse(text) {
                        Ok(c) => conditions.push(c),
                        Err(e) => self.report(
                            &s.kind,
                            "conditions",
                            format!("internal: default condition {text}: {e}"),
                        ),
                    }
                }
            }
        }

        let check = match kind {
            K::Http => self.http(s),
            K::Tcp => self.target(s, kind).map(Check::Tcp),
            K::Tls => self.target(s, kind).and_then(|target| {
                let hostname = match &s.hostname {
                    Some(h) if is_host(h.get_ref()) => h.get_ref().clone(),
                    Some(h) => {
                        self.report(
                            h,
                            "hostname",
                            format!("\"{}\" is not a host name", h.get_ref()),
                        );
                        return None;
                    }
                    None => target.host.clone(),
                };
                Some(Check::Tls(TlsCheck { target, hostname }))
            }),
            K::Dns => self.dns(s),
            K::Heartbeat => self.heartbeat(s),
        };

        let name = match &s.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.report(n, "name", "must not be empty; remove it to use the id");
                None
            }
            Some(n) => Some(n.get_ref().trim().to_owned()),
            None => Some(s.id.get_ref().clone()),
        };

        if !ok || self.problems.0.len() != before {
            return None;
        }
        Some(MonitorSpec {
            id: s.id.get_ref().clone(),
            name: name?,
            check: check?,
            interval,
            timeout,
            conditions,
            degraded_after,
            failure_threshold: u32::try_from(failure_threshold?).ok()?,
            success_threshold: u32::try_from(success_threshold?).ok()?,
            allow_private: s.allow_private.as_ref().is_some_and(|v| *v.get_ref()),
        })
    }

    fn http(&mut self, s: &MonitorSection) -> Option<Check> {
        let Some(url) = &s.url else {
            self.report(
                &s.kind,
                "url",
                "http monitors need a `url`, e.g. url = \"https://api.example.com/health\"",
            );
            return None;
        };
        if let Err(m) = url_host(url.get_ref()) {
            self.report(url, "url", m);
        }
        let method = match &s.method {
            None => "GET".to_owned(),
            Some(m) => {
                let upper = m.get_ref().to_ascii_uppercase();
                if !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                    .contains(&upper.as_str())
                {
                    self.report(m, "method", format!("unknown method \"{}\"; expected GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS", m.get_ref()));
                }
                upper
            }
        };
        let mut headers = Vec::new();
        if let Some(h) = &s.headers {
            for (name, value) in h.get_ref() {
                let name_ok = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !name_ok {
                    self.report(
                        h,
                        "headers",
                        format!("\"{name}\" is not a valid header name"),
                    );
                } else if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                    self.report(
                        h,
                        "headers",
                        format!("the value of {name} contains a line break"),
                    );
                } else {
                    headers.push((name.clone(), value.clone()));
                }
            }
        }
        let max_redirects = self.count(
            &s.max_redirects,
            "max_redirects",
            0..=20,
            u64::from(DEFAULT_MAX_REDIRECTS),
        );
        let max_body_bytes = self.count(
            &s.max_body_bytes,
            "max_body_bytes",
            1..=MAX_MAX_BODY_BYTES as i64,
            DEFAULT_MAX_BODY_BYTES,
        );
        Some(Check::Http(HttpCheck {
            url: url.get_ref().clone(),
            method,
            headers,
            body: s.body.as_ref().map(|b| b.get_ref().clone()),
            follow_redirects: s.follow_redirects.as_ref().is_none_or(|v| *v.get_ref()),
            max_redirects: u32::try_from(max_redirects?).ok()?,
            max_body_bytes: max_body_bytes?,
        }))
    }

    fn target(&mut self, s: &MonitorSection, kind: MonitorKind) -> Option<Endpoint> {
        let Some(target) = &s.target else {
            self.report(
                &s.kind,
                "target",
                format!("{kind} monitors need a `target`, e.g. target = \"db.example.com:5432\""),
            );
            return None;
        };
        match parse_endpoint(target.get_ref()) {
            Ok(e) => Some(e),
            Err(m) => {
                self.report(target, "target", m);
                None
            }
        }
    }

    fn dns(&mut self, s: &MonitorSection) -> Option<Check> {
        let Some(query) = &s.query else {
            self.report(
                &s.kind,
                "query",
                "dns monitors need a `query`, e.g. query = \"example.com\"",
            );
            return None;
        };
        let name = query.get_ref().trim_end_matches('.');
        if !is_host(name) {
            self.report(
                query,
                "query",
                format!("\"{}\" is not a domain name", query.get_ref()),
            );
        }
        let record = match &s.record {
            None => Some(RecordType::A),
            Some(r) => {
                let found = RecordType::from_name(r.get_ref());
                if found.is_none() {
                    let known: Vec<&str> = RecordType::ALL.iter().map(|r| r.as_str()).collect();
                    self.report(
                        r,
                        "record",
                        format!(
                            "unsupported record type \"{}\"; expected one of {}",
                            r.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
                found
            }
        };
        let resolver = match &s.resolver {
            None => Some(None),
            Some(r) => {
                let text = r.get_ref();
                let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
                    text.parse::<IpAddr>()
                        .ok()
                        .map(|ip| SocketAddr::new(ip, 53))
                });
                if parsed.is_none() {
                    self.report(
                        r,
                        "resolver",
                        format!(
                            "\"{text}\" is not ip:port; expected e.g. \"1.1.1.1:53\" or \"9.9.9.9\""
                        ),
                    );
                }
                parsed.map(Some)
            }
        };
        Some(Check::Dns(DnsCheck {
            query: name.to_owned(),
            record: record?,
            resolver: resolver?,
            expect: s
                .expect
                .iter()
                .flatten()
                .map(|e| e.get_ref().trim().to_owned())
                .collect(),
        }))
    }

    fn heartbeat(&mut self, s: &MonitorSection) -> Option<Check> {
        let Some(period_text) = &s.period else {
            self.report(
                &s.kind,
                "period",
                "heartbeat monitors need a `period`: how often the job pings, e.g. period = \"1d\"",
            );
            return None;
        };
        let period = self
            .duration(&s.period, "period")?
            .unwrap_or(DEFAULT_INTERVAL);
        if period < MIN_INTERVAL {
            self.report(period_text, "period", "must be at least 1s");
            return None;
        }
        let grace = self.duration(&s.grace, "grace")?.unwrap_or(DEFAULT_GRACE);
        let base = self.path.parent().unwrap_or(Path::new(""));
        Some(Check::Heartbeat(HeartbeatCheck {
            period,
            grace,
            token_file: s.token_file.as_ref().map(|f| base.join(f.get_ref())),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const PATH: &str = "/srv/trust/candor.toml";

    fn load(text: &str) -> Result<Vec<MonitorSpec>, Diagnostics> {
        let file: MonitorsFile = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        validate_monitors(&file.monitors, text, Path::new(PATH))
    }

    fn errors(text: &str) -> Vec<String> {
        load(text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn http_monitor_gets_documented_defaults() {
        let specs = load("[[monitors]]\nid = \"api\"\nkind = \"http\"\nurl = \"https://api.example.com/health\"\n").unwrap();
        let s = &specs[0];
        assert_eq!(s.name, "api");
        assert_eq!(s.interval, Duration::from_secs(60));
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert_eq!(s.failure_threshold, 3);
        assert_eq!(s.success_threshold, 2);
        assert!(!s.allow_private);
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].to_string(), "[STATUS] < 400");
        let Check::Http(h) = &s.check else { panic!() };
        assert_eq!(h.method, "GET");
        assert!(h.follow_redirects);
        assert_eq!(h.max_redirects, 5);
        assert_eq!(h.max_body_bytes, 1 << 20);
    }

    #[test]
    fn every_kind_gets_its_default_condition() {
        let specs = load(
            r#"
[[monitors]]
id = "db"
kind = "tcp"
target = "db.example.com:5432"
[[monitors]]
id = "dns"
kind = "dns"
query = "example.com."
record = "aaaa"
resolver = "9.9.9.9"
expect = ["2001:db8::1"]
[[monitors]]
id = "cert"
kind = "tls"
target = "example.com:443"
[[monitors]]
id = "backup"
kind = "heartbeat"
period = "1d"
token_file = "secrets/backup.token"
"#,
        )
        .unwrap();
        let texts: Vec<String> = specs
            .iter()
            .map(|s| {
                s.conditions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .collect();
        assert_eq!(
            texts,
            [
                "[CONNECTED] == true",
                "[DNS_RCODE] == NOERROR",
                "[CERTIFICATE_EXPIRATION] > 0h",
                ""
            ]
        );
        let Check::Dns(d) = &specs[1].check else {
            panic!()
        };
        assert_eq!(d.record, RecordType::Aaaa);
        assert_eq!(d.query, "example.com");
        assert_eq!(d.resolver, Some("9.9.9.9:53".parse().unwrap()));
        let Check::Tls(t) = &specs[2].check else {
            panic!()
        };
        assert_eq!(t.hostname, "example.com");
        let Check::Heartbeat(h) = &specs[3].check else {
            panic!()
        };
        assert_eq!(h.period, Duration::from_secs(86_400));
        assert_eq!(h.grace, Duration::from_secs(3_600));
        assert_eq!(
            h.token_file.as_deref(),
            Some(Path::new("/srv/trust/secrets/backup.token"))
        );
    }

    #[test]
    fn bad_condition_points_at_its_own_line_and_column() {
        let e = errors(
            "[[monitors]]\nid = \"api\"\nkind = \"http\"\nurl = \"https://a.example\"\nconditions = [\n  \"[STATUS] == 200\",\n  \"[STAUTS] == 200\",\n]\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("/srv/trust/candor.toml:7: `monitors.api.conditions[1]`: unknown placeholder [STAUTS]"), "{e:?}");
        assert!(e[0].contains("at column 1 in \"[STAUTS] == 200\""), "{e:?}");
    }

    #[test]
    fn placeholder_the_kind_cannot_provide_is_refused() {
        let e = errors(
            "[[monitors]]\nid = \"db\"\nkind = \"tcp\"\ntarget = \"db:5432\"\nconditions = [\"[STATUS] == 200\"]\n",
        );
        assert!(
            e[0].contains(":5:") && e[0].contains("[STATUS] is not available on a tcp monitor"),
            "{e:?}"
        );
    }

    #[test]
    fn each_problem_is_reported_at_its_line() {
        let e = errors(
            r#"[[monitors]]
id = "a"
kind = "htp"
[[monitors]]
id = "b"
kind = "http"
[[monitors]]
id = "a"
kind = "tcp"
target = "db:5432"
interval = "30s"
timeout = "30s"
[[monitors]]
id = "Bad_Id"
kind = "dns"
query = "example.com"
record = "SRV"
[[monitors]]
id = "c"
kind = "tcp"
target = "db"
interval = "5 minutes"
degraded_after = "fast"
failure_threshold = 0
[[monitors]]
id = "d"
kind = "tcp"
target = "db:1"
url = "http://x"
"#,
        );
        let expect = [
            (
                ":3:",
                "unknown kind \"htp\"; expected one of http, tcp, dns, tls, heartbeat",
            ),
            (":6:", "`monitors.b.url`: http monitors need a `url`"),
            (":8:", "duplicate id \"a\""),
            (":12:", "timeout 30s must be shorter than the interval 30s"),
            (":14:", "\"Bad_Id\" is not a valid id"),
            (":17:", "unsupported record type \"SRV\""),
            (":21:", "\"db\" is not host:port"),
            (":22:", "\"5 minutes\" is not a duration"),
            (":23:", "\"fast\" is not a duration"),
            (":24:", "0 is out of range; expected 1 to 100"),
            (":29:", "`url` is not used by tcp monitors"),
        ];
        for (line, needle) in expect {
            assert!(
                e.iter().any(|m| m.contains(line) && m.contains(needle)),
                "missing {line} {needle} in {e:#?}"
            );
        }
        assert_eq!(e.len(), expect.len(), "{e:#?}");
    }

    #[test]
    fn unknown_keys_are_rejected_by_serde() {
        let err = toml::from_str::<MonitorsFile>(
            "[[monitors]]\nid = \"a\"\nkind = \"tcp\"\ntraget = \"x:1\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("traget"), "{err}");
    }

    #[test]
    fn short_interval_shortens_the_default_timeout() {
        let specs = load(
            "[[monitors]]\nid = \"a\"\nkind = \"tcp\"\ntarget = \"db:1\"\ninterval = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(specs[0].timeout, Duration::from_secs(4));
        let e = errors(
            "[[monitors]]\nid = \"a\"\nkind = \"tcp\"\ntarget = \"db:1\"\ninterval = \"500ms\"\n",
        );
        assert!(
            e[0].contains(":5:") && e[0].contains("shortest interval is 1s"),
            "{e:?}"
        );
    }

    #[test]
    fn header_values_never_show_in_debug() {
        let specs = load("[[monitors]]\nid = \"a\"\nkind = \"http\"\nurl = \"https://a.example/\"\nheaders = { Authorization = \"Bearer s3cret\" }\n").unwrap();
        let debug = format!("{specs:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("Authorization"), "{debug}");
    }

    #[test]
    fn heartbeat_refuses_probe_keys_and_needs_a_period() {
        let e = errors(
            "[[monitors]]\nid = \"a\"\nkind = \"heartbeat\"\nconditions = [\"[STATUS] == 200\"]\n",
        );
        assert!(
            e.iter()
                .any(|m| m.contains(":4:") && m.contains("take no conditions")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains(":3:") && m.contains("need a `period`")),
            "{e:?}"
        );
    }

    #[test]
    fn durations_parse_and_print() {
        for (text, ms) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("30m", 1_800_000),
            ("168h", 604_800_000),
            ("1h30m", 5_400_000),
            ("7d", 604_800_000),
            ("0h", 0),
        ] {
            assert_eq!(
                parse_duration(text).unwrap(),
                Duration::from_millis(ms),
                "{text}"
            );
            assert_eq!(
                parse_duration(&format_duration(Duration::from_millis(ms))).unwrap(),
                Duration::from_millis(ms)
            );
        }
        for bad in [
            "",
            "5",
            "h",
            "5x",
            "1.5h",
            "-1s",
            "5 s",
            "99999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn endpoints_and_url_hosts() {
        assert_eq!(parse_endpoint("db.example.com:5432").unwrap().port, 5432);
        assert_eq!(parse_endpoint("[::1]:443").unwrap().host, "::1");
        assert_eq!(
            parse_endpoint("[::1]:443").unwrap().to_string(),
            "[::1]:443"
        );
        for bad in ["db", "db:0", "db:70000", ":80", "::1:80", "a b:1"] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
        assert_eq!(
            url_host("https://user:pw@api.example.com:8443/x?y").unwrap(),
            "api.example.com"
        );
        assert_eq!(url_host("http://[::1]:80/").unwrap(), "::1");
        assert!(url_host("ftp://x").is_err());
        assert!(url_host("https:///path").is_err());
    }

    #[test]
    fn an_api_monitor_is_checked_like_a_config_one() {
        let body = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let spec = monitor_from_json(
            "api-health",
            &body(serde_json::json!({
                "kind": "http",
                "url": "https://api.example.com/health",
                "interval": "30s",
                "headers": { "accept": "application/json" },
                "conditions": ["[STATUS] == 200", "[RESPONSE_TIME] < 500"],
                "failure_threshold": 2,
                "degraded_after": null,
            })),
        )
        .unwrap();
        assert_eq!(spec.id, "api-health");
        assert_eq!(spec.interval, Duration::from_secs(30));
        assert_eq!(spec.conditions.len(), 2);
        assert_eq!(spec.failure_threshold, 2);

        let problems = monitor_from_json(
            "api-health",
            &body(serde_json::json!({
                "kind": "http",
                "url": "https://api.example.com/health",
                "conditions": ["[STATUS] == 200", "[STATUS] =="],
            })),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "conditions[1]", "{problems:?}");

        let unknown = monitor_from_json(
            "x",
            &body(serde_json::json!({ "kind": "tcp", "target": "db.example.com:5432", "colour": "red" })),
        )
        .unwrap_err();
        assert_eq!(unknown[0].field, "body");
        assert!(unknown[0].message.contains("colour"), "{unknown:?}");

        let file = monitor_from_json(
            "beat",
            &body(serde_json::json!({ "kind": "heartbeat", "period": "1h", "token_file": "/etc/shadow" })),
        )
        .unwrap_err();
        assert_eq!(file[0].field, "token_file");

        let bad_id = monitor_from_json(
            "Bad Id",
            &body(serde_json::json!({ "kind": "tcp", "target": "a.example:1" })),
        )
        .unwrap_err();
        assert_eq!(bad_id[0].field, "id", "{bad_id:?}");
    }
}
