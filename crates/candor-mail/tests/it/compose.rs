//! Composition: headers, encodings, Message-IDs, and refusing header injection.

use candor_core::config::MailFrom;
use candor_mail::{Composer, Mail, MailError};

use crate::support::T0;

fn composer() -> Composer {
    Composer::new(&MailFrom::parse("Acme Trust <trust@acme.example>").unwrap()).unwrap()
}

fn header(message: &mailparse::ParsedMail<'_>, name: &str) -> String {
    use mailparse::MailHeaderMap as _;
    message.headers.get_first_value(name).unwrap_or_default()
}

#[test]
fn a_message_has_the_headers_a_mail_client_expects() {
    let mail = Mail::new(
        "Jürgen Müller <juergen@customer.example>",
        "Ihr Anmeldelink für Acme – gültig 15 Minuten",
        "Hallo Jürgen,\nhier ist Ihr Link.\n.\nEine Zeile mit Punkt.\n",
    );
    let queued = composer().compose(&mail, T0).unwrap();
    assert_eq!(queued.sender, "trust@acme.example");
    assert_eq!(queued.recipient, "juergen@customer.example");
    assert_eq!(queued.queued_at, T0);
    assert!(queued.message.ends_with(b"\r\n"));

    let raw = String::from_utf8(queued.message.clone()).unwrap();
    assert!(raw.is_ascii(), "headers and body are 7-bit encoded:\n{raw}");
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(
        subject_line.contains("=?utf-8?"),
        "RFC 2047: {subject_line}"
    );
    assert!(raw.contains("MIME-Version: 1.0\r\n"), "{raw}");
    assert!(
        raw.contains(&format!("Message-ID: {}\r\n", queued.message_id)),
        "{raw}"
    );
    assert!(
        raw.contains("Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n"),
        "the clock's time:\n{raw}"
    );

    let parsed = mailparse::parse_mail(&queued.message).unwrap();
    assert_eq!(header(&parsed, "Subject"), mail.subject);
    assert_eq!(
        header(&parsed, "From"),
        "\"Acme Trust\" <trust@acme.example>"
    );
    assert!(header(&parsed, "To").contains("<juergen@customer.example>"));
    assert_eq!(parsed.ctype.mimetype, "text/plain");
    assert_eq!(parsed.ctype.charset, "utf-8");
    assert_eq!(parsed.get_body().unwrap().replace("\r\n", "\n"), mail.text);
}

#[test]
fn an_html_alternative_makes_a_multipart_message() {
    let mail = Mail::new("alice@customer.example", "Welcome", "Plain words")
        .with_html("<p>Rich <b>words</b></p>");
    let queued = composer().compose(&mail, T0).unwrap();
    let parsed = mailparse::parse_mail(&queued.message).unwrap();
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    let kinds: Vec<(String, String)> = parsed
        .subparts
        .iter()
        .map(|p| {
            (
                p.ctype.mimetype.clone(),
                p.get_body().unwrap().trim_end().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("text/plain".to_owned(), "Plain words".to_owned()),
            (
                "text/html".to_owned(),
                "<p>Rich <b>words</b></p>".to_owned()
            )
        ]
    );
}

#[test]
fn every_mail_gets_its_own_message_id_under_the_senders_domain() {
    let c = composer();
    let mail = Mail::new("alice@customer.example", "Hi", "Hello");
    let ids: std::collections::HashSet<String> = (0..50)
        .map(|_| c.compose(&mail, T0).unwrap().message_id)
        .collect();
    assert_eq!(ids.len(), 50);
    for id in &ids {
        let inner = id.strip_prefix('<').unwrap().strip_suffix('>').unwrap();
        let (random, domain) = inner.split_once('@').unwrap();
        assert_eq!(domain, "acme.example");
        assert_eq!(random.len(), 32);
        assert!(random.chars().all(|c| c.is_ascii_hexdigit()));
    }
}

#[test]
fn header_injection_is_refused_with_a_clear_error() {
    let c = composer();
    for (mail, field) in [
        (
            Mail::new("alice@customer.example", "Hi\r\nBcc: all@evil.example", "x"),
            "subject",
        ),
        (
            Mail::new("alice@customer.example", "Hi\nBcc: all@evil.example", "x"),
            "subject",
        ),
        (
            Mail::new("alice@customer.example", "Hi\rthere", "x"),
            "subject",
        ),
        (
            Mail::new("alice@customer.example\r\nBcc: all@evil.example", "Hi", "x"),
            "recipient",
        ),
        (
            Mail::new("Alice\n <alice@customer.example>", "Hi", "x"),
            "recipient",
        ),
    ] {
        let err = c.compose(&mail, T0).unwrap_err();
        assert!(
            matches!(err, MailError::LineBreak { field: f } if f == field),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("the {field} contains a line break")),
            "{err}"
        );
    }
    let err = c
        .compose(&Mail::new("not an address", "Hi", "x"), T0)
        .unwrap_err();
    assert!(err.to_string().contains("is not a mail address"), "{err}");

    let bad_from = MailFrom {
        name: Some("Acme\r\nBcc: all@evil.example".into()),
        address: "trust@acme.example".into(),
    };
    let err = Composer::new(&bad_from).unwrap_err();
    assert!(
        err.to_string()
            .contains("sender name contains a line break"),
        "{err}"
    );
}
