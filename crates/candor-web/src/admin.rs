//! The admin area: sign-in, set-password links, dashboard, users and roles, API tokens and the
//! audit trail. Server-rendered forms, no JavaScript.
//!
//! Every state-changing form carries the session's CSRF token, and a POST whose `Origin` (or
//! `Sec-Fetch-Site`) says it came from another site is refused before anything else. The session
//! cookie is `__Host-candor_session` (Secure, HttpOnly, SameSite=Strict, Path=/) with an https
//! `public_url`; a plain-http loopback address (development) gets `candor_session` without
//! `Secure`; any other plain-http address cannot sign in.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candor_core::identity::{Role, Scope, normalise_email};
use candor_store::LogStore;
use candor_store::identity::{AuditEvent, AuditFilter, Identity, NewAuditEvent, Session};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use crate::App;
use crate::auth::{MIN_PASSWORD_CHARS, SignInError, secret_hash, secrets_equal};
use crate::render::Chrome;

/// The largest admin form body accepted, in bytes.
pub const ADMIN_FORM_LIMIT: usize = 16 * 1024;

/// The admin routes.
pub fn routes() -> axum::Router<Arc<App>> {
    axum::Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/sign-in", get(sign_in_form).post(sign_in))
        .route("/admin/sign-out", post(sign_out))
        .route("/admin/sign-out-everywhere", post(sign_out_everywhere))
        .route(
            "/admin/set-password",
            get(set_password_form).post(set_password),
        )
        .route("/admin/users", get(users).post(invite))
        .route("/admin/users/{id}/role", post(change_role))
        .route("/admin/users/{id}/disable", post(disable_user))
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/audit", get(audit))
        .route("/admin/audit.csv", get(audit_csv))
        .route(
            "/admin/sign-in/second-factor",
            get(second_factor_form).post(second_factor),
        )
        .route("/admin/account", get(account))
        .route("/admin/oidc/start", get(oidc_start))
        .route("/admin/tenants", get(tenants).post(create_tenant))
        .route("/admin/tenants/{id}/admins", post(add_tenant_admin))
        .route("/admin/tenants/{id}/oidc", post(set_tenant_oidc))
        .route("/admin/oidc/callback", get(oidc_callback))
        // Admin forms are small; a larger body is refused (413) before anything reads it.
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_FORM_LIMIT))
        .route("/admin/account/totp", post(enable_totp))
}

/// The signed-in operator, as the layout shows them.
pub struct Me {
    email: String,
    role: String,
    csrf: String,
    manages_access: bool,
    reads_audit: bool,
}

struct Page {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    email: String,
    oidc_label: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_set_password.html")]
struct SetPasswordPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    valid: bool,
    email: String,
    token: String,
    min_chars: usize,
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    attention: Vec<String>,
    operators: usize,
    live_tokens: usize,
    log_size: u64,
}

struct UserRow {
    id: i64,
    email: String,
    role: String,
    password_set: bool,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    csrf: String,
    users: Vec<UserRow>,
    roles: Vec<&'static str>,
    new_link: Option<(String, String)>,
}

struct TokenRow {
    id: i64,
    name: String,
    scopes: String,
    created: String,
    expires: String,
    last_used: String,
    live: bool,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    csrf: String,
    tokens: Vec<TokenRow>,
    scopes: Vec<&'static str>,
    new_token: Option<String>,
}

struct AuditRowView {
    at: String,
    actor: String,
    action: String,
    target: String,
    source_addr: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    events: Vec<AuditRowView>,
    filter_actor: String,
    filter_action: String,
    filter_since: String,
    filter_until: String,
    query: String,
}

// ---- plumbing ------------------------------------------------------------------------------

fn page(app: &App, section: &'static str, session: Option<&Session>) -> Page {
    Page {
        chrome: app.published().chrome.clone(),
        me: session.map(|s| {
            let role = Role::parse(&s.operator.role).unwrap_or(Role::Auditor);
            Me {
                email: s.operator.email.clone(),
                role: s.operator.role.clone(),
                csrf: s.csrf_token.clone(),
                manages_access: role.manages_access(),
                reads_audit: role.reads_audit(),
            }
        }),
        section,
        notices: Vec::new(),
        errors: Vec::new(),
    }
}

