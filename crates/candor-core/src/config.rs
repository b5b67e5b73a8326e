//! `candor.toml`: the versioned trust-as-code configuration, and the settings resolved from it,
//! the environment and the command line (flag > environment variable > file > default).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics, from_toml_error, line_of};

/// The only configuration format version this build understands.
pub const CONFIG_VERSION: i64 = 1;
/// Where the server listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// `candor.toml` as written by the vendor. Unknown keys are rejected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Format version; must be 1.
    pub version: Spanned<i64>,
    /// What the trust center is called and where visitors find it.
    pub site: SiteSection,
    /// How the server runs.
    #[serde(default)]
    pub server: ServerSection,
    /// The verifiable log.
    #[serde(default)]
    pub log: LogSection,
    /// An embedded witness.
    pub witness: Option<WitnessSection>,
    /// OpenID Connect sign-in for operators.
    pub oidc: Option<OidcSection>,
    /// Outgoing mail; default: `.eml` files in `<data_dir>/mail`.
    pub mail: Option<MailSection>,
    /// History retention for the status page.
    pub status: Option<crate::status_config::StatusSection>,
    /// Groups of components on the status page.
    #[serde(default)]
    pub component_groups: Vec<crate::status_config::GroupSection>,
    /// Components on the status page.
    #[serde(default)]
    pub components: Vec<crate::status_config::ComponentSection>,
    /// SLA policies.
    #[serde(default)]
    pub sla: Vec<crate::status_config::SlaSection>,
    /// Uptime monitors.
    #[serde(default)]
    pub monitors: Vec<crate::monitor::MonitorSection>,
    /// A small service on loopback that fails on a schedule, for demos of monitoring.
    pub demo_target: Option<DemoTargetSection>,
}

/// `[demo_target]`: a service the server starts on loopback, healthy except for a window at
/// the start of every cycle, so a demo shows monitors, outages and incidents for real.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoTargetSection {
    /// Loopback address to listen on.
    pub listen: Spanned<String>,
    /// Length of one cycle (default "20m").
    pub cycle: Option<Spanned<String>>,
    /// How long it fails at the start of each cycle (default "2m").
    pub down_for: Option<Spanned<String>>,
}

/// The demo target, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoTarget {
    /// Where it listens (a loopback address).
    pub listen: SocketAddr,
    /// Cycle length.
    pub cycle: std::time::Duration,
    /// Failing part of each cycle.
    pub down_for: std::time::Duration,
}

/// `[oidc]`: operators may sign in with this OpenID Connect provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSection {
    /// The issuer URL (https; http only on loopback).
    pub issuer: Spanned<String>,
    /// The client id registered with the provider.
    pub client_id: Spanned<String>,
    /// The button's label, e.g. "Acme SSO".
    pub label: Option<String>,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// The log's origin line (its name in checkpoints); default: `public_url` without the scheme,
    /// plus `/log`. It can never change once a checkpoint is signed.
    pub origin: Option<Spanned<String>>,
    /// The Ed25519 signing key (C2SP signer key format), relative to the config file; default:
    /// `log-signing.key` in the data directory, created on first start.
    pub key_file: Option<Spanned<String>>,
    /// Witnesses to submit every new checkpoint to.
    #[serde(default)]
    pub witnesses: Vec<WitnessTargetSection>,
}

/// `[[log.witnesses]]`: a witness this log submits its checkpoints to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessTargetSection {
    /// The witness's submission prefix (`<url>/add-checkpoint` is posted to).
    pub url: Option<String>,
    /// The witness's cosigner verifier key.
    pub vkey: Option<String>,
    /// Use the witness running inside this server (`[witness]`), for demos and tests.
    #[serde(default)]
    pub builtin: bool,
}

/// `[witness]`: run a witness inside this server, at `/witness/add-checkpoint`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessSection {
    /// The witness's name (its key name in cosignatures).
    pub name: Spanned<String>,
    /// Verifier keys of other logs it cosigns.
    #[serde(default)]
    pub follow: Vec<String>,
    /// Also cosign this server's own log (a demo convenience: a real witness is independent).
    #[serde(default)]
    pub follow_own_log: bool,
}

/// `[site]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    /// The trust center's name, shown in the header and titles.
    pub name: Spanned<String>,
    /// The vendor's name, used in the footer and in feeds.
    pub vendor: Option<String>,
    /// A short line under the name.
    pub tagline: Option<String>,
    /// The address visitors use (required outside loopback).
    pub public_url: Option<Spanned<String>>,
    /// The security contact shown in the footer.
    pub contact_email: Option<Spanned<String>>,
    /// Folder of `*.md` pages, relative to the config file.
    pub content_dir: Option<Spanned<String>>,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Socket address to listen on.
    pub listen: Option<Spanned<String>>,
    /// Folder for the database and keys, relative to the config file.
    pub data_dir: Option<Spanned<String>>,
    /// `postgres://…` to use PostgreSQL; default is SQLite in the data directory.
    pub database_url: Option<Spanned<String>>,
}

/// A setting given on the command line or in the environment; it beats the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `CANDOR_LISTEN`.
    pub listen: Option<String>,
    /// `--data-dir` / `CANDOR_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `CANDOR_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// `CANDOR_DATABASE_URL`.
    pub database_url: Option<SecretString>,
    /// `CANDOR_OIDC_CLIENT_SECRET` (never in the config file, which is kept in git).
    pub oidc_client_secret: Option<SecretString>,
}

