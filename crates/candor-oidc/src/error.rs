//! What can go wrong during discovery and sign-in, in words an operator can act on.
//!
//! No variant ever carries a token, an authorization code, the PKCE verifier, the client secret,
//! the state or the nonce: only names, URLs from the configuration or the discovery document,
//! claim values that are not secret (issuer, audience, times) and the provider's own error code.

use thiserror::Error;

use crate::settings::SettingsError;

/// Why discovery or a sign-in failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The OIDC settings are unusable.
    #[error("invalid OpenID Connect settings: {0}")]
    Settings(#[from] SettingsError),

    /// A request to the provider did not get an answer (connection, timeout, TLS).
    #[error("could not fetch the {what} from {url}: {detail}")]
    Unreachable {
        /// What was being fetched ("discovery document", "JWKS", "token endpoint").
        what: &'static str,
        /// The URL asked (from the settings or the discovery document).
        url: String,
        /// The transport error.
        detail: String,
    },

    /// The provider answered with an unexpected HTTP status.
    #[error("the {what} at {url} answered HTTP {status}")]
    HttpStatus {
        /// What was being fetched.
        what: &'static str,
        /// The URL asked.
        url: String,
        /// The HTTP status code.
        status: u16,
    },

    /// A document from the provider could not be understood.
    #[error("the {what} from {url} is not usable: {detail}")]
    BadDocument {
        /// Which document ("discovery document", "JWKS", "token response").
        what: &'static str,
        /// Where it came from.
        url: String,
        /// What is wrong with it.
        detail: String,
    },

    /// The discovery document names another issuer than the configured one (OIDC Discovery §4.3).
    #[error(
        "the discovery document says its issuer is \"{got}\" but the configured issuer is \"{expected}\"; they must be identical (check the trailing slash and http/https)"
    )]
    DiscoveryIssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The `issuer` in the discovery document.
        got: String,
    },

    /// An endpoint in the discovery document is not https (or http on loopback).
    #[error(
        "the discovery document's {field} \"{url}\" is not an https URL (http is allowed only for loopback hosts)"
    )]
    InsecureEndpoint {
        /// The discovery field.
        field: &'static str,
        /// Its value.
        url: String,
    },

    /// The provider signs ID tokens with none of the algorithms Candor accepts.
    #[error(
        "the provider signs ID tokens with {offered:?}; Candor accepts RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 and EdDSA"
    )]
    NoSupportedAlgorithm {
        /// `id_token_signing_alg_values_supported` from the discovery document.
        offered: Vec<String>,
    },

    /// The provider does not offer PKCE with S256, which Candor requires.
    #[error(
        "the provider does not support PKCE with S256 (code_challenge_methods_supported is {offered:?})"
    )]
    PkceUnsupported {
        /// `code_challenge_methods_supported` from the discovery document.
        offered: Vec<String>,
    },

    /// The provider offers no client authentication method Candor can use with its settings.
    #[error(
        "the token endpoint accepts client authentication by {offered:?}; with a client secret Candor uses client_secret_basic or client_secret_post, without one it is a public client (\"none\")"
    )]
    NoUsableClientAuth {
        /// `token_endpoint_auth_methods_supported` from the discovery document.
        offered: Vec<String>,
    },

    /// The provider sent the browser back with an `error` instead of a code (the person declined,
    /// or the client is misconfigured at the provider).
    #[error("the provider refused the sign-in{}", provider_error(.error, .description))]
    AuthorizationRefused {
        /// The OAuth error code (`access_denied`, `invalid_scope`, …).
        error: Option<String>,
        /// The provider's `error_description`, shortened and stripped of control characters.
        description: Option<String>,
    },

    /// The state returned to the callback is not the one this login started with.
    #[error(
        "the state returned by the provider does not match this login (a forged or mixed-up callback); start the sign-in again"
    )]
    StateMismatch,

    /// The pending login is too old.
    #[error(
        "this sign-in was started {age_secs} s ago, longer than the {max_secs} s allowed; start it again"
    )]
    LoginExpired {
        /// Seconds since `begin`.
        age_secs: i64,
        /// The limit.
        max_secs: i64,
    },

    /// The token endpoint refused the authorization code.
    #[error("the token endpoint refused the authorization code with HTTP {status}{}", provider_error(.error, .description))]
    TokenRejected {
        /// The HTTP status code.
        status: u16,
        /// The OAuth error code (`invalid_grant`, `invalid_client`, …), if the provider sent one.
        error: Option<String>,
        /// The provider's `error_description`, shortened and stripped of control characters.
        description: Option<String>,
    },

    /// The token response has no ID token (the `openid` scope was not granted?).
    #[error(
        "the token response has no id_token; check that the client is allowed the openid scope"
    )]
    MissingIdToken,

    /// The ID token is not a well-formed compact JWS.
    #[error("the ID token is malformed: {0}")]
    MalformedToken(String),

    /// The ID token uses an algorithm Candor refuses (`none`, HMAC, or one the provider did not announce).
    #[error(
        "the ID token is signed with \"{alg}\", which Candor refuses (accepted here: {accepted:?}; never none or HMAC)"
    )]
    AlgorithmRefused {
        /// The `alg` in the token header.
        alg: String,
        /// The algorithms accepted for this provider.
        accepted: Vec<String>,
    },

    /// No key in the provider's JWKS has the token's `kid`, even after refreshing it.
    #[error("no key {} in the provider's JWKS, even after refreshing it{}", kid_name(.kid), if *.refresh_limited { " (refreshed less than a minute ago, so not again)" } else { "" })]
    UnknownKey {
        /// The `kid` in the token header.
        kid: Option<String>,
        /// Whether the refresh was skipped because one happened recently.
        refresh_limited: bool,
    },

    /// The token has no `kid` and the JWKS has several keys that could have signed it.
    #[error("the ID token has no kid and the provider's JWKS has several {alg} keys")]
    AmbiguousKey {
        /// The token's algorithm.
        alg: String,
    },

    /// The key with the token's `kid` is of another type than the token's `alg` (algorithm confusion).
    #[error("the key {} in the JWKS cannot verify {alg} signatures (its type or alg differs)", kid_name(.kid))]
    KeyMismatch {
        /// The `kid` in the token header.
        kid: Option<String>,
        /// The `alg` in the token header.
        alg: String,
    },

    /// The signature does not verify with the provider's key.
    #[error("the ID token's signature does not verify with the provider's key {}", kid_name(.kid))]
    BadSignature {
        /// The key that was tried.
        kid: Option<String>,
    },

    /// The token's `iss` is not the configured issuer.
    #[error("the ID token was issued by \"{got}\", not by the configured issuer \"{expected}\"")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`.
        got: String,
    },

    /// The token's `aud` does not contain this client.
    #[error("the ID token is meant for {got:?}, not for this client \"{expected}\"")]
    WrongAudience {
        /// The configured client id.
        expected: String,
        /// The token's `aud` values.
        got: Vec<String>,
    },

    /// The token has several audiences and its `azp` is not this client.
    #[error(
        "the ID token has several audiences and its authorized party (azp) is {got:?}, not \"{expected}\""
    )]
    WrongAuthorizedParty {
        /// The configured client id.
        expected: String,
        /// The token's `azp`, if any.
        got: Option<String>,
    },

    /// The token has expired.
    #[error(
        "the ID token expired at {exp} (unix seconds); it is now {now} (check the server clock if this repeats)"
    )]
    TokenExpired {
        /// The token's `exp`.
        exp: i64,
        /// The current time.
        now: i64,
    },

    /// The token claims to have been issued in the future.
    #[error(
        "the ID token says it was issued at {iat} (unix seconds), in the future; it is now {now} (check the server clock)"
    )]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The current time.
        now: i64,
    },

    /// The token is not valid yet.
    #[error("the ID token is not valid before {nbf} (unix seconds); it is now {now}")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The current time.
        now: i64,
    },

    /// The token's `nonce` is not the one this login sent (a replayed or injected token).
    #[error("the ID token's nonce does not match this login (a replayed or injected token)")]
    NonceMismatch,

    /// A required claim is missing or has the wrong type.
    #[error("the ID token's \"{claim}\" claim is {problem}")]
    BadClaim {
        /// The claim name.
        claim: &'static str,
        /// "missing", "not a string", …
        problem: &'static str,
    },

    /// The system random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
}

