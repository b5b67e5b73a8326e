//! The relying party's settings: which issuer, which client, where the provider sends the browser back.

use candor_core::config::SecretString;
use thiserror::Error;
use url::{Host, Url};

/// The scopes asked for when none are configured.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// How Candor signs in against one OpenID provider.
///
/// `Debug` never shows the client secret (it is a [`SecretString`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer identifier, exactly as the provider states it (`https://…`, or `http://` for
    /// loopback hosts only). Discovery fetches `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret; `None` makes Candor a public client that relies on PKCE alone.
    pub client_secret: Option<SecretString>,
    /// The callback URL registered at the provider (Candor's `/…/callback`).
    pub redirect_url: String,
    /// The scopes to ask for; must contain `openid`.
    pub scopes: Vec<String>,
}

impl OidcSettings {
    /// Settings for a public client with the default scopes (`openid email profile`).
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        redirect_url: impl Into<String>,
    ) -> Self {
        OidcSettings {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            redirect_url: redirect_url.into(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// The same settings with a client secret (a confidential client).
    pub fn with_client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let issuer = parse_endpoint(&self.issuer).map_err(|problem| SettingsError {
            field: "issuer",
            problem,
        })?;
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(SettingsError {
                field: "issuer",
                problem: "must not have a query or fragment (OpenID Connect Discovery §2)".into(),
            });
        }
        if self.client_id.trim().is_empty() {
            return Err(SettingsError {
                field: "client_id",
                problem: "is empty; use the client id registered at the provider".into(),
            });
        }
        if self.client_id.chars().any(char::is_control) {
            return Err(SettingsError {
                field: "client_id",
                problem: "contains control characters".into(),
            });
        }
        if let Some(secret) = &self.client_secret
            && secret.expose().is_empty()
        {
            return Err(SettingsError {
                field: "client_secret",
                problem: "is empty; leave it out for a public client".into(),
            });
        }
        let redirect = parse_endpoint(&self.redirect_url).map_err(|problem| SettingsError {
            field: "redirect_url",
            problem,
        })?;
        if redirect.fragment().is_some() {
            return Err(SettingsError {
                field: "redirect_url",
                problem: "must not have a fragment (RFC 6749 §3.1.2)".into(),
            });
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(SettingsError {
                field: "scopes",
                problem: format!(
                    "{:?} does not contain \"openid\", without which there is no ID token",
                    self.scopes
                ),
            });
        }
        if let Some(bad) = self.scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(SettingsError {
                field: "scopes",
                problem: format!(
                    "{bad:?} is not a valid scope (printable ASCII without spaces, quotes or backslashes)"
                ),
            });
        }
        Ok(())
    }

    /// The discovery document's URL: the issuer without a trailing `/`, plus the well-known path.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }
}

/// A setting that cannot work, with the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field} {problem}")]
pub struct SettingsError {
    /// The setting's name (`issuer`, `client_id`, `client_secret`, `redirect_url`, `scopes`).
    pub field: &'static str,
    /// What is wrong and what to do.
    pub problem: String,
}

/// Parses a URL that the relying party talks to or sends browsers to: https, or http on loopback.
pub(crate) fn parse_endpoint(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("\"{raw}\" is not an absolute URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Do not echo the URL: it may hold a password.
        return Err("must not contain a user name or password".into());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "\"{raw}\" uses http; use https (http is allowed only for localhost and 127.0.0.1)"
        )),
        other => Err(format!("\"{raw}\" uses {other}:, not https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> OidcSettings {
        OidcSettings::new(
            "https://id.example.com",
            "candor",
            "https://trust.example.com/auth/callback",
        )
    }

    #[test]
    fn defaults_are_valid_and_ask_for_openid_email_profile() {
        let s = good();
        assert_eq!(s.scopes, ["openid", "email", "profile"]);
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn http_is_allowed_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:9000/realms/x",
            "http://[::1]:1234",
            "http://127.9.9.9",
        ] {
            let s = OidcSettings {
                issuer: ok.into(),
                ..good()
            };
            assert_eq!(s.validate(), Ok(()), "{ok}");
        }
        for bad in [
            "http://id.example.com",
            "http://10.0.0.1",
            "ftp://id.example.com",
            "id.example.com",
            "http://localhost.evil.com",
        ] {
            let s = OidcSettings {
                issuer: bad.into(),
                ..good()
            };
            let err = s.validate().unwrap_err();
            assert_eq!(err.field, "issuer", "{bad}");
        }
    }

    #[test]
    fn issuer_with_query_fragment_or_password_is_refused_without_echoing_the_password() {
        for bad in [
            "https://id.example.com?x=1",
            "https://id.example.com#f",
            "https://user:hunter2@id.example.com",
        ] {
            let s = OidcSettings {
                issuer: bad.into(),
                ..good()
            };
            let err = s.validate().unwrap_err();
            assert_eq!(err.field, "issuer");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn client_id_secret_redirect_and_scopes_are_checked() {
        let err = OidcSettings {
            client_id: " ".into(),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "client_id");

        let err = good()
            .with_client_secret(SecretString::new(""))
            .validate()
            .unwrap_err();
        assert_eq!(err.field, "client_secret");

        let err = OidcSettings {
            redirect_url: "https://trust.example.com/cb#x".into(),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "redirect_url");

        let err = OidcSettings {
            redirect_url: "http://trust.example.com/cb".into(),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "redirect_url");

        let err = OidcSettings {
            scopes: vec!["email".into()],
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "scopes");
        assert!(err.to_string().contains("openid"), "{err}");

        let err = OidcSettings {
            scopes: vec!["openid".into(), "two words".into()],
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "scopes");
    }

    #[test]
    fn discovery_url_drops_the_trailing_slash_of_the_issuer() {
        assert_eq!(
            good().discovery_url(),
            "https://id.example.com/.well-known/openid-configuration"
        );
        let s = OidcSettings {
            issuer: "https://id.example.com/realms/a/".into(),
            ..good()
        };
        assert_eq!(
            s.discovery_url(),
            "https://id.example.com/realms/a/.well-known/openid-configuration"
        );
    }

    #[test]
    fn debug_never_shows_the_client_secret() {
        let s = good().with_client_secret(SecretString::new("s3cr3t-value"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}
