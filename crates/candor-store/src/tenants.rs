//! Customer tenants, their administrators, magic links and sessions. The same SQL text serves
//! both backends (see `identity.rs`).

use std::future::Future;

use time::OffsetDateTime;

use crate::identity::NewAuditEvent;
use crate::{Store, StoreError, from_ms};

/// A customer organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Its own OpenID Connect provider, if any: (issuer, client id).
    pub oidc: Option<(String, String)>,
}

/// A customer's administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAdmin {
    /// Row id.
    pub id: i64,
    /// The tenant they administer (exactly one).
    pub tenant_id: i64,
    /// Lowercase email, where magic links go.
    pub email: String,
    /// When they were added.
    pub created_at: OffsetDateTime,
}

/// A live customer session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSession {
    /// Who is signed in.
    pub admin: TenantAdmin,
    /// Their tenant: everything they see is scoped to it.
    pub tenant: Tenant,
    /// The CSRF token of the session's forms.
    pub csrf_token: String,
}

/// The tenant store.
pub trait Tenants: Send + Sync {
    /// Creates a tenant; `Conflict` when the name is taken.
    fn create_tenant(
        &self,
        name: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send;
    /// Every tenant, by name.
    fn tenants(&self) -> impl Future<Output = Result<Vec<Tenant>, StoreError>> + Send;
    /// Adds an administrator (email normalised); `Conflict` when the address already
    /// administers a tenant.
    fn add_tenant_admin(
        &self,
        tenant_id: i64,
        email: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> impl Future<Output = Result<TenantAdmin, StoreError>> + Send;
    /// A tenant's administrators.
    fn tenant_admins(
        &self,
        tenant_id: i64,
    ) -> impl Future<Output = Result<Vec<TenantAdmin>, StoreError>> + Send;
    /// The administrator with this email.
    fn tenant_admin_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<TenantAdmin>, StoreError>> + Send;
    /// Stores a magic link.
    fn create_tenant_link(
        &self,
        token_hash: &[u8; 32],
        tenant_admin_id: i64,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Uses a magic link (atomically, once) and starts a session for its administrator, with
    /// the audit event, in one transaction. None when the link is unknown, used or expired.
    fn use_tenant_link(
        &self,
        token_hash: &[u8; 32],
        session_hash: &[u8; 32],
        csrf_token: &str,
        now: OffsetDateTime,
        source_addr: &str,
    ) -> impl Future<Output = Result<Option<TenantAdmin>, StoreError>> + Send;
    /// The live session with this id hash.
    fn tenant_session(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> impl Future<Output = Result<Option<TenantSession>, StoreError>> + Send;
    /// One tenant.
    fn tenant(&self, id: i64) -> impl Future<Output = Result<Option<Tenant>, StoreError>> + Send;
    /// Sets (or with None clears) the tenant's OpenID Connect provider, with the audit event.
    fn set_tenant_oidc(
        &self,
        tenant_id: i64,
        oidc: Option<(&str, &str)>,
        audit: &NewAuditEvent,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Starts a session for an administrator who signed in with their tenant's provider.
    fn start_tenant_session(
        &self,
        session_hash: &[u8; 32],
        admin: &TenantAdmin,
        csrf_token: &str,
        now: OffsetDateTime,
        source_addr: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends a session.
    fn end_tenant_session(
        &self,
        id_hash: &[u8; 32],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

type TenantRow = (i64, String, i64, Option<String>, Option<String>);
type AdminRow = (i64, i64, String, i64);

fn tenant_from((id, name, created, issuer, client_id): TenantRow) -> Tenant {
    Tenant {
        id,
        name,
        created_at: from_ms(created),
        oidc: issuer.zip(client_id),
    }
}

fn admin_from((id, tenant_id, email, created): AdminRow) -> TenantAdmin {
    TenantAdmin {
        id,
        tenant_id,
        email,
        created_at: from_ms(created),
    }
}

macro_rules! impl_tenants {
    ($store:ty, $backend:ident, $write:ident, $read:ident) => {
        impl Tenants for $store {
            async fn create_tenant(
                &self,
                name: &str,
                at: OffsetDateTime,
                audit: &NewAuditEvent,
            ) -> Result<Tenant, StoreError> {
                let mut tx = self.begin_write().await?;
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_some() {
                    return Err(StoreError::Conflict(format!("a tenant named \"{name}\" already exists")));
                }
                let row: TenantRow = sqlx::query_as(
                    "INSERT INTO tenants (name, created_at_ms) VALUES ($1, $2) RETURNING id, name, created_at_ms, oidc_issuer, oidc_client_id",
                )
                .bind(name)
                .bind(crate::to_ms(at))
                .fetch_one(&mut *tx)
                .await?;
                let tenant = tenant_from(row);
                let audit = NewAuditEvent { target: format!("tenant:{}", tenant.id), ..audit.clone() };
                Self::audit_in(&mut tx, &audit, at).await?;
                tx.commit().await?;
                Ok(tenant)
            }

            async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
                let rows: Vec<TenantRow> =
                    sqlx::query_as("SELECT id, name, created_at_ms, oidc_issuer, oidc_client_id FROM tenants ORDER BY name")
                        .fetch_all(&self.$read)
                        .await?;
                Ok(rows.into_iter().map(tenant_from).collect())
            }

            async fn add_tenant_admin(
                &self,
                tenant_id: i64,
                email: &str,
                at: OffsetDateTime,
                audit: &NewAuditEvent,
            ) -> Result<TenantAdmin, StoreError> {
                let mut tx = self.begin_write().await?;
                let tenant: Option<i64> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
                    .bind(tenant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if tenant.is_none() {
                    return Err(StoreError::Invalid(format!("there is no tenant {tenant_id}")));
                }
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM tenant_admins WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_some() {
                    return Err(StoreError::Conflict(format!("{email} already administers a tenant")));
                }
                let row: AdminRow = sqlx::query_as(
                    "INSERT INTO tenant_admins (tenant_id, email, created_at_ms) VALUES ($1, $2, $3)
                     RETURNING id, tenant_id, email, created_at_ms",
                )
                .bind(tenant_id)
                .bind(email)
                .bind(crate::to_ms(at))
                .fetch_one(&mut *tx)
                .await?;
                let audit = NewAuditEvent { target: format!("tenant:{tenant_id}"), ..audit.clone() };
                Self::audit_in(&mut tx, &audit, at).await?;
                tx.commit().await?;
                Ok(admin_from(row))
            }

            async fn tenant_admins(&self, tenant_id: i64) -> Result<Vec<TenantAdmin>, StoreError> {
                let rows: Vec<AdminRow> = sqlx::query_as(
                    "SELECT id, tenant_id, email, created_at_ms FROM tenant_admins WHERE tenant_id = $1 ORDER BY email",
                )
                .bind(tenant_id)
                .fetch_all(&self.$read)
                .await?;
                Ok(rows.into_iter().map(admin_from).collect())
            }

            async fn tenant_admin_by_email(&self, email: &str) -> Result<Option<TenantAdmin>, StoreError> {
                let row: Option<AdminRow> = sqlx::query_as(
                    "SELECT id, tenant_id, email, created_at_ms FROM tenant_admins WHERE email = $1",
                )
                .bind(email)
                .fetch_optional(&self.$read)
                .await?;
                Ok(row.map(admin_from))
            }

            async fn create_tenant_link(
                &self,
                token_hash: &[u8; 32],
                tenant_admin_id: i64,
                expires_at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO tenant_links (token_hash, tenant_admin_id, expires_at_ms) VALUES ($1, $2, $3)",
                )
                .bind(&token_hash[..])
                .bind(tenant_admin_id)
                .bind(crate::to_ms(expires_at))
                .execute(&self.$write)
                .await?;
                Ok(())
            }

            async fn use_tenant_link(
                &self,
                token_hash: &[u8; 32],
                session_hash: &[u8; 32],
                csrf_token: &str,
                now: OffsetDateTime,
                source_addr: &str,
            ) -> Result<Option<TenantAdmin>, StoreError> {
                let now_ms = crate::to_ms(now);
                let mut tx = self.begin_write().await?;
                let admin_id: Option<i64> = sqlx::query_scalar(
                    "UPDATE tenant_links SET used_at_ms = $1
                     WHERE token_hash = $2 AND used_at_ms IS NULL AND expires_at_ms > $1
                     RETURNING tenant_admin_id",
                )
                .bind(now_ms)
                .bind(&token_hash[..])
                .fetch_optional(&mut *tx)
                .await?;
                let Some(admin_id) = admin_id else {
                    return Ok(None);
                };
                let row: AdminRow = sqlx::query_as(
                    "SELECT id, tenant_id, email, created_at_ms FROM tenant_admins WHERE id = $1",
                )
                .bind(admin_id)
                .fetch_one(&mut *tx)
                .await?;
                let admin = admin_from(row);
                sqlx::query(
                    "INSERT INTO tenant_sessions (id_hash, tenant_admin_id, csrf_token, created_at_ms, last_seen_at_ms)
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(&session_hash[..])
                .bind(admin.id)
                .bind(csrf_token)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                let audit = NewAuditEvent {
                    actor: format!("tenant_admin:{}", admin.id),
                    action: "tenant_sign_in".into(),
                    target: format!("tenant:{}", admin.tenant_id),
                    source_addr: source_addr.into(),
                };
                Self::audit_in(&mut tx, &audit, now).await?;
                tx.commit().await?;
                Ok(Some(admin))
            }

            async fn tenant_session(
                &self,
                id_hash: &[u8; 32],
                now: OffsetDateTime,
                idle_ms: i64,
                absolute_ms: i64,
            ) -> Result<Option<TenantSession>, StoreError> {
                type Row = (String, i64, i64, i64, i64, String, i64, String, i64, Option<String>, Option<String>);
                let row: Option<Row> = sqlx::query_as(
                    "SELECT s.csrf_token, s.created_at_ms, s.last_seen_at_ms,
                            a.id, a.tenant_id, a.email, a.created_at_ms, t.name, t.created_at_ms, t.oidc_issuer, t.oidc_client_id
                     FROM tenant_sessions s
                     JOIN tenant_admins a ON a.id = s.tenant_admin_id
                     JOIN tenants t ON t.id = a.tenant_id
                     WHERE s.id_hash = $1",
                )
                .bind(&id_hash[..])
                .fetch_optional(&self.$read)
                .await?;
                let Some((csrf_token, created, seen, admin_id, tenant_id, email, admin_created, name, tenant_created, issuer, client_id)) = row else {
                    return Ok(None);
                };
                let now_ms = crate::to_ms(now);
                if now_ms - seen > idle_ms || now_ms - created > absolute_ms {
                    self.end_tenant_session(id_hash).await?;
                    return Ok(None);
                }
                if now_ms - seen > 60_000 {
                    sqlx::query("UPDATE tenant_sessions SET last_seen_at_ms = $1 WHERE id_hash = $2")
                        .bind(now_ms)
                        .bind(&id_hash[..])
                        .execute(&self.$write)
                        .await?;
                }
                Ok(Some(TenantSession {
                    admin: admin_from((admin_id, tenant_id, email, admin_created)),
                    tenant: tenant_from((tenant_id, name, tenant_created, issuer, client_id)),
                    csrf_token,
                }))
            }

            async fn tenant(&self, id: i64) -> Result<Option<Tenant>, StoreError> {
                let row: Option<TenantRow> = sqlx::query_as(
                    "SELECT id, name, created_at_ms, oidc_issuer, oidc_client_id FROM tenants WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.$read)
                .await?;
                Ok(row.map(tenant_from))
            }

            async fn set_tenant_oidc(
                &self,
                tenant_id: i64,
                oidc: Option<(&str, &str)>,
                audit: &NewAuditEvent,
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let changed = sqlx::query("UPDATE tenants SET oidc_issuer = $1, oidc_client_id = $2 WHERE id = $3")
                    .bind(oidc.map(|o| o.0))
                    .bind(oidc.map(|o| o.1))
                    .bind(tenant_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    return Err(StoreError::Invalid(format!("there is no tenant {tenant_id}")));
                }
                let audit = NewAuditEvent { target: format!("tenant:{tenant_id}"), ..audit.clone() };
                Self::audit_in(&mut tx, &audit, at).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn start_tenant_session(
                &self,
                session_hash: &[u8; 32],
                admin: &TenantAdmin,
                csrf_token: &str,
                now: OffsetDateTime,
                source_addr: &str,
            ) -> Result<(), StoreError> {
                let now_ms = crate::to_ms(now);
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO tenant_sessions (id_hash, tenant_admin_id, csrf_token, created_at_ms, last_seen_at_ms)
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(&session_hash[..])
                .bind(admin.id)
                .bind(csrf_token)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                let audit = NewAuditEvent {
                    actor: format!("tenant_admin:{}", admin.id),
                    action: "tenant_sign_in_oidc".into(),
                    target: format!("tenant:{}", admin.tenant_id),
                    source_addr: source_addr.into(),
                };
                Self::audit_in(&mut tx, &audit, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn end_tenant_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM tenant_sessions WHERE id_hash = $1")
                    .bind(&id_hash[..])
                    .execute(&self.$write)
                    .await?;
                Ok(())
            }
        }
    };
}

impl_tenants!(crate::sqlite::SqliteStore, Sqlite, writer, readers);
impl_tenants!(crate::postgres::PgStore, Postgres, pool, pool);

macro_rules! delegate {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*).await,
            Store::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Tenants for Store {
    async fn create_tenant(
        &self,
        name: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> Result<Tenant, StoreError> {
        delegate!(self, create_tenant(name, at, audit))
    }
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        delegate!(self, tenants())
    }
    async fn add_tenant_admin(
        &self,
        tenant_id: i64,
        email: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> Result<TenantAdmin, StoreError> {
        delegate!(self, add_tenant_admin(tenant_id, email, at, audit))
    }
    async fn tenant_admins(&self, tenant_id: i64) -> Result<Vec<TenantAdmin>, StoreError> {
        delegate!(self, tenant_admins(tenant_id))
    }
    async fn tenant_admin_by_email(&self, email: &str) -> Result<Option<TenantAdmin>, StoreError> {
        delegate!(self, tenant_admin_by_email(email))
    }
    async fn create_tenant_link(
        &self,
        token_hash: &[u8; 32],
        tenant_admin_id: i64,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(
            self,
            create_tenant_link(token_hash, tenant_admin_id, expires_at)
        )
    }
    async fn use_tenant_link(
        &self,
        token_hash: &[u8; 32],
        session_hash: &[u8; 32],
        csrf_token: &str,
        now: OffsetDateTime,
        source_addr: &str,
    ) -> Result<Option<TenantAdmin>, StoreError> {
        delegate!(
            self,
            use_tenant_link(token_hash, session_hash, csrf_token, now, source_addr)
        )
    }
    async fn tenant_session(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> Result<Option<TenantSession>, StoreError> {
        delegate!(self, tenant_session(id_hash, now, idle_ms, absolute_ms))
    }
    async fn tenant(&self, id: i64) -> Result<Option<Tenant>, StoreError> {
        delegate!(self, tenant(id))
    }
    async fn set_tenant_oidc(
        &self,
        tenant_id: i64,
        oidc: Option<(&str, &str)>,
        audit: &NewAuditEvent,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, set_tenant_oidc(tenant_id, oidc, audit, at))
    }
    async fn start_tenant_session(
        &self,
        session_hash: &[u8; 32],
        admin: &TenantAdmin,
        csrf_token: &str,
        now: OffsetDateTime,
        source_addr: &str,
    ) -> Result<(), StoreError> {
        delegate!(
            self,
            start_tenant_session(session_hash, admin, csrf_token, now, source_addr)
        )
    }
    async fn end_tenant_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        delegate!(self, end_tenant_session(id_hash))
    }
}
