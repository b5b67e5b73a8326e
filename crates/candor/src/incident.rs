//! `candor incident open|update|resolve|list`: declare and follow incidents from a terminal or a
//! script, through the running server's API (so every change is journalled and invalidates the
//! status page exactly as the web API does). The token comes from `CANDOR_TOKEN` or
//! `--token-file`, never from the command line, and is never printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::{EXIT_CONFIG, EXIT_FAILURE};

/// `candor incident …`
#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open an incident (prints its id).
    Open(OpenArgs),
    /// Add an update to an incident.
    Update(UpdateArgs),
    /// Resolve an incident.
    Resolve(ResolveArgs),
    /// List recent incidents, newest first (drafts included).
    List(ListArgs),
}

/// How to reach the server.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's base URL. Default: the listen address in the config (on loopback).
    #[arg(long, env = "CANDOR_URL", value_name = "URL", global = true)]
    pub url: Option<String>,
    /// A file holding the API token (default: the CANDOR_TOKEN environment variable).
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<PathBuf>,
    /// The configuration file, for the default URL.
    #[arg(
        long,
        short = 'c',
        env = "CANDOR_CONFIG",
        default_value = "candor.toml",
        value_name = "FILE",
        global = true
    )]
    pub config: PathBuf,
}

/// `candor incident open`
#[derive(Debug, Clone, Args)]
pub struct OpenArgs {
    /// Server and token.
    #[command(flatten)]
    pub connection: Connection,
    /// The incident's title.
    #[arg(long)]
    pub title: String,
    /// none, minor, major or critical.
    #[arg(long)]
    pub impact: String,
    /// An affected component and its status, e.g. api=partial_outage (repeatable).
    #[arg(long = "component", value_name = "ID=STATUS")]
    pub components: Vec<String>,
    /// How many users of a component named with --component are affected, e.g. api=300
    /// (repeatable; for the SLA's user-minute formula).
    #[arg(long = "users-affected", value_name = "ID=N")]
    pub users_affected: Vec<String>,
    /// The first update's text.
    #[arg(long)]
    pub message: String,
    /// The first status (default investigating; resolved with --resolved-at).
    #[arg(long)]
    pub status: Option<String>,
    /// When it started (RFC 3339, e.g. 2026-10-05T14:00:00Z); default now.
    #[arg(long, value_name = "TIME")]
    pub started_at: Option<String>,
    /// Back-fill: when it ended (needs --started-at).
    #[arg(long, value_name = "TIME")]
    pub resolved_at: Option<String>,
    /// Keep it private until published (POST /api/v1/incidents/ID/publish).
    #[arg(long)]
    pub draft: bool,
    /// Makes a retried command return the incident the first attempt created.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// `candor incident update`
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// Server and token.
    #[command(flatten)]
    pub connection: Connection,
    /// The incident's id.
    pub id: String,
    /// investigating, identified, monitoring, resolved or postmortem.
    #[arg(long)]
    pub status: String,
    /// What to say.
    #[arg(long)]
    pub message: String,
    /// A component whose status changes, e.g. api=degraded_performance (repeatable).
    #[arg(long = "component", value_name = "ID=STATUS")]
    pub components: Vec<String>,
    /// How many users of a component named with --component are affected from now on, e.g.
    /// api=300 (repeatable; for the SLA's user-minute formula).
    #[arg(long = "users-affected", value_name = "ID=N")]
    pub users_affected: Vec<String>,
}

/// `candor incident resolve`
#[derive(Debug, Clone, Args)]
pub struct ResolveArgs {
    /// Server and token.
    #[command(flatten)]
    pub connection: Connection,
    /// The incident's id.
    pub id: String,
    /// What to say.
    #[arg(long, default_value = "This incident has been resolved.")]
    pub message: String,
    /// When it was resolved, if not now (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub resolved_at: Option<String>,
}

/// `candor incident list`
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Server and token.
    #[command(flatten)]
    pub connection: Connection,
    /// Only unresolved incidents.
    #[arg(long)]
    pub unresolved: bool,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

/// A failure, with the exit code it maps to.
struct Failure(u8, String);

