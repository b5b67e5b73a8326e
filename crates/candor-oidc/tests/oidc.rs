//! Sign-in end to end against the loopback test provider: the happy path, every fault, replays,
//! forged callbacks, key rotation, and what never shows in Debug output or errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use candor_core::clock::FixedClock;
use candor_oidc::testing::{Callback, Fault, KeyKind, TestProvider, TestUser};
use candor_oidc::{
    ClientAuth, Identity, MAX_PENDING_AGE, OidcClient, OidcError, OidcSettings, PendingLogin,
    SecretString,
};
use reqwest::StatusCode;
use time::OffsetDateTime;
use url::Url;

const SECRET: &str = "s3cret-client-secret-value";

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn confidential(kind: KeyKind) -> TestProvider {
    TestProvider::builder()
        .client_secret(SECRET)
        .key_kind(kind)
        .start()
        .await
        .unwrap()
}

async fn client_for(provider: &TestProvider) -> OidcClient {
    OidcClient::discover(provider.settings(), candor_oidc::http_client().unwrap())
        .await
        .unwrap()
}

/// begin → the provider approves → complete, with the callback as the provider sent it.
async fn sign_in(provider: &TestProvider, client: &OidcClient) -> Result<Identity, OidcError> {
    let (url, pending) = client.begin(now()).unwrap();
    let callback = provider.approve(&url).await.unwrap();
    client
        .complete(pending, &callback.state, &callback.code, now())
        .await
}

/// Plays the browser by hand: GET the authorization URL, do not follow the redirect, read
/// `code` and `state` from `Location`.
async fn follow_authorization(url: &str) -> (String, String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let parsed = Url::parse(&location).unwrap();
    let param = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {location}"))
    };
    (param("code"), param("state"), location)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A pending login with its PKCE verifier replaced, as tampered storage would give back.
