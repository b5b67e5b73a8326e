//! OpenID Connect sign-in for Candor (the relying party side), and a loopback provider for tests.
//!
//! # The flow
//!
//! 1. At start, [`OidcClient::discover`] validates the [`OidcSettings`], fetches
//!    `<issuer>/.well-known/openid-configuration` and the provider's JWKS.
//! 2. When someone clicks "sign in", [`OidcClient::begin`] returns the provider's authorization URL
//!    and a [`PendingLogin`]. The web layer stores the pending login server-side, keyed by
//!    [`PendingLogin::state`], and redirects the browser to the URL.
//! 3. The provider sends the browser back to `redirect_url?code=…&state=…`. The web layer takes
//!    (removes) the pending login stored under that state and calls [`OidcClient::complete`],
//!    which returns the [`Identity`] or an [`OidcError`] saying what was wrong. A callback with
//!    `error=…` instead of a code (the person declined) becomes
//!    [`OidcError::authorization_refused`]; either way the pending login is deleted, so a callback
//!    works at most once. Key accounts on `(issuer, subject)`, never on the email address.
//!
//! # The checks
//!
//! - **Discovery**: the document's `issuer` must equal the configured issuer exactly (Discovery
//!   §4.3, against mix-up); every endpoint must be https (http only on loopback); PKCE with S256
//!   must not be ruled out; at least one accepted signing algorithm must be offered.
//! - **Login CSRF and injection**: the state (256 random bits) is compared in constant time; the
//!   pending login is refused after [`MAX_PENDING_AGE`]; the nonce (256 bits) must come back in the
//!   ID token; PKCE S256 (RFC 7636) binds the code to this login, so a stolen code is useless.
//! - **Client authentication** at the token endpoint: `client_secret_basic` (preferred) or
//!   `client_secret_post` as the provider announces; without a secret, a public client with PKCE.
//! - **The ID token**: a compact JWS whose `alg` must be one the provider announced *and* one of
//!   [`Algorithm::ALL`] (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA). `none` and HMAC are
//!   refused outright, and a key is used only for its own family (an RSA key never verifies an
//!   ES256 or HS256 token: no algorithm confusion). The key is chosen by `kid` from the JWKS; an
//!   unknown `kid` triggers one refresh (key rotation), at most once a minute
//!   ([`MIN_UNKNOWN_KID_REFRESH`]) so forged key ids cannot make Candor hammer the provider; keys
//!   older than an hour are fetched again. Then the claims: `iss` equals the issuer, `aud`
//!   contains the client id (and `azp` names it when present or when there are several
//!   audiences), `exp` is in the future and `iat`/`nbf` are not, with [`CLOCK_SKEW`] of slack,
//!   and `nonce` matches.
//!
//! Signatures are verified with ring, which the build already has through rustls: no second
//! crypto stack, and the JOSE surface needed here (one compact JWS, four key types) is small.
//!
//! Secrets (client secret, PKCE verifier, codes, tokens) never appear in `Debug` output or in
//! errors; [`OidcError`] names the claim and the expected and received values only when they
//! are not secret.
//!
//! # Tests
//!
//! With the `test-provider` feature, [`testing::TestProvider`] is a small OpenID provider on
//! `127.0.0.1:0` with switchable faults (wrong issuer, audience, nonce, bad signature, …).
#![forbid(unsafe_code)]

mod discovery;
mod error;
mod fetch;
mod id_token;
mod jwks;
mod jws;
mod login;
mod settings;
#[cfg(feature = "test-provider")]
pub mod testing;

pub use candor_core::config::SecretString;
pub use discovery::{ClientAuth, ProviderMetadata};
pub use error::OidcError;
pub use fetch::{HTTP_TIMEOUT, http_client};
pub use id_token::{CLOCK_SKEW, Identity};
pub use jwks::{MAX_KEYS_AGE, MIN_UNKNOWN_KID_REFRESH};
pub use jws::Algorithm;
pub use login::{MAX_PENDING_AGE, OidcClient, PendingLogin, pkce_challenge};
pub use settings::{DEFAULT_SCOPES, OidcSettings, SettingsError};
