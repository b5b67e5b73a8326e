//! Operators: bootstrap from the CLI, set a password through a single-use link, sign in, invite,
//! create scoped API tokens and use them; the audit trail shows all of it. And the attacks:
//! CSRF, session fixation, replayed links, tokens out of scope, revoked or forged, brute force.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use candor_core::clock::FixedClock;
use candor_core::config::Database;
use candor_store::PersonKeys;
use candor_store::Store;
use candor_store::identity::{AuditFilter, Identity, NewAuditEvent};
use candor_web::auth::{Auth, SignInError};
use reqwest::StatusCode;
use time::macros::datetime;

use crate::support::{Server, candor, tiny_site};

const PASSWORD: &str = "correct horse battery staple";

/// `application/x-www-form-urlencoded` body.
fn encode_form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of `name="<field>" value="…"` in a page.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn session_cookie(r: &reqwest::Response) -> String {
    let set = r
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

async fn create_owner(site: &std::path::Path, server: &Server, email: &str) -> String {
    let out = candor(
        &[
            "admin",
            "create",
            "--config",
            site.join("candor.toml").to_str().unwrap(),
            "--data-dir",
            server.data_dir.to_str().unwrap(),
            "--email",
            email,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let link = out.stdout.trim();
    assert!(link.contains("/admin/set-password?token="), "{link}");
    assert!(!out.stderr.contains(PASSWORD));
    link.split("token=").nth(1).unwrap().to_owned()
}

/// An owner made with `candor admin create`, with a password set through the link, signed in:
/// their session cookie.
async fn signed_in_owner(site: &std::path::Path, server: &Server, email: &str) -> String {
    let token = create_owner(site, server, email).await;
    let (status, _) = post_form(
        server,
        "/admin/set-password",
        "",
        &[
            ("token", &token),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 303);
    session_cookie(&sign_in(server, email, PASSWORD, None).await)
}

async fn sign_in(
    server: &Server,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = http()
        .post(server.url("/admin/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[("email", email), ("password", password)]));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

async fn get_page(server: &Server, path: &str, cookie: &str) -> (StatusCode, String) {
    let r = http()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post_form(
    server: &Server,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let r = http()
        .post(server.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(form))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn an_owner_bootstraps_invites_creates_a_scoped_token_and_the_audit_trail_shows_it() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;

    // Bootstrap from the CLI: a single-use link, never a password.
    let token = create_owner(site.path(), &server, "Owner@Tiny.Example").await;
    let form = http()
        .get(server.url(&format!("/admin/set-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["referrer-policy"], "no-referrer");
    assert!(form.text().await.unwrap().contains("owner@tiny.example"));
    let (status, body) = post_form(
        &server,
        "/admin/set-password",
        "",
        &[
            ("token", &token),
            ("password", "short"),
            ("confirm", "short"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("at least 12 characters"), "{body}");
    let (status, _) = post_form(
        &server,
        "/admin/set-password",
        "",
        &[
            ("token", &token),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 303);
    // The link works once.
    let (status, _) = post_form(
        &server,
        "/admin/set-password",
        "",
        &[
            ("token", &token),
            ("password", "another long password"),
            ("confirm", "another long password"),
        ],
    )
    .await;
    assert_eq!(status, 410, "a replayed link is refused");

    // Wrong password and unknown account get the same answer.
    let wrong = sign_in(&server, "owner@tiny.example", "not the password", None).await;
    assert_eq!(wrong.status(), 401);
    let wrong = wrong.text().await.unwrap();
    let unknown = sign_in(&server, "nobody@tiny.example", "not the password", None).await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    assert!(wrong.contains("The email or password is not right."));
    assert!(unknown.contains("The email or password is not right."));

    // Session fixation: a cookie the client brings is never adopted.
    let planted = "candor_session=planted-by-an-attacker";
    let ok = sign_in(&server, "OWNER@tiny.example", PASSWORD, Some(planted)).await;
    assert_eq!(ok.status(), 303);
    let cookie = session_cookie(&ok);
    assert_ne!(cookie, planted);
    assert!(
        !ok.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure"),
        "plain-http loopback"
    );
    let (status, _) = get_page(&server, "/admin", planted).await;
    assert_eq!(status, 303, "the planted cookie is not a session");
    let (status, dashboard) = get_page(&server, "/admin", &cookie).await;
    assert_eq!(status, 200);
    assert!(dashboard.contains("Signed in as <strong>owner@tiny.example</strong>"));
    let csrf = field(&dashboard, "csrf");

    // CSRF: a form without the token, or from another origin, changes nothing.
    let (status, _) = post_form(
        &server,
        "/admin/users",
        &cookie,
        &[("email", "x@tiny.example"), ("role", "editor")],
    )
    .await;
    assert_eq!(status, 403);
    let r = http()
        .post(server.url("/admin/users"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[
            ("csrf", csrf.as_str()),
            ("email", "x@tiny.example"),
            ("role", "editor"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let r = http()
        .post(server.url("/admin/users"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[
            ("csrf", csrf.as_str()),
            ("email", "y@tiny.example"),
            ("role", "editor"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "Fetch metadata says another site sent it");

    // Invite an editor.
    let (status, users) = post_form(
        &server,
        "/admin/users",
        &cookie,
        &[
            ("csrf", &csrf),
            ("email", "editor@tiny.example"),
            ("role", "editor"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{users}");
    assert!(users.contains("Invited editor@tiny.example as editor"));
    let invitation = mail_to(&server.data_dir, "editor@tiny.example").await;
    assert!(
        invitation.contains("Subject: You are invited to Tiny Trust"),
        "{invitation}"
    );
    assert!(
        invitation
            .replace("=\n", "")
            .replace("=\r\n", "")
            .contains("/admin/set-password?token=3D"),
        "{invitation}"
    );
    assert!(users.contains("/admin/set-password?token="));
    // Inviting an owner needs the password again.
    let (status, _) = post_form(
        &server,
        "/admin/users",
        &cookie,
        &[
            ("csrf", &csrf),
            ("email", "owner2@tiny.example"),
            ("role", "owner"),
            ("password", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 401);

    // A scoped token: needs the password, shown once.
    let (status, _) = post_form(
        &server,
        "/admin/tokens",
        &cookie,
        &[("csrf", &csrf), ("name", "ci"), ("scope", "content:reload")],
    )
    .await;
    assert_eq!(status, 401, "creating a token needs the password");
    let (status, page) = post_form(
        &server,
        "/admin/tokens",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "ci"),
            ("scope", "content:reload"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let start = page.find("candor_").expect("the new token is shown");
    let reload_token: String = page[start..].chars().take_while(|c| *c != '<').collect();
    let (_, page) = post_form(
        &server,
        "/admin/tokens",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "reader"),
            ("scope", "read"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let start = page.find("candor_").unwrap();
    let read_token: String = page[start..].chars().take_while(|c| *c != '<').collect();
    let (_, listing) = get_page(&server, "/admin/tokens", &cookie).await;
    assert!(
        !listing.contains(&reload_token),
        "a token is shown only once"
    );

    // Post with it; the wrong scope, no token, a forged token are refused.
    let reload = |token: Option<String>| {
        let url = server.url("/api/v1/admin/reload");
        async move {
            let mut r = http().post(url);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            let r = r.send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    assert_eq!(reload(Some(reload_token.clone())).await.0, 200);
    let (status, body) = reload(Some(read_token.clone())).await;
    assert_eq!(status, 403);
    assert!(body.contains("lacks the scope content:reload"), "{body}");
    assert_eq!(reload(None).await.0, 401);
    assert_eq!(reload(Some(format!("{reload_token}x"))).await.0, 401);
    let audit_api = http()
        .get(server.url("/api/v1/audit?action=content_reload"))
        .bearer_auth(&read_token)
        .send()
        .await
        .unwrap();
    assert_eq!(audit_api.status(), 200);
    let events: serde_json::Value = audit_api.json().await.unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 1);

    // Revoked tokens stop working at once.
    let (_, listing) = get_page(&server, "/admin/tokens", &cookie).await;
    let revoke_at = listing.find("/revoke\"").unwrap();
    let id: String = listing[..revoke_at].rsplit('/').next().unwrap().to_owned();
    let (status, _) = post_form(
        &server,
        &format!("/admin/tokens/{id}/revoke"),
        &cookie,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    let revoked_one = if reload(Some(reload_token.clone())).await.0 == 401 {
        reload_token.clone()
    } else {
        read_token.clone()
    };
    assert_eq!(reload(Some(revoked_one)).await.0, 401);

    // The audit trail shows all of it, and exports.
    let (status, trail) = get_page(&server, "/admin/audit", &cookie).await;
    assert_eq!(status, 200);
    for action in [
        "operator_created:owner",
        "password_set",
        "sign_in_failed",
        "sign_in",
        "operator_invited:editor",
        "token_created",
        "content_reload",
        "token_revoked",
    ] {
        assert!(
            trail.contains(&format!("<td>{action}</td>")),
            "{action} missing from the audit trail"
        );
    }
    let (status, failed) = get_page(&server, "/admin/audit?action=sign_in_failed", &cookie).await;
    assert_eq!(status, 200);
    assert!(failed.contains("2 events"), "{failed}");
    let (status, csv) = get_page(&server, "/admin/audit.csv?action=token_created", &cookie).await;
    assert_eq!(status, 200);
    assert!(csv.starts_with("id,time,actor,action,target,source\n"));
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let (status, _) = get_page(&server, "/admin/audit?since=yesterday", &cookie).await;
    assert_eq!(status, 422, "a bad filter says so");

    // Sign out everywhere ends the session.
    let (status, _) = post_form(
        &server,
        "/admin/sign-out-everywhere",
        &cookie,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(get_page(&server, "/admin", &cookie).await.0, 303);

    let logs = server.stderr();
    for secret in [&token, &reload_token, &read_token] {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
    assert!(!logs.contains(PASSWORD));

    // The portal itself still sets no cookie.
    let home = http().get(server.url("/")).send().await.unwrap();
    assert!(home.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn an_editor_cannot_manage_access() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let out = candor(
        &[
            "admin",
            "create",
            "--config",
            site.path().join("candor.toml").to_str().unwrap(),
            "--data-dir",
            server.data_dir.to_str().unwrap(),
            "--email",
            "ed@tiny.example",
            "--role",
            "editor",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let token = out.stdout.trim().split("token=").nth(1).unwrap().to_owned();
    post_form(
        &server,
        "/admin/set-password",
        "",
        &[
            ("token", &token),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    let cookie = session_cookie(&sign_in(&server, "ed@tiny.example", PASSWORD, None).await);
    for path in [
        "/admin/users",
        "/admin/tokens",
        "/admin/audit",
        "/admin/audit.csv",
    ] {
        assert_eq!(get_page(&server, path, &cookie).await.0, 403, "{path}");
    }
    let (_, dashboard) = get_page(&server, "/admin", &cookie).await;
    let csrf = field(&dashboard, "csrf");
    let (status, _) = post_form(
        &server,
        "/admin/tokens",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "x"),
            ("scope", "read"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 403);
    // An owner disables the editor: their session ends and they cannot sign in again.
    let boss = signed_in_owner(site.path(), &server, "boss@tiny.example").await;
    let (_, users) = get_page(&server, "/admin/users", &boss).await;
    let boss_csrf = field(&users, "csrf");
    let ed_id: String = users
        .split("/admin/users/")
        .filter_map(|s| s.split_once("/disable").map(|(id, _)| id.to_owned()))
        .find(|id| users.contains(&format!("/admin/users/{id}/disable")) && !id.is_empty())
        .unwrap();
    let me_id: String = users
        .split("/admin/users/")
        .filter_map(|s| s.split_once("/disable").map(|(id, _)| id.to_owned()))
        .last()
        .unwrap();
    let (status, page) = post_form(
        &server,
        &format!("/admin/users/{ed_id}/disable"),
        &boss,
        &[("csrf", &boss_csrf)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        get_page(&server, "/admin", &cookie).await.0,
        303,
        "the editor's session ended"
    );
    assert_eq!(
        sign_in(&server, "ed@tiny.example", PASSWORD, None)
            .await
            .status(),
        401
    );
    // The last owner cannot be disabled.
    let (status, page) = post_form(
        &server,
        &format!("/admin/users/{me_id}/disable"),
        &boss,
        &[("csrf", &boss_csrf)],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("no owner"));

    // Bad input from the CLI is explained.
    let bad = candor(
        &[
            "admin",
            "create",
            "--config",
            site.path().join("candor.toml").to_str().unwrap(),
            "--email",
            "not-an-email",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        bad.stderr.contains("not an email address"),
        "{}",
        bad.stderr
    );
}

async fn auth_at(store: &Store, at: time::OffsetDateTime) -> Arc<Auth> {
    Auth::with_cost(store.clone(), Arc::new(FixedClock(at)), 8, 1).unwrap()
}

#[tokio::test]
async fn brute_force_is_throttled_per_address_and_per_account_and_lockouts_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
        .await
        .unwrap();
    let t0 = datetime!(2026-11-30 12:00 UTC);
    let audit = NewAuditEvent {
        actor: "system".into(),
        action: "operator_created:owner".into(),
        target: String::new(),
        source_addr: "test".into(),
    };
    let owner = store
        .create_operator("owner@tiny.example", "owner", t0, &audit)
        .await
        .unwrap();
    let auth = auth_at(&store, t0).await;
    let link = auth.create_link(owner.id, "set-password").await.unwrap();
    let hash = auth.hash_password(PASSWORD).await.unwrap();
    store
        .use_link_set_password(
            &candor_web::auth::secret_hash(&link),
            "set-password",
            &hash,
            t0,
            "test",
        )
        .await
        .unwrap()
        .unwrap();
    let attacker = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    let owner_ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

    // One address: 10 failures, then even the right password waits.
    for i in 0..10 {
        let r = auth.sign_in("owner@tiny.example", "guess", attacker).await;
        let throttled = matches!(r, Err(SignInError::Throttled { .. }));
        assert_eq!(throttled, i == 9, "attempt {i}: {r:?}");
    }
    assert!(matches!(
        auth.sign_in("owner@tiny.example", PASSWORD, attacker).await,
        Err(SignInError::Throttled { minutes: 15 })
    ));
    // The owner, from elsewhere, is not locked out by that.
    assert!(
        auth.sign_in("owner@tiny.example", PASSWORD, owner_ip)
            .await
            .is_ok()
    );

    // Credential stuffing from many addresses: the account waits after 20 failures…
    for i in 0..20u8 {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, i));
        let _ = auth.sign_in("owner@tiny.example", "guess", ip).await;
    }
    assert!(matches!(
        auth.sign_in("owner@tiny.example", PASSWORD, owner_ip).await,
        Err(SignInError::Throttled { .. })
    ));
    // …but only for a while: the lockout ends on its own.
    let later = auth_at(&store, t0 + time::Duration::minutes(16)).await;
    assert!(
        later
            .sign_in("owner@tiny.example", PASSWORD, owner_ip)
            .await
            .is_ok()
    );
    // Unknown accounts are throttled and answered like known ones.
    assert!(matches!(
        later.sign_in("ghost@tiny.example", "guess", owner_ip).await,
        Err(SignInError::Rejected)
    ));
    let failed = store
        .audit_events(&AuditFilter {
            action: Some("sign_in_failed".into()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        failed.len(),
        10 + 20 + 1,
        "every failure is in the audit trail (locked attempts are not)"
    );
}

#[tokio::test]
async fn the_audit_trail_is_committed_to_the_log_as_digests_without_personal_data() {
    for (store, _pg, _dir) in crate::store_archive::stores().await {
        let t0 = datetime!(2026-11-30 12:00 UTC);
        let audit = NewAuditEvent {
            actor: "system".into(),
            action: "operator_created:owner".into(),
            target: String::new(),
            source_addr: "cli".into(),
        };
        let owner = store
            .create_operator("alice@tiny.example", "owner", t0, &audit)
            .await
            .unwrap();
        let failed = NewAuditEvent {
            actor: "anonymous".into(),
            action: "sign_in_failed".into(),
            target: "email:alice@tiny.example".into(),
            source_addr: "203.0.113.9".into(),
        };
        let signed_in = NewAuditEvent {
            actor: format!("operator:{}", owner.id),
            action: "sign_in".into(),
            target: format!("operator:{}", owner.id),
            source_addr: "198.51.100.7".into(),
        };
        store
            .record_audit(&[failed.clone(), signed_in.clone()], t0)
            .await
            .unwrap();
        let (seq, count) = store.digest_audit(t0).await.unwrap().unwrap();
        assert_eq!(count, 3, "{}", store.backend());
        assert!(
            store.digest_audit(t0).await.unwrap().is_none(),
            "nothing new, nothing appended"
        );

        use candor_store::LogStore;
        let entry = &store.entries(seq, seq + 1).await.unwrap()[0];
        assert_eq!(entry.entry_type, "digest.batch");
        let text = String::from_utf8(entry.entry.clone()).unwrap();
        assert!(
            !text.contains("alice") && !text.contains("203.0.113.9"),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["stream"], "audit.events");
        assert_eq!(v["count"], 3);
        // Anyone holding the events can recompute the root.
        let events = store
            .audit_events(&AuditFilter {
                limit: 10,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let commitment = store
            .person_commitment(&format!("operator:{}", owner.id), t0)
            .await
            .unwrap();
        let mut items: Vec<Vec<u8>> = events
            .iter()
            .rev()
            .map(|e| {
                let actor = if e.actor.starts_with("operator:") {
                    commitment.clone()
                } else {
                    e.actor.clone()
                };
                candor_core::entries::audit_item(
                    e.id,
                    e.at,
                    &actor,
                    &e.action,
                    &e.target,
                    &e.source_addr,
                )
                .unwrap()
            })
            .collect();
        assert_eq!(
            v["root"],
            hex::encode(candor_core::entries::items_root(&items))
        );
        let as_tlog: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        assert_eq!(
            candor_core::entries::items_root(&items),
            candor_tlog::merkle::root_from_entries(&as_tlog).0,
            "the digest root is RFC 6962's"
        );

        // The next digest covers only what came after.
        store.record_audit(&[signed_in], t0).await.unwrap();
        let (next, count) = store.digest_audit(t0).await.unwrap().unwrap();
        assert_eq!((next, count), (seq + 1, 1));
        items.clear();
    }
}

#[tokio::test]
async fn two_step_sign_in_with_totp_codes_used_once_and_recovery_codes() {
    use candor_core::totp;
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let cookie = signed_in_owner(site.path(), &server, "owner@tiny.example").await;

    // Enrol: the page shows a fresh key and its QR code, drawn inline.
    let (status, page) = get_page(&server, "/admin/account", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("<svg") && page.contains("QR code for your authenticator app"));
    let csrf = field(&page, "csrf");
    let key = field(&page, "secret");
    let secret = totp::from_base32(&key).unwrap();
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();
    let code = |step: i64| format!("{:06}", totp::code_at(&secret, step));
    let (status, _) = post_form(
        &server,
        "/admin/account/totp",
        &cookie,
        &[
            ("csrf", &csrf),
            ("secret", &key),
            ("code", "000000"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert!(
        status == 422 || status == 200,
        "a wrong code is refused (unless it happens to be right)"
    );
    let enrol_code = code(totp::step_of(now()));
    let (status, _) = post_form(
        &server,
        "/admin/account/totp",
        &cookie,
        &[("csrf", &csrf), ("secret", &key), ("code", &enrol_code)],
    )
    .await;
    assert_eq!(status, 401, "turning it on needs the password");
    let (status, page) = post_form(
        &server,
        "/admin/account/totp",
        &cookie,
        &[
            ("csrf", &csrf),
            ("secret", &key),
            ("code", &enrol_code),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let codes: Vec<String> = page
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.len() == 11 && w.as_bytes()[5] == b'-')
        .map(String::from)
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes shown once: {page}");

    // Signing in now needs the second step; the half-signed-in session can do nothing else.
    let start = |server: &Server| {
        let url = server.url("/admin/sign-in");
        async move {
            let r = http()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode_form(&[
                    ("email", "owner@tiny.example"),
                    ("password", PASSWORD),
                ]))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            assert_eq!(r.headers()["location"], "/admin/sign-in/second-factor");
            session_cookie(&r)
        }
    };
    let half = start(&server).await;
    let r = http()
        .get(server.url("/admin/users"))
        .header("cookie", &half)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/sign-in/second-factor");
    let (_, form) = get_page(&server, "/admin/sign-in/second-factor", &half).await;
    let half_csrf = field(&form, "csrf");
    let (status, _) = post_form(
        &server,
        "/admin/sign-in/second-factor",
        &half,
        &[("csrf", &half_csrf), ("code", &enrol_code)],
    )
    .await;
    assert_eq!(status, 401, "the enrolment code was already used");
    let next = code(totp::step_of(now()) + 1);
    let (status, _) = post_form(
        &server,
        "/admin/sign-in/second-factor",
        &half,
        &[("csrf", &half_csrf), ("code", &next)],
    )
    .await;
    assert_eq!(
        status, 303,
        "the next step's code is within the drift window"
    );
    assert_eq!(
        get_page(&server, "/admin/users", &half).await.0,
        200,
        "fully signed in"
    );

    // The same code never works twice; a recovery code works once.
    let again = start(&server).await;
    let (_, form) = get_page(&server, "/admin/sign-in/second-factor", &again).await;
    let again_csrf = field(&form, "csrf");
    let (status, _) = post_form(
        &server,
        "/admin/sign-in/second-factor",
        &again,
        &[("csrf", &again_csrf), ("code", &next)],
    )
    .await;
    assert_eq!(status, 401, "a TOTP code is accepted once");
    let lower = codes[0].to_lowercase();
    let (status, _) = post_form(
        &server,
        "/admin/sign-in/second-factor",
        &again,
        &[("csrf", &again_csrf), ("code", &lower)],
    )
    .await;
    assert_eq!(status, 303, "a recovery code (any case) works");
    let third = start(&server).await;
    let (_, form) = get_page(&server, "/admin/sign-in/second-factor", &third).await;
    let third_csrf = field(&form, "csrf");
    let (status, _) = post_form(
        &server,
        "/admin/sign-in/second-factor",
        &third,
        &[("csrf", &third_csrf), ("code", &codes[0])],
    )
    .await;
    assert_eq!(status, 401, "a recovery code works once");

    // Guessing codes is throttled: five wrong ones lock the second step.
    let mut last = StatusCode::OK;
    for guess in ["111111", "222222", "333333", "444444"] {
        last = post_form(
            &server,
            "/admin/sign-in/second-factor",
            &third,
            &[("csrf", &third_csrf), ("code", guess)],
        )
        .await
        .0;
    }
    assert_eq!(last, 429, "locked after five wrong codes");
    let (status, _) = post_form(
        &server,
        "/admin/sign-in/second-factor",
        &third,
        &[("csrf", &third_csrf), ("code", &codes[1])],
    )
    .await;
    assert_eq!(status, 429, "even a right code waits while locked");

    let (_, trail) = get_page(&server, "/admin/audit", &half).await;
    for action in [
        "totp_enabled",
        "sign_in_password_ok",
        "second_factor_failed",
    ] {
        assert!(
            trail.contains(&format!("<td>{action}</td>")),
            "{action} missing"
        );
    }
}

#[tokio::test]
async fn operators_sign_in_with_openid_connect_and_forged_responses_fail() {
    use candor_oidc::testing::{Fault, TestProvider, TestUser};
    let provider = TestProvider::builder()
        .client_secret("provider-secret-value")
        .redirect_url("http://127.0.0.1:1/admin/oidc/callback")
        .user(TestUser {
            subject: "okta-123".into(),
            email: Some("SSO@Tiny.example".into()),
            email_verified: true,
            name: None,
        })
        .start()
        .await
        .unwrap();
    let site = tiny_site();
    crate::support::write(
        site.path(),
        "candor.toml",
        &format!(
            "version = 1\n[site]\nname = \"Tiny Trust\"\n[oidc]\nissuer = \"{}\"\nclient_id = \"{}\"\nlabel = \"Tiny SSO\"\n",
            provider.issuer(),
            provider.settings().client_id
        ),
    );
    let server = Server::start(
        site.path(),
        &[("CANDOR_OIDC_CLIENT_SECRET", "provider-secret-value")],
    )
    .await;
    provider.set_redirect_url(server.url("/admin/oidc/callback"));
    let out = candor(
        &[
            "admin",
            "create",
            "--config",
            site.path().join("candor.toml").to_str().unwrap(),
            "--data-dir",
            server.data_dir.to_str().unwrap(),
            "--email",
            "sso@tiny.example",
            "--role",
            "auditor",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let form = http()
        .get(server.url("/admin/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("Sign in with Tiny SSO"));

    // Through the provider and back: a session, no password involved.
    let round_trip = || async {
        let start = http()
            .get(server.url("/admin/oidc/start"))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 303);
        let authorize = start.headers()["location"].to_str().unwrap().to_owned();
        assert!(authorize.starts_with(provider.issuer()), "{authorize}");
        let callback = provider.approve(&authorize).await.unwrap();
        let back = http().get(&callback.url).send().await.unwrap();
        (callback.url, back)
    };
    let (callback, back) = round_trip().await;
    assert_eq!(back.status(), 303, "{}", back.text().await.unwrap());
    assert_eq!(back.headers()["location"], "/admin");
    let cookie = session_cookie(&back);
    let (status, dashboard) = get_page(&server, "/admin", &cookie).await;
    assert_eq!(status, 200);
    assert!(dashboard.contains("sso@tiny.example"));
    // The same callback twice: refused.
    let replay = http().get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), 401);

    // Forged responses are refused with a reason, and nothing is signed in.
    for fault in [
        Fault::WrongNonce,
        Fault::WrongIssuer,
        Fault::WrongAudience,
        Fault::BadSignature,
    ] {
        provider.set_fault(fault);
        let (_, back) = round_trip().await;
        assert_eq!(back.status(), 401, "{fault:?}");
        assert!(back.headers().get("set-cookie").is_none(), "{fault:?}");
        assert!(
            back.text().await.unwrap().contains("Single sign-on failed"),
            "{fault:?}"
        );
    }
    provider.clear_fault();

    // An identity that is not an operator, or whose email is not verified, gets nothing.
    for user in [
        TestUser {
            subject: "okta-999".into(),
            email: Some("stranger@tiny.example".into()),
            email_verified: true,
            name: None,
        },
        TestUser {
            subject: "okta-998".into(),
            email: Some("sso@tiny.example".into()),
            email_verified: false,
            name: None,
        },
    ] {
        provider.set_user(user);
        let (_, back) = round_trip().await;
        assert_eq!(back.status(), 401);
        assert!(back.text().await.unwrap().contains("not an operator"));
    }
    let (_, trail) = get_page(&server, "/admin/audit", &cookie).await;
    assert!(trail.contains("<td>sign_in_oidc</td>") && trail.contains("oidc:"));
    assert!(
        !server.stderr().contains("provider-secret-value"),
        "the client secret never shows in logs"
    );
}

#[tokio::test]
async fn sessions_time_out_and_expired_tokens_stop_working() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
        .await
        .unwrap();
    let t0 = datetime!(2026-11-30 12:00 UTC);
    let audit = NewAuditEvent {
        actor: "system".into(),
        action: "operator_created:owner".into(),
        target: String::new(),
        source_addr: "test".into(),
    };
    let owner = store
        .create_operator("owner@tiny.example", "owner", t0, &audit)
        .await
        .unwrap();
    let auth = auth_at(&store, t0).await;
    let session = auth.start_session(owner.id, false).await.unwrap();
    let (_, token) = auth
        .create_token(
            "short-lived",
            &[candor_core::identity::Scope::Read],
            Some(1),
            &owner,
            "test",
        )
        .await
        .unwrap();
    assert!(auth.session(&session).await.unwrap().is_some());
    assert!(auth.token(&token).await.unwrap().is_some());

    // Idle for more than 2 hours: the session is gone.
    let idle = auth_at(&store, t0 + time::Duration::minutes(121)).await;
    assert!(idle.session(&session).await.unwrap().is_none());
    // Active, but more than 12 hours after sign-in: gone too.
    let fresh = auth.start_session(owner.id, false).await.unwrap();
    for hours in 1..12 {
        let later = auth_at(&store, t0 + time::Duration::hours(hours)).await;
        assert!(
            later.session(&fresh).await.unwrap().is_some(),
            "hour {hours}"
        );
    }
    let too_late = auth_at(&store, t0 + time::Duration::minutes(12 * 60 + 1)).await;
    assert!(too_late.session(&fresh).await.unwrap().is_none());

    // A token with a one-day expiry works until then, not after.
    let day = auth_at(&store, t0 + time::Duration::hours(23)).await;
    assert!(day.token(&token).await.unwrap().is_some());
    let expired = auth_at(&store, t0 + time::Duration::hours(25)).await;
    assert!(expired.token(&token).await.unwrap().is_none());
    // Something that merely looks like a token is not one.
    assert!(
        auth.token("candor_not-a-real-token")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.token(&format!("candor_{}", "x".repeat(500)))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn oversized_input_is_refused_without_storing_anything() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let huge = "a".repeat(200_000);
    let r = http()
        .post(server.url("/admin/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[
            ("email", "x@tiny.example"),
            ("password", &huge),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "admin forms are small");
    let long_email = format!("{}@tiny.example", "a".repeat(300));
    let r = sign_in(&server, &long_email, "whatever password", None).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("too long"));
    let store = Store::open(&Database::Sqlite(server.data_dir.join("candor.db")))
        .await
        .unwrap();
    let events = store
        .audit_events(&AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(
        events.is_empty(),
        "nothing was recorded for refused input: {events:?}"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route_and_its_token_scope() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let doc: serde_json::Value = http()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["apiToken"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    // Every API route the server answers is documented, and the other way round.
    let router = include_str!("../../../candor-web/src/lib.rs");
    let routed: Vec<&str> = router
        .split(".route(")
        .skip(1)
        .filter_map(|r| r.trim_start().strip_prefix('"'))
        .filter_map(|r| r.split('"').next())
        .filter(|p| p.starts_with("/api/"))
        .collect();
    assert!(routed.len() >= 5, "{routed:?}");
    for route in &routed {
        assert!(
            paths.contains_key(*route),
            "{route} is not in the OpenAPI document"
        );
    }
    assert_eq!(
        paths.len(),
        routed.len(),
        "documented paths that are not routed"
    );
    // Each protected operation names the scope the server demands: without a token it is 401.
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let scopes: Vec<&str> = op["security"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s["apiToken"].as_array().into_iter().flatten())
                .filter_map(|s| s.as_str())
                .collect();
            if scopes.is_empty() {
                continue;
            }
            let request = match method.as_str() {
                "get" => http().get(server.url(path)),
                "post" => http().post(server.url(path)),
                "put" => http().put(server.url(path)),
                "delete" => http().delete(server.url(path)),
                other => panic!("unexpected method {other}"),
            };
            assert_eq!(
                request.send().await.unwrap().status(),
                401,
                "{method} {path}"
            );
            assert_eq!(op["x-candor-scope"], scopes[0], "{method} {path}");
        }
    }
}

/// The newest `.eml` in the data dir's mail folder that mentions `to`, waiting for it.
async fn mail_to(data_dir: &std::path::Path, to: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut found: Vec<(std::time::SystemTime, String)> =
            std::fs::read_dir(data_dir.join("mail"))
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| {
                    let text = std::fs::read_to_string(e.path()).ok()?;
                    let when = e.metadata().ok()?.modified().ok()?;
                    text.contains(to).then_some((when, text))
                })
                .collect();
        found.sort();
        if let Some((_, text)) = found.pop() {
            return text;
        }
        assert!(std::time::Instant::now() < deadline, "no mail to {to}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The magic link's token in a mail (quoted-printable soft breaks undone).
fn link_token(mail: &str) -> String {
    let joined = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = joined
        .find("/customer/link?token=")
        .expect("a sign-in link")
        + "/customer/link?token=".len();
    joined[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn customer_admins_sign_in_by_magic_link_and_see_only_their_tenant() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let owner = signed_in_owner(site.path(), &server, "owner@tiny.example").await;
    let (_, page) = get_page(&server, "/admin/tenants", &owner).await;
    let csrf = field(&page, "csrf");
    for name in ["Globex", "Initech"] {
        let (status, _) = post_form(
            &server,
            "/admin/tenants",
            &owner,
            &[("csrf", &csrf), ("name", name)],
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = post_form(
        &server,
        "/admin/tenants",
        &owner,
        &[("csrf", &csrf), ("name", "Globex")],
    )
    .await;
    assert_eq!(status, 409, "tenant names are unique");
    let (_, page) = get_page(&server, "/admin/tenants", &owner).await;
    let mut ids: Vec<String> = Vec::new();
    for id in page
        .split("/admin/tenants/")
        .skip(1)
        .map(|s| s.split('/').next().unwrap().to_owned())
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    assert_eq!(ids.len(), 2);
    // Tenants are listed by name: Globex first.
    for (id, email) in [
        (&ids[0], "ceo@globex.example"),
        (&ids[1], "it@initech.example"),
    ] {
        let (status, body) = post_form(
            &server,
            &format!("/admin/tenants/{id}/admins"),
            &owner,
            &[("csrf", &csrf), ("email", email)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    // Asking for a link: the same answer for known and unknown addresses.
    let ask = |email: &'static str| {
        let url = server.url("/customer/sign-in");
        async move {
            let r = http()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode_form(&[("email", email)]))
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (known_status, known) = ask("CEO@globex.example").await;
    let (unknown_status, unknown) = ask("nobody@globex.example").await;
    assert_eq!(
        (known_status, unknown_status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(known, unknown, "no account enumeration");
    let mail = mail_to(&server.data_dir, "ceo@globex.example").await;
    assert!(
        mail.contains("Message-ID: <") || mail.contains("Message-Id: <"),
        "{mail}"
    );
    let link = link_token(&mail);
    assert!(link.len() >= 40, "{link}");

    // The link shows a button (a mail scanner following it signs nobody in), then works once.
    let r = http()
        .get(server.url(&format!("/customer/link?token={link}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let r = http()
        .post(server.url("/customer/link"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[("token", &link)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let globex = session_cookie(&r);
    assert!(globex.starts_with("candor_customer="));
    let replay = http()
        .post(server.url("/customer/link"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[("token", &link)]))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 410, "a magic link works once");

    // Globex sees Globex, and nothing of Initech.
    let (status, home) = get_page(&server, "/customer", &globex).await;
    assert_eq!(status, 200);
    assert!(home.contains("Globex") && home.contains("ceo@globex.example"));
    assert!(
        home.contains("tenant_sign_in"),
        "its own activity is listed"
    );
    assert!(
        !home.contains("Initech") && !home.contains("initech"),
        "{home}"
    );
    let own: String = home
        .split("/customer/admins/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        get_page(&server, &format!("/customer/admins/{own}"), &globex)
            .await
            .0,
        200
    );
    // Every tenant-scoped page refuses another tenant's ids (and ids that do not exist) alike.
    let store = Store::open(&Database::Sqlite(server.data_dir.join("candor.db")))
        .await
        .unwrap();
    let initech_admin =
        candor_store::tenants::Tenants::tenant_admin_by_email(&store, "it@initech.example")
            .await
            .unwrap()
            .unwrap();
    for path in [
        format!("/customer/admins/{}", initech_admin.id),
        "/customer/admins/999999".to_owned(),
    ] {
        let (status, body) = get_page(&server, &path, &globex).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("initech"));
    }
    // An operator's cookie is not a customer session, and the other way round.
    assert_eq!(get_page(&server, "/customer", &owner).await.0, 303);
    assert_eq!(get_page(&server, "/admin", &globex).await.0, 303);
    // A forged or absent customer cookie gets the sign-in page.
    assert_eq!(
        get_page(&server, "/customer", "candor_customer=forged")
            .await
            .0,
        303
    );

    // Asking too often stops mailing (still the same answer).
    for _ in 0..6 {
        assert_eq!(ask("it@initech.example").await.0, StatusCode::OK);
    }
    let count = std::fs::read_dir(server.data_dir.join("mail"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("it@initech.example"))
        })
        .count();
    assert!(count <= 5, "at most five links per 15 minutes, got {count}");
    let logs = server.stderr();
    assert!(
        !logs.contains(&link),
        "magic-link tokens never reach the logs"
    );
}

#[tokio::test]
async fn a_tenant_can_sign_in_with_its_own_provider_and_only_its_administrators_get_in() {
    use candor_oidc::testing::{Fault, TestProvider, TestUser};
    // The customer's provider: a public client (no secret), PKCE only.
    let provider = TestProvider::builder()
        .redirect_url("http://127.0.0.1:1/customer/oidc/callback")
        .user(TestUser {
            subject: "globex-42".into(),
            email: Some("ceo@globex.example".into()),
            email_verified: true,
            name: None,
        })
        .start()
        .await
        .unwrap();
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    provider.set_redirect_url(server.url("/customer/oidc/callback"));
    let owner = signed_in_owner(site.path(), &server, "owner@tiny.example").await;
    let (_, page) = get_page(&server, "/admin/tenants", &owner).await;
    let csrf = field(&page, "csrf");
    for name in ["Globex", "Initech"] {
        post_form(
            &server,
            "/admin/tenants",
            &owner,
            &[("csrf", &csrf), ("name", name)],
        )
        .await;
    }
    let (_, page) = get_page(&server, "/admin/tenants", &owner).await;
    let mut ids: Vec<String> = Vec::new();
    for id in page
        .split("/admin/tenants/")
        .skip(1)
        .map(|s| s.split('/').next().unwrap().to_owned())
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let (globex, initech) = (ids[0].clone(), ids[1].clone());
    post_form(
        &server,
        &format!("/admin/tenants/{globex}/admins"),
        &owner,
        &[("csrf", &csrf), ("email", "ceo@globex.example")],
    )
    .await;
    post_form(
        &server,
        &format!("/admin/tenants/{initech}/admins"),
        &owner,
        &[("csrf", &csrf), ("email", "it@initech.example")],
    )
    .await;
    let (status, body) = post_form(
        &server,
        &format!("/admin/tenants/{globex}/oidc"),
        &owner,
        &[
            ("csrf", &csrf),
            ("issuer", "ftp://nope"),
            ("client_id", "candor"),
        ],
    )
    .await;
    assert_eq!(status, 422, "a bad issuer is refused: {body}");
    let (status, _) = post_form(
        &server,
        &format!("/admin/tenants/{globex}/oidc"),
        &owner,
        &[
            ("csrf", &csrf),
            ("issuer", provider.issuer()),
            ("client_id", &provider.settings().client_id),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get_page(&server, &format!("/customer/sso/{initech}"), "")
            .await
            .0,
        404,
        "no sign-on configured there"
    );

    let round_trip = || async {
        let start = http()
            .get(server.url(&format!("/customer/sso/{globex}")))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 303);
        let authorize = start.headers()["location"].to_str().unwrap().to_owned();
        let callback = provider.approve(&authorize).await.unwrap();
        http().get(&callback.url).send().await.unwrap()
    };
    let back = round_trip().await;
    assert_eq!(back.status(), 303);
    let cookie = session_cookie(&back);
    let (status, home) = get_page(&server, "/customer", &cookie).await;
    assert_eq!(status, 200);
    assert!(home.contains("Globex") && home.contains("tenant_sign_in_oidc"));

    // Initech's administrator, signing in through Globex's provider, gets nothing.
    provider.set_user(TestUser {
        subject: "x-1".into(),
        email: Some("it@initech.example".into()),
        email_verified: true,
        name: None,
    });
    let back = round_trip().await;
    assert_eq!(back.status(), 401);
    assert!(back.headers().get("set-cookie").is_none());
    // A forged response is refused.
    provider.set_user(TestUser {
        subject: "globex-42".into(),
        email: Some("ceo@globex.example".into()),
        email_verified: true,
        name: None,
    });
    provider.set_fault(Fault::WrongNonce);
    assert_eq!(round_trip().await.status(), 401);
}