fn with_verifier(pending: &PendingLogin, verifier: &str) -> PendingLogin {
    let mut json = serde_json::to_value(pending).unwrap();
    json["pkce_verifier"] = verifier.into();
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn happy_path_end_to_end_gives_the_identity() {
    let provider = confidential(KeyKind::Es256).await;
    let client = client_for(&provider).await;

    let (url, pending) = client.begin(now()).unwrap();
    assert!(url.starts_with(&format!("{}/authorize?", provider.issuer())));
    assert_eq!(query_param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(query_param(&url, "client_id").as_deref(), Some("candor"));
    assert_eq!(
        query_param(&url, "scope").as_deref(),
        Some("openid email profile")
    );
    assert_eq!(
        query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_param(&url, "state").as_deref(), Some(pending.state()));
    assert!(query_param(&url, "nonce").is_some_and(|n| n.len() >= 22));
    assert!(query_param(&url, "code_challenge").is_some_and(|c| c.len() == 43));
    // The verifier itself never leaves the server.
    assert!(!url.contains("code_verifier"));

    let (code, state, location) = follow_authorization(&url).await;
    assert!(location.starts_with("http://127.0.0.1/oidc/callback?"));
    assert_eq!(state, pending.state());

    let identity = client
        .complete(pending, &state, &code, now())
        .await
        .unwrap();
    assert_eq!(
        identity,
        Identity {
            issuer: provider.issuer().to_owned(),
            subject: "test-user-1".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: Some("Ada Lovelace".into()),
        }
    );
}

#[tokio::test]
async fn every_key_kind_and_client_authentication_signs_in() {
    for kind in [KeyKind::Es256, KeyKind::Rs256] {
        for auth in [ClientAuth::ClientSecretBasic, ClientAuth::ClientSecretPost] {
            let provider = TestProvider::builder()
                .client_secret("p@ss:w rd&=+%") // needs form encoding in Basic and post
                .client_auth(auth)
                .key_kind(kind)
                .start()
                .await
                .unwrap();
            let client = client_for(&provider).await;
            assert_eq!(client.metadata().client_auth, auth);
            let identity = sign_in(&provider, &client).await;
            assert!(identity.is_ok(), "{kind:?} {auth:?}: {identity:?}");
        }
        // A public client: no secret, PKCE only.
        let provider = TestProvider::builder()
            .key_kind(kind)
            .start()
            .await
            .unwrap();
        let client = client_for(&provider).await;
        assert_eq!(client.metadata().client_auth, ClientAuth::None);
        assert!(sign_in(&provider, &client).await.is_ok(), "{kind:?} public");
    }
}

#[tokio::test]
async fn the_configured_user_is_what_comes_back() {
    let provider = confidential(KeyKind::Es256).await;
    let client = client_for(&provider).await;
    provider.set_user(TestUser {
        subject: "0b5e7f".into(),
        email: Some("grace@example.com".into()),
        email_verified: false,
        name: None,
    });
    assert_eq!(provider.user().subject, "0b5e7f");
    let identity = sign_in(&provider, &client).await.unwrap();
    assert_eq!(identity.subject, "0b5e7f");
    assert_eq!(identity.email.as_deref(), Some("grace@example.com"));
    assert!(!identity.email_verified);
    assert_eq!(identity.name, None);
}

/// Whether an error is the one a fault must cause (given the provider's issuer).
type ExpectedError = fn(&OidcError, &str) -> bool;

#[tokio::test]
async fn every_fault_is_refused_with_the_right_error() {
    for kind in [KeyKind::Es256, KeyKind::Rs256] {
        let provider = confidential(kind).await;
        let client = client_for(&provider).await;
        let issuer = provider.issuer().to_owned();
        let faults: [(Fault, ExpectedError); 10] = [
            (Fault::WrongIssuer, |e, iss| {
                matches!(e, OidcError::WrongIssuer { expected, got }
                    if expected == iss && got == "https://impostor.example.com")
            }),
            (Fault::WrongAudience, |e, _| {
                matches!(e, OidcError::WrongAudience { expected, got }
                    if expected == "candor" && got == &["someone-else"])
            }),
            (
                Fault::ExtraAudience,
                |e, _| matches!(e, OidcError::WrongAuthorizedParty { got: Some(azp), .. } if azp == "someone-else"),
            ),
            (Fault::WrongNonce, |e, _| {
                matches!(e, OidcError::NonceMismatch)
            }),
            (
                Fault::BadSignature,
                |e, _| matches!(e, OidcError::BadSignature { kid: Some(kid) } if kid == "key-1"),
            ),
            (
                Fault::Expired,
                |e, _| matches!(e, OidcError::TokenExpired { exp, now } if now - exp >= 3600),
            ),
            (
                Fault::AlgNone,
                |e, _| matches!(e, OidcError::AlgorithmRefused { alg, .. } if alg == "none"),
            ),
            (
                Fault::HmacWithPublicKey,
                |e, _| matches!(e, OidcError::AlgorithmRefused { alg, .. } if alg == "HS256"),
            ),
            (
                Fault::UnknownKid,
                |e, _| matches!(e, OidcError::UnknownKey { kid: Some(kid), .. } if kid.starts_with("unknown-")),
            ),
            (
                Fault::TokenEndpointError,
                |e, _| matches!(e, OidcError::TokenRejected { status: 500, error: Some(code), .. } if code == "server_error"),
            ),
        ];
        for (fault, expected) in faults {
            provider.set_fault(fault);
            let err = sign_in(&provider, &client).await.unwrap_err();
            assert!(expected(&err, &issuer), "{kind:?} {fault:?}: got {err:?}");
            // The message an operator reads is a sentence, not a debug dump.
            assert!(!err.to_string().is_empty());
        }
        provider.clear_fault();
        assert!(
            sign_in(&provider, &client).await.is_ok(),
            "{kind:?} after the faults"
        );
    }
}

#[tokio::test]
async fn discovery_with_a_mismatching_issuer_fails() {
    let provider = confidential(KeyKind::Es256).await;
    provider.set_fault(Fault::DiscoveryIssuerMismatch);
    let err = OidcClient::discover(provider.settings(), candor_oidc::http_client().unwrap())
        .await
        .unwrap_err();
    match &err {
        OidcError::DiscoveryIssuerMismatch { expected, got } => {
            assert_eq!(expected, provider.issuer());
            assert_eq!(got, &format!("{}/other-tenant", provider.issuer()));
        }
        other => panic!("expected DiscoveryIssuerMismatch, got {other:?}"),
    }
    // A trailing slash in the settings is not the same issuer either.
    provider.clear_fault();
    let mut settings = provider.settings();
    settings.issuer.push('/');
    let err = OidcClient::discover(settings, candor_oidc::http_client().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OidcError::DiscoveryIssuerMismatch { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_replayed_code_fails() {
    let provider = confidential(KeyKind::Es256).await;
    let client = client_for(&provider).await;
    let (url, pending) = client.begin(now()).unwrap();
    let Callback { code, state, .. } = provider.approve(&url).await.unwrap();
    let stored_copy = pending.clone();
    client
        .complete(pending, &state, &code, now())
        .await
        .unwrap();

    let err = client
        .complete(stored_copy, &state, &code, now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::TokenRejected { status: 400, error: Some(e), .. } if e == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_state_fails_before_the_code_is_spent() {
    let provider = confidential(KeyKind::Es256).await;
    let client = client_for(&provider).await;
    let (url, pending) = client.begin(now()).unwrap();
    let callback = provider.approve(&url).await.unwrap();

    let forged = format!("{}x", callback.state);
    for state in [forged.as_str(), "", &callback.state[..10]] {
        let err = client
            .complete(pending.clone(), state, &callback.code, now())
            .await
            .unwrap_err();
        assert!(matches!(err, OidcError::StateMismatch), "{err:?}");
    }
    // A callback meant for another login (its state) does not complete this one.
    let (other_url, _other_pending) = client.begin(now()).unwrap();
    let other = provider.approve(&other_url).await.unwrap();
    let err = client
        .complete(pending.clone(), &other.state, &other.code, now())
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::StateMismatch), "{err:?}");

    // The refusals never reached the token endpoint: the code still works.
    assert!(
        client
            .complete(pending, &callback.state, &callback.code, now())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_pkce_verifier_mismatch_fails_at_the_provider() {
    let provider = confidential(KeyKind::Es256).await;
    let client = client_for(&provider).await;
    let (url, pending) = client.begin(now()).unwrap();
    let callback = provider.approve(&url).await.unwrap();
    let tampered = with_verifier(&pending, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let err = client
        .complete(tampered, &callback.state, &callback.code, now())
        .await
        .unwrap_err();
    match &err {
        OidcError::TokenRejected {
            status: 400,
            error: Some(code),
            description: Some(description),
        } => {
            assert_eq!(code, "invalid_grant");
            assert!(description.contains("PKCE"), "{description}");
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn an_expired_pending_login_fails() {
    let started = now();
    // The provider's clock stands at the end of the allowed age, so its token is fresh then.
    let provider = TestProvider::builder()
        .client_secret(SECRET)
        .clock(Arc::new(FixedClock(started + MAX_PENDING_AGE)))
        .start()
        .await
        .unwrap();
    let client = client_for(&provider).await;
    let (url, pending) = client.begin(started).unwrap();
    let callback = provider.approve(&url).await.unwrap();
    let later = started + MAX_PENDING_AGE + time::Duration::seconds(1);
    let err = client
        .complete(pending.clone(), &callback.state, &callback.code, later)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OidcError::LoginExpired {
                age_secs: 601,
                max_secs: 600
            }
        ),
        "{err:?}"
    );
    // Just inside the limit it still works (the refusal above did not spend the code).
    let in_time = started + MAX_PENDING_AGE;
    assert!(
        client
            .complete(pending, &callback.state, &callback.code, in_time)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_key_rotation_is_handled_by_one_jwks_refresh() {
    for kind in [KeyKind::Es256, KeyKind::Rs256] {
        let provider = confidential(kind).await;
        let client = client_for(&provider).await;
        sign_in(&provider, &client).await.unwrap();
        assert_eq!(provider.jwks_fetches(), 1);

        let new_kid = provider.rotate_key().unwrap();
        assert_eq!(provider.kid(), new_kid);
        sign_in(&provider, &client).await.unwrap();
        assert_eq!(client.jwks_fetch_count().await, 2, "{kind:?}");
        assert_eq!(provider.jwks_fetches(), 2, "{kind:?}");

        // The new key is cached: no more fetches.
        sign_in(&provider, &client).await.unwrap();
        assert_eq!(provider.jwks_fetches(), 2, "{kind:?}");
    }
}

#[tokio::test]
async fn forged_key_ids_cannot_make_candor_hammer_the_provider() {
    let provider = confidential(KeyKind::Es256).await;
    let client = client_for(&provider).await;
    provider.set_fault(Fault::UnknownKid);
    let first = sign_in(&provider, &client).await.unwrap_err();
    assert!(
        matches!(
            first,
            OidcError::UnknownKey {
                refresh_limited: false,
                ..
            }
        ),
        "{first:?}"
    );
    for _ in 0..5 {
        let err = sign_in(&provider, &client).await.unwrap_err();
        assert!(
            matches!(
                err,
                OidcError::UnknownKey {
                    refresh_limited: true,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    // One fetch at discovery and one refresh, however many forged tokens arrive.
    assert_eq!(provider.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_by_the_token_endpoint() {
    let provider = confidential(KeyKind::Es256).await;
    let settings = provider
        .settings()
        .with_client_secret(SecretString::new("not-the-secret"));
    let client = OidcClient::discover(settings, candor_oidc::http_client().unwrap())
        .await
        .unwrap();
    let err = sign_in(&provider, &client).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::TokenRejected { status: 401, error: Some(e), .. } if e == "invalid_client"),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("not-the-secret"));
}

#[tokio::test]
async fn discovery_refuses_bad_settings_and_reports_an_unreachable_provider() {
    let err = OidcClient::discover(
        OidcSettings::new("http://id.example.com", "candor", "https://t.example/cb"),
        candor_oidc::http_client().unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, OidcError::Settings(e) if e.field == "issuer"),
        "{err:?}"
    );

    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let err = OidcClient::discover(
        OidcSettings::new(format!("http://{closed}"), "candor", "https://t.example/cb"),
        candor_oidc::http_client().unwrap(),
    )
    .await
    .unwrap_err();
    match &err {
        OidcError::Unreachable { what, url, .. } => {
            assert_eq!(*what, "discovery document");
            assert!(url.ends_with("/.well-known/openid-configuration"), "{url}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn secrets_never_show_in_debug_output_or_errors() {
    let provider = confidential(KeyKind::Es256).await;
    let settings = provider.settings();
    let client = client_for(&provider).await;
    let (url, pending) = client.begin(now()).unwrap();
    let callback = provider.approve(&url).await.unwrap();
    let verifier = serde_json::to_value(&pending).unwrap()["pkce_verifier"]
        .as_str()
        .unwrap()
        .to_owned();
    let nonce = query_param(&url, "nonce").unwrap();

    let mut shown = vec![
        format!("{settings:?}"),
        format!("{client:?}"),
        format!("{pending:?}"),
        format!("{provider:?}"),
    ];
    // An error from every step that handles the secrets.
    for fault in [
        Fault::WrongNonce,
        Fault::BadSignature,
        Fault::TokenEndpointError,
        Fault::WrongAudience,
    ] {
        provider.set_fault(fault);
        let err = sign_in(&provider, &client).await.unwrap_err();
        shown.push(format!("{err:?} / {err}"));
    }
    provider.clear_fault();
    let tampered = with_verifier(&pending, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let err = client
        .complete(tampered, &callback.state, &callback.code, now())
        .await
        .unwrap_err();
    shown.push(format!("{err:?} / {err}"));

    for text in &shown {
        for secret in [
            SECRET,
            verifier.as_str(),
            nonce.as_str(),
            callback.code.as_str(),
        ] {
            assert!(!text.contains(secret), "{secret:?} shows in {text}");
        }
    }
    assert!(shown[0].contains("redacted"), "{}", shown[0]);
}

#[test]
fn the_client_can_be_shared_by_web_handlers() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    // Never run: only checks that axum handlers can hold the client and await `complete`.
    #[allow(dead_code)]
    fn check(client: &OidcClient, pending: PendingLogin) {
        send_sync(client);
        send(client.complete(pending, "", "", now()));
    }
}

/// The authorization URL with one query parameter replaced (or removed with `None`).
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    parsed.into()
}

#[tokio::test]
async fn the_test_provider_holds_the_client_to_its_registration() {
    let provider = confidential(KeyKind::Es256).await;
    let client = client_for(&provider).await;
    let (url, _pending) = client.begin(now()).unwrap();

    // Unknown client or unregistered redirect: an error page, no redirect.
    for bad in [
        with_param(&url, "client_id", Some("intruder")),
        with_param(&url, "redirect_uri", Some("http://127.0.0.1/elsewhere")),
    ] {
        let err = provider.approve(&bad).await.unwrap_err();
        assert!(err.contains("400"), "{err}");
    }
    // No PKCE, or plain PKCE: refused through the redirect, as the RP would see it.
    for bad in [
        with_param(&url, "code_challenge", None),
        with_param(&url, "code_challenge_method", Some("plain")),
    ] {
        let err = provider.approve(&bad).await.unwrap_err();
        assert!(err.contains("invalid_request"), "{err}");
    }
    let err = provider
        .approve(&with_param(&url, "scope", Some("email")))
        .await
        .unwrap_err();
    assert!(err.contains("invalid_scope"), "{err}");

    // What the web layer does with such a callback.
    let refused = OidcError::authorization_refused("invalid_scope", None);
    assert_eq!(
        refused.to_string(),
        "the provider refused the sign-in: invalid_scope"
    );
}

#[tokio::test]
async fn the_redirect_url_can_be_registered_once_the_server_under_test_has_a_port() {
    let provider = confidential(KeyKind::Es256).await;
    provider.set_redirect_url("http://127.0.0.1:45678/auth/oidc/callback");
    let client = client_for(&provider).await;
    assert_eq!(
        client.settings().redirect_url,
        "http://127.0.0.1:45678/auth/oidc/callback"
    );
    let (url, pending) = client.begin(now()).unwrap();
    let callback = provider.approve(&url).await.unwrap();
    assert!(
        callback
            .url
            .starts_with("http://127.0.0.1:45678/auth/oidc/callback?code=")
    );
    client
        .complete(pending, &callback.state, &callback.code, now())
        .await
        .unwrap();
}
