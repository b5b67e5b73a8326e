//! Delivery to a real SMTP server on loopback: STARTTLS and implicit TLS, AUTH, certificate
//! checks, and passwords kept out of everything a person can read.

use candor_mail::{DeliveryReport, Mail, Transport};
use candor_store::outbox::MailOutbox;
use mailparse::MailHeaderMap as _;

use crate::smtp_server::{Fault, Security, SmtpServer};
use crate::support::{LogCapture, ManualClock, T0, outbox, smtp_settings, sqlite_store};

const SUBJECT: &str = "Ihr Anmeldelink – für Jürgen (ümlaut test) ✓";

#[tokio::test]
async fn starttls_with_auth_plain_delivers_the_queued_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::builder(Security::StartTls)
        .credentials("candor@acme.example", "correct horse")
        .mechanisms("PLAIN")
        .start()
        .await;
    server.write_ca(dir.path());
    std::fs::write(dir.path().join("smtp-password"), "correct horse\n").unwrap();
    let settings = smtp_settings(
        dir.path(),
        &format!("smtp://candor%40acme.example@127.0.0.1:{}", server.port()),
        "smtp_password_file = \"smtp-password\"\n",
    );
    let store = sqlite_store(dir.path()).await;
    let outbox = outbox(store.clone(), &settings, ManualClock::at(T0));

    let queued = outbox
        .compose(&Mail::new(
            "Jürgen <juergen@customer.example>",
            SUBJECT,
            "Hallo,\n.\nda ist er.\n",
        ))
        .unwrap();
    assert!(outbox.queue(&queued).await.unwrap());
    assert_eq!(
        outbox.deliver_due().await.unwrap(),
        DeliveryReport { sent: 1, failed: 0 }
    );

    let received = server.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert!(got.tls, "STARTTLS was used");
    assert_eq!(got.authenticated.as_deref(), Some("candor@acme.example"));
    assert_eq!(got.mail_from, "trust@acme.example");
    assert_eq!(got.rcpt_to, ["juergen@customer.example"]);
    assert_eq!(
        got.data, queued.message,
        "the relay received exactly the queued bytes"
    );

    let parsed = mailparse::parse_mail(&got.data).unwrap();
    assert_eq!(
        parsed.headers.get_first_value("Message-ID").unwrap(),
        queued.message_id
    );
    assert_eq!(parsed.headers.get_first_value("Subject").unwrap(), SUBJECT);
    assert_eq!(
        parsed.headers.get_first_value("From").unwrap(),
        "\"Acme Trust\" <trust@acme.example>"
    );
    assert_eq!(
        parsed.get_body().unwrap().replace("\r\n", "\n"),
        "Hallo,\n.\nda ist er.\n"
    );

    let entry = store
        .outbox_entry(&queued.message_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (entry.attempts, entry.sent_at, entry.last_error),
        (1, Some(T0), None)
    );
}

#[tokio::test]
async fn implicit_tls_with_auth_login_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::builder(Security::Tls)
        .credentials("candor", "p@ss:w/rd")
        .mechanisms("LOGIN")
        .start()
        .await;
    server.write_ca(dir.path());
    let settings = smtp_settings(
        dir.path(),
        &format!("smtps://candor:p%40ss%3Aw%2Frd@127.0.0.1:{}", server.port()),
        "",
    );
    let outbox = outbox(
        sqlite_store(dir.path()).await,
        &settings,
        ManualClock::at(T0),
    );
    let id = outbox
        .send(&Mail::new("alice@customer.example", "Welcome", "Hello").with_html("<p>Hello</p>"))
        .await
        .unwrap();
    assert_eq!(outbox.deliver_due().await.unwrap().sent, 1);
    let got = &server.received()[0];
    assert!(got.tls);
    assert_eq!(got.authenticated.as_deref(), Some("candor"));
    let parsed = mailparse::parse_mail(&got.data).unwrap();
    assert_eq!(parsed.headers.get_first_value("Message-ID").unwrap(), id);
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
}

