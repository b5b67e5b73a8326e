//! Command-line interface. Precedence for every setting: flag > environment variable >
//! `candor.toml` > built-in default.

use std::path::PathBuf;

use candor_core::config::{Overrides, SecretString};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Candor: a self-hosted, verifiable trust center in one binary.
///
/// Keep your trust center as files in git (candor.toml and content/*.md) and publish it with
/// `candor serve`. Start with `candor init my-trust-center`.
#[derive(Debug, Parser)]
#[command(name = "candor", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// Log format for the server.
    #[arg(
        long,
        value_enum,
        global = true,
        env = "CANDOR_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the trust center server.
    Serve(ServeArgs),
    /// Write a new, commented trust-as-code skeleton into DIR.
    Init(InitArgs),
    /// Validate candor.toml and every content page; print every problem found.
    CheckConfig(StateArgs),
    /// Create the log's Ed25519 signing key (mode 0600) and print its verifier key.
    Keygen(KeygenArgs),
    /// The SLA report of a month or quarter: uptime, downtime, error budget and credit owed.
    Sla(SlaArgs),
    /// Verify a log from the outside: signature, witnesses, consistency with what you saw
    /// before, and the root recomputed from its tiles (or every entry with --full).
    Verify(VerifyArgs),
    /// Run a witness: cosign checkpoints of the logs it follows after checking consistency.
    Witness(WitnessArgs),
    /// Retire the log's signing key: freeze the log at its newest signed checkpoint (kept
    /// readable under /log/archive/N/) and continue in a new log with a new key and origin.
    /// Stop every server first.
    RotateLog(RotateLogArgs),
    /// Manage operators from the server's own machine (bootstrap the first owner, recover
    /// access): prints a one-time link, never a password.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Open, update, resolve and list incidents through the running server's API (token from
    /// CANDOR_TOKEN or --token-file).
    #[command(subcommand)]
    Incident(crate::incident::IncidentCommand),
}

/// `candor admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an operator and print a single-use link to choose a password (valid 24 hours).
    Create(AdminCreateArgs),
    /// Print a new single-use set-password link for an operator, end their sessions and clear
    /// their sign-in lockout.
    ResetPassword(AdminResetArgs),
}

/// `candor admin create`
#[derive(Debug, Clone, Args)]
pub struct AdminCreateArgs {
    /// Config and data directory.
    #[command(flatten)]
    pub state: StateArgs,
    /// The operator's email (their sign-in name).
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// owner, editor, approver or auditor.
    #[arg(long, default_value = "owner", value_name = "ROLE")]
    pub role: String,
}

/// `candor admin reset-password`
#[derive(Debug, Clone, Args)]
pub struct AdminResetArgs {
    /// Config and data directory.
    #[command(flatten)]
    pub state: StateArgs,
    /// The operator's email.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
}

/// `candor sla`
#[derive(Debug, Clone, Args)]
pub struct SlaArgs {
    /// Config and data directory.
    #[command(flatten)]
    pub state: StateArgs,
    /// The period: a month (2026-10) or a quarter (2026-Q4).
    #[arg(long, value_name = "PERIOD")]
    pub period: String,
    /// Only this component (default: every component).
    #[arg(long, value_name = "ID")]
    pub component: Option<String>,
    /// Output: table, json or csv.
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    pub format: String,
}

/// `candor rotate-log`
#[derive(Debug, Clone, Args)]
pub struct RotateLogArgs {
    /// Config and data directory (for the database and the current key file).
    #[command(flatten)]
    pub state: StateArgs,

    /// The new log's origin, e.g. trust.example.com/log/2026-12. It must differ from every
    /// origin this trust center used before.
    #[arg(long, value_name = "ORIGIN")]
    pub new_origin: String,
}