/// A string that never shows in `Debug` or logs (passwords inside database URLs).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        SecretString(s.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// Which database to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (the default: `<data_dir>/candor.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(SecretString),
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "SQLite at {}", path.display()),
            Database::Postgres(url) => write!(f, "PostgreSQL at {}", redact_url(url.expose())),
        }
    }
}

/// A URL with any password replaced by `***`, safe to log.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparseable URL>".into();
    };
    // The authority ends at the first '/', '?' or '#'; the query (which may carry a password,
    // e.g. `?password=…`) and the fragment are never shown.
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let tail = tail.split(['?', '#']).next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// The address visitors use, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// Validates an absolute http(s) URL with a host and no query or fragment.
    pub fn parse(raw: &str) -> Result<PublicUrl, String> {
        let trimmed = raw.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
            .ok_or_else(|| format!("\"{raw}\" is not an http:// or https:// URL; expected e.g. \"https://trust.example.com\""))?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') || host.contains(' ') {
            return Err(format!(
                "\"{raw}\" has no valid host; expected e.g. \"https://trust.example.com\""
            ));
        }
        if trimmed.contains('?') || trimmed.contains('#') {
            return Err(format!("\"{raw}\" must not contain a query or fragment"));
        }
        Ok(PublicUrl(trimmed.to_owned()))
    }

    /// True when visitors reach the site over TLS (so HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An absolute URL for a site path such as `/security`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

/// Everything the server needs to run, resolved and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file these settings came from.
    pub config_path: PathBuf,
    /// The trust center's name.
    pub site_name: String,
    /// The vendor's name.
    pub vendor: String,
    /// Optional tagline.
    pub tagline: Option<String>,
    /// Security contact.
    pub contact_email: Option<String>,
    /// The address visitors use.
    pub public_url: PublicUrl,
    /// The socket address to listen on.
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The database.
    pub database: Database,
    /// The content folder.
    pub content_dir: PathBuf,
    /// The log's origin.
    pub log_origin: String,
    /// True when `log.origin` was set explicitly (otherwise it was derived from `public_url`).
    pub log_origin_explicit: bool,
    /// The log signing key file.
    pub log_key_file: PathBuf,
    /// Witnesses to submit checkpoints to.
    pub witnesses: Vec<WitnessTarget>,
    /// The embedded witness, if configured.
    pub embedded_witness: Option<EmbeddedWitness>,
    /// OpenID Connect sign-in, if configured.
    pub oidc: Option<OidcConfig>,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// Components, groups, SLA policies and history retention.
    pub status: crate::status::StatusSettings,
    /// The demo target, if configured.
    pub demo_target: Option<DemoTarget>,
}

/// OpenID Connect sign-in settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL.
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    /// The client secret, from `CANDOR_OIDC_CLIENT_SECRET` (none: a public client with PKCE).
    pub client_secret: Option<SecretString>,
    /// The sign-in button's label.
    pub label: String,
}

/// A witness the log submits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessTarget {
    /// Over HTTP.
    Remote {
        /// Submission prefix.
        url: String,
        /// Cosigner verifier key.
        vkey: String,
    },
    /// The embedded witness.
    Builtin,
}

/// The embedded witness's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedWitness {
    /// Its name.
    pub name: String,
    /// Verifier keys of logs it follows.
    pub follow: Vec<String>,
    /// Whether it follows this server's log.
    pub follow_own_log: bool,
}

