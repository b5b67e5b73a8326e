//! The claims of a verified ID token (OpenID Connect Core §3.1.3.7): who issued it, for whom, when,
//! for which login, and about whom.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

use crate::error::OidcError;

/// How far the provider's clock may be ahead of or behind ours.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The person who signed in, as the provider vouches for them.
///
/// Identify people by `(issuer, subject)`, never by `email`: an email address can change hands,
/// and only counts as proven when `email_verified` is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The provider's issuer identifier.
    pub issuer: String,
    /// The provider's stable, never reassigned identifier for the person (`sub`).
    pub subject: String,
    /// The person's email address, if the provider shared it.
    pub email: Option<String>,
    /// Whether the provider verified that the person controls `email`.
    pub email_verified: bool,
    /// The person's display name, if shared.
    pub name: Option<String>,
}

/// What the token must say for this login.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// Checks the claims of a token whose signature was already verified.
pub(crate) fn check_claims(payload: &[u8], expected: &Expected<'_>) -> Result<Identity, OidcError> {
    let claims: Map<String, Value> = serde_json::from_slice(payload)
        .map_err(|_| OidcError::MalformedToken("the payload is not a JSON object".into()))?;
    let skew = CLOCK_SKEW.as_secs() as i64;

    let issuer = string_claim(&claims, "iss")?.ok_or(OidcError::BadClaim {
        claim: "iss",
        problem: "missing",
    })?;
    if issuer != expected.issuer {
        return Err(OidcError::WrongIssuer {
            expected: expected.issuer.to_owned(),
            got: issuer.to_owned(),
        });
    }

    let audiences: Vec<String> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(OidcError::BadClaim {
                    claim: "aud",
                    problem: "not a string or a list of strings",
                }),
            })
            .collect::<Result<_, _>>()?,
        None => {
            return Err(OidcError::BadClaim {
                claim: "aud",
                problem: "missing",
            });
        }
        Some(_) => {
            return Err(OidcError::BadClaim {
                claim: "aud",
                problem: "not a string or a list of strings",
            });
        }
    };
    if !audiences.iter().any(|a| a == expected.client_id) {
        return Err(OidcError::WrongAudience {
            expected: expected.client_id.to_owned(),
            got: audiences,
        });
    }
    // Core §3.1.3.7 items 4 and 5: with several audiences, azp must name us; a present azp must
    // always name us.
    let azp = string_claim(&claims, "azp")?;
    if azp.is_some_and(|azp| azp != expected.client_id) || (audiences.len() > 1 && azp.is_none()) {
        return Err(OidcError::WrongAuthorizedParty {
            expected: expected.client_id.to_owned(),
            got: azp.map(str::to_owned),
        });
    }

    let exp = time_claim(&claims, "exp")?.ok_or(OidcError::BadClaim {
        claim: "exp",
        problem: "missing",
    })?;
    if expected.now >= exp.saturating_add(skew) {
        return Err(OidcError::TokenExpired {
            exp,
            now: expected.now,
        });
    }
    let iat = time_claim(&claims, "iat")?.ok_or(OidcError::BadClaim {
        claim: "iat",
        problem: "missing",
    })?;
    if iat > expected.now.saturating_add(skew) {
        return Err(OidcError::IssuedInFuture {
            iat,
            now: expected.now,
        });
    }
    if let Some(nbf) = time_claim(&claims, "nbf")?
        && nbf > expected.now.saturating_add(skew)
    {
        return Err(OidcError::NotYetValid {
            nbf,
            now: expected.now,
        });
    }

    let nonce = string_claim(&claims, "nonce")?.ok_or(OidcError::BadClaim {
        claim: "nonce",
        problem: "missing (the provider ignored the nonce Candor sent)",
    })?;
    if !bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) {
        return Err(OidcError::NonceMismatch);
    }

    let subject = string_claim(&claims, "sub")?.ok_or(OidcError::BadClaim {
        claim: "sub",
        problem: "missing",
    })?;
    if subject.is_empty() || subject.len() > 255 {
        return Err(OidcError::BadClaim {
            claim: "sub",
            problem: "empty or longer than 255 characters",
        });
    }

    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        // Some providers send the string "true".
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    Ok(Identity {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        email: optional_string(&claims, "email"),
        email_verified,
        name: optional_string(&claims, "name"),
    })
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<Option<&'a str>, OidcError> {
    match claims.get(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OidcError::BadClaim {
            claim,
            problem: "not a string",
        }),
    }
}

