//! OpenID Connect Discovery 1.0: reading and checking the provider's metadata document.

use serde::Deserialize;
use url::Url;

use crate::error::OidcError;
use crate::jws::Algorithm;
use crate::settings::parse_endpoint;

/// How Candor authenticates itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the body, no secret; PKCE is the only proof.
    None,
}

impl ClientAuth {
    /// The name used in `token_endpoint_auth_methods_supported`.
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
            ClientAuth::None => "none",
        }
    }
}

/// What Candor took from the provider's discovery document, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// The issuer, identical to the configured one.
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: Url,
    /// Where the code is exchanged.
    pub token_endpoint: Url,
    /// Where the signing keys are.
    pub jwks_uri: Url,
    /// The ID-token algorithms both the provider announces and Candor accepts.
    pub signing_algs: Vec<Algorithm>,
    /// How Candor authenticates at the token endpoint.
    pub client_auth: ClientAuth,
}

/// The fields of the discovery document Candor reads; others are ignored.
#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    response_types_supported: Option<Vec<String>>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

/// Checks a discovery document against the configured issuer. `has_secret` picks the client
/// authentication: basic (preferred) or post with a secret, `none` without.
pub(crate) fn check(
    body: &[u8],
    url: &str,
    configured_issuer: &str,
    has_secret: bool,
) -> Result<ProviderMetadata, OidcError> {
    let bad = |detail: String| OidcError::BadDocument {
        what: "discovery document",
        url: url.to_owned(),
        detail,
    };
    let doc: Document =
        serde_json::from_slice(body).map_err(|e| bad(format!("it is not valid JSON ({e})")))?;

    // OIDC Discovery §4.3: exactly equal, no normalisation (a mix-up defence).
    if doc.issuer != configured_issuer {
        return Err(OidcError::DiscoveryIssuerMismatch {
            expected: configured_issuer.to_owned(),
            got: doc.issuer,
        });
    }
    let endpoint = |field: &'static str, raw: &str| {
        parse_endpoint(raw).map_err(|_| OidcError::InsecureEndpoint {
            field,
            url: raw.to_owned(),
        })
    };
    let authorization_endpoint = endpoint("authorization_endpoint", &doc.authorization_endpoint)?;
    let token_endpoint = endpoint("token_endpoint", &doc.token_endpoint)?;
    let jwks_uri = endpoint("jwks_uri", &doc.jwks_uri)?;

    if let Some(types) = &doc.response_types_supported
        && !types.iter().any(|t| t == "code")
    {
        return Err(bad(format!(
            "response_types_supported is {types:?}; Candor needs the authorization code flow (\"code\")"
        )));
    }

    // Required by the spec; RS256 is the default every provider must support.
    let offered = doc
        .id_token_signing_alg_values_supported
        .unwrap_or_else(|| vec!["RS256".to_owned()]);
    let signing_algs: Vec<Algorithm> = offered
        .iter()
        .filter_map(|name| Algorithm::from_name(name))
        .collect();
    if signing_algs.is_empty() {
        return Err(OidcError::NoSupportedAlgorithm { offered });
    }

    // Absent means the provider did not say; PKCE is then sent anyway (providers ignore unknown
    // parameters). Present without S256 means it will not check it: refuse.
    if let Some(methods) = doc.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(OidcError::PkceUnsupported { offered: methods });
    }

    // RFC 8414: absent means client_secret_basic.
    let methods = doc
        .token_endpoint_auth_methods_supported
        .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]);
    let supports = |m: ClientAuth| methods.iter().any(|x| x == m.name());
    let client_auth = if has_secret {
        if supports(ClientAuth::ClientSecretBasic) {
            ClientAuth::ClientSecretBasic
        } else if supports(ClientAuth::ClientSecretPost) {
            ClientAuth::ClientSecretPost
        } else {
            return Err(OidcError::NoUsableClientAuth { offered: methods });
        }
    } else {
        // A public client. Providers often leave "none" out of the list even when they accept
        // public clients with PKCE, so this is not refused here; the token endpoint decides.
        ClientAuth::None
    };

    Ok(ProviderMetadata {
        issuer: doc.issuer,
        authorization_endpoint,
        token_endpoint,
        jwks_uri,
        signing_algs,
        client_auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://id.example.com";

    fn doc() -> serde_json::Value {
        json!({
            "issuer": ISSUER,
            "authorization_endpoint": "https://id.example.com/authorize",
            "token_endpoint": "https://id.example.com/token",
            "jwks_uri": "https://id.example.com/jwks",
            "response_types_supported": ["code", "id_token"],
            "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["plain", "S256"],
        })
    }

    fn run(doc: &serde_json::Value, has_secret: bool) -> Result<ProviderMetadata, OidcError> {
        check(doc.to_string().as_bytes(), "u", ISSUER, has_secret)
    }

    #[test]
    fn a_good_document_gives_endpoints_algorithms_and_basic_auth() {
        let m = run(&doc(), true).unwrap();
        assert_eq!(m.token_endpoint.as_str(), "https://id.example.com/token");
        // HS256 and none are announced but never accepted.
        assert_eq!(m.signing_algs, [Algorithm::Rs256]);
        assert_eq!(m.client_auth, ClientAuth::ClientSecretBasic);
        assert_eq!(run(&doc(), false).unwrap().client_auth, ClientAuth::None);
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        for other in [
            "https://id.example.com/",
            "http://id.example.com",
            "https://ID.example.com",
            "https://evil.example.com",
        ] {
            let mut d = doc();
            d["issuer"] = other.into();
            let err = run(&d, true).unwrap_err();
            assert!(
                matches!(&err, OidcError::DiscoveryIssuerMismatch { got, .. } if got == other),
                "{err}"
            );
        }
    }

    #[test]
    fn plain_http_endpoints_are_refused() {
        let mut d = doc();
        d["token_endpoint"] = "http://id.example.com/token".into();
        let err = run(&d, true).unwrap_err();
        assert!(
            matches!(
                err,
                OidcError::InsecureEndpoint {
                    field: "token_endpoint",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn unusable_algorithms_pkce_and_auth_methods_are_refused() {
        let mut d = doc();
        d["id_token_signing_alg_values_supported"] = json!(["HS256", "none"]);
        assert!(matches!(
            run(&d, true),
            Err(OidcError::NoSupportedAlgorithm { .. })
        ));

        let mut d = doc();
        d["code_challenge_methods_supported"] = json!(["plain"]);
        assert!(matches!(
            run(&d, true),
            Err(OidcError::PkceUnsupported { .. })
        ));

        let mut d = doc();
        d["token_endpoint_auth_methods_supported"] = json!(["private_key_jwt"]);
        assert!(matches!(
            run(&d, true),
            Err(OidcError::NoUsableClientAuth { .. })
        ));

        let mut d = doc();
        d["token_endpoint_auth_methods_supported"] = json!(["client_secret_post"]);
        assert_eq!(
            run(&d, true).unwrap().client_auth,
            ClientAuth::ClientSecretPost
        );

        let mut d = doc();
        d["response_types_supported"] = json!(["id_token"]);
        assert!(matches!(run(&d, true), Err(OidcError::BadDocument { .. })));
    }

    #[test]
    fn missing_optional_fields_take_the_spec_defaults() {
        let d = json!({
            "issuer": ISSUER,
            "authorization_endpoint": "https://id.example.com/a",
            "token_endpoint": "https://id.example.com/t",
            "jwks_uri": "https://id.example.com/k",
        });
        let m = run(&d, true).unwrap();
        assert_eq!(m.signing_algs, [Algorithm::Rs256]);
        assert_eq!(m.client_auth, ClientAuth::ClientSecretBasic);
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let mut d = doc();
        d.as_object_mut().unwrap().remove("jwks_uri");
        let err = run(&d, true).unwrap_err().to_string();
        assert!(err.contains("jwks_uri"), "{err}");
    }
}