/// Parses `candor.toml` text and resolves it with the overrides. Collects every problem.
pub fn resolve(path: &Path, text: &str, overrides: &Overrides) -> Result<Settings, Diagnostics> {
    let mut problems = Diagnostics::default();
    let file: ConfigFile = match toml::from_str(text) {
        Ok(file) => file,
        Err(err) => {
            problems.push(from_toml_error(path, text, 0, &err));
            return Err(problems);
        }
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let at = |span: std::ops::Range<usize>| Some(line_of(text, span.start));

    if *file.version.get_ref() != CONFIG_VERSION {
        problems.push(Diagnostic::in_file(
            path,
            at(file.version.span()),
            Some("version"),
            format!(
                "unsupported version {}; this build of Candor reads version {CONFIG_VERSION}",
                file.version.get_ref()
            ),
        ));
    }
    let site_name = file.site.name.get_ref().trim().to_owned();
    if site_name.is_empty() {
        problems.push(Diagnostic::in_file(
            path,
            at(file.site.name.span()),
            Some("site.name"),
            "must not be empty",
        ));
    }

    let listen_raw = match &overrides.listen {
        Some(l) => Some((l.clone(), None)),
        None => file
            .server
            .listen
            .as_ref()
            .map(|s| (s.get_ref().clone(), Some(s.span()))),
    };
    let listen = match &listen_raw {
        None => DEFAULT_LISTEN.parse::<SocketAddr>().ok(),
        Some((raw, span)) => match raw.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                let msg = format!(
                    "\"{raw}\" is not a socket address; expected IP:PORT such as \"127.0.0.1:8080\" or \"[::]:8080\""
                );
                problems.push(match span {
                    Some(span) => {
                        Diagnostic::in_file(path, at(span.clone()), Some("server.listen"), msg)
                    }
                    None => Diagnostic::in_setting("--listen / CANDOR_LISTEN", msg),
                });
                None
            }
        },
    };

    let public_url = match (&overrides.public_url, &file.site.public_url) {
        (Some(raw), _) => PublicUrl::parse(raw)
            .map_err(|m| problems.push(Diagnostic::in_setting("CANDOR_PUBLIC_URL", m)))
            .ok(),
        (None, Some(spanned)) => PublicUrl::parse(spanned.get_ref())
            .map_err(|m| {
                problems.push(Diagnostic::in_file(
                    path,
                    at(spanned.span()),
                    Some("site.public_url"),
                    m,
                ))
            })
            .ok(),
        (None, None) => match listen {
            Some(addr) if addr.ip().is_loopback() => {
                PublicUrl::parse(&format!("http://{addr}")).ok()
            }
            Some(addr) => {
                problems.push(Diagnostic::in_file(
                    path,
                    None,
                    Some("site.public_url"),
                    format!(
                        "is required when listening on {addr}, which is not a loopback address; set it to the address visitors use, e.g. \"https://trust.example.com\" (or CANDOR_PUBLIC_URL)"
                    ),
                ));
                None
            }
            None => None,
        },
    };

    let data_dir = match (&overrides.data_dir, &file.server.data_dir) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => base.join(dir.get_ref()),
        (None, None) => base.join("data"),
    };

    let database = match (&overrides.database_url, &file.server.database_url) {
        (Some(url), _) => parse_database(url.expose(), &data_dir)
            .map_err(|m| problems.push(Diagnostic::in_setting("CANDOR_DATABASE_URL", m)))
            .ok(),
        (None, Some(url)) => parse_database(url.get_ref(), &data_dir)
            .map_err(|m| {
                problems.push(Diagnostic::in_file(
                    path,
                    at(url.span()),
                    Some("server.database_url"),
                    m,
                ))
            })
            .ok(),
        (None, None) => Some(Database::Sqlite(data_dir.join("candor.db"))),
    };

    let contact_email = file.site.contact_email.as_ref().and_then(|email| {
        let e = email.get_ref().trim();
        let valid = e
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !e.contains(' '));
        if valid {
            Some(e.to_owned())
        } else {
            problems.push(Diagnostic::in_file(
                path,
                at(email.span()),
                Some("site.contact_email"),
                format!("\"{e}\" is not an email address; expected e.g. \"security@example.com\""),
            ));
            None
        }
    });

    let log_origin = match (&file.log.origin, &public_url) {
        (Some(origin), _) => {
            let o = origin.get_ref().trim();
            if o.is_empty() || o.contains(char::is_whitespace) || o.contains('+') {
                problems.push(Diagnostic::in_file(
                    path,
                    at(origin.span()),
                    Some("log.origin"),
                    format!("\"{o}\" is not a valid log origin; expected a schemeless URL without spaces or '+', e.g. \"trust.example.com/log\""),
                ));
            }
            o.to_owned()
        }
        (None, Some(url)) => default_origin(url),
        (None, None) => String::new(),
    };
    let log_key_file = match &file.log.key_file {
        Some(k) => base.join(k.get_ref()),
        None => data_dir.join("log-signing.key"),
    };

    let mut witnesses = Vec::new();
    for (i, w) in file.log.witnesses.iter().enumerate() {
        let key = format!("log.witnesses[{i}]");
        match (w.builtin, &w.url, &w.vkey) {
            (true, None, None) if file.witness.is_some() => witnesses.push(WitnessTarget::Builtin),
            (true, None, None) => problems.push(Diagnostic::in_file(path, None, Some(&key), "builtin = true needs a [witness] section")),
            (false, Some(url), Some(vkey)) if url.starts_with("http://") || url.starts_with("https://") => {
                witnesses.push(WitnessTarget::Remote { url: url.trim_end_matches('/').to_owned(), vkey: vkey.clone() });
            }
            _ => problems.push(Diagnostic::in_file(
                path,
                None,
                Some(&key),
                "expected either url = \"https://…\" and vkey = \"<witness verifier key>\", or builtin = true",
            )),
        }
    }
    let oidc = file.oidc.as_ref().and_then(|o| {
        let issuer = o.issuer.get_ref().trim_end_matches('/').to_owned();
        let ok = issuer.starts_with("https://")
            || issuer.starts_with("http://127.")
            || issuer.starts_with("http://localhost")
            || issuer.starts_with("http://[::1]");
        if !ok {
            problems.push(Diagnostic::in_file(
                path,
                at(o.issuer.span()),
                Some("oidc.issuer"),
                "the issuer must be an https:// URL (http:// only on a loopback address)",
            ));
            return None;
        }
        if o.client_id.get_ref().trim().is_empty() {
            problems.push(Diagnostic::in_file(
                path,
                at(o.client_id.span()),
                Some("oidc.client_id"),
                "the client id must not be empty",
            ));
            return None;
        }
        Some(OidcConfig {
            issuer,
            client_id: o.client_id.get_ref().trim().to_owned(),
            client_secret: overrides.oidc_client_secret.clone(),
            label: o.label.clone().unwrap_or_else(|| "single sign-on".into()),
        })
    });
    let embedded_witness = file.witness.as_ref().map(|w| EmbeddedWitness {
        name: w.name.get_ref().clone(),
        follow: w.follow.clone(),
        follow_own_log: w.follow_own_log,
    });

    let content_dir = base.join(
        file.site
            .content_dir
            .as_ref()
            .map_or("content", |c| c.get_ref().as_str()),
    );

    let mail = resolve_mail(
        path,
        text,
        file.mail.as_ref(),
        &MailDefaults {
            base: &base,
            data_dir: &data_dir,
            public_url: public_url.as_ref(),
            site_name: &site_name,
        },
        &mut problems,
    );

    let monitors = match crate::monitor::validate_monitors(&file.monitors, text, path) {
        Ok(specs) => specs,
        Err(found) => {
            problems.0.extend(found.0);
            Vec::new()
        }
    };
    let monitor_ids: Vec<String> = file
        .monitors
        .iter()
        .map(|m| m.id.get_ref().trim().to_owned())
        .collect();
    let mut status = crate::status_config::resolve(
        &crate::status_config::Sections {
            status: file.status.as_ref(),
            groups: &file.component_groups,
            components: &file.components,
            sla: &file.sla,
        },
        &monitor_ids,
        text,
        path,
        &mut problems.0,
    );
    status.monitors = monitors;
    let demo_target = file.demo_target.as_ref().and_then(|d| {
        let mut ok = true;
        let listen = match d.listen.get_ref().parse::<SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => Some(a),
            _ => {
                ok = false;
                problems.push(Diagnostic::in_file(
                    path,
                    at(d.listen.span()),
                    Some("demo_target.listen"),
                    format!(
                        "\"{}\" is not a loopback address such as \"127.0.0.1:8081\"",
                        d.listen.get_ref()
                    ),
                ));
                None
            }
        };
        let mut duration = |field: &Option<Spanned<String>>, key: &str, default: u64| match field {
            None => Some(std::time::Duration::from_secs(default)),
            Some(v) => crate::monitor::parse_duration(v.get_ref())
                .map_err(|m| {
                    ok = false;
                    problems.push(Diagnostic::in_file(path, at(v.span()), Some(key), m))
                })
                .ok(),
        };
        let cycle = duration(&d.cycle, "demo_target.cycle", 1200);
        let down_for = duration(&d.down_for, "demo_target.down_for", 120);
        match (listen, cycle, down_for) {
            (Some(listen), Some(cycle), Some(down_for)) if ok && down_for < cycle => {
                Some(DemoTarget {
                    listen,
                    cycle,
                    down_for,
                })
            }
            (Some(_), Some(_), Some(_)) if ok => {
                problems.push(Diagnostic::in_file(
                    path,
                    at(d.listen.span()),
                    Some("demo_target.down_for"),
                    "must be shorter than `cycle`",
                ));
                None
            }
            _ => None,
        }
    });

    match (listen, public_url, database) {
        (Some(listen), Some(public_url), Some(database)) if problems.is_empty() => Ok(Settings {
            config_path: path.to_path_buf(),
            vendor: file
                .site
                .vendor
                .clone()
                .unwrap_or_else(|| site_name.clone()),
            site_name,
            tagline: file.site.tagline.clone(),
            contact_email,
            public_url,
            listen,
            data_dir,
            database,
            content_dir,
            log_origin,
            log_origin_explicit: file.log.origin.is_some(),
            log_key_file,
            witnesses,
            embedded_witness,
            oidc,
            mail,
            status,
            demo_target,
        }),
        _ => Err(problems),
    }
}

