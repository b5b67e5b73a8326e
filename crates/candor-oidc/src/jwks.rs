//! The provider's signing keys (a JWK Set, RFC 7517): parsing, choosing the key for a token,
//! verifying its signature with ring, and a cache that refreshes on an unknown `kid` at most once
//! a minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::error::{OidcError, sanitize};
use crate::fetch;
use crate::jws::Algorithm;

/// After a refresh caused by an unknown `kid`, the next such refresh waits this long, so tokens
/// with forged key ids cannot make Candor hammer the provider.
pub const MIN_UNKNOWN_KID_REFRESH: Duration = Duration::from_secs(60);

/// Keys are fetched again when they are older than this, so a key the provider withdrew stops
/// being trusted.
pub const MAX_KEYS_AGE: Duration = Duration::from_secs(3600);

/// A public key from the JWKS, in the form ring verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed P-256 point (`04 || x || y`).
    P256(Vec<u8>),
    /// An uncompressed P-384 point.
    P384(Vec<u8>),
    /// A 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
}

/// One usable signing key of the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jwk {
    pub kid: Option<String>,
    /// The `alg` the JWK is restricted to, if it says.
    pub alg: Option<String>,
    pub key: PublicKey,
}

impl Jwk {
    /// Whether this key may verify a token signed with `alg`: the key type must fit the
    /// algorithm (no RSA key for ES256, no EC key for RS256) and the JWK's own `alg`, if any,
    /// must be the same.
    pub fn fits(&self, alg: Algorithm) -> bool {
        let type_fits = matches!(
            (&self.key, alg),
            (
                PublicKey::Rsa { .. },
                Algorithm::Rs256
                    | Algorithm::Rs384
                    | Algorithm::Rs512
                    | Algorithm::Ps256
                    | Algorithm::Ps384
                    | Algorithm::Ps512
            ) | (PublicKey::P256(_), Algorithm::Es256)
                | (PublicKey::P384(_), Algorithm::Es384)
                | (PublicKey::Ed25519(_), Algorithm::EdDsa)
        );
        type_fits && self.alg.as_deref().is_none_or(|a| a == alg.name())
    }

    /// Verifies `signature` over `message`; `false` when it does not verify or the key does not fit.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        let result = match &self.key {
            PublicKey::Rsa { n, e } => {
                let params = match alg {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }.verify(params, message, signature)
            }
            PublicKey::P256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
            }
            PublicKey::P384(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, signature)
            }
            PublicKey::Ed25519(x) => {
                UnparsedPublicKey::new(&signature::ED25519, x).verify(message, signature)
            }
        };
        result.is_ok()
    }
}

/// Parses a JWK Set, keeping the keys Candor can verify with. Encryption keys, symmetric keys and
/// unknown key types are skipped; a set with no usable key is an error.
pub(crate) fn parse_jwks(bytes: &[u8]) -> Result<Vec<Jwk>, String> {
    let set: Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|e| format!("it is not a JSON object ({e})"))?;
    let Some(Value::Array(entries)) = set.get("keys") else {
        return Err("it has no \"keys\" array".into());
    };
    let keys: Vec<Jwk> = entries
        .iter()
        .filter_map(|entry| match entry {
            Value::Object(jwk) => parse_jwk(jwk),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return Err(format!(
            "none of its {} keys is an RSA (2048 bits or more), P-256, P-384 or Ed25519 signing key",
            entries.len()
        ));
    }
    Ok(keys)
}