impl OidcError {
    /// The error for a callback that carries `error` (and maybe `error_description`) instead of a
    /// `code` (RFC 6749 §4.1.2.1). The provider's text is shortened and stripped of control
    /// characters.
    pub fn authorization_refused(error: &str, description: Option<&str>) -> OidcError {
        OidcError::AuthorizationRefused {
            error: Some(sanitize(error)).filter(|e| !e.is_empty()),
            description: description.map(sanitize).filter(|d| !d.is_empty()),
        }
    }
}

fn kid_name(kid: &Option<String>) -> String {
    match kid {
        Some(kid) => format!("\"{kid}\""),
        None => "(no kid)".to_owned(),
    }
}

fn provider_error(error: &Option<String>, description: &Option<String>) -> String {
    match (error, description) {
        (Some(e), Some(d)) => format!(": {e} ({d})"),
        (Some(e), None) => format!(": {e}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

/// A provider-supplied string made safe to show: control characters dropped, at most 200 chars.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_is_cleaned_and_shortened() {
        let err = OidcError::authorization_refused(
            "access_denied",
            Some(&format!("the user\r\nsaid no{}", "!".repeat(500))),
        );
        let text = err.to_string();
        assert!(
            text.starts_with("the provider refused the sign-in: access_denied (the usersaid no!"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        assert!(text.len() < 300, "{}", text.len());
    }

    #[test]
    fn token_rejection_reads_as_a_sentence() {
        let err = OidcError::TokenRejected {
            status: 400,
            error: Some("invalid_grant".into()),
            description: Some("code expired".into()),
        };
        assert_eq!(
            err.to_string(),
            "the token endpoint refused the authorization code with HTTP 400: invalid_grant (code expired)"
        );
    }
}
