//! Operators, one-time links, sessions, sign-in throttling, API tokens and the audit trail.
//!
//! The SQL is the same on both backends (`$N` placeholders, which SQLite also reads, written in
//! ascending order), so one macro implements [`Identity`] for each; only the transaction start,
//! the pools and the log append differ.

use std::future::Future;

use time::OffsetDateTime;

use crate::{Store, StoreError, from_ms};

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Row id.
    pub id: i64,
    /// Lowercase email, the sign-in name.
    pub email: String,
    /// `owner`, `editor`, `approver` or `auditor`.
    pub role: String,
    /// Argon2id PHC string; `None` until a password is set.
    pub password_hash: Option<String>,
    /// When the account was created.
    pub created_at: OffsetDateTime,
    /// When it was disabled, if it was.
    pub disabled_at: Option<OffsetDateTime>,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who is signed in.
    pub operator: Operator,
    /// The CSRF token every form of this session must carry.
    pub csrf_token: String,
    /// When the session began.
    pub created_at: OffsetDateTime,
    /// When the password was last entered (sensitive actions need it to be recent).
    pub authenticated_at: OffsetDateTime,
    /// The password was right but the second factor is still owed: nothing else is allowed.
    pub second_factor_pending: bool,
}

/// An API token (never its value: only a hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Row id.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// Scope names.
    pub scopes: Vec<String>,
    /// The operator who made it.
    pub created_by: i64,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was last used.
    pub last_used_at: Option<OffsetDateTime>,
}

/// An operator's TOTP secret and the last step accepted.
pub type TotpState = (Vec<u8>, Option<i64>);

/// A new API token, as stored.
#[derive(Debug, Clone, Copy)]
pub struct NewApiToken<'a> {
    /// What it is for.
    pub name: &'a str,
    /// SHA-256 of the token.
    pub token_hash: &'a [u8; 32],
    /// Scope names.
    pub scopes: &'a [String],
    /// The operator who makes it.
    pub created_by: i64,
    /// When it stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
}

/// One audit event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// `operator:<id>`, `token:<id>`, `anonymous` or `system`.
    pub actor: String,
    /// What happened, e.g. `sign_in`, `sign_in_failed`, `token_created`.
    pub action: String,
    /// What it happened to, e.g. `operator:3`, `token:7`, or the email tried.
    pub target: String,
    /// The client address, or `cli`.
    pub source_addr: String,
}

/// A recorded audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Increasing id.
    pub id: i64,
    /// When.
    pub at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// From where.
    pub source_addr: String,
}

/// Which audit events to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only events about this target (e.g. `tenant:3`).
    pub target: Option<String>,
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events before this time.
    pub until: Option<OffsetDateTime>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// Thresholds for sign-in throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed within `window_ms` before a lockout.
    pub max_failures: i64,
    /// The counting window.
    pub window_ms: i64,
    /// How long a lockout lasts (it ends on its own, so an attacker cannot lock out an owner for
    /// good).
    pub lockout_ms: i64,
}

