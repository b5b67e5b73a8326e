//! A small OpenID provider for tests, on `127.0.0.1:0`, with switchable faults.
//!
//! It implements discovery, the JWKS, `/authorize` (auto-approves the configured test user and
//! redirects with `code` and `state`, so a test drives it with an HTTP client, no browser) and
//! `/token` (client authentication, single-use codes, PKCE S256, `redirect_uri` binding). Faults
//! make it lie in one specific way, to prove the relying party notices:
//!
//! ```ignore
//! let provider = TestProvider::builder().client_secret("s3cret").start().await?;
//! let client = OidcClient::discover(provider.settings(), candor_oidc::http_client()?).await?;
//! provider.set_fault(Fault::WrongNonce);
//! ```
//!
//! Only built with the `test-provider` feature. The RSA keys under `testing/keys/` are published
//! test fixtures (ring cannot generate RSA keys): never trust them anywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use candor_core::{Clock, SystemClock};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;
use url::{Url, form_urlencoded};

use crate::SecretString;
use crate::discovery::ClientAuth;
use crate::login::pkce_challenge;
use crate::settings::OidcSettings;

/// One way the provider misbehaves, set at run time with [`TestProvider::set_fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The ID token's `iss` is another issuer.
    WrongIssuer,
    /// The ID token's `aud` is another client.
    WrongAudience,
    /// The ID token has two audiences (this client and another) and `azp` names the other.
    ExtraAudience,
    /// The ID token's `nonce` is not the one the client sent.
    WrongNonce,
    /// The ID token is signed by another key that claims the current `kid`.
    BadSignature,
    /// The ID token expired an hour ago.
    Expired,
    /// The ID token has `alg: none` and no signature.
    AlgNone,
    /// The ID token is "signed" with HS256 using the public key as the HMAC secret (algorithm confusion).
    HmacWithPublicKey,
    /// The ID token names a `kid` that is not in the JWKS (signed with the current key).
    UnknownKid,
    /// The discovery document names another issuer.
    DiscoveryIssuerMismatch,
    /// The token endpoint fails with HTTP 500 `server_error`.
    TokenEndpointError,
}

/// Which kind of key the provider signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A P-256 key generated at start (and at each rotation).
    Es256,
    /// A 2048-bit RSA key from the published fixtures.
    Rs256,
}

/// The person the provider signs in, whoever asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// `sub`.
    pub subject: String,
    /// `email`, left out when `None`.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
    /// `name`, left out when `None`.
    pub name: Option<String>,
}

impl Default for TestUser {
    fn default() -> Self {
        TestUser {
            subject: "test-user-1".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: Some("Ada Lovelace".into()),
        }
    }
}

/// The callback the provider redirected to, as a browser would follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The whole `Location` (the relying party's redirect URL with `code` and `state`).
    pub url: String,
    /// The authorization code.
    pub code: String,
    /// The state, as the relying party sent it.
    pub state: String,
}

/// How to start a [`TestProvider`].
#[derive(Clone)]
pub struct TestProviderBuilder {
    client_id: String,
    client_secret: Option<String>,
    redirect_url: String,
    client_auth: Option<ClientAuth>,
    key_kind: KeyKind,
    user: TestUser,
    clock: Arc<dyn Clock>,
}

impl TestProviderBuilder {
    /// The registered client id (default `candor`).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// The client secret; without one the client is public (token endpoint auth `none`).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The one registered redirect URL (default `http://127.0.0.1/oidc/callback`).
    pub fn redirect_url(mut self, url: impl Into<String>) -> Self {
        self.redirect_url = url.into();
        self
    }

    /// The token endpoint's client authentication (default `client_secret_basic` with a secret,
    /// `none` without). Discovery announces only this one.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = Some(auth);
        self
    }

    /// The signing key kind (default ES256).
    pub fn key_kind(mut self, kind: KeyKind) -> Self {
        self.key_kind = kind;
        self
    }

    /// The person signed in (default [`TestUser::default`]).
    pub fn user(mut self, user: TestUser) -> Self {
        self.user = user;
        self
    }

    /// The clock for `iat`/`exp` (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Binds `127.0.0.1:0` and serves until the provider is dropped.
    pub async fn start(self) -> std::io::Result<TestProvider> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let client_auth = self.client_auth.unwrap_or(match self.client_secret {
            Some(_) => ClientAuth::ClientSecretBasic,
            None => ClientAuth::None,
        });
        let (key, impostor) = match self.key_kind {
            KeyKind::Es256 => (
                SigningKey::generate_ec("key-1".into())?,
                SigningKey::generate_ec("key-1".into())?,
            ),
            KeyKind::Rs256 => (
                SigningKey::rsa_fixture(0, "key-1".into())?,
                SigningKey::rsa_fixture(1, "key-1".into())?,
            ),
        };
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            client_id: self.client_id,
            client_secret: self.client_secret,
            client_auth,
            key_kind: self.key_kind,
            clock: self.clock,
            state: Mutex::new(ProviderState {
                fault: None,
                user: self.user,
                redirect_url: self.redirect_url,
                key,
                impostor,
                generation: 1,
                grants: HashMap::new(),
                jwks_fetches: 0,
            }),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(error = %err, "the test OpenID provider stopped");
            }
        });
        Ok(TestProvider {
            issuer,
            shared,
            server,
        })
    }
}

