//! Operator authentication: Argon2id passwords (hashed off the async runtime, with a bounded
//! number at a time), sign-in throttling, server-side sessions, CSRF tokens and API tokens.
//!
//! Secrets are random 256-bit values encoded base64url; the database keeps only their SHA-256.
//! Unknown accounts go through the same Argon2id work as known ones (a dummy hash), so the time a
//! sign-in takes does not reveal whether an account exists.

use std::net::IpAddr;
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use base64::Engine as _;
use candor_core::Clock;
use candor_core::identity::{Role, Scope, normalise_email};
use candor_store::identity::{
    ApiToken, Identity, NewApiToken, NewAuditEvent, Operator, Session, ThrottlePolicy,
};
use candor_store::{Store, StoreError};
use sha2::{Digest, Sha256};
use time::Duration;

/// Argon2id cost: 64 MiB and 3 passes (above OWASP's 19 MiB × 2 baseline), chosen so one verification takes
/// 50–250 ms on a small server (measured in docs/BENCHMARKS.md).
pub const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes.
pub const ARGON2_PASSES: u32 = 3;

/// Sessions end after this long without a request.
pub const SESSION_IDLE: Duration = Duration::hours(2);
/// Sessions end this long after sign-in, whatever happens.
pub const SESSION_ABSOLUTE: Duration = Duration::hours(12);
/// Sensitive actions need a password entered this recently (or in the same form).
pub const REAUTH_WINDOW: Duration = Duration::minutes(10);
/// Set-password and invitation links work this long.
pub const LINK_LIFETIME: Duration = Duration::hours(24);
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted (Argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Wrong second-factor codes per operator before the second step must wait.
pub const SECOND_FACTOR_POLICY: ThrottlePolicy = ThrottlePolicy {
    max_failures: 5,
    window_ms: 15 * 60 * 1000,
    lockout_ms: 15 * 60 * 1000,
};
/// Recovery codes made at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// A recovery code as stored: uppercase, without separators.
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Failures per source address before it must wait.
pub const ADDRESS_POLICY: ThrottlePolicy = ThrottlePolicy {
    max_failures: 10,
    window_ms: 15 * 60 * 1000,
    lockout_ms: 15 * 60 * 1000,
};
/// Failures per account (from any address) before it must wait. Lockouts end on their own, and
/// `candor admin reset-password` clears them, so nobody can lock an owner out for good.
pub const ACCOUNT_POLICY: ThrottlePolicy = ThrottlePolicy {
    max_failures: 20,
    window_ms: 15 * 60 * 1000,
    lockout_ms: 15 * 60 * 1000,
};

/// Why a sign-in did not succeed. The message a visitor sees is the same for unknown accounts and
/// wrong passwords.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email or password (or no password set yet).
    #[error("the email or password is not right")]
    Rejected,
    /// Too many failures: try again later.
    #[error("too many failed sign-ins; try again in {minutes} minutes")]
    Throttled {
        /// Minutes left, rounded up.
        minutes: i64,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// A new random secret (session id, CSRF token, link or API token): 32 bytes, base64url.
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time comparison of two secrets.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The prefix API tokens carry, so that a leaked one is recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "candor_";

/// Password hashing, sign-in, sessions and tokens.
pub struct Auth {
    store: Store,
    clock: Arc<dyn Clock>,
    argon2: Argon2<'static>,
    /// A hash of a random password: unknown accounts are checked against it.
    /// Made on the first sign-in (off the runtime), not at start: starting stays instant.
    dummy_hash: tokio::sync::OnceCell<String>,
    /// Bounds concurrent Argon2 work, so a flood of sign-ins cannot starve everything else.
    hashing: tokio::sync::Semaphore,
    /// One password check at a time per source address: many parallel attempts from one
    /// address queue behind each other instead of taking every hashing slot.
    per_address: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Auth {
    /// Sets up hashing with the production cost.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Result<Arc<Auth>, String> {
        Auth::with_cost(store, clock, ARGON2_MEMORY_KIB, ARGON2_PASSES)
    }

    /// Sets up hashing with a chosen cost (benchmarks and tests).
    pub fn with_cost(
        store: Store,
        clock: Arc<dyn Clock>,
        memory_kib: u32,
        passes: u32,
    ) -> Result<Arc<Auth>, String> {
        let params = Params::new(memory_kib, passes, 1, None).map_err(|e| e.to_string())?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Arc::new(Auth {
            store,
            clock,
            argon2,
            dummy_hash: tokio::sync::OnceCell::new(),
            hashing: tokio::sync::Semaphore::new(permits),
            per_address: std::sync::Mutex::new(std::collections::HashMap::new()),
        }))
    }

    /// The hash unknown accounts are checked against (of a random password nobody knows).
    async fn dummy_hash(&self) -> Result<String, String> {
        self.dummy_hash
            .get_or_try_init(|| async {
                let dummy = new_secret()?;
                let argon2 = self.argon2.clone();
                tokio::task::spawn_blocking(move || {
                    argon2
                        .hash_password(dummy.as_bytes())
                        .map(|h| h.to_string())
                        .map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())?
            })
            .await
            .cloned()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Hashes a new password (checked for length first) on a blocking thread.
    pub async fn hash_password(&self, password: &str) -> Result<String, String> {
        check_new_password(password)?;
        let _permit = self.hashing.acquire().await.map_err(|e| e.to_string())?;
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            argon2
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Checks a password against a stored hash on a blocking thread.
    pub async fn verify_password(&self, password: &str, hash: &str) -> Result<bool, String> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let _permit = self.hashing.acquire().await.map_err(|e| e.to_string())?;
        let argon2 = self.argon2.clone();
        let (password, hash) = (password.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || {
            Ok(argon2
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Signs an operator in: throttling first (a locked address or account costs no hashing),
    /// then the password (unknown accounts against the dummy hash), then a new session (never
    /// one the client brought: no fixation). Returns (session secret, session).
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        source: IpAddr,
    ) -> Result<(String, Operator), SignInError> {
        let now = self.clock.now();
        let now_ms = to_ms(now);
        let email_key = normalise_email(email).unwrap_or_else(|| email.trim().to_lowercase());
        let address_key = format!("address:{}", address_bucket(source));
        let account_key = format!("account:{email_key}");
        let locked = self
            .store
            .locked_until(&[address_key.clone(), account_key.clone()])
            .await?;
        if locked > now_ms {
            return Err(SignInError::Throttled {
                minutes: (locked - now_ms + 59_999) / 60_000,
            });
        }
        // One check at a time per address; the lock entry is dropped when nobody waits on it.
        let slot = {
            let mut map = self
                .per_address
                .lock()
                .map_err(|_| SignInError::Hash("address lock poisoned".into()))?;
            map.retain(|_, m| Arc::strong_count(m) > 1);
            map.entry(address_key.clone()).or_default().clone()
        };
        let _turn = slot.lock().await;
        // Failures recorded while this request waited may have locked the address meanwhile.
        let now_ms = to_ms(self.clock.now());
        let locked = self
            .store
            .locked_until(&[address_key.clone(), account_key.clone()])
            .await?;
        if locked > now_ms {
            return Err(SignInError::Throttled {
                minutes: (locked - now_ms + 59_999) / 60_000,
            });
        }
        let operator = self.store.operator_by_email(&email_key).await?;
        let real = operator
            .as_ref()
            .filter(|op| op.disabled_at.is_none())
            .and_then(|op| op.password_hash.clone());
        let usable = real.is_some();
        let hash = match real {
            Some(h) => h,
            None => self.dummy_hash().await.map_err(SignInError::Hash)?,
        };
        let matches = self
            .verify_password(password, &hash)
            .await
            .map_err(SignInError::Hash)?;
        match operator {
            Some(op) if usable && matches => {
                self.store
                    .clear_failures(&[address_key, account_key])
                    .await?;
                // With two-step sign-in on, the session can do nothing until the code is given.
                let second_factor = self.store.totp(op.id).await?.is_some();
                let audit = NewAuditEvent {
                    actor: format!("operator:{}", op.id),
                    action: if second_factor {
                        "sign_in_password_ok"
                    } else {
                        "sign_in"
                    }
                    .into(),
                    target: format!("operator:{}", op.id),
                    source_addr: source.to_string(),
                };
                self.store.record_audit(&[audit], now).await?;
                let secret = self.start_session(op.id, second_factor).await?;
                Ok((secret, op))
            }
            _ => {
                let audit = NewAuditEvent {
                    actor: "anonymous".into(),
                    action: "sign_in_failed".into(),
                    target: format!("email:{email_key}"),
                    source_addr: source.to_string(),
                };
                // Each key has its own policy; the audit event is recorded once.
                let by_address = self
                    .store
                    .record_failure(&[address_key], ADDRESS_POLICY, now, Some(&audit))
                    .await?;
                let by_account = self
                    .store
                    .record_failure(&[account_key], ACCOUNT_POLICY, now, None)
                    .await?;
                let locked = by_address.max(by_account);
                if locked > now_ms {
                    return Err(SignInError::Throttled {
                        minutes: (locked - now_ms + 59_999) / 60_000,
                    });
                }
                Err(SignInError::Rejected)
            }
        }
    }

    /// Starts a new session; returns its secret (the cookie value).
    pub async fn start_session(
        &self,
        operator_id: i64,
        second_factor_pending: bool,
    ) -> Result<String, StoreError> {
        let secret = new_secret().map_err(StoreError::Invalid)?;
        let csrf = new_secret().map_err(StoreError::Invalid)?;
        self.store
            .create_session(
                &secret_hash(&secret),
                operator_id,
                &csrf,
                second_factor_pending,
                self.clock.now(),
            )
            .await?;
        Ok(secret)
    }

    /// Completes a sign-in that owes its second factor: a TOTP code (each step accepted once)
    /// or an unused recovery code. Five wrong codes within 15 minutes lock the second step for
    /// 15 minutes.
    pub async fn second_factor(
        &self,
        session_secret: &str,
        session: &Session,
        code: &str,
        source: IpAddr,
    ) -> Result<(), SignInError> {
        let now = self.clock.now();
        let now_ms = to_ms(now);
        let operator = &session.operator;
        let key = format!("second-factor:{}", operator.id);
        let locked = self.store.locked_until(std::slice::from_ref(&key)).await?;
        if locked > now_ms {
            return Err(SignInError::Throttled {
                minutes: (locked - now_ms + 59_999) / 60_000,
            });
        }
        let event = |action: &str| NewAuditEvent {
            actor: format!("operator:{}", operator.id),
            action: action.into(),
            target: format!("operator:{}", operator.id),
            source_addr: source.to_string(),
        };
        let Some((secret, last_step)) = self.store.totp(operator.id).await? else {
            return Err(SignInError::Rejected);
        };
        let unix = now.unix_timestamp();
        let accepted = match candor_core::totp::verify(&secret, code, unix, last_step) {
            // The store accepts a step only once, even for two requests at the same moment.
            Some(step) => self.store.accept_totp_step(operator.id, step).await?,
            None => {
                let normalised = normalise_recovery_code(code);
                !normalised.is_empty()
                    && self
                        .store
                        .use_recovery_code(operator.id, &secret_hash(&normalised), now)
                        .await?
            }
        };
        if accepted {
            self.store
                .clear_failures(std::slice::from_ref(&key))
                .await?;
            self.store
                .complete_second_factor(&secret_hash(session_secret), now)
                .await?;
            self.store.record_audit(&[event("sign_in")], now).await?;
            return Ok(());
        }
        let locked = self
            .store
            .record_failure(
                std::slice::from_ref(&key),
                SECOND_FACTOR_POLICY,
                now,
                Some(&event("second_factor_failed")),
            )
            .await?;
        if locked > now_ms {
            return Err(SignInError::Throttled {
                minutes: (locked - now_ms + 59_999) / 60_000,
            });
        }
        Err(SignInError::Rejected)
    }

    /// Turns two-step sign-in on after checking a first code from the new secret; returns the
    /// recovery codes (shown once).
    pub async fn enable_totp(
        &self,
        operator: &Operator,
        secret: &[u8],
        code: &str,
        source: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let now = self.clock.now();
        let Some(step) = candor_core::totp::verify(secret, code, now.unix_timestamp(), None) else {
            return Ok(None);
        };
        let mut codes = Vec::new();
        let mut hashes = Vec::new();
        for _ in 0..RECOVERY_CODES {
            let mut bytes = [0u8; 7];
            getrandom::fill(&mut bytes).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let code = candor_core::totp::base32(&bytes);
            let code = code.chars().take(10).collect::<String>();
            hashes.push(secret_hash(&code));
            codes.push(format!("{}-{}", &code[..5], &code[5..]));
        }
        let audit = NewAuditEvent {
            actor: format!("operator:{}", operator.id),
            action: "totp_enabled".into(),
            target: format!("operator:{}", operator.id),
            source_addr: source.into(),
        };
        // The enrolment code's step counts as used.
        self.store
            .enable_totp(operator.id, secret, step, &hashes, &audit, now)
            .await?;
        Ok(Some(codes))
    }

    /// The session behind a cookie value, if it is live.
    pub async fn session(&self, secret: &str) -> Result<Option<Session>, StoreError> {
        self.store
            .session(
                &secret_hash(secret),
                self.clock.now(),
                SESSION_IDLE.whole_milliseconds() as i64,
                SESSION_ABSOLUTE.whole_milliseconds() as i64,
            )
            .await
    }

    /// Whether the session's password entry is recent enough for a sensitive action.
    pub fn recently_authenticated(&self, session: &Session) -> bool {
        self.clock.now() - session.authenticated_at <= REAUTH_WINDOW
    }

    /// The live API token presented as `Bearer <token>`, if any.
    pub async fn token(&self, presented: &str) -> Result<Option<ApiToken>, StoreError> {
        if !presented.starts_with(TOKEN_PREFIX) || presented.len() > 200 {
            return Ok(None);
        }
        self.store
            .use_token(&secret_hash(presented), self.clock.now())
            .await
    }

    /// Creates an API token; returns (id, the token, shown once).
    pub async fn create_token(
        &self,
        name: &str,
        scopes: &[Scope],
        expires_in_days: Option<i64>,
        by: &Operator,
        source: &str,
    ) -> Result<(i64, String), StoreError> {
        let now = self.clock.now();
        let token = format!(
            "{TOKEN_PREFIX}{}",
            new_secret().map_err(StoreError::Invalid)?
        );
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let audit = NewAuditEvent {
            actor: format!("operator:{}", by.id),
            action: "token_created".into(),
            target: String::new(),
            source_addr: source.into(),
        };
        let id = self
            .store
            .create_token(
                &NewApiToken {
                    name,
                    token_hash: &secret_hash(&token),
                    scopes: &scopes,
                    created_by: by.id,
                    expires_at: expires_in_days.map(|d| now + Duration::days(d)),
                },
                now,
                &audit,
            )
            .await?;
        Ok((id, token))
    }

    /// Creates a set-password (or invitation) link for an operator; returns the token.
    pub async fn create_link(&self, operator_id: i64, purpose: &str) -> Result<String, StoreError> {
        let token = new_secret().map_err(StoreError::Invalid)?;
        self.store
            .create_link(
                &secret_hash(&token),
                operator_id,
                purpose,
                self.clock.now() + LINK_LIFETIME,
            )
            .await?;
        Ok(token)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms(at: time::OffsetDateTime) -> i64 {
    to_ms(at)
}

fn to_ms(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The throttling bucket of an address: the address itself for IPv4, its /64 for IPv6 (one
/// client usually controls a whole /64).
pub fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Checks a new password: long enough, not absurdly long.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must have at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

/// Parses a role submitted in a form.
pub fn parse_role(text: &str) -> Option<Role> {
    Role::parse(text)
}

/// OpenID Connect sign-in for operators. The provider is discovered on first use (a provider
/// that is down at start does not keep Candor from starting, and a later sign-in retries).
pub struct OidcSignIn {
    settings: candor_oidc::OidcSettings,
    /// The sign-in button's label.
    pub label: String,
    client: tokio::sync::OnceCell<candor_oidc::OidcClient>,
}

impl OidcSignIn {
    /// From the config and the public URL (the callback is `<public_url>/admin/oidc/callback`).
    pub fn new(config: &candor_core::config::OidcConfig, public_url: &str) -> OidcSignIn {
        let redirect = format!("{}/admin/oidc/callback", public_url.trim_end_matches('/'));
        OidcSignIn::with_callback(config, &redirect)
    }

    /// With another callback URL (customer sign-in).
    pub fn with_callback(config: &candor_core::config::OidcConfig, redirect: &str) -> OidcSignIn {
        let redirect = redirect.to_owned();
        let mut settings = candor_oidc::OidcSettings::new(
            config.issuer.clone(),
            config.client_id.clone(),
            redirect,
        );
        if let Some(secret) = &config.client_secret {
            settings = settings.with_client_secret(secret.clone());
        }
        OidcSignIn {
            settings,
            label: config.label.clone(),
            client: tokio::sync::OnceCell::new(),
        }
    }

    /// The discovered client.
    pub async fn client(&self) -> Result<&candor_oidc::OidcClient, candor_oidc::OidcError> {
        self.client
            .get_or_try_init(|| async {
                let http = candor_oidc::http_client()?;
                candor_oidc::OidcClient::discover(self.settings.clone(), http).await
            })
            .await
    }
}
