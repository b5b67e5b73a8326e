//! The file transport: `.eml` files for the demo and for offline development.

use candor_core::config::MailTransport;
use candor_mail::{Composer, FileTransport, Mail, Outbox, OutboxOptions, Transport};
use candor_store::outbox::MailOutbox;

use crate::support::{ManualClock, T0, settings, sqlite_store};

#[tokio::test]
async fn the_file_transport_writes_a_parsable_eml_and_a_retry_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let transport = FileTransport::new(dir.path().join("mail"));
    let composer =
        Composer::new(&candor_core::config::MailFrom::parse("trust@acme.example").unwrap())
            .unwrap();
    let queued = composer
        .compose(
            &Mail::new(
                "alice@customer.example",
                "Sign in to Acme",
                "Your link: https://trust.acme.example/x",
            )
            .with_html("<a href=\"https://trust.acme.example/x\">Sign in</a>"),
            T0,
        )
        .unwrap();

    transport.send((&queued).into()).await.unwrap();
    transport.send((&queued).into()).await.unwrap();

    let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let expected = format!(
        "{}.eml",
        queued
            .message_id
            .trim_start_matches('<')
            .trim_end_matches('>')
    );
    assert_eq!(
        files,
        std::slice::from_ref(&expected),
        "one file per Message-ID, no temporary left over"
    );
    let path = transport.path_for(&queued.message_id);
    assert_eq!(path.file_name().unwrap().to_str().unwrap(), expected);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, queued.message);
    let parsed = mailparse::parse_mail(&bytes).unwrap();
    use mailparse::MailHeaderMap as _;
    assert_eq!(
        parsed.headers.get_first_value("Subject").unwrap(),
        "Sign in to Acme"
    );
    assert_eq!(
        parsed.headers.get_first_value("Message-ID").unwrap(),
        queued.message_id
    );
    assert_eq!(parsed.subparts.len(), 2);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mail holds sign-in links: owner only");
    }
}

#[tokio::test]
async fn a_message_id_never_names_a_file_outside_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let transport = FileTransport::new(dir.path().join("mail"));
    for id in ["<../../etc/passwd>", "</abs@x>", "<..>", "<>"] {
        let path = transport.path_for(id);
        assert_eq!(path.parent().unwrap(), dir.path().join("mail"), "{id}");
        assert!(
            !path.file_name().unwrap().to_str().unwrap().starts_with('.'),
            "{id}"
        );
    }
}

#[tokio::test]
async fn without_a_mail_section_the_demo_writes_eml_files_into_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), "");
    assert_eq!(
        settings.mail.transport,
        MailTransport::File {
            dir: dir.path().join("data/mail")
        }
    );
    let store = sqlite_store(&dir.path().join("data")).await;
    let clock = ManualClock::at(T0);
    let outbox = Outbox::new(
        store.clone(),
        Transport::from_settings(&settings.mail).unwrap(),
        Composer::new(&settings.mail.from).unwrap(),
        clock,
        OutboxOptions::default(),
    );
    let id = outbox
        .send(&Mail::new("alice@customer.example", "Welcome", "Hello"))
        .await
        .unwrap();
    assert!(id.ends_with("@localhost>"), "{id}");
    assert_eq!(outbox.deliver_due().await.unwrap().sent, 1);
    let file = dir.path().join("data/mail").join(format!(
        "{}.eml",
        id.trim_start_matches('<').trim_end_matches('>')
    ));
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("From: \"Acme Trust\" <no-reply@localhost>\r\n"),
        "{text}"
    );
    let entry = store.outbox_entry(&id).await.unwrap().unwrap();
    assert_eq!(entry.sent_at, Some(T0));
}