/// The default origin: the public URL without its scheme, plus `/log`.
pub fn default_origin(public_url: &PublicUrl) -> String {
    let without_scheme = public_url
        .as_str()
        .split_once("://")
        .map_or(public_url.as_str(), |(_, rest)| rest);
    format!("{without_scheme}/log")
}

fn parse_database(raw: &str, data_dir: &Path) -> Result<Database, String> {
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        Ok(Database::Postgres(SecretString::new(raw)))
    } else if let Some(rest) = raw
        .strip_prefix("sqlite://")
        .or_else(|| raw.strip_prefix("sqlite:"))
    {
        if rest.is_empty() {
            return Ok(Database::Sqlite(data_dir.join("candor.db")));
        }
        Ok(Database::Sqlite(PathBuf::from(rest)))
    } else {
        Err(format!(
            "\"{}\" is not a supported database URL; expected \"postgres://user@host/db\" or \"sqlite:PATH\" (or leave it out for SQLite in the data directory)",
            redact_url(raw)
        ))
    }
}

// ---- [mail]: outgoing mail ----

/// `[mail]`: how Candor sends mail (magic links, notifications). Without it, mail is written as
/// `.eml` files into `<data_dir>/mail`, so the demo works offline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    /// The From header, `"Acme Trust <trust@acme.example>"` or a bare address.
    pub from: Spanned<String>,
    /// `"file"` or `"smtp"`; default: `"smtp"` when `smtp_url` is set, else `"file"`.
    pub transport: Option<Spanned<String>>,
    /// Folder for `.eml` files (file transport), relative to the config file.
    pub dir: Option<Spanned<String>>,
    /// `smtps://user:pass@host:465` (implicit TLS), `smtp://user@host:587` (STARTTLS required),
    /// or `smtp://127.0.0.1:2525?tls=none` (no TLS: loopback only).
    pub smtp_url: Option<Spanned<SecretString>>,
    /// A file holding the SMTP password (instead of putting it in `smtp_url`).
    pub smtp_password_file: Option<Spanned<String>>,
    /// PEM file of the CA(s) to trust for the relay instead of the system roots.
    pub smtp_ca_file: Option<Spanned<String>>,
    /// How long one SMTP step may take, in seconds (default 30).
    pub smtp_timeout_secs: Option<Spanned<i64>>,
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString::new)
    }
}

