//! The customer area: administrators of a customer organisation (a tenant) sign in with a
//! single-use link sent by email and see only their own organisation.
//!
//! Every page takes the tenant from the session, never from the request: an id in a URL that
//! belongs to another tenant is answered 404, exactly like an id that does not exist.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candor_core::identity::normalise_email;
use candor_store::identity::{AuditFilter, Identity, NewAuditEvent};
use candor_store::tenants::{TenantSession, Tenants};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use crate::App;
use crate::auth::{new_secret, secret_hash};
use crate::render::Chrome;

/// How long a magic link works.
pub const LINK_LIFETIME: time::Duration = time::Duration::minutes(15);
/// Customer sessions end after this long without a request.
pub const SESSION_IDLE: time::Duration = time::Duration::hours(1);
/// Customer sessions end this long after sign-in.
pub const SESSION_ABSOLUTE: time::Duration = time::Duration::hours(8);
/// Sign-in links mailed per address within 15 minutes, at most.
const LINKS_PER_WINDOW: candor_store::identity::ThrottlePolicy =
    candor_store::identity::ThrottlePolicy {
        max_failures: 5,
        window_ms: 15 * 60 * 1000,
        lockout_ms: 15 * 60 * 1000,
    };

/// The customer routes.
pub fn routes() -> axum::Router<Arc<App>> {
    axum::Router::new()
        .route("/customer", get(home))
        .route("/customer/sign-in", get(sign_in_form).post(send_link))
        .route("/customer/link", get(link_form).post(use_link))
        .route("/customer/sign-out", post(sign_out))
        .route("/customer/admins/{id}", get(admin_detail))
        .route("/customer/sso/{tenant}", get(sso_start))
        .route("/customer/oidc/callback", get(sso_callback))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::admin::ADMIN_FORM_LIMIT,
        ))
}

#[derive(Template)]
#[template(path = "customer_sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    notices: Vec<String>,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "customer_link.html")]
struct LinkPage {
    chrome: Chrome,
    notices: Vec<String>,
    errors: Vec<String>,
    token: String,
}

#[derive(Template)]
#[template(path = "customer_home.html")]
struct HomePage {
    chrome: Chrome,
    notices: Vec<String>,
    errors: Vec<String>,
    tenant: String,
    email: String,
    csrf: String,
    admins: Vec<(i64, String)>,
    events: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "customer_admin.html")]
struct AdminPage {
    chrome: Chrome,
    notices: Vec<String>,
    errors: Vec<String>,
    tenant: String,
    email: String,
    since: String,
}

fn chrome(app: &App) -> Chrome {
    app.published().chrome.clone()
}

