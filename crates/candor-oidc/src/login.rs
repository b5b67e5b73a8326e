//! One sign-in: `begin` sends the browser to the provider, `complete` turns the callback into an
//! [`Identity`].

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use candor_core::config::SecretString;
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use url::form_urlencoded;

use crate::discovery::{self, ClientAuth, ProviderMetadata};
use crate::error::{OidcError, sanitize};
use crate::fetch;
use crate::id_token::{self, Expected, Identity};
use crate::jwks::KeyCache;
use crate::jws::{self, Algorithm};
use crate::settings::{OidcSettings, SettingsError};

/// A pending login older than this is refused by [`OidcClient::complete`].
pub const MAX_PENDING_AGE: Duration = Duration::from_secs(10 * 60);

/// Random bytes in the state, the nonce and the PKCE verifier (256 bits each).
const RANDOM_BYTES: usize = 32;

/// A relying party for one configured issuer, ready to sign people in.
///
/// Made once by [`OidcClient::discover`] and shared (it is `Send + Sync`); it caches the
/// provider's keys.
#[derive(Debug)]
pub struct OidcClient {
    settings: OidcSettings,
    metadata: ProviderMetadata,
    http: reqwest::Client,
    keys: KeyCache,
}

/// A sign-in that was started and not finished yet.
///
/// The caller keeps it server-side (keyed by [`PendingLogin::state`]) between `begin` and the
/// callback, and hands it back to `complete` exactly once. It serialises with serde; the PKCE
/// verifier inside is a secret, so store it where only the server can read it (never in a
/// cookie the browser can read, never in the URL). `Debug` shows only the state.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    state: String,
    nonce: String,
    #[serde(with = "secret_text")]
    pkce_verifier: SecretString,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl PendingLogin {
    /// The state sent to the provider; the callback carries it back. Use it as the storage key.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// When `begin` was called.
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state", &self.state)
            .field("nonce", &"<redacted>")
            .field("pkce_verifier", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl OidcClient {
    /// Validates the settings, reads the provider's discovery document and fetches its keys.
    ///
    /// `http` should come from [`crate::http_client`] (timeout, no redirects) or be built the same way.
    pub async fn discover(
        settings: OidcSettings,
        http: reqwest::Client,
    ) -> Result<OidcClient, OidcError> {
        settings.validate()?;
        let url = settings.discovery_url();
        let body = fetch::get_document(&http, "discovery document", &url).await?;
        let metadata = discovery::check(
            &body,
            &url,
            &settings.issuer,
            settings.client_secret.is_some(),
        )?;
        let keys = KeyCache::fetch(&http, metadata.jwks_uri.to_string()).await?;
        Ok(OidcClient {
            settings,
            metadata,
            http,
            keys,
        })
    }

    /// The settings this client was made with.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// What discovery found.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// How many times the provider's JWKS has been fetched (1 after discovery).
    pub async fn jwks_fetch_count(&self) -> u64 {
        self.keys.fetch_count().await
    }

    /// Starts a sign-in: returns the URL to redirect the browser to and the [`PendingLogin`] to
    /// keep until the callback. Fresh random state, nonce and PKCE verifier every time.
    pub fn begin(&self, now: OffsetDateTime) -> Result<(String, PendingLogin), OidcError> {
        let state = random_token()?;
        let nonce = random_token()?;
        let pkce_verifier = random_token()?;
        let challenge = pkce_challenge(&pkce_verifier);

        let mut url = self.metadata.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_url)
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((
            url.into(),
            PendingLogin {
                state,
                nonce,
                pkce_verifier: SecretString::new(pkce_verifier),
                created_at: now,
            },
        ))
    }

    /// Finishes a sign-in from the callback's `state` and `code`: checks the state and the age of
    /// the pending login, exchanges the code (with the PKCE verifier) and verifies the ID token.
    ///
    /// The pending login is consumed: whatever the outcome, the caller must delete it, so a
    /// callback can never be replayed.
    pub async fn complete(
        &self,
        pending: PendingLogin,
        returned_state: &str,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Identity, OidcError> {
        if !bool::from(pending.state.as_bytes().ct_eq(returned_state.as_bytes())) {
            return Err(OidcError::StateMismatch);
        }
        let age = now - pending.created_at;
        let max = MAX_PENDING_AGE.as_secs() as i64;
        if age.whole_seconds() > max {
            return Err(OidcError::LoginExpired {
                age_secs: age.whole_seconds(),
                max_secs: max,
            });
        }
        let id_token = self.exchange(code, &pending.pkce_verifier).await?;
        self.verify_id_token(id_token.expose(), &pending.nonce, now)
            .await
    }

    /// Exchanges the authorization code at the token endpoint; returns the ID token.
    async fn exchange(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
    ) -> Result<SecretString, OidcError> {
        let (body, authorization) = self.token_request(code, pkce_verifier)?;
        let mut request = self
            .http
            .post(self.metadata.token_endpoint.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        if let Some(authorization) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        let url = self.metadata.token_endpoint.as_str();
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| OidcError::Unreachable {
                what: "token endpoint",
                url: url.to_owned(),
                // Only the kind of failure: the request body holds the code and secret.
                detail: if e.is_timeout() {
                    format!("timed out after {} s", fetch::HTTP_TIMEOUT.as_secs())
                } else if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "request failed".to_owned()
                },
            })?;
        let status = response.status();
        let body = fetch::read_capped(response, "token response", url).await?;
        let fields: Option<Map<String, Value>> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            let text = |name: &str| match fields.as_ref().and_then(|f| f.get(name)) {
                Some(Value::String(s)) => Some(sanitize(s)),
                _ => None,
            };
            return Err(OidcError::TokenRejected {
                status: status.as_u16(),
                error: text("error"),
                description: text("error_description"),
            });
        }
        let Some(fields) = fields else {
            return Err(OidcError::BadDocument {
                what: "token response",
                url: url.to_owned(),
                detail: "it is not a JSON object".into(),
            });
        };
        match fields.get("id_token") {
            Some(Value::String(token)) => Ok(SecretString::new(token.clone())),
            _ => Err(OidcError::MissingIdToken),
        }
    }

    /// The token request's form body and `Authorization` header (built before any `.await`: the
    /// form serialiser is not `Send`).
    fn token_request(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
    ) -> Result<(String, Option<HeaderValue>), OidcError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.settings.redirect_url)
            .append_pair("code_verifier", pkce_verifier.expose());
        let secret = self
            .settings
            .client_secret
            .as_ref()
            .map(SecretString::expose);
        let mut authorization = None;
        match (self.metadata.client_auth, secret) {
            (ClientAuth::ClientSecretBasic, Some(secret)) => {
                // RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
                let pair = format!(
                    "{}:{}",
                    form_urlencoded::byte_serialize(self.settings.client_id.as_bytes())
                        .collect::<String>(),
                    form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()
                );
                let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(pair)))
                    .map_err(|_| {
                    OidcError::Settings(SettingsError {
                        field: "client_secret",
                        problem: "cannot be sent in an HTTP header".into(),
                    })
                })?;
                value.set_sensitive(true);
                authorization = Some(value);
            }
            (ClientAuth::ClientSecretPost, Some(secret)) => {
                form.append_pair("client_id", &self.settings.client_id)
                    .append_pair("client_secret", secret);
            }
            _ => {
                form.append_pair("client_id", &self.settings.client_id);
            }
        }
        Ok((form.finish(), authorization))
    }

    /// Verifies the ID token's signature and claims.
    async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<Identity, OidcError> {
        let jws = jws::parse(token).map_err(OidcError::MalformedToken)?;
        // The algorithm comes from the token, so it is checked against what this provider announced
        // and Candor accepts before anything else: `none` and HS* never get this far.
        let alg = Algorithm::from_name(&jws.alg)
            .filter(|alg| self.metadata.signing_algs.contains(alg))
            .ok_or_else(|| OidcError::AlgorithmRefused {
                alg: sanitize(&jws.alg),
                accepted: self
                    .metadata
                    .signing_algs
                    .iter()
                    .map(|a| a.name().to_owned())
                    .collect(),
            })?;
        let key = self
            .keys
            .key_for(&self.http, jws.kid.as_deref(), alg)
            .await?;
        if !key.verify(alg, jws.signing_input, &jws.signature) {
            return Err(OidcError::BadSignature { kid: key.kid });
        }
        id_token::check_claims(
            &jws.payload,
            &Expected {
                issuer: &self.settings.issuer,
                client_id: &self.settings.client_id,
                nonce,
                now: now.unix_timestamp(),
            },
        )
    }
}

/// 256 random bits, base64url without padding (43 characters, a valid PKCE verifier too).
fn random_token() -> Result<String, OidcError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| OidcError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Serde for the verifier: stored as plain text (the caller stores the whole login server-side).
mod secret_text {
    use candor_core::config::SecretString;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        String::deserialize(d).map(SecretString::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_256_bits_of_base64url_and_differ() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn a_pending_login_round_trips_through_json_and_debug_hides_the_secrets() {
        let pending = PendingLogin {
            state: "st".into(),
            nonce: "the-nonce-value".into(),
            pkce_verifier: SecretString::new("the-verifier-value"),
            created_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        };
        let json = serde_json::to_string(&pending).unwrap();
        let back: PendingLogin = serde_json::from_str(&json).unwrap();
        assert_eq!(back.pkce_verifier.expose(), "the-verifier-value");
        assert_eq!(back.nonce, "the-nonce-value");
        assert_eq!(back.state(), "st");
        assert_eq!(back.created_at(), pending.created_at);
        let shown = format!("{pending:?}");
        assert!(!shown.contains("the-verifier-value"), "{shown}");
        assert!(!shown.contains("the-nonce-value"), "{shown}");
    }
}