/// Outgoing mail, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The From mailbox of every message (also the envelope sender).
    pub from: MailFrom,
    /// Where messages go.
    pub transport: MailTransport,
}

/// A From mailbox: an optional display name and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    /// Display name (`Acme Trust`), if any.
    pub name: Option<String>,
    /// `local@domain`.
    pub address: String,
}

impl MailFrom {
    /// Parses `"Name <local@domain>"` or `"local@domain"`.
    pub fn parse(raw: &str) -> Result<MailFrom, String> {
        if raw.contains(['\r', '\n']) {
            return Err("contains a line break; expected one line such as \"Acme Trust <trust@acme.example>\"".into());
        }
        let raw = raw.trim();
        let (name, address) = match raw.strip_suffix('>').and_then(|r| r.rsplit_once('<')) {
            Some((name, address)) => {
                let name = name.trim().trim_matches('"').trim();
                ((!name.is_empty()).then(|| name.to_owned()), address.trim())
            }
            None => (None, raw),
        };
        if !is_mail_address(address) {
            return Err(format!(
                "\"{raw}\" is not a mailbox; expected \"Name <local@domain>\" or \"local@domain\", e.g. \"Acme Trust <trust@acme.example>\""
            ));
        }
        Ok(MailFrom {
            name,
            address: address.to_owned(),
        })
    }

    /// The domain of the address (Message-IDs are made under it).
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for MailFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.address),
            None => f.write_str(&self.address),
        }
    }
}

/// True for `local@domain` with an RFC 5322 dot-atom local part and a DNS domain.
pub fn is_mail_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(atext));
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// Where outgoing mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// One `<message-id>.eml` file per message in `dir`.
    File {
        /// The folder (created on first use).
        dir: PathBuf,
    },
    /// An SMTP relay.
    Smtp(SmtpSettings),
}

/// An SMTP relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Host name or IP address of the relay.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How the connection is protected.
    pub security: SmtpSecurity,
    /// AUTH user name, if the relay wants one.
    pub username: Option<String>,
    /// AUTH password given in `smtp_url` (never shown).
    pub password: Option<SecretString>,
    /// File to read the AUTH password from when the transport starts.
    pub password_file: Option<PathBuf>,
    /// PEM CA file trusted instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Limit for each SMTP step, in milliseconds.
    pub timeout_ms: u64,
}

impl SmtpSettings {
    /// The relay as a URL with no password, safe to log: `smtps://user@host:465`.
    pub fn relay(&self) -> String {
        let scheme = match self.security {
            SmtpSecurity::Tls => "smtps",
            SmtpSecurity::StartTls | SmtpSecurity::None => "smtp",
        };
        let user = self
            .username
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let query = match self.security {
            SmtpSecurity::None => "?tls=none",
            _ => "",
        };
        format!("{scheme}://{user}{host}:{}{query}", self.port)
    }
}

/// TLS on the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (`smtps://`, port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which the relay must offer (`smtp://`, port 587).
    StartTls,
    /// No TLS at all: only for a relay on this machine (`?tls=none`), for tests and development.
    None,
}

/// Default SMTP step timeout.
pub const DEFAULT_SMTP_TIMEOUT_SECS: i64 = 30;

/// What `[mail]` falls back to.
struct MailDefaults<'a> {
    base: &'a Path,
    data_dir: &'a Path,
    public_url: Option<&'a PublicUrl>,
    site_name: &'a str,
}

/// The default From: `"<site name> <no-reply@<public_url host>>"` (`localhost` for an IP).
fn default_mail_from(defaults: &MailDefaults<'_>) -> MailFrom {
    let host = defaults
        .public_url
        .and_then(|url| url.as_str().split_once("://"))
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
        .map(|authority| match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        })
        .unwrap_or_default()
        .to_ascii_lowercase();
    let domain = if host.parse::<std::net::IpAddr>().is_ok() || host.is_empty() {
        "localhost".to_owned()
    } else {
        host
    };
    let address = format!("no-reply@{domain}");
    let name: String = defaults
        .site_name
        .chars()
        .filter(|c| !c.is_control() && !"<>\"".contains(*c))
        .collect();
    MailFrom {
        name: (!name.trim().is_empty()).then(|| name.trim().to_owned()),
        address: if is_mail_address(&address) {
            address
        } else {
            "no-reply@localhost".into()
        },
    }
}