fn respond(result: Result<String, askama::Error>, status: StatusCode) -> Response {
    match result {
        Ok(body) => {
            let mut response = (status, Html(body)).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering a customer page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn internal(err: impl std::fmt::Display) -> Response {
    tracing::error!(error = %err, "customer request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "something went wrong; try again later\n",
    )
        .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The customers' session cookie, apart from the operators'.
const CUSTOMER_COOKIE: &str = "candor_customer";

async fn session(app: &App, headers: &HeaderMap) -> Result<(String, TenantSession), Response> {
    let Some(secret) = crate::admin::cookie_value(app, headers, CUSTOMER_COOKIE) else {
        return Err(Redirect::to("/customer/sign-in").into_response());
    };
    match app
        .store()
        .tenant_session(
            &secret_hash(&secret),
            app.auth().clock().now(),
            SESSION_IDLE.whole_milliseconds() as i64,
            SESSION_ABSOLUTE.whole_milliseconds() as i64,
        )
        .await
    {
        Ok(Some(s)) => Ok((secret, s)),
        Ok(None) => Err(Redirect::to("/customer/sign-in").into_response()),
        Err(e) => Err(internal(e)),
    }
}

async fn sign_in_form(State(app): State<Arc<App>>) -> Response {
    respond(
        SignInPage {
            chrome: chrome(&app),
            notices: vec![],
            errors: vec![],
        }
        .render(),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
}

/// Always the same answer, whether the address is known or not (no enumeration); a link is
/// mailed only to a known administrator, at most five per 15 minutes.
async fn send_link(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> Response {
    if crate::admin::cross_site(&app, &headers) {
        return (
            StatusCode::FORBIDDEN,
            "this form was not sent from this site\n",
        )
            .into_response();
    }
    if !crate::admin::cookies_allowed(&app) {
        return (
            StatusCode::FORBIDDEN,
            "signing in needs an https public_url\n",
        )
            .into_response();
    }
    let answer = || {
        respond(
            SignInPage {
                chrome: chrome(&app),
                notices: vec!["If that address belongs to a customer administrator, a sign-in link is on its way. It works once, for 15 minutes.".into()],
                errors: vec![],
            }
            .render(),
            StatusCode::OK,
        )
    };
    let Some(email) = normalise_email(&form.email) else {
        return answer();
    };
    let store = app.store();
    let now = app.auth().clock().now();
    let admin = match store.tenant_admin_by_email(&email).await {
        Ok(a) => a,
        Err(e) => return internal(e),
    };
    let Some(admin) = admin else {
        return answer();
    };
    // Count links per address, so nobody can fill a customer's inbox.
    let key = format!("magic-link:{email}");
    let event = NewAuditEvent {
        actor: "anonymous".into(),
        action: "tenant_link_sent".into(),
        target: format!("tenant:{}", admin.tenant_id),
        source_addr: addr.ip().to_string(),
    };
    match store.locked_until(std::slice::from_ref(&key)).await {
        Ok(until) if until > crate::auth::now_ms(now) => return answer(),
        Ok(_) => {}
        Err(e) => return internal(e),
    }
    if let Err(e) = store
        .record_failure(
            std::slice::from_ref(&key),
            LINKS_PER_WINDOW,
            now,
            Some(&event),
        )
        .await
    {
        return internal(e);
    }
    let token = match new_secret() {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    if let Err(e) = store
        .create_tenant_link(&secret_hash(&token), admin.id, now + LINK_LIFETIME)
        .await
    {
        return internal(e);
    }
    let link = app
        .published()
        .site
        .settings
        .public_url
        .join(&format!("/customer/link?token={token}"));
    let site = app.published().chrome.site_name.clone();
    let text = format!(
        "Hello,\n\nuse this link to sign in to {site} as an administrator of your organisation. It works once, for 15 minutes:\n\n{link}\n\nIf you did not ask for it, ignore this mail: nothing happens without the link.\n"
    );
    if let Err(e) = app
        .mailer()
        .send(&email, &format!("Your sign-in link for {site}"), &text)
        .await
    {
        return internal(e);
    }
    answer()
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The link opens a page with a button, so that mail scanners that follow links cannot use it.
async fn link_form(State(app): State<Arc<App>>, Query(q): Query<TokenQuery>) -> Response {
    respond(
        LinkPage {
            chrome: chrome(&app),
            notices: vec![],
            errors: vec![],
            token: q.token,
        }
        .render(),
        StatusCode::OK,
    )
}

async fn use_link(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<TokenQuery>,
) -> Response {
    if crate::admin::cross_site(&app, &headers) {
        return (
            StatusCode::FORBIDDEN,
            "this form was not sent from this site\n",
        )
            .into_response();
    }
    let (secret, csrf) = match (new_secret(), new_secret()) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let used = app
        .store()
        .use_tenant_link(
            &secret_hash(&form.token),
            &secret_hash(&secret),
            &csrf,
            app.auth().clock().now(),
            &addr.ip().to_string(),
        )
        .await;
    match used {
        Ok(Some(_)) => {
            let mut response = Redirect::to("/customer").into_response();
            crate::admin::set_cookie(&app, &mut response, CUSTOMER_COOKIE, &secret, SESSION_ABSOLUTE.whole_seconds());
            response
        }
        Ok(None) => respond(
            SignInPage {
                chrome: chrome(&app),
                notices: vec![],
                errors: vec!["This sign-in link is not valid: it was already used, it expired, or it was mistyped. Ask for a new one.".into()],
            }
            .render(),
            StatusCode::GONE,
        ),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (secret, s) = match session(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if crate::admin::cross_site(&app, &headers)
        || !crate::auth::secrets_equal(&s.csrf_token, &form.csrf)
    {
        return (
            StatusCode::FORBIDDEN,
            "this form was not sent from this site\n",
        )
            .into_response();
    }
    if let Err(e) = app.store().end_tenant_session(&secret_hash(&secret)).await {
        return internal(e);
    }
    let mut response = Redirect::to("/customer/sign-in").into_response();
    crate::admin::set_cookie(&app, &mut response, CUSTOMER_COOKIE, "", 0);
    response
}

async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (_, s) = match session(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = app.store();
    let admins = match store.tenant_admins(s.tenant.id).await {
        Ok(a) => a,
        Err(e) => return internal(e),
    };
    let events = match store
        .audit_events(&AuditFilter {
            target: Some(format!("tenant:{}", s.tenant.id)),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
    {
        Ok(e) => e,
        Err(e) => return internal(e),
    };
    respond(
        HomePage {
            chrome: chrome(&app),
            notices: vec![],
            errors: vec![],
            tenant: s.tenant.name.clone(),
            email: s.admin.email.clone(),
            csrf: s.csrf_token.clone(),
            admins: admins.into_iter().map(|a| (a.id, a.email)).collect(),
            events: events
                .into_iter()
                .map(|e| {
                    let by = if e.actor.starts_with("operator:") {
                        "our staff".to_owned()
                    } else if e.actor == format!("tenant_admin:{}", s.admin.id) {
                        "you".to_owned()
                    } else if e.actor.starts_with("tenant_admin:") {
                        "an administrator of your organisation".to_owned()
                    } else {
                        e.actor
                    };
                    (e.at.format(&Rfc3339).unwrap_or_default(), e.action, by)
                })
                .collect(),
        }
        .render(),
        StatusCode::OK,
    )
}

/// One administrator of the signed-in tenant; any other id is 404.
async fn admin_detail(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let (_, s) = match session(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let admins = match app.store().tenant_admins(s.tenant.id).await {
        Ok(a) => a,
        Err(e) => return internal(e),
    };
    let Some(admin) = admins.into_iter().find(|a| a.id == id) else {
        return not_found();
    };
    respond(
        AdminPage {
            chrome: chrome(&app),
            notices: vec![],
            errors: vec![],
            tenant: s.tenant.name.clone(),
            email: admin.email,
            since: admin.created_at.format(&Rfc3339).unwrap_or_default(),
        }
        .render(),
        StatusCode::OK,
    )
}

// ---- a tenant's own OpenID Connect provider ------------------------------------------------

/// What is stored while the browser is at the tenant's provider.
#[derive(serde::Serialize, Deserialize)]
struct PendingTenantLogin {
    tenant: i64,
    pending: candor_oidc::PendingLogin,
}

/// `/customer/sso/<tenant>`: the link a vendor gives a customer whose administrators sign in
/// with their own provider.
async fn sso_start(State(app): State<Arc<App>>, Path(tenant_id): Path<i64>) -> Response {
    if !crate::admin::cookies_allowed(&app) {
        return (
            StatusCode::FORBIDDEN,
            "signing in needs an https public_url\n",
        )
            .into_response();
    }
    let tenant = match app.store().tenant(tenant_id).await {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let Some((issuer, client_id)) = tenant.and_then(|t| t.oidc) else {
        return not_found();
    };
    let oidc = app.tenant_oidc(tenant_id, &issuer, &client_id);
    let client = match oidc.client().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, tenant = tenant_id, "a tenant's OpenID Connect provider cannot be reached");
            return (
                StatusCode::BAD_GATEWAY,
                format!("your organisation's sign-on provider cannot be reached right now: {e}\n"),
            )
                .into_response();
        }
    };
    let now = app.auth().clock().now();
    let (url, pending) = match client.begin(now) {
        Ok(b) => b,
        Err(e) => return internal(e),
    };
    let state = pending.state().to_owned();
    let json = match serde_json::to_string(&PendingTenantLogin {
        tenant: tenant_id,
        pending,
    }) {
        Ok(j) => j,
        Err(e) => return internal(e),
    };
    if let Err(e) = app.store().save_oidc_pending(&state, &json, now).await {
        return internal(e);
    }
    let mut response = Redirect::to(&url).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn sso_callback(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<crate::admin::CallbackQuery>,
) -> Response {
    let store = app.store();
    let now = app.auth().clock().now();
    let refuse = |problem: String| {
        respond(
            SignInPage {
                chrome: chrome(&app),
                notices: vec![],
                errors: vec![problem],
            }
            .render(),
            StatusCode::UNAUTHORIZED,
        )
    };
    // Taken whatever happens next: a callback works at most once.
    let pending = match store.take_oidc_pending(&q.state).await {
        Ok(Some(json)) => serde_json::from_str::<PendingTenantLogin>(&json).ok(),
        Ok(None) => None,
        Err(e) => return internal(e),
    };
    let Some(PendingTenantLogin {
        tenant: tenant_id,
        pending,
    }) = pending
    else {
        return refuse("This sign-on attempt is not valid any more; start again.".into());
    };
    let tenant = match store.tenant(tenant_id).await {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let Some((issuer, client_id)) = tenant.and_then(|t| t.oidc) else {
        return refuse("Your organisation no longer signs in this way.".into());
    };
    let oidc = app.tenant_oidc(tenant_id, &issuer, &client_id);
    let identity = crate::admin::finish_oidc(&oidc, pending, &q, now).await;
    let failed = |reason: String| {
        tracing::warn!(tenant = tenant_id, reason = %reason, "a customer's sign-on was refused");
        NewAuditEvent {
            actor: "anonymous".into(),
            action: "tenant_sign_in_failed".into(),
            target: format!("tenant:{tenant_id}"),
            source_addr: addr.ip().to_string(),
        }
    };
    let identity = match identity {
        Ok(i) => i,
        Err(e) => {
            let _ = store.record_audit(&[failed(e.to_string())], now).await;
            return refuse(format!("Sign-on failed: {e}"));
        }
    };
    // Only an administrator of this very tenant, with an email the provider verified.
    let email = identity
        .email
        .as_deref()
        .filter(|_| identity.email_verified)
        .and_then(normalise_email);
    let admin = match email {
        Some(email) => match store.tenant_admin_by_email(&email).await {
            Ok(a) => a.filter(|a| a.tenant_id == tenant_id),
            Err(e) => return internal(e),
        },
        None => None,
    };
    let Some(admin) = admin else {
        let _ = store
            .record_audit(&[failed("not an administrator of this tenant".into())], now)
            .await;
        return refuse("Your account is not an administrator of this organisation here (or its email is not verified).".into());
    };
    let (secret, csrf) = match (new_secret(), new_secret()) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    if let Err(e) = store
        .start_tenant_session(
            &secret_hash(&secret),
            &admin,
            &csrf,
            now,
            &addr.ip().to_string(),
        )
        .await
    {
        return internal(e);
    }
    let mut response = Redirect::to("/customer").into_response();
    crate::admin::set_cookie(
        &app,
        &mut response,
        CUSTOMER_COOKIE,
        &secret,
        SESSION_ABSOLUTE.whole_seconds(),
    );
    response
}