/// The identity store.
pub trait Identity: Send + Sync {
    /// Creates an operator (email already normalised); `Conflict` when the email exists.
    fn create_operator(
        &self,
        email: &str,
        role: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> impl Future<Output = Result<Operator, StoreError>> + Send;
    /// The operator with this (normalised) email.
    fn operator_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<Operator>, StoreError>> + Send;
    /// The operator with this id.
    fn operator(
        &self,
        id: i64,
    ) -> impl Future<Output = Result<Option<Operator>, StoreError>> + Send;
    /// Every operator, oldest first.
    fn operators(&self) -> impl Future<Output = Result<Vec<Operator>, StoreError>> + Send;
    /// Changes a role; refuses (`Conflict`) to leave no enabled owner.
    fn set_role(
        &self,
        id: i64,
        role: &str,
        audit: &NewAuditEvent,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores a single-use link for an operator.
    fn create_link(
        &self,
        token_hash: &[u8; 32],
        operator_id: i64,
        purpose: &str,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The operator a valid, unused, unexpired link is for, without using it.
    fn peek_link(
        &self,
        token_hash: &[u8; 32],
        purpose: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;
    /// Uses a link and sets the operator's password in one transaction, ending every session
    /// of that operator. Returns the operator id, or None when the link is unknown, used or
    /// expired (a replay changes nothing).
    fn use_link_set_password(
        &self,
        token_hash: &[u8; 32],
        purpose: &str,
        password_hash: &str,
        now: OffsetDateTime,
        source_addr: &str,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;
    /// Starts a session.
    fn create_session(
        &self,
        id_hash: &[u8; 32],
        operator_id: i64,
        csrf_token: &str,
        second_factor_pending: bool,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The session, if it exists, is within both timeouts and its operator is enabled; touches
    /// it. An expired session is deleted.
    fn session(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
    /// The operator's TOTP secret and last accepted step, when two-step sign-in is on.
    fn totp(
        &self,
        operator_id: i64,
    ) -> impl Future<Output = Result<Option<TotpState>, StoreError>> + Send;
    /// Turns two-step sign-in on with this secret and recovery-code hashes (replacing any old
    /// ones), recording the audit event, in one transaction.
    fn enable_totp(
        &self,
        operator_id: i64,
        secret: &[u8],
        first_step: i64,
        recovery_hashes: &[[u8; 32]],
        audit: &NewAuditEvent,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Accepts a TOTP step if it is later than the last accepted one (atomically: the same code
    /// never works twice, even in two requests at once).
    fn accept_totp_step(
        &self,
        operator_id: i64,
        step: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Uses a recovery code once.
    fn use_recovery_code(
        &self,
        operator_id: i64,
        code_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Recovery codes left.
    fn recovery_codes_left(
        &self,
        operator_id: i64,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Marks the session's second factor as given.
    fn complete_second_factor(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores a pending OpenID Connect sign-in under its state (dropping ones older than an
    /// hour).
    fn save_oidc_pending(
        &self,
        state: &str,
        pending_json: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Takes (deletes and returns) the pending sign-in stored under a state.
    fn take_oidc_pending(
        &self,
        state: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// The operator linked to this OpenID Connect identity.
    fn operator_by_oidc(
        &self,
        issuer: &str,
        subject: &str,
    ) -> impl Future<Output = Result<Option<Operator>, StoreError>> + Send;
    /// Links an operator (not yet linked) to an OpenID Connect identity; false when it was
    /// linked to another one already.
    fn link_oidc(
        &self,
        operator_id: i64,
        issuer: &str,
        subject: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Disables an operator (they can no longer sign in; their sessions end), in one transaction
    /// with the audit event; refuses (`Conflict`) to disable the last enabled owner.
    fn disable_operator(
        &self,
        id: i64,
        audit: &NewAuditEvent,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records a fresh password entry in the session.
    fn reauthenticate(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends one session.
    fn end_session(
        &self,
        id_hash: &[u8; 32],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends every session of an operator; returns how many.
    fn end_sessions_of(
        &self,
        operator_id: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The latest `locked_until` of these throttle keys (0 when none is locked).
    fn locked_until(&self, keys: &[String])
    -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Counts a failed sign-in against each key (and records the audit event) in one
    /// transaction; returns the latest resulting `locked_until`.
    fn record_failure(
        &self,
        keys: &[String],
        policy: ThrottlePolicy,
        now: OffsetDateTime,
        audit: Option<&NewAuditEvent>,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Clears the failures of these keys (after a successful sign-in).
    fn clear_failures(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores a new API token and its audit event; returns its id.
    fn create_token(
        &self,
        token: &NewApiToken<'_>,
        now: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Every API token, newest first.
    fn tokens(&self) -> impl Future<Output = Result<Vec<ApiToken>, StoreError>> + Send;
    /// Revokes a token; returns whether it was live.
    fn revoke_token(
        &self,
        id: i64,
        now: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The live token with this hash (not revoked, not expired), recording its use.
    fn use_token(
        &self,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<ApiToken>, StoreError>> + Send;
    /// Records audit events.
    fn record_audit(
        &self,
        events: &[NewAuditEvent],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Audit events matching the filter, newest first.
    fn audit_events(
        &self,
        filter: &AuditFilter,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, StoreError>> + Send;
    /// Commits the audit events recorded since the last digest to the log as one
    /// `digest.batch` entry (stream `audit.events`) and advances the cursor, in one
    /// transaction. Returns (log index, events) or None when there was nothing new.
    fn digest_audit(
        &self,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<(u64, u64)>, StoreError>> + Send;
}

type OperatorRow = (i64, String, String, Option<String>, i64, Option<i64>);
type TokenRow = (
    i64,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);
type AuditRow = (i64, i64, String, String, String, String);

fn operator_from((id, email, role, password_hash, created, disabled): OperatorRow) -> Operator {
    Operator {
        id,
        email,
        role,
        password_hash,
        created_at: from_ms(created),
        disabled_at: disabled.map(from_ms),
    }
}

fn token_from(
    (id, name, scopes, created_by, created, expires, revoked, used): TokenRow,
) -> ApiToken {
    ApiToken {
        id,
        name,
        scopes: scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        created_by,
        created_at: from_ms(created),
        expires_at: expires.map(from_ms),
        revoked_at: revoked.map(from_ms),
        last_used_at: used.map(from_ms),
    }
}

fn audit_from((id, at, actor, action, target, source_addr): AuditRow) -> AuditEvent {
    AuditEvent {
        id,
        at: from_ms(at),
        actor,
        action,
        target,
        source_addr,
    }
}

/// The person a digest item names: operators get a commitment, other actors stay as they are.
fn person_of(actor: &str) -> Option<&str> {
    (actor.starts_with("operator:") || actor.starts_with("tenant_admin:")).then_some(actor)
}

/// The most events one digest entry commits to (the rest go in the next).
const DIGEST_MAX_EVENTS: i64 = 100_000;

macro_rules! impl_identity {
    ($store:ty, $backend:ident, $module:ident, $begin:ident, $write:ident, $read:ident) => {
        impl $store {
            pub(crate) async fn audit_in(
                tx: &mut sqlx::Transaction<'_, sqlx::$backend>,
                event: &NewAuditEvent,
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_events (at_ms, actor, action, target, source_addr) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(crate::to_ms(at))
                .bind(&event.actor)
                .bind(&event.action)
                .bind(&event.target)
                .bind(&event.source_addr)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }

        impl Identity for $store {
            async fn create_operator(
                &self,
                email: &str,
                role: &str,
                at: OffsetDateTime,
                audit: &NewAuditEvent,
            ) -> Result<Operator, StoreError> {
                let mut tx = self.$begin().await?;
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM operators WHERE email = $1")
                        .bind(email)
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "an operator with the email {email} already exists"
                    )));
                }
                let row: OperatorRow = sqlx::query_as(
                    "INSERT INTO operators (email, role, created_at_ms) VALUES ($1, $2, $3)
                     RETURNING id, email, role, password_hash, created_at_ms, disabled_at_ms",
                )
                .bind(email)
                .bind(role)
                .bind(crate::to_ms(at))
                .fetch_one(&mut *tx)
                .await?;
                let operator = operator_from(row);
                let audit = NewAuditEvent {
                    target: format!("operator:{}", operator.id),
                    ..audit.clone()
                };
                Self::audit_in(&mut tx, &audit, at).await?;
                tx.commit().await?;
                Ok(operator)
            }

            async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>, StoreError> {
                let row: Option<OperatorRow> = sqlx::query_as(
                    "SELECT id, email, role, password_hash, created_at_ms, disabled_at_ms FROM operators WHERE email = $1",
                )
                .bind(email)
                .fetch_optional(&self.$read)
                .await?;
                Ok(row.map(operator_from))
            }

            async fn operator(&self, id: i64) -> Result<Option<Operator>, StoreError> {
                let row: Option<OperatorRow> = sqlx::query_as(
                    "SELECT id, email, role, password_hash, created_at_ms, disabled_at_ms FROM operators WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.$read)
                .await?;
                Ok(row.map(operator_from))
            }

            async fn operators(&self) -> Result<Vec<Operator>, StoreError> {
                let rows: Vec<OperatorRow> = sqlx::query_as(
                    "SELECT id, email, role, password_hash, created_at_ms, disabled_at_ms FROM operators ORDER BY id",
                )
                .fetch_all(&self.$read)
                .await?;
                Ok(rows.into_iter().map(operator_from).collect())
            }

            async fn set_role(
                &self,
                id: i64,
                role: &str,
                audit: &NewAuditEvent,
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.$begin().await?;
                let changed = sqlx::query("UPDATE operators SET role = $1 WHERE id = $2")
                    .bind(role)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    return Err(StoreError::Invalid(format!("there is no operator {id}")));
                }
                let owners: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM operators WHERE role = 'owner' AND disabled_at_ms IS NULL",
                )
                .fetch_one(&mut *tx)
                .await?;
                if owners == 0 {
                    return Err(StoreError::Conflict(
                        "this would leave no owner; make another operator an owner first".into(),
                    ));
                }
                Self::audit_in(&mut tx, audit, at).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_link(
                &self,
                token_hash: &[u8; 32],
                operator_id: i64,
                purpose: &str,
                expires_at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO one_time_links (token_hash, operator_id, purpose, expires_at_ms) VALUES ($1, $2, $3, $4)",
                )
                .bind(&token_hash[..])
                .bind(operator_id)
                .bind(purpose)
                .bind(crate::to_ms(expires_at))
                .execute(&self.$write)
                .await?;
                Ok(())
            }

            async fn peek_link(
                &self,
                token_hash: &[u8; 32],
                purpose: &str,
                now: OffsetDateTime,
            ) -> Result<Option<i64>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT operator_id FROM one_time_links
                     WHERE token_hash = $1 AND purpose = $2 AND used_at_ms IS NULL AND expires_at_ms > $3",
                )
                .bind(&token_hash[..])
                .bind(purpose)
                .bind(crate::to_ms(now))
                .fetch_optional(&self.$read)
                .await?)
            }

            async fn use_link_set_password(
                &self,
                token_hash: &[u8; 32],
                purpose: &str,
                password_hash: &str,
                now: OffsetDateTime,
                source_addr: &str,
            ) -> Result<Option<i64>, StoreError> {
                let mut tx = self.$begin().await?;
                let operator: Option<i64> = sqlx::query_scalar(
                    "UPDATE one_time_links SET used_at_ms = $1
                     WHERE token_hash = $2 AND purpose = $3 AND used_at_ms IS NULL AND expires_at_ms > $1
                     RETURNING operator_id",
                )
                .bind(crate::to_ms(now))
                .bind(&token_hash[..])
                .bind(purpose)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(operator) = operator else {
                    return Ok(None);
                };
                sqlx::query("UPDATE operators SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(operator)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE operator_id = $1")
                    .bind(operator)
                    .execute(&mut *tx)
                    .await?;
                let actor = format!("operator:{operator}");
                let audit = NewAuditEvent {
                    actor: actor.clone(),
                    action: "password_set".into(),
                    target: actor,
                    source_addr: source_addr.into(),
                };
                Self::audit_in(&mut tx, &audit, now).await?;
                tx.commit().await?;
                Ok(Some(operator))
            }

            async fn create_session(
                &self,
                id_hash: &[u8; 32],
                operator_id: i64,
                csrf_token: &str,
                second_factor_pending: bool,
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, operator_id, csrf_token, created_at_ms, last_seen_at_ms, authenticated_at_ms, second_factor_pending)
                     VALUES ($1, $2, $3, $4, $4, $4, $5)",
                )
                .bind(&id_hash[..])
                .bind(operator_id)
                .bind(csrf_token)
                .bind(crate::to_ms(now))
                .bind(i64::from(second_factor_pending))
                .execute(&self.$write)
                .await?;
                Ok(())
            }

            async fn session(
                &self,
                id_hash: &[u8; 32],
                now: OffsetDateTime,
                idle_ms: i64,
                absolute_ms: i64,
            ) -> Result<Option<Session>, StoreError> {
                let row: Option<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT csrf_token, created_at_ms, last_seen_at_ms, authenticated_at_ms, operator_id, second_factor_pending
                     FROM sessions WHERE id_hash = $1",
                )
                .bind(&id_hash[..])
                .fetch_optional(&self.$read)
                .await?;
                let Some((csrf_token, created, seen, authenticated, operator_id, pending)) = row else {
                    return Ok(None);
                };
                let now_ms = crate::to_ms(now);
                let operator = self.operator(operator_id).await?;
                let live = now_ms - seen <= idle_ms && now_ms - created <= absolute_ms;
                let Some(operator) = operator.filter(|o| live && o.disabled_at.is_none()) else {
                    self.end_session(id_hash).await?;
                    return Ok(None);
                };
                // Touch at most once a minute: a page view should not always be a write.
                if now_ms - seen > 60_000 {
                    sqlx::query("UPDATE sessions SET last_seen_at_ms = $1 WHERE id_hash = $2")
                        .bind(now_ms)
                        .bind(&id_hash[..])
                        .execute(&self.$write)
                        .await?;
                }
                Ok(Some(Session {
                    operator,
                    csrf_token,
                    created_at: from_ms(created),
                    authenticated_at: from_ms(authenticated),
                    second_factor_pending: pending != 0,
                }))
            }

            async fn totp(&self, operator_id: i64) -> Result<Option<TotpState>, StoreError> {
                let row: Option<(Option<Vec<u8>>, Option<i64>)> = sqlx::query_as(
                    "SELECT totp_secret, totp_last_step FROM operators WHERE id = $1",
                )
                .bind(operator_id)
                .fetch_optional(&self.$read)
                .await?;
                Ok(row.and_then(|(secret, last)| secret.map(|s| (s, last))))
            }

            async fn enable_totp(
                &self,
                operator_id: i64,
                secret: &[u8],
                first_step: i64,
                recovery_hashes: &[[u8; 32]],
                audit: &NewAuditEvent,
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.$begin().await?;
                sqlx::query("UPDATE operators SET totp_secret = $1, totp_last_step = $2 WHERE id = $3")
                    .bind(secret)
                    .bind(first_step)
                    .bind(operator_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM recovery_codes WHERE operator_id = $1")
                    .bind(operator_id)
                    .execute(&mut *tx)
                    .await?;
                for hash in recovery_hashes {
                    sqlx::query("INSERT INTO recovery_codes (operator_id, code_hash) VALUES ($1, $2)")
                        .bind(operator_id)
                        .bind(&hash[..])
                        .execute(&mut *tx)
                        .await?;
                }
                Self::audit_in(&mut tx, audit, at).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn accept_totp_step(&self, operator_id: i64, step: i64) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE operators SET totp_last_step = $1
                     WHERE id = $2 AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $1)",
                )
                .bind(step)
                .bind(operator_id)
                .execute(&self.$write)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn use_recovery_code(
                &self,
                operator_id: i64,
                code_hash: &[u8; 32],
                at: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE recovery_codes SET used_at_ms = $1
                     WHERE operator_id = $2 AND code_hash = $3 AND used_at_ms IS NULL",
                )
                .bind(crate::to_ms(at))
                .bind(operator_id)
                .bind(&code_hash[..])
                .execute(&self.$write)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn recovery_codes_left(&self, operator_id: i64) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM recovery_codes WHERE operator_id = $1 AND used_at_ms IS NULL",
                )
                .bind(operator_id)
                .fetch_one(&self.$read)
                .await?)
            }

            async fn complete_second_factor(
                &self,
                id_hash: &[u8; 32],
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE sessions SET second_factor_pending = 0, authenticated_at_ms = $1 WHERE id_hash = $2",
                )
                .bind(crate::to_ms(now))
                .bind(&id_hash[..])
                .execute(&self.$write)
                .await?;
                Ok(())
            }

            async fn save_oidc_pending(&self, state: &str, pending_json: &str, at: OffsetDateTime) -> Result<(), StoreError> {
                let mut tx = self.$begin().await?;
                sqlx::query("DELETE FROM oidc_pending WHERE created_at_ms < $1")
                    .bind(crate::to_ms(at) - 3_600_000)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO oidc_pending (state, pending, created_at_ms) VALUES ($1, $2, $3)")
                    .bind(state)
                    .bind(pending_json)
                    .bind(crate::to_ms(at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_oidc_pending(&self, state: &str) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("DELETE FROM oidc_pending WHERE state = $1 RETURNING pending")
                    .bind(state)
                    .fetch_optional(&self.$write)
                    .await?)
            }

            async fn operator_by_oidc(&self, issuer: &str, subject: &str) -> Result<Option<Operator>, StoreError> {
                let row: Option<OperatorRow> = sqlx::query_as(
                    "SELECT id, email, role, password_hash, created_at_ms, disabled_at_ms FROM operators
                     WHERE oidc_issuer = $1 AND oidc_subject = $2",
                )
                .bind(issuer)
                .bind(subject)
                .fetch_optional(&self.$read)
                .await?;
                Ok(row.map(operator_from))
            }

            async fn link_oidc(&self, operator_id: i64, issuer: &str, subject: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE operators SET oidc_issuer = $1, oidc_subject = $2 WHERE id = $3 AND oidc_subject IS NULL",
                )
                .bind(issuer)
                .bind(subject)
                .bind(operator_id)
                .execute(&self.$write)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn disable_operator(&self, id: i64, audit: &NewAuditEvent, at: OffsetDateTime) -> Result<(), StoreError> {
                let mut tx = self.$begin().await?;
                let changed = sqlx::query("UPDATE operators SET disabled_at_ms = $1 WHERE id = $2 AND disabled_at_ms IS NULL")
                    .bind(crate::to_ms(at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    return Err(StoreError::Invalid(format!("there is no enabled operator {id}")));
                }
                let owners: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM operators WHERE role = 'owner' AND disabled_at_ms IS NULL",
                )
                .fetch_one(&mut *tx)
                .await?;
                if owners == 0 {
                    return Err(StoreError::Conflict(
                        "this would leave no owner; make another operator an owner first".into(),
                    ));
                }
                sqlx::query("DELETE FROM sessions WHERE operator_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Self::audit_in(&mut tx, audit, at).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn reauthenticate(
                &self,
                id_hash: &[u8; 32],
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query("UPDATE sessions SET authenticated_at_ms = $1 WHERE id_hash = $2")
                    .bind(crate::to_ms(now))
                    .bind(&id_hash[..])
                    .execute(&self.$write)
                    .await?;
                Ok(())
            }

            async fn end_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(&id_hash[..])
                    .execute(&self.$write)
                    .await?;
                Ok(())
            }

            async fn end_sessions_of(&self, operator_id: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM sessions WHERE operator_id = $1")
                    .bind(operator_id)
                    .execute(&self.$write)
                    .await?
                    .rows_affected())
            }

            async fn locked_until(&self, keys: &[String]) -> Result<i64, StoreError> {
                let mut latest = 0;
                for key in keys {
                    let until: Option<i64> = sqlx::query_scalar(
                        "SELECT locked_until_ms FROM sign_in_failures WHERE throttle_key = $1",
                    )
                    .bind(key)
                    .fetch_optional(&self.$read)
                    .await?;
                    latest = latest.max(until.unwrap_or(0));
                }
                Ok(latest)
            }

            async fn record_failure(
                &self,
                keys: &[String],
                policy: ThrottlePolicy,
                now: OffsetDateTime,
                audit: Option<&NewAuditEvent>,
            ) -> Result<i64, StoreError> {
                let now_ms = crate::to_ms(now);
                let mut tx = self.$begin().await?;
                let mut latest = 0;
                for key in keys {
                    let row: Option<(i64, i64, i64)> = sqlx::query_as(
                        "SELECT failures, window_start_ms, locked_until_ms FROM sign_in_failures WHERE throttle_key = $1",
                    )
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (mut failures, mut window_start, mut locked_until) = row.unwrap_or((0, now_ms, 0));
                    if now_ms - window_start > policy.window_ms {
                        failures = 0;
                        window_start = now_ms;
                    }
                    failures += 1;
                    if failures >= policy.max_failures && locked_until <= now_ms {
                        locked_until = now_ms + policy.lockout_ms;
                        failures = 0;
                        window_start = now_ms;
                    }
                    sqlx::query(
                        "INSERT INTO sign_in_failures (throttle_key, failures, window_start_ms, locked_until_ms) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (throttle_key) DO UPDATE SET failures = excluded.failures,
                           window_start_ms = excluded.window_start_ms, locked_until_ms = excluded.locked_until_ms",
                    )
                    .bind(key)
                    .bind(failures)
                    .bind(window_start)
                    .bind(locked_until)
                    .execute(&mut *tx)
                    .await?;
                    latest = latest.max(locked_until);
                }
                if let Some(audit) = audit {
                    Self::audit_in(&mut tx, audit, now).await?;
                }
                tx.commit().await?;
                Ok(latest)
            }

            async fn clear_failures(&self, keys: &[String]) -> Result<(), StoreError> {
                for key in keys {
                    sqlx::query("DELETE FROM sign_in_failures WHERE throttle_key = $1")
                        .bind(key)
                        .execute(&self.$write)
                        .await?;
                }
                Ok(())
            }

            async fn create_token(
                &self,
                token: &NewApiToken<'_>,
                now: OffsetDateTime,
                audit: &NewAuditEvent,
            ) -> Result<i64, StoreError> {
                let NewApiToken { name, token_hash, scopes, created_by, expires_at } = *token;
                let mut tx = self.$begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO api_tokens (name, token_hash, scopes, created_by, created_at_ms, expires_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(name)
                .bind(&token_hash[..])
                .bind(scopes.join(" "))
                .bind(created_by)
                .bind(crate::to_ms(now))
                .bind(expires_at.map(crate::to_ms))
                .fetch_one(&mut *tx)
                .await?;
                let audit = NewAuditEvent {
                    target: format!("token:{id}"),
                    ..audit.clone()
                };
                Self::audit_in(&mut tx, &audit, now).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
                let rows: Vec<TokenRow> = sqlx::query_as(
                    "SELECT id, name, scopes, created_by, created_at_ms, expires_at_ms, revoked_at_ms, last_used_at_ms
                     FROM api_tokens ORDER BY id DESC",
                )
                .fetch_all(&self.$read)
                .await?;
                Ok(rows.into_iter().map(token_from).collect())
            }

            async fn revoke_token(
                &self,
                id: i64,
                now: OffsetDateTime,
                audit: &NewAuditEvent,
            ) -> Result<bool, StoreError> {
                let mut tx = self.$begin().await?;
                let revoked = sqlx::query(
                    "UPDATE api_tokens SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL",
                )
                .bind(crate::to_ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                if revoked {
                    Self::audit_in(&mut tx, audit, now).await?;
                }
                tx.commit().await?;
                Ok(revoked)
            }

            async fn use_token(
                &self,
                token_hash: &[u8; 32],
                now: OffsetDateTime,
            ) -> Result<Option<ApiToken>, StoreError> {
                let now_ms = crate::to_ms(now);
                let row: Option<TokenRow> = sqlx::query_as(
                    "SELECT id, name, scopes, created_by, created_at_ms, expires_at_ms, revoked_at_ms, last_used_at_ms
                     FROM api_tokens WHERE token_hash = $1",
                )
                .bind(&token_hash[..])
                .fetch_optional(&self.$read)
                .await?;
                let Some(token) = row.map(token_from) else {
                    return Ok(None);
                };
                if token.revoked_at.is_some()
                    || token.expires_at.is_some_and(|e| crate::to_ms(e) <= now_ms)
                {
                    return Ok(None);
                }
                // Recorded at most once a minute per token, so a busy script costs few writes.
                if token.last_used_at.is_none_or(|u| now_ms - crate::to_ms(u) > 60_000) {
                    sqlx::query("UPDATE api_tokens SET last_used_at_ms = $1 WHERE id = $2")
                        .bind(now_ms)
                        .bind(token.id)
                        .execute(&self.$write)
                        .await?;
                }
                Ok(Some(token))
            }

            async fn record_audit(
                &self,
                events: &[NewAuditEvent],
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.$begin().await?;
                for event in events {
                    Self::audit_in(&mut tx, event, at).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, at_ms, actor, action, target, source_addr FROM audit_events
                     WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) AND at_ms >= $3 AND at_ms < $4
                       AND ($5 = '' OR target = $5)
                     ORDER BY id DESC LIMIT $6",
                )
                .bind(filter.actor.clone().unwrap_or_default())
                .bind(filter.action.clone().unwrap_or_default())
                .bind(filter.since.map(crate::to_ms).unwrap_or(i64::MIN))
                .bind(filter.until.map(crate::to_ms).unwrap_or(i64::MAX))
                .bind(filter.target.clone().unwrap_or_default())
                .bind(i64::from(filter.limit.clamp(1, 10_000)))
                .fetch_all(&self.$read)
                .await?;
                Ok(rows.into_iter().map(audit_from).collect())
            }

            async fn digest_audit(&self, at: OffsetDateTime) -> Result<Option<(u64, u64)>, StoreError> {
                let mut tx = self.$begin().await?;
                let cursor: Option<i64> = sqlx::query_scalar(
                    "SELECT last_id FROM digest_cursors WHERE stream = 'audit.events'",
                )
                .fetch_optional(&mut *tx)
                .await?;
                let cursor = cursor.unwrap_or(0);
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, at_ms, actor, action, target, source_addr FROM audit_events
                     WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(cursor)
                .bind(DIGEST_MAX_EVENTS)
                .fetch_all(&mut *tx)
                .await?;
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    return Ok(None);
                };
                let (first_at, last_id) = (first.1, last.0);
                let mut items = Vec::with_capacity(rows.len());
                for (id, at_ms, actor, action, target, source) in &rows {
                    let actor = match person_of(actor) {
                        Some(person) => {
                            let key = crate::$module::person_key(&mut tx, person, at).await?;
                            candor_core::entries::person_commitment(&key, person)
                        }
                        None => actor.clone(),
                    };
                    let item = candor_core::entries::audit_item(*id, from_ms(*at_ms), &actor, action, target, source)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    items.push(item);
                }
                let root = hex::encode(candor_core::entries::items_root(&items));
                let entry = candor_core::entries::digest_batch(
                    "audit.events",
                    from_ms(first_at),
                    at,
                    rows.len() as u64,
                    &root,
                )
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
                let seq = crate::$module::append(&mut tx, &entry, at, Some(&format!("audit.events:{last_id}"))).await?;
                sqlx::query(
                    "INSERT INTO digest_cursors (stream, last_id) VALUES ('audit.events', $1)
                     ON CONFLICT (stream) DO UPDATE SET last_id = excluded.last_id",
                )
                .bind(last_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some((seq, rows.len() as u64)))
            }
        }
    };
}

impl crate::sqlite::SqliteStore {
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl crate::postgres::PgStore {
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

impl_identity!(
    crate::sqlite::SqliteStore,
    Sqlite,
    sqlite,
    begin_write,
    writer,
    readers
);
impl_identity!(
    crate::postgres::PgStore,
    Postgres,
    postgres,
    begin_write,
    pool,
    pool
);

macro_rules! delegate {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*).await,
            Store::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Identity for Store {
    async fn create_operator(
        &self,
        email: &str,
        role: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> Result<Operator, StoreError> {
        delegate!(self, create_operator(email, role, at, audit))
    }
    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>, StoreError> {
        delegate!(self, operator_by_email(email))
    }
    async fn operator(&self, id: i64) -> Result<Option<Operator>, StoreError> {
        delegate!(self, operator(id))
    }
    async fn operators(&self) -> Result<Vec<Operator>, StoreError> {
        delegate!(self, operators())
    }
    async fn set_role(
        &self,
        id: i64,
        role: &str,
        audit: &NewAuditEvent,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, set_role(id, role, audit, at))
    }
    async fn create_link(
        &self,
        token_hash: &[u8; 32],
        operator_id: i64,
        purpose: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(
            self,
            create_link(token_hash, operator_id, purpose, expires_at)
        )
    }
    async fn peek_link(
        &self,
        token_hash: &[u8; 32],
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        delegate!(self, peek_link(token_hash, purpose, now))
    }
    async fn use_link_set_password(
        &self,
        token_hash: &[u8; 32],
        purpose: &str,
        password_hash: &str,
        now: OffsetDateTime,
        source_addr: &str,
    ) -> Result<Option<i64>, StoreError> {
        delegate!(
            self,
            use_link_set_password(token_hash, purpose, password_hash, now, source_addr)
        )
    }
    async fn create_session(
        &self,
        id_hash: &[u8; 32],
        operator_id: i64,
        csrf_token: &str,
        second_factor_pending: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(
            self,
            create_session(id_hash, operator_id, csrf_token, second_factor_pending, now)
        )
    }
    async fn session(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> Result<Option<Session>, StoreError> {
        delegate!(self, session(id_hash, now, idle_ms, absolute_ms))
    }
    async fn totp(&self, operator_id: i64) -> Result<Option<TotpState>, StoreError> {
        delegate!(self, totp(operator_id))
    }
    async fn enable_totp(
        &self,
        operator_id: i64,
        secret: &[u8],
        first_step: i64,
        recovery_hashes: &[[u8; 32]],
        audit: &NewAuditEvent,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(
            self,
            enable_totp(operator_id, secret, first_step, recovery_hashes, audit, at)
        )
    }
    async fn accept_totp_step(&self, operator_id: i64, step: i64) -> Result<bool, StoreError> {
        delegate!(self, accept_totp_step(operator_id, step))
    }
    async fn use_recovery_code(
        &self,
        operator_id: i64,
        code_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        delegate!(self, use_recovery_code(operator_id, code_hash, at))
    }
    async fn recovery_codes_left(&self, operator_id: i64) -> Result<i64, StoreError> {
        delegate!(self, recovery_codes_left(operator_id))
    }
    async fn complete_second_factor(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, complete_second_factor(id_hash, now))
    }
    async fn save_oidc_pending(
        &self,
        state: &str,
        pending_json: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, save_oidc_pending(state, pending_json, at))
    }
    async fn take_oidc_pending(&self, state: &str) -> Result<Option<String>, StoreError> {
        delegate!(self, take_oidc_pending(state))
    }
    async fn operator_by_oidc(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<Operator>, StoreError> {
        delegate!(self, operator_by_oidc(issuer, subject))
    }
    async fn link_oidc(
        &self,
        operator_id: i64,
        issuer: &str,
        subject: &str,
    ) -> Result<bool, StoreError> {
        delegate!(self, link_oidc(operator_id, issuer, subject))
    }
    async fn disable_operator(
        &self,
        id: i64,
        audit: &NewAuditEvent,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, disable_operator(id, audit, at))
    }
    async fn reauthenticate(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, reauthenticate(id_hash, now))
    }
    async fn end_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        delegate!(self, end_session(id_hash))
    }
    async fn end_sessions_of(&self, operator_id: i64) -> Result<u64, StoreError> {
        delegate!(self, end_sessions_of(operator_id))
    }
    async fn locked_until(&self, keys: &[String]) -> Result<i64, StoreError> {
        delegate!(self, locked_until(keys))
    }
    async fn record_failure(
        &self,
        keys: &[String],
        policy: ThrottlePolicy,
        now: OffsetDateTime,
        audit: Option<&NewAuditEvent>,
    ) -> Result<i64, StoreError> {
        delegate!(self, record_failure(keys, policy, now, audit))
    }
    async fn clear_failures(&self, keys: &[String]) -> Result<(), StoreError> {
        delegate!(self, clear_failures(keys))
    }
    async fn create_token(
        &self,
        token: &NewApiToken<'_>,
        now: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> Result<i64, StoreError> {
        delegate!(self, create_token(token, now, audit))
    }
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        delegate!(self, tokens())
    }
    async fn revoke_token(
        &self,
        id: i64,
        now: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        delegate!(self, revoke_token(id, now, audit))
    }
    async fn use_token(
        &self,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<ApiToken>, StoreError> {
        delegate!(self, use_token(token_hash, now))
    }
    async fn record_audit(
        &self,
        events: &[NewAuditEvent],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, record_audit(events, at))
    }
    async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        delegate!(self, audit_events(filter))
    }
    async fn digest_audit(&self, at: OffsetDateTime) -> Result<Option<(u64, u64)>, StoreError> {
        delegate!(self, digest_audit(at))
    }
}