fn resolve_mail(
    path: &Path,
    text: &str,
    section: Option<&MailSection>,
    defaults: &MailDefaults<'_>,
    problems: &mut Diagnostics,
) -> MailSettings {
    let default_dir = defaults.data_dir.join("mail");
    let Some(section) = section else {
        return MailSettings {
            from: default_mail_from(defaults),
            transport: MailTransport::File { dir: default_dir },
        };
    };
    let mut problem = |span: std::ops::Range<usize>, key: &str, message: String| {
        problems.push(Diagnostic::in_file(
            path,
            Some(line_of(text, span.start)),
            Some(key),
            message,
        ));
    };

    let from = MailFrom::parse(section.from.get_ref()).unwrap_or_else(|m| {
        problem(section.from.span(), "mail.from", m);
        default_mail_from(defaults)
    });

    let transport = match &section.transport {
        Some(t) => t.get_ref().as_str(),
        None if section.smtp_url.is_some() => "smtp",
        None => "file",
    };
    let transport_span = section
        .transport
        .as_ref()
        .map_or(section.from.span(), Spanned::span);
    let smtp_only = [
        (
            "mail.smtp_url",
            section.smtp_url.as_ref().map(Spanned::span),
        ),
        (
            "mail.smtp_password_file",
            section.smtp_password_file.as_ref().map(Spanned::span),
        ),
        (
            "mail.smtp_ca_file",
            section.smtp_ca_file.as_ref().map(Spanned::span),
        ),
        (
            "mail.smtp_timeout_secs",
            section.smtp_timeout_secs.as_ref().map(Spanned::span),
        ),
    ];
    let transport = match transport {
        "file" => {
            for (key, span) in smtp_only {
                if let Some(span) = span {
                    problem(
                        span,
                        key,
                        "is only used with transport = \"smtp\"; remove it or set transport = \"smtp\"".into(),
                    );
                }
            }
            MailTransport::File {
                dir: section
                    .dir
                    .as_ref()
                    .map_or(default_dir.clone(), |d| defaults.base.join(d.get_ref())),
            }
        }
        "smtp" => {
            if let Some(dir) = &section.dir {
                problem(
                    dir.span(),
                    "mail.dir",
                    "is only used with transport = \"file\"; remove it or set transport = \"file\""
                        .into(),
                );
            }
            match &section.smtp_url {
                None => {
                    problem(
                        transport_span,
                        "mail.smtp_url",
                        "is required with transport = \"smtp\"; set it to the relay, e.g. \"smtps://user@smtp.example.com:465\" or \"smtp://user@smtp.example.com:587\" (STARTTLS)".into(),
                    );
                    MailTransport::File { dir: default_dir }
                }
                Some(url) => match parse_smtp_url(url.get_ref().expose()) {
                    Err(m) => {
                        problem(url.span(), "mail.smtp_url", m);
                        MailTransport::File { dir: default_dir }
                    }
                    Ok(mut smtp) => {
                        if let Some(file) = &section.smtp_password_file {
                            if smtp.password.is_some() {
                                problem(
                                    file.span(),
                                    "mail.smtp_password_file",
                                    "smtp_url already has a password; keep only one of them (the file is better: candor.toml is kept in git)".into(),
                                );
                            } else if smtp.username.is_none() {
                                problem(
                                    file.span(),
                                    "mail.smtp_password_file",
                                    "needs a user name in smtp_url, e.g. \"smtps://user@smtp.example.com:465\"".into(),
                                );
                            }
                            smtp.password_file = Some(defaults.base.join(file.get_ref()));
                        } else if smtp.username.is_some() && smtp.password.is_none() {
                            problem(
                                url.span(),
                                "mail.smtp_url",
                                "names a user but no password; set smtp_password_file (or put the password in the URL, %-encoded)".into(),
                            );
                        }
                        smtp.ca_file = section
                            .smtp_ca_file
                            .as_ref()
                            .map(|f| defaults.base.join(f.get_ref()));
                        if let Some(secs) = &section.smtp_timeout_secs {
                            match u64::try_from(*secs.get_ref()) {
                                Ok(s @ 1..=600) => smtp.timeout_ms = s * 1000,
                                _ => problem(
                                    secs.span(),
                                    "mail.smtp_timeout_secs",
                                    format!(
                                        "{} is out of range; expected 1 to 600 seconds",
                                        secs.get_ref()
                                    ),
                                ),
                            }
                        }
                        MailTransport::Smtp(smtp)
                    }
                },
            }
        }
        other => {
            problem(
                transport_span,
                "mail.transport",
                format!("unknown transport \"{other}\"; expected \"file\" or \"smtp\""),
            );
            MailTransport::File { dir: default_dir }
        }
    };
    MailSettings { from, transport }
}

/// Parses `smtps://[user[:pass]@]host[:port]`, `smtp://…` (STARTTLS) and `smtp://…?tls=none`.
/// Messages never contain the password.
pub fn parse_smtp_url(raw: &str) -> Result<SmtpSettings, String> {
    // Without the query: redact_url keeps a query that follows the host directly.
    let shown = redact_url(raw.split(['?', '#']).next().unwrap_or_default());
    let expected = "expected \"smtps://user@host:465\" (TLS), \"smtp://user@host:587\" (STARTTLS) or \"smtp://127.0.0.1:2525?tls=none\" (loopback only)";
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| format!("\"{shown}\" is not an SMTP URL; {expected}"))?;
    let (mut security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtps" => (SmtpSecurity::Tls, 465),
        "smtp" => (SmtpSecurity::StartTls, 587),
        _ => {
            return Err(format!(
                "\"{shown}\": unknown scheme \"{scheme}\"; {expected}"
            ));
        }
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') || authority.contains('#') {
        return Err(format!(
            "\"{shown}\" must not have a path or fragment; {expected}"
        ));
    }
    match query {
        None => {}
        Some("tls=none") if security == SmtpSecurity::StartTls => security = SmtpSecurity::None,
        // The query is not echoed: it is no place for secrets, but someone may have put one there.
        Some(_) => {
            return Err(format!(
                "\"{shown}?…\": unknown query; the only option is ?tls=none after smtp://, for a relay on this machine"
            ));
        }
    }
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("\"{shown}\" has an unclosed IPv6 address"))?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("\"{shown}\" has no host; {expected}"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("\"{shown}\" has an invalid port; {expected}"))?,
    };
    if security == SmtpSecurity::None && !is_loopback_host(host) {
        return Err(format!(
            "\"{shown}\": ?tls=none is only allowed for a relay on this machine (localhost, 127.0.0.1, ::1), because the password and the mail would cross the network in clear; use smtps:// or smtp:// (STARTTLS)"
        ));
    }
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, pass) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            let user = percent_decode(user)
                .ok_or_else(|| format!("\"{shown}\": the user name has a bad %-escape"))?;
            let pass = pass
                .map(|p| {
                    percent_decode(p)
                        .ok_or_else(|| format!("\"{shown}\": the password has a bad %-escape"))
                })
                .transpose()?;
            (
                (!user.is_empty()).then_some(user),
                pass.filter(|p| !p.is_empty()).map(SecretString::new),
            )
        }
    };
    Ok(SmtpSettings {
        host: host.to_ascii_lowercase(),
        port,
        security,
        username,
        password,
        password_file: None,
        ca_file: None,
        timeout_ms: DEFAULT_SMTP_TIMEOUT_SECS.unsigned_abs() * 1000,
    })
}

