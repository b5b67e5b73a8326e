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
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let tail = tail.split('?').next().unwrap_or_default();
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
}
