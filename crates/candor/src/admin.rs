//! `candor admin`: bootstrap and recovery from the server's own machine. These commands write
//! the database directly (they must work before any operator or token exists); the running
//! server reads operators and links from the database on each request, so it sees them at once.

use std::process::ExitCode;
use std::sync::Arc;

use candor_core::SystemClock;
use candor_core::identity::{Role, normalise_email};
use candor_store::Store;
use candor_store::identity::{Identity, NewAuditEvent};
use candor_web::auth::Auth;

use crate::cli::{AdminCommand, StateArgs};
use crate::{EXIT_CONFIG, EXIT_FAILURE};

/// Runs `candor admin …`.
pub async fn run(command: AdminCommand) -> ExitCode {
    let (state, email) = match &command {
        AdminCommand::Create(a) => (&a.state, &a.email),
        AdminCommand::ResetPassword(a) => (&a.state, &a.email),
    };
    let Some(email) = normalise_email(email) else {
        eprintln!("error: --email \"{email}\" is not an email address");
        return ExitCode::from(EXIT_CONFIG);
    };
    let settings = match settings(state) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match Store::open(&settings.database).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = match &command {
        AdminCommand::Create(a) => create(&store, &email, &a.role).await,
        AdminCommand::ResetPassword(_) => reset(&store, &email).await,
    };
    store.close().await;
    match result {
        Ok(token) => {
            let link = settings
                .public_url
                .join(&format!("/admin/set-password?token={token}"));
            eprintln!(
                "open this link to choose the password for {email}; it works once and expires in 24 hours:"
            );
            println!("{link}");
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

fn settings(state: &StateArgs) -> Result<candor_core::config::Settings, ExitCode> {
    let text = std::fs::read_to_string(&state.config).map_err(|err| {
        eprintln!("error: cannot read {}: {err}", state.config.display());
        ExitCode::from(EXIT_CONFIG)
    })?;
    candor_core::config::resolve(&state.config, &text, &state.overrides(None)).map_err(|problems| {
        eprint!("{problems}");
        ExitCode::from(EXIT_CONFIG)
    })
}

fn auth(store: &Store) -> Result<Arc<Auth>, (u8, String)> {
    // Links need no password hashing: the cheapest cost keeps the command instant.
    Auth::with_cost(store.clone(), Arc::new(SystemClock), 8, 1).map_err(|e| (EXIT_FAILURE, e))
}

async fn create(store: &Store, email: &str, role: &str) -> Result<String, (u8, String)> {
    let Some(role) = Role::parse(role) else {
        return Err((
            EXIT_CONFIG,
            format!("--role \"{role}\" is not a role; use owner, editor, approver or auditor"),
        ));
    };
    let audit = NewAuditEvent {
        actor: "system".into(),
        action: format!("operator_created:{}", role.as_str()),
        target: String::new(),
        source_addr: "cli".into(),
    };
    let operator = store
        .create_operator(
            email,
            role.as_str(),
            time::OffsetDateTime::now_utc(),
            &audit,
        )
        .await
        .map_err(|e| match e {
            candor_store::StoreError::Conflict(m) => (
                EXIT_CONFIG,
                format!("{m}; use `candor admin reset-password --email {email}` to get a new link"),
            ),
            other => (EXIT_FAILURE, other.to_string()),
        })?;
    auth(store)?
        .create_link(operator.id, "set-password")
        .await
        .map_err(|e| (EXIT_FAILURE, e.to_string()))
}

async fn reset(store: &Store, email: &str) -> Result<String, (u8, String)> {
    let operator = store
        .operator_by_email(email)
        .await
        .map_err(|e| (EXIT_FAILURE, e.to_string()))?
        .ok_or_else(|| {
            (
                EXIT_CONFIG,
                format!("there is no operator {email}; create one with `candor admin create`"),
            )
        })?;
    store
        .end_sessions_of(operator.id)
        .await
        .map_err(|e| (EXIT_FAILURE, e.to_string()))?;
    store
        .clear_failures(&[format!("account:{email}")])
        .await
        .map_err(|e| (EXIT_FAILURE, e.to_string()))?;
    let audit = NewAuditEvent {
        actor: "system".into(),
        action: "password_reset_link".into(),
        target: format!("operator:{}", operator.id),
        source_addr: "cli".into(),
    };
    store
        .record_audit(&[audit], time::OffsetDateTime::now_utc())
        .await
        .map_err(|e| (EXIT_FAILURE, e.to_string()))?;
    auth(store)?
        .create_link(operator.id, "set-password")
        .await
        .map_err(|e| (EXIT_FAILURE, e.to_string()))
}