fn parse_jwk(jwk: &Map<String, Value>) -> Option<Jwk> {
    let text = |name: &str| match jwk.get(name) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let bytes = |name: &str| text(name).and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    if jwk.get("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let key = match (text("kty")?, text("crv")) {
        ("RSA", _) => {
            let n = strip_leading_zeros(bytes("n")?);
            let e = strip_leading_zeros(bytes("e")?);
            // ring refuses smaller moduli when verifying; refuse them here so they are never chosen.
            if n.len() < 256 || e.is_empty() {
                return None;
            }
            PublicKey::Rsa { n, e }
        }
        ("EC", Some(curve)) => {
            let size = match curve {
                "P-256" => 32,
                "P-384" => 48,
                _ => return None,
            };
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != size || y.len() != size {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            if size == 32 {
                PublicKey::P256(point)
            } else {
                PublicKey::P384(point)
            }
        }
        ("OKP", Some("Ed25519")) => {
            let x = bytes("x")?;
            if x.len() != 32 {
                return None;
            }
            PublicKey::Ed25519(x)
        }
        _ => return None,
    };
    Some(Jwk {
        kid: text("kid").map(str::to_owned),
        alg: text("alg").map(str::to_owned),
        key,
    })
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// What looking a key up in the current set found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    Found(Jwk),
    /// No key with this `kid` (or, without a `kid`, no key of the right type).
    Unknown,
    /// A key with this `kid` exists but is of another type or restricted to another `alg`.
    Mismatch,
    /// No `kid` in the token and several keys could have signed it.
    Ambiguous,
}

pub(crate) fn lookup(keys: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Lookup {
    match kid {
        Some(kid) => {
            let mut with_kid = keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .peekable();
            if with_kid.peek().is_none() {
                return Lookup::Unknown;
            }
            match with_kid.find(|k| k.fits(alg)) {
                Some(key) => Lookup::Found(key.clone()),
                None => Lookup::Mismatch,
            }
        }
        None => {
            let mut fitting = keys.iter().filter(|k| k.fits(alg));
            match (fitting.next(), fitting.next()) {
                (Some(key), None) => Lookup::Found(key.clone()),
                (None, _) => Lookup::Unknown,
                (Some(_), Some(_)) => Lookup::Ambiguous,
            }
        }
    }
}

/// The provider's keys with their age, shared by concurrent sign-ins.
#[derive(Debug)]
pub(crate) struct KeyCache {
    jwks_uri: String,
    state: Mutex<CacheState>,
}

#[derive(Debug)]
struct CacheState {
    keys: Arc<[Jwk]>,
    fetched_at: Instant,
    last_unknown_kid_refresh: Option<Instant>,
    fetch_count: u64,
}

impl KeyCache {
    /// Fetches the JWKS once; discovery fails if it cannot be read.
    pub async fn fetch(http: &reqwest::Client, jwks_uri: String) -> Result<Self, OidcError> {
        let keys = fetch_keys(http, &jwks_uri).await?;
        Ok(KeyCache {
            jwks_uri,
            state: Mutex::new(CacheState {
                keys,
                fetched_at: Instant::now(),
                last_unknown_kid_refresh: None,
                fetch_count: 1,
            }),
        })
    }

    /// How many times the JWKS was fetched (for tests and metrics).
    pub async fn fetch_count(&self) -> u64 {
        self.state.lock().await.fetch_count
    }

    /// Finds the key for a token: from the cached set, after a refresh when the set is old, and
    /// after one rate-limited refresh when the `kid` is unknown (the provider rotated its keys).
    pub async fn key_for(
        &self,
        http: &reqwest::Client,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Jwk, OidcError> {
        // Held across the refresh on purpose: concurrent sign-ins wait for one fetch.
        let mut state = self.state.lock().await;
        if state.fetched_at.elapsed() >= MAX_KEYS_AGE {
            self.refresh(http, &mut state).await?;
        }
        let mut refresh_limited = false;
        let mut found = lookup(&state.keys, kid, alg);
        if found == Lookup::Unknown {
            let recently = state
                .last_unknown_kid_refresh
                .is_some_and(|at| at.elapsed() < MIN_UNKNOWN_KID_REFRESH);
            if recently {
                refresh_limited = true;
            } else {
                tracing::info!(
                    kid = %sanitize(kid.unwrap_or("(none)")),
                    jwks_uri = %self.jwks_uri,
                    "ID token signed by an unknown key; fetching the provider's JWKS again"
                );
                state.last_unknown_kid_refresh = Some(Instant::now());
                self.refresh(http, &mut state).await?;
                found = lookup(&state.keys, kid, alg);
            }
        }
        match found {
            Lookup::Found(key) => Ok(key),
            Lookup::Unknown => Err(OidcError::UnknownKey {
                kid: kid.map(sanitize),
                refresh_limited,
            }),
            Lookup::Mismatch => Err(OidcError::KeyMismatch {
                kid: kid.map(sanitize),
                alg: alg.name().to_owned(),
            }),
            Lookup::Ambiguous => Err(OidcError::AmbiguousKey {
                alg: alg.name().to_owned(),
            }),
        }
    }

    async fn refresh(
        &self,
        http: &reqwest::Client,
        state: &mut CacheState,
    ) -> Result<(), OidcError> {
        let keys = fetch_keys(http, &self.jwks_uri).await?;
        state.keys = keys;
        state.fetched_at = Instant::now();
        state.fetch_count += 1;
        Ok(())
    }
}

async fn fetch_keys(http: &reqwest::Client, jwks_uri: &str) -> Result<Arc<[Jwk]>, OidcError> {
    let body = fetch::get_document(http, "JWKS", jwks_uri).await?;
    let keys = parse_jwks(&body).map_err(|detail| OidcError::BadDocument {
        what: "JWKS",
        url: jwks_uri.to_owned(),
        detail,
    })?;
    Ok(keys.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ec_key() -> (EcdsaKeyPair, serde_json::Value) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "ec1", "use": "sig",
            "x": b64(&point[1..33]), "y": b64(&point[33..]),
        });
        (pair, jwk)
    }

    fn rsa_key() -> (RsaKeyPair, serde_json::Value) {
        let pair = RsaKeyPair::from_pkcs8(include_bytes!("testing/keys/rsa-1.pk8")).unwrap();
        let components: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        let jwk = serde_json::json!({
            "kty": "RSA", "kid": "rsa1", "alg": "RS256",
            "n": b64(&components.n), "e": b64(&components.e),
        });
        (pair, jwk)
    }

    fn set(keys: &[serde_json::Value]) -> Vec<Jwk> {
        parse_jwks(serde_json::json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    #[test]
    fn es256_and_rs256_signatures_verify_and_tampering_is_caught() {
        let rng = SystemRandom::new();
        let (ec, ec_jwk) = ec_key();
        let (rsa, rsa_jwk) = rsa_key();
        let keys = set(&[ec_jwk, rsa_jwk]);

        let msg = b"header.payload";
        let ec_sig = ec.sign(&rng, msg).unwrap();
        let Lookup::Found(ec_key) = lookup(&keys, Some("ec1"), Algorithm::Es256) else {
            panic!("EC key not found")
        };
        assert!(ec_key.verify(Algorithm::Es256, msg, ec_sig.as_ref()));
        assert!(!ec_key.verify(Algorithm::Es256, b"header.payloaD", ec_sig.as_ref()));

        let mut rsa_sig = vec![0; rsa.public().modulus_len()];
        rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut rsa_sig)
            .unwrap();
        let Lookup::Found(rsa_key) = lookup(&keys, Some("rsa1"), Algorithm::Rs256) else {
            panic!("RSA key not found")
        };
        assert!(rsa_key.verify(Algorithm::Rs256, msg, &rsa_sig));
        rsa_sig[10] ^= 1;
        assert!(!rsa_key.verify(Algorithm::Rs256, msg, &rsa_sig));
    }

    #[test]
    fn ps256_and_eddsa_verify_too() {
        let rng = SystemRandom::new();
        let (rsa, mut rsa_jwk) = rsa_key();
        rsa_jwk["alg"] = "PS256".into();
        let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).unwrap();
        let ed_jwk = serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.public_key().as_ref()),
        });
        let keys = set(&[rsa_jwk, ed_jwk]);
        let msg = b"m";
        let mut sig = vec![0; rsa.public().modulus_len()];
        rsa.sign(&signature::RSA_PSS_SHA256, &rng, msg, &mut sig)
            .unwrap();
        let Lookup::Found(k) = lookup(&keys, Some("rsa1"), Algorithm::Ps256) else {
            panic!()
        };
        assert!(k.verify(Algorithm::Ps256, msg, &sig));
        let Lookup::Found(k) = lookup(&keys, Some("ed"), Algorithm::EdDsa) else {
            panic!()
        };
        assert!(k.verify(Algorithm::EdDsa, msg, ed.sign(msg).as_ref()));
    }

    #[test]
    fn a_key_never_verifies_another_algorithm_family() {
        let (_, ec_jwk) = ec_key();
        let (_, rsa_jwk) = rsa_key();
        let keys = set(&[ec_jwk, rsa_jwk]);
        assert_eq!(
            lookup(&keys, Some("ec1"), Algorithm::Rs256),
            Lookup::Mismatch
        );
        assert_eq!(
            lookup(&keys, Some("rsa1"), Algorithm::Es256),
            Lookup::Mismatch
        );
        // The RSA JWK is restricted to RS256, so PS256 with it is refused too.
        assert_eq!(
            lookup(&keys, Some("rsa1"), Algorithm::Ps256),
            Lookup::Mismatch
        );
        assert_eq!(
            lookup(&keys, Some("nope"), Algorithm::Es256),
            Lookup::Unknown
        );
    }

    #[test]
    fn without_a_kid_only_an_unambiguous_key_is_used() {
        let (_, ec_jwk) = ec_key();
        let (_, rsa_jwk) = rsa_key();
        let keys = set(&[ec_jwk.clone(), rsa_jwk]);
        assert!(matches!(
            lookup(&keys, None, Algorithm::Es256),
            Lookup::Found(_)
        ));
        let mut second = ec_jwk;
        second["kid"] = "ec2".into();
        let (_, first) = ec_key();
        let keys = set(&[first, second]);
        assert_eq!(lookup(&keys, None, Algorithm::Es256), Lookup::Ambiguous);
        assert_eq!(lookup(&keys, None, Algorithm::EdDsa), Lookup::Unknown);
    }

    #[test]
    fn unusable_keys_are_skipped_and_an_empty_set_is_an_error() {
        let (_, rsa_jwk) = rsa_key();
        let mut enc = rsa_jwk.clone();
        enc["use"] = "enc".into();
        let mut small = rsa_jwk.clone();
        small["n"] = b64(&[0xff; 128]).into();
        let oct = serde_json::json!({ "kty": "oct", "k": "c2VjcmV0" });
        let bad_curve = serde_json::json!({ "kty": "EC", "crv": "P-521", "x": "AA", "y": "AA" });
        let err = parse_jwks(
            serde_json::json!({ "keys": [enc, small, oct, bad_curve, 7] })
                .to_string()
                .as_bytes(),
        )
        .unwrap_err();
        assert!(err.contains("none of its 5 keys"), "{err}");
        assert!(parse_jwks(b"{}").unwrap_err().contains("keys"));
        assert!(parse_jwks(b"[]").unwrap_err().contains("JSON object"));
    }

    proptest! {
        #[test]
        fn parse_jwks_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_jwks(&bytes);
        }

        #[test]
        fn parse_jwks_never_panics_on_jwk_shaped_input(
            kty in "(RSA|EC|OKP|oct|)",
            crv in "(P-256|P-384|Ed25519|X25519|)",
            n in "[A-Za-z0-9_-]{0,400}",
            x in "[A-Za-z0-9_-]{0,90}",
            y in "[A-Za-z0-9_-]{0,90}",
        ) {
            let doc = serde_json::json!({ "keys": [{ "kty": kty, "crv": crv, "n": n, "e": "AQAB", "x": x, "y": y }] });
            if let Ok(keys) = parse_jwks(doc.to_string().as_bytes()) {
                for key in keys {
                    for alg in Algorithm::ALL {
                        let _ = key.verify(alg, b"m", &[0; 64]);
                    }
                }
            }
        }
    }
}