#[tokio::test]
async fn starttls_is_required_not_optional() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::builder(Security::Plain)
        .credentials("candor", "secret-pw")
        .start()
        .await;
    server.write_ca(dir.path());
    let settings = smtp_settings(
        dir.path(),
        &format!("smtp://candor:secret-pw@127.0.0.1:{}", server.port()),
        "",
    );
    let store = sqlite_store(dir.path()).await;
    let outbox = outbox(store.clone(), &settings, ManualClock::at(T0));
    let id = outbox
        .send(&Mail::new("alice@customer.example", "Hi", "x"))
        .await
        .unwrap();
    assert_eq!(outbox.deliver_due().await.unwrap().failed, 1);
    assert!(
        server.received().is_empty(),
        "nothing, and no password, sent in clear"
    );
    let entry = store.outbox_entry(&id).await.unwrap().unwrap();
    assert!(entry.sent_at.is_none());
    assert!(entry.last_error.is_some());
}

#[tokio::test]
async fn the_relay_certificate_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::builder(Security::Tls).start().await;
    // A CA file that is not the server's: the handshake must fail.
    let other = SmtpServer::builder(Security::Tls).start().await;
    other.write_ca(dir.path());
    let settings = smtp_settings(
        dir.path(),
        &format!("smtps://127.0.0.1:{}", server.port()),
        "",
    );
    let transport = Transport::from_settings(&settings.mail).unwrap();
    let composer = candor_mail::Composer::new(&settings.mail.from).unwrap();
    let queued = composer
        .compose(&Mail::new("alice@customer.example", "Hi", "x"), T0)
        .unwrap();
    let err = transport.send((&queued).into()).await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(server.received().is_empty());

    server.write_ca(dir.path());
    let transport = Transport::from_settings(&settings.mail).unwrap();
    transport.send((&queued).into()).await.unwrap();
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_bad_ca_file_or_password_file_fails_at_start_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test-ca.pem"), "not a certificate").unwrap();
    let settings = smtp_settings(
        dir.path(),
        "smtps://u@127.0.0.1:465",
        "smtp_password_file = \"missing\"\n",
    );
    let err = Transport::from_settings(&settings.mail)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("test-ca.pem") && err.contains("no PEM certificate"),
        "{err}"
    );
    let server = SmtpServer::builder(Security::Tls).start().await;
    server.write_ca(dir.path());
    let err = Transport::from_settings(&settings.mail)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read smtp_password_file") && err.contains("missing"),
        "{err}"
    );
}

#[tokio::test]
async fn an_auth_failure_never_reveals_the_password() {
    const PASSWORD: &str = "hunter2-Very-Secret";
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::builder(Security::StartTls)
        .credentials("candor", PASSWORD)
        .start()
        .await;
    server.set_fault(Fault::AuthFail);
    server.write_ca(dir.path());
    let settings = smtp_settings(
        dir.path(),
        &format!("smtp://candor:{PASSWORD}@127.0.0.1:{}", server.port()),
        "",
    );
    let logs = LogCapture::default();
    let _guard = logs.install();

    let store = sqlite_store(dir.path()).await;
    let outbox = outbox(store.clone(), &settings, ManualClock::at(T0));
    let transport = Transport::from_settings(&settings.mail).unwrap();
    for debug in [
        format!("{settings:?}"),
        format!("{outbox:?}"),
        format!("{transport:?}"),
    ] {
        assert!(!debug.contains(PASSWORD), "{debug}");
    }

    let id = outbox
        .send(&Mail::new("alice@customer.example", "Hi", "x"))
        .await
        .unwrap();
    assert_eq!(outbox.deliver_due().await.unwrap().failed, 1);

    let entry = store.outbox_entry(&id).await.unwrap().unwrap();
    let last_error = entry.last_error.unwrap();
    assert!(last_error.contains("535"), "{last_error}");
    assert!(
        last_error.contains("smtp://candor@127.0.0.1"),
        "names the relay: {last_error}"
    );
    assert!(!last_error.contains(PASSWORD), "{last_error}");

    let queued = outbox
        .compose(&Mail::new("alice@customer.example", "Hi", "x"))
        .unwrap();
    let err = transport.send((&queued).into()).await.unwrap_err();
    assert!(err.is_permanent());
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(text.contains("535") && !text.contains(PASSWORD), "{text}");
    }

    let logged = logs.text();
    assert!(
        logged.contains(&id),
        "the log names the Message-ID: {logged}"
    );
    assert!(
        logged.contains("customer.example"),
        "and the recipient's domain: {logged}"
    );
    assert!(
        !logged.contains("alice@customer.example"),
        "but not the person: {logged}"
    );
    assert!(!logged.contains(PASSWORD), "{logged}");
    assert!(server.received().is_empty());
}