/// `candor witness`
#[derive(Debug, Clone, Args)]
pub struct WitnessArgs {
    /// Address to listen on; the submission prefix is http://ADDR (POST /add-checkpoint).
    #[arg(
        long,
        env = "CANDOR_WITNESS_LISTEN",
        default_value = "127.0.0.1:7380",
        value_name = "ADDR"
    )]
    pub listen: String,

    /// Where the witness keeps its key and the latest checkpoint of each log.
    #[arg(long, env = "CANDOR_WITNESS_STATE_DIR", value_name = "DIR")]
    pub state_dir: PathBuf,

    /// The witness's name (its key name in cosignatures), e.g. witness.example.com/w1.
    #[arg(long, env = "CANDOR_WITNESS_NAME", value_name = "NAME")]
    pub name: String,

    /// Verifier key of a log to follow (repeat for several).
    #[arg(long, value_name = "VKEY")]
    pub follow: Vec<String>,
}

/// `candor verify`
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The log prefix, e.g. https://trust.example.com/log.
    #[arg(required_unless_present = "proof")]
    pub log_url: Option<String>,

    /// The log's verifier key (`<origin>+<keyid>+<key>`), or a file holding it.
    #[arg(long, value_name = "VKEY")]
    pub key: Option<String>,

    /// A C2SP tlog-policy file: which logs and witnesses to trust, and the k-of-n quorum.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Where to keep the last checkpoint seen, to detect forks. Default: ~/.candor/verify.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,

    /// Download every entry and check that they hash to the checkpoint's root.
    #[arg(long)]
    pub full: bool,

    /// Verify a .tlog-proof file offline instead of a live log (needs --entry).
    #[arg(long, value_name = "FILE")]
    pub proof: Option<PathBuf>,

    /// The entry the --proof file is for.
    #[arg(long, value_name = "FILE", requires = "proof")]
    pub entry: Option<PathBuf>,

    /// Recompute a component's SLA report from the log's entries (downloads every entry, as
    /// --full) and compare it with the report recorded in the log and the one the API serves.
    #[arg(
        long,
        value_name = "COMPONENT",
        requires = "period",
        conflicts_with = "proof"
    )]
    pub uptime: Option<String>,

    /// The closed period to recompute with --uptime: a month (2026-10) or a quarter (2026-Q4).
    #[arg(long, value_name = "PERIOD", requires = "uptime")]
    pub period: Option<String>,

    /// The trust center's base URL for --uptime (default: the log URL without its /log).
    #[arg(long, value_name = "URL", requires = "uptime")]
    pub api: Option<String>,
}

/// `candor keygen`
#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// Config and data directory (for the default origin and key file).
    #[command(flatten)]
    pub state: StateArgs,

    /// The log origin the key signs for. Default: log.origin from the config (derived from
    /// public_url).
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,

    /// Where to write the key. Default: log.key_file from the config (the data directory).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Where the trust-as-code and the state live; accepted by every command that reads state.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// The configuration file.
    #[arg(
        long,
        short = 'c',
        env = "CANDOR_CONFIG",
        default_value = "candor.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,

    /// Data directory (database, keys). Default: `data` next to the config file.
    #[arg(long, env = "CANDOR_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl StateArgs {
    /// Flag and environment values that override the config file.
    pub fn overrides(&self, listen: Option<String>) -> Overrides {
        Overrides {
            listen,
            data_dir: self.data_dir.clone(),
            public_url: std::env::var("CANDOR_PUBLIC_URL")
                .ok()
                .filter(|v| !v.is_empty()),
            database_url: std::env::var("CANDOR_DATABASE_URL")
                .ok()
                .filter(|v| !v.is_empty())
                .map(SecretString::new),
            oidc_client_secret: std::env::var("CANDOR_OIDC_CLIENT_SECRET")
                .ok()
                .filter(|v| !v.is_empty())
                .map(SecretString::new),
        }
    }
}

/// `candor serve`
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Config and data directory.
    #[command(flatten)]
    pub state: StateArgs,

    /// Address to listen on, e.g. 127.0.0.1:8080 or [::]:8080.
    #[arg(long, env = "CANDOR_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
}

/// `candor init`
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The folder to create (it may exist but must not contain a candor.toml).
    pub dir: PathBuf,
}