/// Profile claims of the wrong type are dropped rather than failing the sign-in.
fn optional_string(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    match claims.get(claim) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional.
fn time_claim(claims: &Map<String, Value>, claim: &'static str) -> Result<Option<i64>, OidcError> {
    let not_a_time = OidcError::BadClaim {
        claim,
        problem: "not a number of seconds since 1970",
    };
    match claims.get(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(secs) = n.as_i64() {
                Ok(Some(secs))
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
                    _ => Err(not_a_time),
                }
            }
        }
        Some(_) => Err(not_a_time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://id.example.com",
            client_id: "candor",
            nonce: "n-0S6_WzA2Mj",
            now: NOW,
        }
    }

    fn claims() -> Value {
        json!({
            "iss": "https://id.example.com",
            "sub": "user-1",
            "aud": "candor",
            "exp": NOW + 300,
            "iat": NOW,
            "nonce": "n-0S6_WzA2Mj",
            "email": "ada@example.com",
            "email_verified": true,
            "name": "Ada",
        })
    }

    fn run(c: &Value) -> Result<Identity, OidcError> {
        check_claims(c.to_string().as_bytes(), &expected())
    }

    fn with(key: &str, value: Value) -> Value {
        let mut c = claims();
        c[key] = value;
        c
    }

    fn without(key: &str) -> Value {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(key);
        c
    }

    #[test]
    fn good_claims_give_the_identity() {
        assert_eq!(
            run(&claims()).unwrap(),
            Identity {
                issuer: "https://id.example.com".into(),
                subject: "user-1".into(),
                email: Some("ada@example.com".into()),
                email_verified: true,
                name: Some("Ada".into()),
            }
        );
    }

    #[test]
    fn issuer_audience_and_authorized_party_are_checked() {
        assert!(matches!(
            run(&with("iss", "https://id.example.com/".into())),
            Err(OidcError::WrongIssuer { .. })
        ));
        assert!(matches!(
            run(&with("aud", "other".into())),
            Err(OidcError::WrongAudience { .. })
        ));
        assert!(matches!(
            run(&with("aud", json!(["other", "another"]))),
            Err(OidcError::WrongAudience { .. })
        ));
        // Several audiences need azp = us.
        assert!(matches!(
            run(&with("aud", json!(["candor", "other"]))),
            Err(OidcError::WrongAuthorizedParty { got: None, .. })
        ));
        let mut c = with("aud", json!(["candor", "other"]));
        c["azp"] = "candor".into();
        assert!(run(&c).is_ok());
        c["azp"] = "other".into();
        assert!(matches!(
            run(&c),
            Err(OidcError::WrongAuthorizedParty { .. })
        ));
        // A single audience with a foreign azp is refused too.
        assert!(matches!(
            run(&with("azp", "other".into())),
            Err(OidcError::WrongAuthorizedParty { .. })
        ));
        assert!(matches!(
            run(&with("aud", json!(5))),
            Err(OidcError::BadClaim { claim: "aud", .. })
        ));
    }

    #[test]
    fn times_allow_a_minute_of_skew_and_no_more() {
        assert!(run(&with("exp", (NOW - 59).into())).is_ok());
        assert!(matches!(
            run(&with("exp", (NOW - 60).into())),
            Err(OidcError::TokenExpired { .. })
        ));
        assert!(run(&with("iat", (NOW + 60).into())).is_ok());
        assert!(matches!(
            run(&with("iat", (NOW + 61).into())),
            Err(OidcError::IssuedInFuture { .. })
        ));
        assert!(matches!(
            run(&with("nbf", (NOW + 3600).into())),
            Err(OidcError::NotYetValid { .. })
        ));
        assert!(run(&with("exp", json!(NOW as f64 + 300.5))).is_ok());
        assert!(matches!(
            run(&with("exp", "tomorrow".into())),
            Err(OidcError::BadClaim { claim: "exp", .. })
        ));
        assert!(matches!(
            run(&with("exp", json!(1e300))),
            Err(OidcError::BadClaim { claim: "exp", .. })
        ));
    }

    #[test]
    fn nonce_must_match() {
        assert!(matches!(
            run(&with("nonce", "n-0S6_WzA2Mk".into())),
            Err(OidcError::NonceMismatch)
        ));
        assert!(matches!(
            run(&without("nonce")),
            Err(OidcError::BadClaim { claim: "nonce", .. })
        ));
    }

    #[test]
    fn required_claims_are_required() {
        for claim in ["iss", "sub", "aud", "exp", "iat", "nonce"] {
            assert!(
                matches!(run(&without(claim)), Err(OidcError::BadClaim { claim: c, .. }) if c == claim),
                "{claim}"
            );
        }
        assert!(matches!(
            run(&with("sub", "".into())),
            Err(OidcError::BadClaim { claim: "sub", .. })
        ));
    }

    #[test]
    fn email_verified_accepts_a_string_and_defaults_to_false() {
        assert!(
            run(&with("email_verified", "true".into()))
                .unwrap()
                .email_verified
        );
        assert!(!run(&without("email_verified")).unwrap().email_verified);
        assert!(
            !run(&with("email_verified", 1.into()))
                .unwrap()
                .email_verified
        );
        assert_eq!(run(&with("email", 7.into())).unwrap().email, None);
    }

    proptest! {
        #[test]
        fn check_claims_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = check_claims(&bytes, &expected());
        }

        #[test]
        fn check_claims_never_panics_on_odd_values(
            key in "(iss|aud|exp|iat|nbf|nonce|sub|azp|email_verified)",
            value in prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                ".{0,20}".prop_map(Value::from),
                Just(Value::Null),
                Just(json!([1, "a", null])),
                Just(json!({})),
            ],
        ) {
            let _ = run(&with(&key, value));
        }
    }
}