fn html(result: Result<String, askama::Error>) -> Response {
    match result {
        Ok(body) => {
            let mut response = Html(body).into_response();
            no_store(&mut response);
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering an admin page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn internal(err: impl std::fmt::Display) -> Response {
    tracing::error!(error = %err, "admin request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "something went wrong; see the server log\n",
    )
        .into_response()
}

/// The operators' session cookie (see [`cookie_name`]).
const SESSION_COOKIE: &str = "candor_session";

/// A session cookie's name: `__Host-` prefixed with https, so the browser holds it to this exact
/// host, over TLS, for the whole site.
pub(crate) fn cookie_name(app: &App, base: &str) -> String {
    if https(app) {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

pub(crate) fn https(app: &App) -> bool {
    app.published()
        .site
        .settings
        .public_url
        .as_str()
        .starts_with("https://")
}

/// Plain http is allowed only on loopback (development).
pub(crate) fn cookies_allowed(app: &App) -> bool {
    if https(app) {
        return true;
    }
    let url = app.published().site.settings.public_url.as_str().to_owned();
    let host = url
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("")
        .to_owned();
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sets a session cookie (HttpOnly, SameSite=Strict, Path=/, Secure with https).
pub(crate) fn set_cookie(
    app: &App,
    response: &mut Response,
    base: &str,
    value: &str,
    max_age_s: i64,
) {
    let secure = if https(app) { "; Secure" } else { "" };
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}",
        cookie_name(app, base)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The value of a session cookie the request carries.
pub(crate) fn cookie_value(app: &App, headers: &HeaderMap, base: &str) -> Option<String> {
    let name = cookie_name(app, base);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name.as_str())
        .map(|(_, v)| v.to_owned())
}

/// The live session behind the request's cookie.
async fn session(app: &App, headers: &HeaderMap) -> Result<Option<(String, Session)>, Response> {
    let Some(secret) = cookie_value(app, headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    match app.auth().session(&secret).await {
        Ok(Some(s)) => Ok(Some((secret, s))),
        Ok(None) => Ok(None),
        Err(e) => Err(internal(e)),
    }
}

/// Requires a session (else redirects to sign-in).
async fn require(app: &App, headers: &HeaderMap) -> Result<(String, Session), Response> {
    match session(app, headers).await? {
        Some((_, s)) if s.second_factor_pending => {
            Err(Redirect::to("/admin/sign-in/second-factor").into_response())
        }
        Some(s) => Ok(s),
        None => Err(Redirect::to("/admin/sign-in").into_response()),
    }
}

fn forbidden(app: &App, session: &Session, what: &str) -> Response {
    let mut p = page(app, "dashboard", Some(session));
    p.errors.push(format!(
        "Your role ({}) may not {what}.",
        session.operator.role
    ));
    let mut response = html(
        DashboardPage {
            chrome: p.chrome,
            me: p.me,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            attention: Vec::new(),
            operators: 0,
            live_tokens: 0,
            log_size: 0,
        }
        .render(),
    );
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// Refuses a POST that a browser says came from another site (CSRF defence in depth; the
/// session's CSRF token is checked as well).
pub(crate) fn cross_site(app: &App, headers: &HeaderMap) -> bool {
    // Browsers that send Fetch metadata say it directly (and send `Origin: null` from pages
    // with `Referrer-Policy: no-referrer`, such as the set-password page).
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site != "same-origin" && site != "none";
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(origin) => {
            // Same origin: the configured public URL, or the host the request was sent to.
            let ours = app
                .published()
                .site
                .settings
                .public_url
                .as_str()
                .trim_end_matches('/')
                .to_owned();
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let scheme = if https(app) { "https" } else { "http" };
            origin != ours && origin != format!("{scheme}://{host}")
        }
    }
}

/// The session behind a form post of the admin area: signed in, sent from this site, with the
/// session's CSRF token.
async fn signed_in_form(
    app: &App,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<(String, Session), Response> {
    let (secret, s) = require(app, headers).await?;
    if cross_site(app, headers) || !csrf_ok(&s, csrf) {
        return Err(rejected_form());
    }
    Ok((secret, s))
}

/// As [`signed_in_form`], for what only owners may do (`what` completes "may not …").
async fn owner_form(
    app: &App,
    headers: &HeaderMap,
    csrf: &str,
    what: &str,
) -> Result<(String, Session), Response> {
    let (secret, s) = signed_in_form(app, headers, csrf).await?;
    if !role_of(&s).manages_access() {
        return Err(forbidden(app, &s, what));
    }
    Ok((secret, s))
}

/// The session behind an owner-only page.
async fn owner_page(
    app: &App,
    headers: &HeaderMap,
    what: &str,
) -> Result<(String, Session), Response> {
    let (secret, s) = require(app, headers).await?;
    if !role_of(&s).manages_access() {
        return Err(forbidden(app, &s, what));
    }
    Ok((secret, s))
}

fn csrf_ok(session: &Session, submitted: &str) -> bool {
    secrets_equal(&session.csrf_token, submitted)
}

fn rejected_form() -> Response {
    (
        StatusCode::FORBIDDEN,
        "this form was not sent from this site's admin area (missing or wrong CSRF token); reload the page and try again\n",
    )
        .into_response()
}

fn source(addr: &SocketAddr) -> String {
    addr.ip().to_string()
}

fn fmt_time(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Checks a sensitive action's password: entered in the form, or recently at sign-in.
async fn reauthenticated(app: &App, secret: &str, session: &Session, password: &str) -> bool {
    if password.is_empty() {
        return app.auth().recently_authenticated(session);
    }
    let Some(hash) = &session.operator.password_hash else {
        return false;
    };
    let ok = app
        .auth()
        .verify_password(password, hash)
        .await
        .unwrap_or(false);
    if ok {
        let _ = app
            .auth()
            .store()
            .reauthenticate(&secret_hash(secret), app.auth().clock().now())
            .await;
    }
    ok
}

// ---- sign-in and sessions ------------------------------------------------------------------

async fn sign_in_form(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = session(&app, &headers).await {
        return Redirect::to("/admin").into_response();
    }
    let mut p = page(&app, "sign-in", None);
    if !cookies_allowed(&app) {
        p.errors.push("Signing in needs an https public_url (plain http works only on a loopback address, for development).".into());
    }
    html(
        SignInPage {
            chrome: p.chrome,
            me: None,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            email: String::new(),
            oidc_label: app.oidc().map(|o| o.label.clone()),
        }
        .render(),
    )
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn sign_in(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if cross_site(&app, &headers) {
        return rejected_form();
    }
    let mut p = page(&app, "sign-in", None);
    if !cookies_allowed(&app) {
        p.errors
            .push("Signing in needs an https public_url.".into());
    } else if form.email.len() > 254 {
        p.errors.push("That email address is too long.".into());
    } else {
        // A cookie the client brought is never reused: a new session id on every sign-in.
        if let Some(old) = cookie_value(&app, &headers, SESSION_COOKIE) {
            let _ = app.auth().store().end_session(&secret_hash(&old)).await;
        }
        match app
            .auth()
            .sign_in(&form.email, &form.password, addr.ip())
            .await
        {
            Ok((secret, _)) => {
                let pending = matches!(app.auth().session(&secret).await, Ok(Some(s)) if s.second_factor_pending);
                let next = if pending {
                    "/admin/sign-in/second-factor"
                } else {
                    "/admin"
                };
                let mut response = Redirect::to(next).into_response();
                set_cookie(
                    &app,
                    &mut response,
                    SESSION_COOKIE,
                    &secret,
                    crate::auth::SESSION_ABSOLUTE.whole_seconds(),
                );
                return response;
            }
            Err(SignInError::Rejected) => {
                p.errors.push("The email or password is not right.".into())
            }
            Err(e @ SignInError::Throttled { .. }) => {
                let mut response = html(
                    SignInPage {
                        chrome: p.chrome,
                        me: None,
                        section: p.section,
                        notices: p.notices,
                        errors: vec![format!("{}.", capitalise(&e.to_string()))],
                        email: form.email,
                        oidc_label: app.oidc().map(|o| o.label.clone()),
                    }
                    .render(),
                );
                *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                return response;
            }
            Err(e) => return internal(e),
        }
    }
    let mut response = html(
        SignInPage {
            chrome: p.chrome,
            me: None,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            email: form.email,
            oidc_label: app.oidc().map(|o| o.label.clone()),
        }
        .render(),
    );
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (secret, s) = match signed_in_form(&app, &headers, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = app.auth().store().end_session(&secret_hash(&secret)).await {
        return internal(e);
    }
    record(
        &app,
        &s,
        "sign_out",
        &format!("operator:{}", s.operator.id),
        &addr,
    )
    .await;
    let mut response = Redirect::to("/admin/sign-in").into_response();
    set_cookie(&app, &mut response, SESSION_COOKIE, "", 0);
    response
}

async fn sign_out_everywhere(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (_, s) = match signed_in_form(&app, &headers, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = app.auth().store().end_sessions_of(s.operator.id).await {
        return internal(e);
    }
    record(
        &app,
        &s,
        "sign_out_everywhere",
        &format!("operator:{}", s.operator.id),
        &addr,
    )
    .await;
    let mut response = Redirect::to("/admin/sign-in").into_response();
    set_cookie(&app, &mut response, SESSION_COOKIE, "", 0);
    response
}

async fn record(app: &App, s: &Session, action: &str, target: &str, addr: &SocketAddr) {
    let event = NewAuditEvent {
        actor: format!("operator:{}", s.operator.id),
        action: action.into(),
        target: target.into(),
        source_addr: source(addr),
    };
    if let Err(e) = app
        .auth()
        .store()
        .record_audit(&[event], app.auth().clock().now())
        .await
    {
        tracing::error!(error = %e, action, "recording an audit event failed");
    }
}

// ---- set-password links --------------------------------------------------------------------

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn set_password_form(State(app): State<Arc<App>>, Query(q): Query<TokenQuery>) -> Response {
    let p = page(&app, "set-password", None);
    let store = app.auth().store();
    let now = app.auth().clock().now();
    let operator = match store
        .peek_link(&secret_hash(&q.token), "set-password", now)
        .await
    {
        Ok(Some(id)) => store.operator(id).await.ok().flatten(),
        Ok(None) => None,
        Err(e) => return internal(e),
    };
    let mut response = html(
        SetPasswordPage {
            chrome: p.chrome,
            me: None,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            valid: operator.is_some(),
            email: operator.map(|o| o.email).unwrap_or_default(),
            token: q.token,
            min_chars: MIN_PASSWORD_CHARS,
        }
        .render(),
    );
    // The link's token must not leak to other sites through the Referer header.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[derive(Deserialize)]
struct SetPasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn set_password(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SetPasswordForm>,
) -> Response {
    if cross_site(&app, &headers) {
        return rejected_form();
    }
    let store = app.auth().store();
    let now = app.auth().clock().now();
    let hash = secret_hash(&form.token);
    let mut p = page(&app, "set-password", None);
    let operator = match store.peek_link(&hash, "set-password", now).await {
        Ok(Some(id)) => store.operator(id).await.ok().flatten(),
        Ok(None) => None,
        Err(e) => return internal(e),
    };
    let Some(operator) = operator else {
        let mut response = html(
            SetPasswordPage {
                chrome: p.chrome,
                me: None,
                section: p.section,
                notices: p.notices,
                errors: p.errors,
                valid: false,
                email: String::new(),
                token: String::new(),
                min_chars: MIN_PASSWORD_CHARS,
            }
            .render(),
        );
        *response.status_mut() = StatusCode::GONE;
        return response;
    };
    let problem = if form.password != form.confirm {
        Some("The two passwords differ.".to_owned())
    } else {
        crate::auth::check_new_password(&form.password)
            .err()
            .map(|e| format!("{}.", capitalise(&e)))
    };
    if let Some(problem) = problem {
        p.errors.push(problem);
        let mut response = html(
            SetPasswordPage {
                chrome: p.chrome,
                me: None,
                section: p.section,
                notices: p.notices,
                errors: p.errors,
                valid: true,
                email: operator.email,
                token: form.token,
                min_chars: MIN_PASSWORD_CHARS,
            }
            .render(),
        );
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return response;
    }
    let password_hash = match app.auth().hash_password(&form.password).await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
    // Using the link is atomic: a replay (or a race) finds it used and changes nothing.
    match store
        .use_link_set_password(&hash, "set-password", &password_hash, now, &source(&addr))
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::GONE, "this link was already used\n").into_response(),
        Err(e) => return internal(e),
    }
    let _ = store
        .clear_failures(&[format!("account:{}", operator.email)])
        .await;
    let mut response = Redirect::to("/admin/sign-in").into_response();
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

// ---- dashboard -----------------------------------------------------------------------------

async fn dashboard(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (_, s) = match require(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = app.auth().store();
    let (operators, tokens, log_size) = match (
        store.operators().await,
        store.tokens().await,
        store.sequenced_size().await,
    ) {
        (Ok(o), Ok(t), Ok(n)) => (o, t, n),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return internal(e),
    };
    let now = app.auth().clock().now();
    let live = tokens
        .iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now))
        .count();
    let mut attention: Vec<String> = operators
        .iter()
        .filter(|o| o.password_hash.is_none())
        .map(|o| {
            format!(
                "{} has not set a password yet (invitation pending)",
                o.email
            )
        })
        .collect();
    for t in tokens.iter().filter(|t| {
        t.revoked_at.is_none()
            && t.expires_at
                .is_some_and(|e| e > now && e - now < time::Duration::days(14))
    }) {
        attention.push(format!(
            "The API token \"{}\" expires within 14 days",
            t.name
        ));
    }
    let p = page(&app, "dashboard", Some(&s));
    html(
        DashboardPage {
            chrome: p.chrome,
            me: p.me,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            attention,
            operators: operators.len(),
            live_tokens: live,
            log_size,
        }
        .render(),
    )
}

// ---- users and roles -----------------------------------------------------------------------

async fn users_page(
    app: &App,
    s: &Session,
    notices: Vec<String>,
    errors: Vec<String>,
    new_link: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let users = match app.auth().store().operators().await {
        Ok(u) => u,
        Err(e) => return internal(e),
    };
    let mut p = page(app, "users", Some(s));
    p.notices = notices;
    p.errors = errors;
    let mut response = html(
        UsersPage {
            chrome: p.chrome,
            me: p.me,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            csrf: s.csrf_token.clone(),
            users: users
                .into_iter()
                .map(|u| UserRow {
                    id: u.id,
                    email: u.email,
                    role: u.role,
                    password_set: u.password_hash.is_some(),
                    disabled: u.disabled_at.is_some(),
                })
                .collect(),
            roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
            new_link,
        }
        .render(),
    );
    *response.status_mut() = status;
    response
}

async fn users(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (_, s) = match owner_page(&app, &headers, "manage users").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    users_page(&app, &s, vec![], vec![], None, StatusCode::OK).await
}

fn role_of(s: &Session) -> Role {
    Role::parse(&s.operator.role).unwrap_or(Role::Auditor)
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn invite(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    let (secret, s) = match owner_form(&app, &headers, &form.csrf, "invite operators").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(email) = normalise_email(&form.email) else {
        return users_page(
            &app,
            &s,
            vec![],
            vec![format!(
                "\"{}\" is not an email address.",
                truncate(&form.email)
            )],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let Some(role) = Role::parse(&form.role) else {
        return users_page(
            &app,
            &s,
            vec![],
            vec!["Choose one of the listed roles.".into()],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if role == Role::Owner && !reauthenticated(&app, &secret, &s, &form.password).await {
        return users_page(
            &app,
            &s,
            vec![],
            vec!["Inviting an owner needs your password: enter it and try again.".into()],
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    let now = app.auth().clock().now();
    let audit_event = NewAuditEvent {
        actor: format!("operator:{}", s.operator.id),
        action: format!("operator_invited:{}", role.as_str()),
        target: String::new(),
        source_addr: source(&addr),
    };
    let operator = match app
        .auth()
        .store()
        .create_operator(&email, role.as_str(), now, &audit_event)
        .await
    {
        Ok(o) => o,
        Err(candor_store::StoreError::Conflict(m)) => {
            return users_page(
                &app,
                &s,
                vec![],
                vec![format!("{}.", capitalise(&m))],
                None,
                StatusCode::CONFLICT,
            )
            .await;
        }
        Err(e) => return internal(e),
    };
    let token = match app.auth().create_link(operator.id, "set-password").await {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let link = app
        .published()
        .site
        .settings
        .public_url
        .join(&format!("/admin/set-password?token={token}"));
    let site = app.published().chrome.site_name.clone();
    let text = format!(
        "Hello,\n\n{} invited you to the admin area of {site} as {role}. Choose your password with this link; it works once and expires in 24 hours:\n\n{link}\n",
        s.operator.email
    );
    if let Err(e) = app
        .mailer()
        .send(&email, &format!("You are invited to {site}"), &text)
        .await
    {
        return internal(e);
    }
    users_page(
        &app,
        &s,
        vec![format!(
            "Invited {email} as {role}; the link below was also mailed to them."
        )],
        vec![],
        Some((email, link)),
        StatusCode::OK,
    )
    .await
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn change_role(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<RoleForm>,
) -> Response {
    let (secret, s) = match owner_form(&app, &headers, &form.csrf, "change roles").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(role) = Role::parse(&form.role) else {
        return users_page(
            &app,
            &s,
            vec![],
            vec!["Choose one of the listed roles.".into()],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if role == Role::Owner && !reauthenticated(&app, &secret, &s, &form.password).await {
        return users_page(
            &app,
            &s,
            vec![],
            vec!["Making someone an owner needs your password: enter it and try again.".into()],
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    let audit_event = NewAuditEvent {
        actor: format!("operator:{}", s.operator.id),
        action: format!("role_changed:{}", role.as_str()),
        target: format!("operator:{id}"),
        source_addr: source(&addr),
    };
    match app
        .auth()
        .store()
        .set_role(id, role.as_str(), &audit_event, app.auth().clock().now())
        .await
    {
        Ok(()) => {
            // A changed role applies at once: the person signs in again with the new one.
            let _ = app.auth().store().end_sessions_of(id).await;
            users_page(
                &app,
                &s,
                vec![format!("Role changed to {role}.")],
                vec![],
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(candor_store::StoreError::Conflict(m) | candor_store::StoreError::Invalid(m)) => {
            users_page(
                &app,
                &s,
                vec![],
                vec![format!("{}.", capitalise(&m))],
                None,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => internal(e),
    }
}

// ---- API tokens ----------------------------------------------------------------------------

async fn tokens_page(
    app: &App,
    s: &Session,
    errors: Vec<String>,
    new_token: Option<String>,
    status: StatusCode,
) -> Response {
    let tokens = match app.auth().store().tokens().await {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let now = app.auth().clock().now();
    let mut p = page(app, "tokens", Some(s));
    p.errors = errors;
    let mut response = html(
        TokensPage {
            chrome: p.chrome,
            me: p.me,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            csrf: s.csrf_token.clone(),
            tokens: tokens
                .into_iter()
                .map(|t| {
                    let expired = t.expires_at.is_some_and(|e| e <= now);
                    TokenRow {
                        id: t.id,
                        name: t.name,
                        scopes: t.scopes.join(" "),
                        created: fmt_time(t.created_at),
                        expires: t.expires_at.map(fmt_time).unwrap_or_else(|| "never".into()),
                        last_used: t
                            .last_used_at
                            .map(fmt_time)
                            .unwrap_or_else(|| "never".into()),
                        live: t.revoked_at.is_none() && !expired,
                        state: if t.revoked_at.is_some() {
                            "revoked"
                        } else if expired {
                            "expired"
                        } else {
                            "live"
                        },
                    }
                })
                .collect(),
            scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
            new_token,
        }
        .render(),
    );
    *response.status_mut() = status;
    response
}

async fn tokens(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (_, s) = match owner_page(&app, &headers, "manage API tokens").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    tokens_page(&app, &s, vec![], None, StatusCode::OK).await
}

async fn create_token(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (secret, s) = match require(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if cross_site(&app, &headers) || !csrf_ok(&s, &field("csrf")) {
        return rejected_form();
    }
    if !role_of(&s).manages_access() {
        return forbidden(&app, &s, "create API tokens");
    }
    let name = field("name").trim().to_owned();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push("Give the token a name of 1 to 100 characters.".to_owned());
    }
    let mut scopes = Vec::new();
    for (k, v) in &form {
        if k == "scope" {
            match Scope::parse(v) {
                Some(scope) if !scopes.contains(&scope) => scopes.push(scope),
                Some(_) => {}
                None => errors.push(format!("\"{}\" is not a scope.", truncate(v))),
            }
        }
    }
    if scopes.is_empty() {
        errors.push("Choose at least one scope.".into());
    }
    let days = field("expires_days");
    let expires_in_days = if days.trim().is_empty() {
        None
    } else {
        match days.trim().parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => Some(d),
            _ => {
                errors.push("The expiry must be a number of days from 1 to 3650, or empty.".into());
                None
            }
        }
    };
    if !errors.is_empty() {
        return tokens_page(&app, &s, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // Creating a token is sensitive: the password is asked for in the form, every time.
    let password = field("password");
    if password.is_empty() || !reauthenticated(&app, &secret, &s, &password).await {
        return tokens_page(
            &app,
            &s,
            vec!["Creating a token needs your password: it was missing or not right.".into()],
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    match app
        .auth()
        .create_token(&name, &scopes, expires_in_days, &s.operator, &source(&addr))
        .await
    {
        Ok((_, token)) => tokens_page(&app, &s, vec![], Some(token), StatusCode::OK).await,
        Err(e) => internal(e),
    }
}

async fn revoke_token(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (_, s) = match owner_form(&app, &headers, &form.csrf, "revoke API tokens").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let event = NewAuditEvent {
        actor: format!("operator:{}", s.operator.id),
        action: "token_revoked".into(),
        target: format!("token:{id}"),
        source_addr: source(&addr),
    };
    match app
        .auth()
        .store()
        .revoke_token(id, app.auth().clock().now(), &event)
        .await
    {
        Ok(_) => Redirect::to("/admin/tokens").into_response(),
        Err(e) => internal(e),
    }
}

// ---- audit trail ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

fn parse_day(text: &str) -> Result<Option<time::OffsetDateTime>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &format)
        .map(|d| Some(d.midnight().assume_utc()))
        .map_err(|_| format!("\"{}\" is not a date like 2026-11-30.", truncate(text)))
}

fn audit_filter(q: &AuditQuery) -> Result<AuditFilter, String> {
    Ok(AuditFilter {
        actor: Some(q.actor.trim().to_owned()).filter(|a| !a.is_empty()),
        action: Some(q.action.trim().to_owned()).filter(|a| !a.is_empty()),
        since: parse_day(&q.since)?,
        until: parse_day(&q.until)?,
        target: None,
        limit: 1000,
    })
}

async fn audit_rows(
    app: &App,
    q: &AuditQuery,
) -> Result<Vec<AuditEvent>, Result<String, candor_store::StoreError>> {
    let filter = audit_filter(q).map_err(Ok)?;
    app.auth().store().audit_events(&filter).await.map_err(Err)
}

async fn audit(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let (_, s) = match require(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !role_of(&s).reads_audit() {
        return forbidden(&app, &s, "read the audit trail");
    }
    let mut p = page(&app, "audit", Some(&s));
    let (events, status) = match audit_rows(&app, &q).await {
        Ok(events) => (events, StatusCode::OK),
        Err(Ok(problem)) => {
            p.errors.push(problem);
            (Vec::new(), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(Err(e)) => return internal(e),
    };
    let query = serde_urlencoded_pairs(&q);
    let mut response = html(
        AuditPage {
            chrome: p.chrome,
            me: p.me,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            events: events
                .into_iter()
                .map(|e| AuditRowView {
                    at: fmt_time(e.at),
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    source_addr: e.source_addr,
                })
                .collect(),
            filter_actor: q.actor,
            filter_action: q.action,
            filter_since: q.since,
            filter_until: q.until,
            query,
        }
        .render(),
    );
    *response.status_mut() = status;
    response
}

fn serde_urlencoded_pairs(q: &AuditQuery) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b':' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "actor={}&action={}&since={}&until={}",
        enc(&q.actor),
        enc(&q.action),
        enc(&q.since),
        enc(&q.until)
    )
}

async fn audit_csv(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let (_, s) = match require(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !role_of(&s).reads_audit() {
        return forbidden(&app, &s, "read the audit trail");
    }
    let events = match audit_rows(&app, &q).await {
        Ok(events) => events,
        Err(Ok(problem)) => return (StatusCode::UNPROCESSABLE_ENTITY, problem).into_response(),
        Err(Err(e)) => return internal(e),
    };
    let mut csv = String::from("id,time,actor,action,target,source\n");
    for e in events {
        let cells = [
            e.id.to_string(),
            fmt_time(e.at),
            e.actor,
            e.action,
            e.target,
            e.source_addr,
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    let mut response = csv.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"candor-audit.csv\""),
    );
    no_store(&mut response);
    response
}

/// A CSV cell, quoted when needed; a leading formula character is defused for spreadsheets.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

// ---- two-step sign-in ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_second_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "admin_account.html")]
struct AccountPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    csrf: String,
    enabled: bool,
    codes_left: i64,
    secret_b32: String,
    qr_svg: String,
    recovery_codes: Option<Vec<String>>,
}

/// A session that still owes its second factor.
async fn pending_session(app: &App, headers: &HeaderMap) -> Result<(String, Session), Response> {
    match session(app, headers).await? {
        Some((secret, s)) if s.second_factor_pending => Ok((secret, s)),
        Some(_) => Err(Redirect::to("/admin").into_response()),
        None => Err(Redirect::to("/admin/sign-in").into_response()),
    }
}

fn second_factor_page(app: &App, s: &Session, errors: Vec<String>, status: StatusCode) -> Response {
    let p = page(app, "sign-in", None);
    let mut response = html(
        SecondFactorPage {
            chrome: p.chrome,
            me: None,
            section: p.section,
            notices: p.notices,
            errors,
            csrf: s.csrf_token.clone(),
        }
        .render(),
    );
    *response.status_mut() = status;
    response
}

async fn second_factor_form(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match pending_session(&app, &headers).await {
        Ok((_, s)) => second_factor_page(&app, &s, vec![], StatusCode::OK),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

async fn second_factor(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let (secret, s) = match pending_session(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if cross_site(&app, &headers) || !csrf_ok(&s, &form.csrf) {
        return rejected_form();
    }
    match app
        .auth()
        .second_factor(&secret, &s, &form.code, addr.ip())
        .await
    {
        Ok(()) => Redirect::to("/admin").into_response(),
        Err(SignInError::Rejected) => second_factor_page(
            &app,
            &s,
            vec!["That code is not right (or was already used).".into()],
            StatusCode::UNAUTHORIZED,
        ),
        Err(e @ SignInError::Throttled { .. }) => second_factor_page(
            &app,
            &s,
            vec![format!("{}.", capitalise(&e.to_string()))],
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => internal(e),
    }
}

fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build();
            // Inline in the page: drop the XML declaration, label it for screen readers.
            let svg = svg.find("<svg").map(|i| svg[i..].to_owned()).unwrap_or(svg);
            svg.replacen(
                "<svg",
                "<svg role=\"img\" aria-label=\"QR code for your authenticator app\"",
                1,
            )
        }
        Err(_) => String::new(),
    }
}

async fn account_page(
    app: &App,
    s: &Session,
    errors: Vec<String>,
    recovery_codes: Option<Vec<String>>,
    status: StatusCode,
) -> Response {
    let store = app.auth().store();
    let (enabled, codes_left) = match (
        store.totp(s.operator.id).await,
        store.recovery_codes_left(s.operator.id).await,
    ) {
        (Ok(t), Ok(n)) => (t.is_some(), n),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let mut secret = [0u8; 20];
    if getrandom::fill(&mut secret).is_err() {
        return internal("no randomness");
    }
    let secret_b32 = candor_core::totp::base32(&secret);
    let issuer = app.published().chrome.site_name.clone();
    let uri = candor_core::totp::otpauth_uri(&issuer, &s.operator.email, &secret);
    let mut p = page(app, "account", Some(s));
    p.errors = errors;
    let mut response = html(
        AccountPage {
            chrome: p.chrome,
            me: p.me,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            csrf: s.csrf_token.clone(),
            enabled,
            codes_left,
            secret_b32,
            qr_svg: qr_svg(&uri),
            recovery_codes,
        }
        .render(),
    );
    *response.status_mut() = status;
    response
}

async fn account(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match require(&app, &headers).await {
        Ok((_, s)) => account_page(&app, &s, vec![], None, StatusCode::OK).await,
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct EnableTotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

async fn enable_totp(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<EnableTotpForm>,
) -> Response {
    let (secret, s) = match signed_in_form(&app, &headers, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if form.password.is_empty() || !reauthenticated(&app, &secret, &s, &form.password).await {
        return account_page(
            &app,
            &s,
            vec![
                "Changing two-step sign-in needs your password: it was missing or not right."
                    .into(),
            ],
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    let Some(totp_secret) = candor_core::totp::from_base32(&form.secret).filter(|k| k.len() >= 16)
    else {
        return account_page(
            &app,
            &s,
            vec!["The key in the form was damaged; reload the page and scan the new code.".into()],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match app.auth().enable_totp(&s.operator, &totp_secret, &form.code, &source(&addr)).await {
        Ok(Some(codes)) => account_page(&app, &s, vec![], Some(codes), StatusCode::OK).await,
        Ok(None) => account_page(&app, &s, vec!["That code does not match the key; scan the code again and enter the number the app shows now.".into()], None, StatusCode::UNPROCESSABLE_ENTITY).await,
        Err(e) => internal(e),
    }
}

// ---- OpenID Connect ------------------------------------------------------------------------

async fn oidc_start(State(app): State<Arc<App>>) -> Response {
    let Some(oidc) = app.oidc() else {
        return (StatusCode::NOT_FOUND, "single sign-on is not configured\n").into_response();
    };
    if !cookies_allowed(&app) {
        return (
            StatusCode::FORBIDDEN,
            "signing in needs an https public_url\n",
        )
            .into_response();
    }
    let client = match oidc.client().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the OpenID Connect provider cannot be reached");
            return (
                StatusCode::BAD_GATEWAY,
                format!("the sign-on provider cannot be reached right now: {e}\n"),
            )
                .into_response();
        }
    };
    let now = app.auth().clock().now();
    let (url, pending) = match client.begin(now) {
        Ok(b) => b,
        Err(e) => return internal(e),
    };
    let json = match serde_json::to_string(&pending) {
        Ok(j) => j,
        Err(e) => return internal(e),
    };
    if let Err(e) = app
        .auth()
        .store()
        .save_oidc_pending(pending.state(), &json, now)
        .await
    {
        return internal(e);
    }
    let mut response = Redirect::to(&url).into_response();
    no_store(&mut response);
    response
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    #[serde(default)]
    pub(crate) state: String,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The identity an OpenID Connect callback proves, or why it proves none (a refusal by the
/// person, a missing code, or any check `candor-oidc` makes).
pub(crate) async fn finish_oidc(
    oidc: &crate::auth::OidcSignIn,
    pending: candor_oidc::PendingLogin,
    q: &CallbackQuery,
    now: time::OffsetDateTime,
) -> Result<candor_oidc::Identity, candor_oidc::OidcError> {
    match (&q.code, &q.error) {
        (_, Some(error)) => Err(candor_oidc::OidcError::authorization_refused(
            error,
            q.error_description.as_deref(),
        )),
        (Some(code), None) => {
            oidc.client()
                .await?
                .complete(pending, &q.state, code, now)
                .await
        }
        (None, None) => Err(candor_oidc::OidcError::authorization_refused(
            "no code", None,
        )),
    }
}

async fn oidc_callback(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = app.oidc() else {
        return (StatusCode::NOT_FOUND, "single sign-on is not configured\n").into_response();
    };
    let store = app.auth().store();
    let now = app.auth().clock().now();
    let refuse = |app: &App, problem: String| {
        let p = page(app, "sign-in", None);
        let mut response = html(
            SignInPage {
                chrome: p.chrome,
                me: None,
                section: p.section,
                notices: p.notices,
                errors: vec![problem],
                email: String::new(),
                oidc_label: app.oidc().map(|o| o.label.clone()),
            }
            .render(),
        );
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response
    };
    // The pending sign-in is taken whatever happens next: a callback works at most once.
    let pending = match store.take_oidc_pending(&q.state).await {
        Ok(Some(json)) => serde_json::from_str::<candor_oidc::PendingLogin>(&json).ok(),
        Ok(None) => None,
        Err(e) => return internal(e),
    };
    let failed = |reason: String| NewAuditEvent {
        actor: "anonymous".into(),
        action: "sign_in_failed".into(),
        target: format!("oidc:{}", truncate(&reason)),
        source_addr: source(&addr),
    };
    let Some(pending) = pending else {
        return refuse(
            &app,
            "This sign-on link is not valid any more (used, expired or unknown); start again."
                .into(),
        );
    };
    let identity = finish_oidc(oidc, pending, &q, now).await;
    let identity = match identity {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(error = %e, "an OpenID Connect sign-in was refused");
            let _ = store.record_audit(&[failed(e.to_string())], now).await;
            return refuse(&app, format!("Single sign-on failed: {e}"));
        }
    };
    // Accounts are keyed on (issuer, subject); the first sign-in links an operator whose email
    // the provider has verified.
    let operator = match store
        .operator_by_oidc(&identity.issuer, &identity.subject)
        .await
    {
        Ok(Some(op)) => Some(op),
        Ok(None) => {
            let email = identity
                .email
                .as_deref()
                .filter(|_| identity.email_verified)
                .and_then(normalise_email);
            match email {
                Some(email) => match store.operator_by_email(&email).await {
                    Ok(Some(op)) => match store
                        .link_oidc(op.id, &identity.issuer, &identity.subject)
                        .await
                    {
                        Ok(true) => Some(op),
                        Ok(false) => None,
                        Err(e) => return internal(e),
                    },
                    Ok(None) => None,
                    Err(e) => return internal(e),
                },
                None => None,
            }
        }
        Err(e) => return internal(e),
    };
    let Some(operator) = operator.filter(|o| o.disabled_at.is_none()) else {
        let _ = store
            .record_audit(&[failed("no operator for this identity".into())], now)
            .await;
        return refuse(&app, "Your sign-on account is not an operator here (or its email is not verified). Ask an owner to invite you.".into());
    };
    let audit = NewAuditEvent {
        actor: format!("operator:{}", operator.id),
        action: "sign_in_oidc".into(),
        target: format!("operator:{}", operator.id),
        source_addr: source(&addr),
    };
    if let Err(e) = store.record_audit(&[audit], now).await {
        return internal(e);
    }
    // An operator who turned on two-step sign-in gives the code here too.
    let second_factor = match store.totp(operator.id).await {
        Ok(t) => t.is_some(),
        Err(e) => return internal(e),
    };
    let secret = match app.auth().start_session(operator.id, second_factor).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let next = if second_factor {
        "/admin/sign-in/second-factor"
    } else {
        "/admin"
    };
    let mut response = Redirect::to(next).into_response();
    set_cookie(
        &app,
        &mut response,
        SESSION_COOKIE,
        &secret,
        crate::auth::SESSION_ABSOLUTE.whole_seconds(),
    );
    response
}

// ---- customer tenants ----------------------------------------------------------------------

struct TenantView {
    id: i64,
    name: String,
    admins: Vec<String>,
    oidc_issuer: String,
    oidc_client_id: String,
}

#[derive(Template)]
#[template(path = "admin_tenants.html")]
struct TenantsPage {
    chrome: Chrome,
    me: Option<Me>,
    section: &'static str,
    notices: Vec<String>,
    errors: Vec<String>,
    csrf: String,
    tenants: Vec<TenantView>,
}

async fn tenants_page(
    app: &App,
    s: &Session,
    notices: Vec<String>,
    errors: Vec<String>,
    status: StatusCode,
) -> Response {
    use candor_store::tenants::Tenants;
    let store = app.auth().store();
    let list = match store.tenants().await {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let mut views = Vec::new();
    for t in list {
        let admins = match store.tenant_admins(t.id).await {
            Ok(a) => a.into_iter().map(|a| a.email).collect(),
            Err(e) => return internal(e),
        };
        let (oidc_issuer, oidc_client_id) = t.oidc.unwrap_or_default();
        views.push(TenantView {
            id: t.id,
            name: t.name,
            admins,
            oidc_issuer,
            oidc_client_id,
        });
    }
    let mut p = page(app, "tenants", Some(s));
    p.notices = notices;
    p.errors = errors;
    let mut response = html(
        TenantsPage {
            chrome: p.chrome,
            me: p.me,
            section: p.section,
            notices: p.notices,
            errors: p.errors,
            csrf: s.csrf_token.clone(),
            tenants: views,
        }
        .render(),
    );
    *response.status_mut() = status;
    response
}

async fn tenants(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (_, s) = match owner_page(&app, &headers, "manage customer tenants").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    tenants_page(&app, &s, vec![], vec![], StatusCode::OK).await
}

#[derive(Deserialize)]
struct TenantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn create_tenant(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<TenantForm>,
) -> Response {
    use candor_store::tenants::Tenants;
    let (_, s) = match owner_form(&app, &headers, &form.csrf, "manage customer tenants").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return tenants_page(
            &app,
            &s,
            vec![],
            vec!["Give the organisation a name of 1 to 200 characters.".into()],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let event = NewAuditEvent {
        actor: format!("operator:{}", s.operator.id),
        action: "tenant_created".into(),
        target: String::new(),
        source_addr: source(&addr),
    };
    match app
        .auth()
        .store()
        .create_tenant(name, app.auth().clock().now(), &event)
        .await
    {
        Ok(t) => {
            tenants_page(
                &app,
                &s,
                vec![format!("Created {}.", t.name)],
                vec![],
                StatusCode::OK,
            )
            .await
        }
        Err(candor_store::StoreError::Conflict(m)) => {
            tenants_page(
                &app,
                &s,
                vec![],
                vec![format!("{}.", capitalise(&m))],
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct TenantAdminForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn add_tenant_admin(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<TenantAdminForm>,
) -> Response {
    use candor_store::tenants::Tenants;
    let (_, s) = match owner_form(&app, &headers, &form.csrf, "manage customer tenants").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(email) = normalise_email(&form.email) else {
        return tenants_page(
            &app,
            &s,
            vec![],
            vec![format!(
                "\"{}\" is not an email address.",
                truncate(&form.email)
            )],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let event = NewAuditEvent {
        actor: format!("operator:{}", s.operator.id),
        action: "tenant_admin_added".into(),
        target: String::new(),
        source_addr: source(&addr),
    };
    match app
        .auth()
        .store()
        .add_tenant_admin(id, &email, app.auth().clock().now(), &event)
        .await
    {
        Ok(_) => {
            tenants_page(
                &app,
                &s,
                vec![format!("{email} can now sign in at /customer/sign-in.")],
                vec![],
                StatusCode::OK,
            )
            .await
        }
        Err(candor_store::StoreError::Conflict(m) | candor_store::StoreError::Invalid(m)) => {
            tenants_page(
                &app,
                &s,
                vec![],
                vec![format!("{}.", capitalise(&m))],
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => internal(e),
    }
}

async fn disable_user(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (_, s) = match owner_form(&app, &headers, &form.csrf, "disable operators").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let event = NewAuditEvent {
        actor: format!("operator:{}", s.operator.id),
        action: "operator_disabled".into(),
        target: format!("operator:{id}"),
        source_addr: source(&addr),
    };
    match app
        .auth()
        .store()
        .disable_operator(id, &event, app.auth().clock().now())
        .await
    {
        Ok(()) => {
            users_page(
                &app,
                &s,
                vec!["Disabled; their sessions ended.".into()],
                vec![],
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(candor_store::StoreError::Conflict(m) | candor_store::StoreError::Invalid(m)) => {
            users_page(
                &app,
                &s,
                vec![],
                vec![format!("{}.", capitalise(&m))],
                None,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct TenantOidcForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
}

async fn set_tenant_oidc(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<TenantOidcForm>,
) -> Response {
    use candor_store::tenants::Tenants;
    let (_, s) = match owner_form(&app, &headers, &form.csrf, "manage customer tenants").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let issuer = form.issuer.trim().trim_end_matches('/').to_owned();
    let client_id = form.client_id.trim().to_owned();
    let oidc = if issuer.is_empty() && client_id.is_empty() {
        None
    } else {
        let check = candor_oidc::OidcSettings::new(
            issuer.clone(),
            client_id.clone(),
            app.published()
                .site
                .settings
                .public_url
                .join("/customer/oidc/callback"),
        )
        .validate();
        if let Err(e) = check {
            return tenants_page(
                &app,
                &s,
                vec![],
                vec![format!("Single sign-on: {e}.")],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Some((issuer.as_str(), client_id.as_str()))
    };
    let event = NewAuditEvent {
        actor: format!("operator:{}", s.operator.id),
        action: if oidc.is_some() {
            "tenant_sso_set"
        } else {
            "tenant_sso_removed"
        }
        .into(),
        target: String::new(),
        source_addr: source(&addr),
    };
    match app
        .auth()
        .store()
        .set_tenant_oidc(id, oidc, &event, app.auth().clock().now())
        .await
    {
        Ok(()) => {
            tenants_page(
                &app,
                &s,
                vec!["Single sign-on saved.".into()],
                vec![],
                StatusCode::OK,
            )
            .await
        }
        Err(candor_store::StoreError::Invalid(m)) => {
            tenants_page(
                &app,
                &s,
                vec![],
                vec![format!("{}.", capitalise(&m))],
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(e) => internal(e),
    }
}
