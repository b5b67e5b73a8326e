//! The compact JWS serialisation of an ID token (RFC 7515 §7.1): `header.payload.signature`.
//!
//! Parsing never trusts anything: it only splits, decodes and reads the header. Which key and
//! algorithm are acceptable is decided by the caller against the provider's metadata and JWKS.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// Tokens longer than this are refused before any decoding (real ID tokens are a few KiB).
pub(crate) const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// A signature algorithm Candor verifies ID tokens with.
///
/// `none` and the HMAC algorithms are deliberately absent: an ID token must be signed with the
/// provider's private key, never with a shared secret or with nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default of OpenID Connect).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl Algorithm {
    /// Every algorithm Candor accepts.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The JOSE name (`RS256`, `ES256`, `EdDSA`, …).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm with this exact JOSE name, if Candor accepts it.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A split and decoded compact JWS; nothing in it is verified yet.
#[derive(Debug)]
pub(crate) struct CompactJws<'a> {
    /// The header's `alg`, as written.
    pub alg: String,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// `BASE64URL(header) "." BASE64URL(payload)`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    /// The decoded payload (the claims, still unparsed).
    pub payload: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. The error says what is wrong without quoting the token.
pub(crate) fn parse(token: &str) -> Result<CompactJws<'_>, String> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "it is {} bytes long, more than the {MAX_TOKEN_BYTES} allowed",
            token.len()
        ));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "it has {} dot-separated parts, not the 3 of a signed JWT (an encrypted ID token is not supported)",
            token.split('.').count()
        ));
    };
    let header = decode_part(header_b64, "header")?;
    let payload = decode_part(payload_b64, "payload")?;
    let signature = decode_part(signature_b64, "signature")?;

    let header: Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|e| format!("the header is not a JSON object ({e})"))?;
    if header.contains_key("crit") {
        // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
        return Err("the header has a \"crit\" parameter, which Candor does not support".into());
    }
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        Some(_) => return Err("the header's \"alg\" is not a string".into()),
        None => return Err("the header has no \"alg\"".into()),
    };
    let kid = match header.get("kid") {
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(Value::Null) | None => None,
        Some(_) => return Err("the header's \"kid\" is not a string".into()),
    };
    if payload.is_empty() {
        return Err("the payload is empty".into());
    }
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    Ok(CompactJws {
        alg,
        kid,
        signing_input: &token.as_bytes()[..signing_input_len],
        payload,
        signature,
    })
}

fn decode_part(part: &str, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the {name} is not unpadded base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn token(header: &str, payload: &str, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(payload.as_bytes()),
            b64(signature)
        )
    }

    #[test]
    fn a_well_formed_token_is_split_and_decoded() {
        let t = token(r#"{"alg":"ES256","kid":"k1"}"#, r#"{"sub":"a"}"#, b"sig");
        let jws = parse(&t).unwrap();
        assert_eq!(jws.alg, "ES256");
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.payload, br#"{"sub":"a"}"#);
        assert_eq!(jws.signature, b"sig");
        let dot = t.rfind('.').unwrap();
        assert_eq!(jws.signing_input, &t.as_bytes()[..dot]);
    }

    #[test]
    fn malformed_tokens_are_refused_with_a_reason() {
        let ok_header = b64(br#"{"alg":"RS256"}"#);
        let ok_payload = b64(br#"{"sub":"a"}"#);
        let cases = [
            ("", "parts"),
            ("a.b", "parts"),
            ("a.b.c.d.e", "parts"),
            (&format!("{ok_header}.{ok_payload}.abc="), "base64url"),
            (&format!("{ok_header}=.{ok_payload}.abc"), "base64url"),
            (&format!("{ok_header}.{ok_payload}.a+b/"), "base64url"),
            (&token("[1]", "{}", b"s"), "JSON object"),
            (&token("not json", "{}", b"s"), "JSON object"),
            (&token("{}", "{}", b"s"), "no \"alg\""),
            (&token(r#"{"alg":1}"#, "{}", b"s"), "not a string"),
            (&token(r#"{"alg":"RS256","kid":7}"#, "{}", b"s"), "kid"),
            (
                &token(r#"{"alg":"RS256","crit":["exp"]}"#, "{}", b"s"),
                "crit",
            ),
            (&token(r#"{"alg":"RS256"}"#, "", b"s"), "payload is empty"),
        ];
        for (t, reason) in cases {
            let err = parse(t).unwrap_err();
            assert!(err.contains(reason), "{t:?}: {err}");
        }
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(parse(&huge).unwrap_err().contains("bytes long"));
    }

    #[test]
    fn errors_never_quote_the_token() {
        let secretish = token(r#"{"alg":"RS256","crit":["x"]}"#, "{}", b"top-secret");
        let err = parse(&secretish).unwrap_err();
        assert!(!err.contains(&secretish[..10]), "{err}");
    }

    #[test]
    fn algorithm_names_round_trip_and_refused_ones_are_unknown() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        for refused in ["none", "None", "HS256", "HS384", "HS512", "rs256", ""] {
            assert_eq!(Algorithm::from_name(refused), None, "{refused}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_never_panics_on_arbitrary_strings(s in ".{0,400}") {
            let _ = parse(&s);
        }

        #[test]
        fn parse_never_panics_on_three_arbitrary_base64_parts(
            h in proptest::collection::vec(any::<u8>(), 0..200),
            p in proptest::collection::vec(any::<u8>(), 0..200),
            s in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let t = format!("{}.{}.{}", b64(&h), b64(&p), b64(&s));
            if let Ok(jws) = parse(&t) {
                prop_assert_eq!(jws.payload, p);
                prop_assert_eq!(jws.signature, s);
            }
        }

        #[test]
        fn parse_never_panics_on_json_like_headers(
            header in r#"\{("[a-z]{0,4}":("[A-Za-z0-9]{0,6}"|[0-9]{1,3}|null|true|\[\]|\{\}),?){0,4}\}"#,
            payload in ".{0,100}",
        ) {
            let t = token(&header, &payload, b"x");
            let _ = parse(&t);
        }

        #[test]
        fn parse_never_panics_when_a_valid_token_is_mutated(
            pos in 0usize..200,
            byte in any::<u8>(),
        ) {
            let t = token(r#"{"alg":"ES256","kid":"k"}"#, r#"{"iss":"x","sub":"y"}"#, &[7; 64]);
            let mut bytes = t.into_bytes();
            let i = pos % bytes.len();
            bytes[i] = byte;
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            let _ = parse(&mutated);
        }
    }
}