/// A running test OpenID provider; stops when dropped.
pub struct TestProvider {
    issuer: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProvider")
            .field("issuer", &self.issuer)
            .field("client_id", &self.shared.client_id)
            .finish_non_exhaustive()
    }
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestProvider {
    /// A builder with the defaults: client `candor`, public, ES256, the default user.
    pub fn builder() -> TestProviderBuilder {
        TestProviderBuilder {
            client_id: "candor".into(),
            client_secret: None,
            redirect_url: "http://127.0.0.1/oidc/callback".into(),
            client_auth: None,
            key_kind: KeyKind::Es256,
            user: TestUser::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The issuer identifier (`http://127.0.0.1:PORT`, no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Relying-party settings that match this provider's registered client.
    pub fn settings(&self) -> OidcSettings {
        let mut settings = OidcSettings::new(
            self.issuer.clone(),
            self.shared.client_id.clone(),
            self.lock().redirect_url.clone(),
        );
        settings.client_secret = self.shared.client_secret.clone().map(SecretString::new);
        settings
    }

    /// Makes the provider misbehave in this way from now on.
    pub fn set_fault(&self, fault: Fault) {
        self.lock().fault = Some(fault);
    }

    /// Makes the provider behave again.
    pub fn clear_fault(&self) {
        self.lock().fault = None;
    }

    /// The person signed in from now on.
    pub fn set_user(&self, user: TestUser) {
        self.lock().user = user;
    }

    /// The person signed in.
    pub fn user(&self) -> TestUser {
        self.lock().user.clone()
    }

    /// Registers another redirect URL (replacing the previous one), e.g. once the web server
    /// under test knows its port.
    pub fn set_redirect_url(&self, url: impl Into<String>) {
        self.lock().redirect_url = url.into();
    }

    /// Replaces the signing key with a new one under a new `kid` (the old key leaves the JWKS);
    /// returns the new `kid`.
    pub fn rotate_key(&self) -> std::io::Result<String> {
        let mut state = self.lock();
        state.generation += 1;
        let kid = format!("key-{}", state.generation);
        let (key, impostor) = match self.shared.key_kind {
            KeyKind::Es256 => (
                SigningKey::generate_ec(kid.clone())?,
                SigningKey::generate_ec(kid.clone())?,
            ),
            KeyKind::Rs256 => {
                let index = (state.generation as usize + 1) % 2;
                (
                    SigningKey::rsa_fixture(index, kid.clone())?,
                    SigningKey::rsa_fixture(1 - index, kid.clone())?,
                )
            }
        };
        state.key = key;
        state.impostor = impostor;
        Ok(kid)
    }

    /// The current signing key's `kid`.
    pub fn kid(&self) -> String {
        self.lock().key.kid.clone()
    }

    /// How many times the JWKS was requested.
    pub fn jwks_fetches(&self) -> u64 {
        self.lock().jwks_fetches
    }

    /// Plays the browser: GETs the authorization URL without following the redirect and returns
    /// where the provider sends the browser back to.
    pub async fn approve(&self, authorization_url: &str) -> Result<Callback, String> {
        // No redirects followed: the callback is returned, not visited.
        let http = crate::http_client().map_err(|e| e.to_string())?;
        let response = http
            .get(authorization_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status() != StatusCode::FOUND {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(format!("/authorize answered {status}: {body}"));
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("no Location header")?
            .to_owned();
        let url = Url::parse(&location).map_err(|e| e.to_string())?;
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(error) = param("error") {
            return Err(format!("the provider refused: {error}"));
        }
        Ok(Callback {
            code: param("code").ok_or("no code in the redirect")?,
            state: param("state").ok_or("no state in the redirect")?,
            url: location,
        })
    }

    fn lock(&self) -> MutexGuard<'_, ProviderState> {
        self.shared.lock()
    }
}

struct Shared {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    client_auth: ClientAuth,
    key_kind: KeyKind,
    clock: Arc<dyn Clock>,
    state: Mutex<ProviderState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ProviderState> {
        // A panicking test thread must not take the provider down with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct ProviderState {
    fault: Option<Fault>,
    user: TestUser,
    redirect_url: String,
    key: SigningKey,
    impostor: SigningKey,
    generation: u32,
    grants: HashMap<String, Grant>,
    jwks_fetches: u64,
}

/// What an authorization code stands for.
struct Grant {
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    user: TestUser,
    used: bool,
}

struct SigningKey {
    kid: String,
    pair: KeyPair,
}

enum KeyPair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

const RSA_FIXTURES: [&[u8]; 2] = [
    include_bytes!("keys/rsa-1.pk8"),
    include_bytes!("keys/rsa-2.pk8"),
];

fn io_error(what: &str) -> std::io::Error {
    std::io::Error::other(what.to_owned())
}

impl SigningKey {
    fn generate_ec(kid: String) -> std::io::Result<SigningKey> {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng)
            .map_err(|_| io_error("cannot generate a P-256 key"))?;
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng)
            .map_err(|_| io_error("cannot load the P-256 key"))?;
        Ok(SigningKey {
            kid,
            pair: KeyPair::Ec(pair),
        })
    }

    fn rsa_fixture(index: usize, kid: String) -> std::io::Result<SigningKey> {
        let der = RSA_FIXTURES
            .get(index)
            .ok_or_else(|| io_error("no such RSA fixture"))?;
        let pair =
            RsaKeyPair::from_pkcs8(der).map_err(|_| io_error("cannot load the RSA fixture"))?;
        Ok(SigningKey {
            kid,
            pair: KeyPair::Rsa(pair),
        })
    }

    fn alg(&self) -> &'static str {
        match self.pair {
            KeyPair::Ec(_) => "ES256",
            KeyPair::Rsa(_) => "RS256",
        }
    }

    fn jwk(&self) -> Value {
        match &self.pair {
            KeyPair::Ec(pair) => {
                // An uncompressed point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let x = point.get(1..33).unwrap_or_default();
                let y = point.get(33..65).unwrap_or_default();
                json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
                    "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                })
            }
            KeyPair::Rsa(pair) => {
                let public: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
                json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                    "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e),
                })
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.pair {
            KeyPair::Ec(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .unwrap_or_default(),
            KeyPair::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                match pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig) {
                    Ok(()) => sig,
                    Err(_) => Vec::new(),
                }
            }
        }
    }
}

fn random_text() -> String {
    let mut bytes = [0u8; 24];
    // A failed fill leaves zeros; the codes are then predictable, which only a test could notice.
    let _ = getrandom::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn form_decode(text: &str) -> String {
    form_urlencoded::parse(text.as_bytes())
        .next()
        .map(|(key, _)| key.into_owned())
        .unwrap_or_default()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    let fault = shared.lock().fault;
    let issuer = if fault == Some(Fault::DiscoveryIssuerMismatch) {
        format!("{}/other-tenant", shared.issuer)
    } else {
        shared.issuer.clone()
    };
    let alg = shared.lock().key.alg();
    let base = &shared.issuer;
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported": [shared.client_auth.name()],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
    }))
    .into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    let mut state = shared.lock();
    state.jwks_fetches += 1;
    axum::Json(json!({ "keys": [state.key.jwk()] })).into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| params.get(name).map(String::as_str);
    if param("client_id") != Some(shared.client_id.as_str()) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let mut state = shared.lock();
    let Some(redirect_uri) = param("redirect_uri").filter(|r| *r == state.redirect_url) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not registered").into_response();
    };
    let Ok(mut back) = Url::parse(redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    let problem = if param("response_type") != Some("code") {
        Some("unsupported_response_type")
    } else if !param("scope").is_some_and(|s| s.split(' ').any(|s| s == "openid")) {
        Some("invalid_scope")
    } else if param("code_challenge_method") != Some("S256")
        || param("code_challenge").is_none_or(str::is_empty)
        || param("state").is_none()
    {
        Some("invalid_request")
    } else {
        None
    };
    {
        let mut query = back.query_pairs_mut();
        match problem {
            Some(error) => {
                query.append_pair("error", error);
            }
            None => {
                let code = random_text();
                let grant = Grant {
                    redirect_uri: redirect_uri.to_owned(),
                    code_challenge: param("code_challenge").unwrap_or_default().to_owned(),
                    nonce: param("nonce").map(str::to_owned),
                    user: state.user.clone(),
                    used: false,
                };
                state.grants.insert(code.clone(), grant);
                query.append_pair("code", &code);
            }
        }
        if let Some(s) = param("state") {
            query.append_pair("state", s);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str);
    let mut state = shared.lock();
    if state.fault == Some(Fault::TokenEndpointError) {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the test provider was told to fail",
        );
    }
    if field("grant_type") != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "use authorization_code",
        );
    }
    if !client_authenticated(
        &shared,
        &headers,
        field("client_id"),
        field("client_secret"),
    ) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let Some(grant) = field("code").and_then(|code| state.grants.get_mut(code)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown authorization code",
        );
    };
    if grant.used {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the authorization code was already used",
        );
    }
    grant.used = true;
    if field("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs from the authorization request",
        );
    }
    let verifier_ok = field("code_verifier").is_some_and(|v| {
        bool::from(
            pkce_challenge(v)
                .as_bytes()
                .ct_eq(grant.code_challenge.as_bytes()),
        )
    });
    if !verifier_ok {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the PKCE code_verifier does not match the code_challenge",
        );
    }
    let nonce = grant.nonce.clone();
    let user = grant.user.clone();
    let id_token = id_token(&shared, &state, nonce, &user);
    drop(state);
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({
            "access_token": random_text(),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        })),
    )
        .into_response()
}