/// True for `localhost` and loopback IP addresses.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Decodes `%XX` escapes (user names such as `apikey%40example.com`); `None` when malformed.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---- end of [mail] ----

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_text(text: &str) -> Result<Settings, Diagnostics> {
        resolve(
            Path::new("/srv/trust/candor.toml"),
            text,
            &Overrides::default(),
        )
    }

    #[test]
    fn minimal_config_gets_loopback_defaults() {
        let s = resolve_text("version = 1\n[site]\nname = \"Acme\"\n").unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080");
        assert_eq!(
            s.database,
            Database::Sqlite(PathBuf::from("/srv/trust/data/candor.db"))
        );
        assert_eq!(s.content_dir, PathBuf::from("/srv/trust/content"));
        assert_eq!(s.log_origin, "127.0.0.1:8080/log");
        assert_eq!(
            s.log_key_file,
            PathBuf::from("/srv/trust/data/log-signing.key")
        );
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let err =
            resolve_text("version = 1\n[site]\nname = \"Acme\"\ncolour = \"red\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("candor.toml:4"), "{text}");
        assert!(text.contains("colour"), "{text}");
    }

    #[test]
    fn public_url_required_off_loopback() {
        let err = resolve_text(
            "version = 1\n[site]\nname = \"Acme\"\n[server]\nlisten = \"0.0.0.0:80\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("site.public_url"), "{err}");
    }

    #[test]
    fn redacted_urls_never_show_a_password() {
        for (url, shown) in [
            (
                "postgres://u:secret@db/candor",
                "postgres://u:***@db/candor",
            ),
            ("postgres://u@db?password=secret", "postgres://u@db"),
            (
                "postgres://db:5432?password=secret&x=1",
                "postgres://db:5432",
            ),
            ("postgres://u:secret@db#secret", "postgres://u:***@db"),
            (
                "postgres://u:p%40ss@db/x?sslmode=require",
                "postgres://u:***@db/x",
            ),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            assert!(!redact_url(url).contains("secret"));
        }
    }

    #[test]
    fn overrides_beat_the_file() {
        let o = Overrides {
            listen: Some("127.0.0.1:9999".into()),
            public_url: Some("https://t.example.com/".into()),
            ..Overrides::default()
        };
        let s = resolve(
            Path::new("c/candor.toml"),
            "version = 1\n[site]\nname = \"A\"\n[server]\nlisten = \"127.0.0.1:1\"\n",
            &o,
        )
        .unwrap();
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(s.public_url.as_str(), "https://t.example.com");
        assert!(s.public_url.is_https());
    }

    #[test]
    fn every_problem_is_reported() {
        let err = resolve_text(
            "version = 2\n[site]\nname = \"\"\ncontact_email = \"nobody\"\n[server]\nlisten = \"eighty\"\ndatabase_url = \"mysql://x\"\n",
        )
        .unwrap_err();
        let lines: Vec<_> = err.iter().map(|d| (d.line, d.key.clone())).collect();
        assert_eq!(lines.len(), 5, "{err}");
        assert!(lines.contains(&(Some(1), Some("version".into()))));
        assert!(lines.contains(&(Some(6), Some("server.listen".into()))));
        assert!(lines.contains(&(Some(7), Some("server.database_url".into()))));
    }

    #[test]
    fn database_passwords_never_show() {
        let db = Database::Postgres(SecretString::new(
            "postgres://candor:hunter2@db.internal:5432/trust?sslmode=require",
        ));
        assert_eq!(
            db.to_string(),
            "PostgreSQL at postgres://candor:***@db.internal:5432/trust"
        );
        assert!(!format!("{db:?}").contains("hunter2"));
    }

    // ---- [mail] ----

    const SITE: &str = "version = 1\n[site]\nname = \"Acme Trust\"\n";

    #[test]
    fn mail_defaults_to_eml_files_in_the_data_dir() {
        let s = resolve_text(SITE).unwrap();
        assert_eq!(
            s.mail.transport,
            MailTransport::File {
                dir: PathBuf::from("/srv/trust/data/mail")
            }
        );
        assert_eq!(s.mail.from.to_string(), "Acme Trust <no-reply@localhost>");
        let s = resolve_text(&format!(
            "{SITE}public_url = \"https://Trust.Acme.example:8443/x\"\n"
        ))
        .unwrap();
        assert_eq!(s.mail.from.address, "no-reply@trust.acme.example");
    }

    #[test]
    fn mail_smtp_urls_map_to_security_port_and_credentials() {
        let smtp = |url: &str| match resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"Acme Trust <trust@acme.example>\"\nsmtp_url = \"{url}\"\n"
        ))
        .unwrap()
        .mail
        .transport
        {
            MailTransport::Smtp(smtp) => smtp,
            other => panic!("{other:?}"),
        };
        let s = smtp("smtps://apikey%40acme.example:p%3Ass@SMTP.example.com");
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("smtp.example.com", 465, SmtpSecurity::Tls)
        );
        assert_eq!(s.username.as_deref(), Some("apikey@acme.example"));
        assert_eq!(s.password.as_ref().map(SecretString::expose), Some("p:ss"));
        assert_eq!(
            s.relay(),
            "smtps://apikey@acme.example@smtp.example.com:465"
        );
        let err = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"t@acme.example\"\nsmtp_url = \"smtps://user@smtp.example.com\"\n"
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("candor.toml:6: `mail.smtp_url`: names a user but no password"),
            "{err}"
        );
        let s = smtp("smtp://relay.internal");
        assert_eq!(
            (s.port, s.security, s.username),
            (587, SmtpSecurity::StartTls, None)
        );
        assert_eq!(s.timeout_ms, 30_000);
        let s = smtp("smtp://[::1]:2525?tls=none");
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("::1", 2525, SmtpSecurity::None)
        );
        assert_eq!(s.relay(), "smtp://[::1]:2525?tls=none");
    }

    #[test]
    fn mail_file_transport_and_relative_paths() {
        let s = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"trust@acme.example\"\ndir = \"outgoing\"\n"
        ))
        .unwrap();
        assert_eq!(s.mail.from.name, None);
        assert_eq!(s.mail.from.domain(), "acme.example");
        assert_eq!(
            s.mail.transport,
            MailTransport::File {
                dir: PathBuf::from("/srv/trust/outgoing")
            }
        );
        let s = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"trust@acme.example\"\ntransport = \"smtp\"\nsmtp_url = \"smtps://u@h.example\"\nsmtp_password_file = \"secrets/smtp\"\nsmtp_ca_file = \"ca.pem\"\nsmtp_timeout_secs = 5\n"
        ))
        .unwrap();
        let MailTransport::Smtp(smtp) = s.mail.transport else {
            panic!("not smtp")
        };
        assert_eq!(
            smtp.password_file,
            Some(PathBuf::from("/srv/trust/secrets/smtp"))
        );
        assert_eq!(smtp.ca_file, Some(PathBuf::from("/srv/trust/ca.pem")));
        assert_eq!(smtp.timeout_ms, 5_000);
    }

    #[test]
    fn mail_problems_name_file_line_and_key() {
        let err = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"Acme <not an address>\"\ntransport = \"carrier-pigeon\"\n"
        ))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("candor.toml:5: `mail.from`"), "{text}");
        assert!(text.contains("candor.toml:6: `mail.transport`"), "{text}");
        assert!(text.contains("expected \"file\" or \"smtp\""), "{text}");

        let err = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"t@acme.example\"\nsmtp_url = \"smtp://mail.acme.example:25?tls=none\"\nsmtp_timeout_secs = 0\n"
        ))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("candor.toml:6: `mail.smtp_url`"), "{text}");
        assert!(
            text.contains("only allowed for a relay on this machine"),
            "{text}"
        );

        let err = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"t@acme.example\"\ntransport = \"smtp\"\n"
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("candor.toml:6: `mail.smtp_url`: is required"),
            "{err}"
        );

        let err = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"t@acme.example\"\ntransport = \"file\"\nsmtp_ca_file = \"ca.pem\"\n"
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "candor.toml:7: `mail.smtp_ca_file`: is only used with transport = \"smtp\""
            ),
            "{err}"
        );

        let err = resolve_text(&format!("{SITE}[mail]\ntransport = \"file\"\n")).unwrap_err();
        assert!(err.to_string().contains("from"), "{err}");
    }

    #[test]
    fn mail_unknown_keys_are_rejected_with_their_line() {
        let err = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"t@acme.example\"\nsmtp_pasword = \"x\"\n"
        ))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("candor.toml:6"), "{text}");
        assert!(text.contains("smtp_pasword"), "{text}");
    }

    #[test]
    fn mail_passwords_never_show() {
        let s = resolve_text(&format!(
            "{SITE}[mail]\nfrom = \"t@acme.example\"\nsmtp_url = \"smtps://u:hunter2@smtp.example.com\"\n"
        ))
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let MailTransport::Smtp(smtp) = &s.mail.transport else {
            panic!("not smtp")
        };
        assert!(!smtp.relay().contains("hunter2"));
        for bad in [
            "smtps://u:hunter2@smtp.example.com:99999",
            "smtp://u:hunter2@smtp.example.com?tls=none",
            "smtp://u:hunter2@smtp.example.com?password=hunter2",
            "imap://u:hunter2@smtp.example.com",
            "smtps://u:hunter2%zz@smtp.example.com",
        ] {
            let err = resolve_text(&format!(
                "{SITE}[mail]\nfrom = \"t@acme.example\"\nsmtp_url = \"{bad}\"\n"
            ))
            .unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        }
    }

    #[test]
    fn mail_from_rejects_line_breaks() {
        assert!(MailFrom::parse("Acme <t@acme.example>\r\nBcc: x@evil.example").is_err());
        assert!(MailFrom::parse("t@acme.example").is_ok());
        assert!(!is_mail_address("t@acme..example"));
        assert!(!is_mail_address("a b@acme.example"));
    }
}