/// Runs `candor incident …`.
pub async fn run(command: IncidentCommand) -> ExitCode {
    match execute(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

async fn execute(command: IncidentCommand) -> Result<(), Failure> {
    match command {
        IncidentCommand::Open(a) => {
            let client = Client::new(&a.connection)?;
            let mut body = json!({
                "name": a.title,
                "impact": a.impact,
                "body": a.message,
                "components": components(&a.components)?,
                "draft": a.draft,
            });
            if !a.users_affected.is_empty() {
                body["users_affected"] = users_affected(&a.users_affected)?;
            }
            for (key, value) in [
                ("status", &a.status),
                ("started_at", &a.started_at),
                ("resolved_at", &a.resolved_at),
            ] {
                if let Some(v) = value {
                    body[key] = json!(v);
                }
            }
            let incident = client
                .send(
                    "POST",
                    "/api/v1/incidents",
                    Some(body),
                    a.idempotency_key.as_deref(),
                    None,
                )
                .await?;
            let id = incident["id"].as_str().unwrap_or_default();
            println!("{id}");
            eprintln!(
                "{} incident {id} ({}): {}",
                if incident["draft"].as_bool() == Some(true) {
                    "drafted"
                } else {
                    "opened"
                },
                incident["status"].as_str().unwrap_or_default(),
                incident["url"].as_str().unwrap_or_default()
            );
            Ok(())
        }
        IncidentCommand::Update(a) => {
            let client = Client::new(&a.connection)?;
            let mut body = json!({
                "status": a.status,
                "body": a.message,
                "components": components(&a.components)?,
            });
            if !a.users_affected.is_empty() {
                body["users_affected"] = users_affected(&a.users_affected)?;
            }
            let incident = client
                .send(
                    "POST",
                    &format!("/api/v1/incidents/{}/updates", path_segment(&a.id)),
                    Some(body),
                    None,
                    Some(&a.id),
                )
                .await?;
            eprintln!(
                "updated incident {} ({})",
                a.id,
                incident["status"].as_str().unwrap_or_default()
            );
            Ok(())
        }
        IncidentCommand::Resolve(a) => {
            let client = Client::new(&a.connection)?;
            let mut body = json!({ "status": "resolved", "body": a.message });
            if let Some(at) = &a.resolved_at {
                body["display_at"] = json!(at);
            }
            client
                .send(
                    "POST",
                    &format!("/api/v1/incidents/{}/updates", path_segment(&a.id)),
                    Some(body),
                    None,
                    Some(&a.id),
                )
                .await?;
            eprintln!("resolved incident {}", a.id);
            Ok(())
        }
        IncidentCommand::List(a) => {
            let client = Client::new(&a.connection)?;
            let path = format!(
                "/api/v1/incidents?limit={}{}",
                a.limit,
                if a.unresolved { "&unresolved=true" } else { "" }
            );
            let list = client.send("GET", &path, None, None, None).await?;
            let incidents = list["incidents"].as_array().cloned().unwrap_or_default();
            if incidents.is_empty() {
                eprintln!("no incidents");
            }
            for i in incidents {
                println!(
                    "{}\t{}\t{}\t{}\t{}{}",
                    i["id"].as_str().unwrap_or_default(),
                    i["status"].as_str().unwrap_or_default(),
                    i["impact"].as_str().unwrap_or_default(),
                    i["started_at"].as_str().unwrap_or_default(),
                    i["name"].as_str().unwrap_or_default(),
                    if i["draft"].as_bool() == Some(true) {
                        "\t(draft)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
    }
}

/// Keeps an id from escaping its path segment.
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

fn components(raw: &[String]) -> Result<Value, Failure> {
    let mut map = serde_json::Map::new();
    for item in raw {
        let Some((id, status)) = item.split_once('=') else {
            return Err(Failure(
                EXIT_CONFIG,
                format!("--component \"{item}\" is not ID=STATUS, e.g. api=partial_outage"),
            ));
        };
        map.insert(id.trim().to_owned(), json!(status.trim()));
    }
    Ok(Value::Object(map))
}

/// `--users-affected api=300` (repeatable) as the API's `users_affected` object; the server
/// checks the counts against the policy's user count.
fn users_affected(raw: &[String]) -> Result<Value, Failure> {
    let mut map = serde_json::Map::new();
    for item in raw {
        let parsed = item
            .split_once('=')
            .and_then(|(id, n)| Some((id.trim(), n.trim().parse::<i64>().ok()?)));
        let Some((id, n)) = parsed else {
            return Err(Failure(
                EXIT_CONFIG,
                format!("--users-affected \"{item}\" is not ID=N, e.g. api=300"),
            ));
        };
        map.insert(id.to_owned(), json!(n));
    }
    Ok(Value::Object(map))
}

struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    fn new(c: &Connection) -> Result<Client, Failure> {
        let token = match &c.token_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    Failure(
                        EXIT_CONFIG,
                        format!("cannot read --token-file {}: {e}", path.display()),
                    )
                })?
                .trim()
                .to_owned(),
            None => std::env::var("CANDOR_TOKEN")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        };
        if token.is_empty() {
            return Err(Failure(
                EXIT_CONFIG,
                "no API token: set CANDOR_TOKEN or pass --token-file FILE (create a token with the incidents:write scope under /admin/tokens)".into(),
            ));
        }
        let base = match &c.url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => default_url(&c.config)?,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Failure(EXIT_FAILURE, format!("cannot make an HTTP client: {e}")))?;
        Ok(Client { base, token, http })
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
        incident_id: Option<&str>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "POST" => self.http.post(&url),
            _ => self.http.get(&url),
        }
        .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.map_err(|e| {
            Failure(
                EXIT_FAILURE,
                format!(
                    "cannot reach the Candor server at {}: {}; is `candor serve` running there? (set --url or CANDOR_URL)",
                    self.base,
                    root_cause(&e)
                ),
            )
        })?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let details: Vec<String> = value["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["detail"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let detail = if details.is_empty() {
            format!("the server answered {status}")
        } else {
            details.join("; ")
        };
        Err(Failure(
            EXIT_FAILURE,
            match status.as_u16() {
                401 => format!("the server refused the token (401): {detail}"),
                403 => format!("the token may not do this (403): {detail}"),
                404 => match incident_id {
                    Some(id) => format!("there is no incident {id} on {} (404)", self.base),
                    None => format!("not found (404): {detail}"),
                },
                code => format!("the server refused the request ({code}): {detail}"),
            },
        ))
    }
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn default_url(config: &std::path::Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(config).map_err(|e| {
        Failure(
            EXIT_CONFIG,
            format!(
                "no --url given and cannot read {} for the server's address: {e}",
                config.display()
            ),
        )
    })?;
    let overrides = candor_core::config::Overrides {
        listen: std::env::var("CANDOR_LISTEN")
            .ok()
            .filter(|v| !v.is_empty()),
        ..candor_core::config::Overrides::default()
    };
    let settings = candor_core::config::resolve(config, &text, &overrides).map_err(|problems| {
        Failure(
            EXIT_CONFIG,
            format!(
                "no --url given and {} has problems:\n{problems}",
                config.display()
            ),
        )
    })?;
    let mut addr = settings.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(format!("http://{addr}"))
}