fn client_authenticated(
    shared: &Shared,
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> bool {
    let secret = shared.client_secret.as_deref();
    let (id, given_secret) = match shared.client_auth {
        ClientAuth::ClientSecretBasic => {
            let Some(pair) = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b64| STANDARD.decode(b64).ok())
            else {
                return false;
            };
            // RFC 6749 §2.3.1: split at the raw colon, then form-decode each part.
            let Some((id, secret)) = std::str::from_utf8(&pair)
                .ok()
                .and_then(|pair| pair.split_once(':'))
            else {
                return false;
            };
            (Some(form_decode(id)), Some(form_decode(secret)))
        }
        ClientAuth::ClientSecretPost => {
            (form_id.map(str::to_owned), form_secret.map(str::to_owned))
        }
        ClientAuth::None => {
            if form_secret.is_some() {
                return false;
            }
            (form_id.map(str::to_owned), None)
        }
    };
    id.as_deref() == Some(shared.client_id.as_str())
        && match (secret, given_secret.as_deref()) {
            (Some(want), Some(got)) => bool::from(want.as_bytes().ct_eq(got.as_bytes())),
            (None, None) => true,
            _ => false,
        }
}

/// Builds and signs the ID token, applying the current fault.
fn id_token(
    shared: &Shared,
    state: &ProviderState,
    nonce: Option<String>,
    user: &TestUser,
) -> String {
    let fault = state.fault;
    let now = shared.clock.now().unix_timestamp();
    let (iat, exp) = if fault == Some(Fault::Expired) {
        (now - 7200, now - 3600)
    } else {
        (now, now + 300)
    };
    let mut claims = json!({
        "iss": if fault == Some(Fault::WrongIssuer) { "https://impostor.example.com".to_owned() } else { shared.issuer.clone() },
        "sub": user.subject,
        "aud": if fault == Some(Fault::WrongAudience) { "someone-else".to_owned() } else { shared.client_id.clone() },
        "iat": iat,
        "exp": exp,
        "email_verified": user.email_verified,
    });
    if fault == Some(Fault::ExtraAudience) {
        claims["aud"] = json!([shared.client_id, "someone-else"]);
        claims["azp"] = "someone-else".into();
    }
    let nonce = if fault == Some(Fault::WrongNonce) {
        Some(random_text())
    } else {
        nonce
    };
    if let Some(nonce) = nonce {
        claims["nonce"] = nonce.into();
    }
    if let Some(email) = &user.email {
        claims["email"] = email.clone().into();
    }
    if let Some(name) = &user.name {
        claims["name"] = name.clone().into();
    }

    let key = &state.key;
    let header = match fault {
        Some(Fault::AlgNone) => json!({ "alg": "none", "typ": "JWT" }),
        Some(Fault::HmacWithPublicKey) => json!({ "alg": "HS256", "typ": "JWT", "kid": key.kid }),
        Some(Fault::UnknownKid) => {
            json!({ "alg": key.alg(), "typ": "JWT", "kid": format!("unknown-{}", random_text()) })
        }
        _ => json!({ "alg": key.alg(), "typ": "JWT", "kid": key.kid }),
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match fault {
        Some(Fault::AlgNone) => Vec::new(),
        Some(Fault::HmacWithPublicKey) => {
            let secret = key.jwk().to_string();
            let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
            ring::hmac::sign(&hmac_key, signing_input.as_bytes())
                .as_ref()
                .to_vec()
        }
        Some(Fault::BadSignature) => state.impostor.sign(signing_input.as_bytes()),
        _ => key.sign(signing_input.as_bytes()),
    };
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}
