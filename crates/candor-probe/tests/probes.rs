//! Probes against real sockets on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use candor_probe::{Outcome, ProbeOptions, Prober};
use support::*;
use time::OffsetDateTime;

fn err(s: &candor_probe::Sample) -> &str {
    s.error.as_deref().unwrap_or("")
}

#[tokio::test]
async fn json_body_conditions_decide_the_outcome() {
    let server = http_server("127.0.0.1", |_| {
        ok(r#"{"status":"UP","data":[1,2,3],"age":3,"id":3}"#)
    })
    .await;
    let url = server.url("/health");
    let up = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{url}\"\nallow_private = true\nconditions = [\"[STATUS] == any(200, 429)\", \"[BODY].status == UP\", \"len([BODY].data) < 5\", \"[BODY].age == [BODY].id\", \"has([BODY].errors) == false\", \"[RESPONSE_TIME] < 5000\"]"
    )))
    .await;
    assert_eq!(up.outcome, Outcome::Up, "{up:?}");
    assert_eq!(up.error, None);
    assert_eq!(up.conditions.len(), 6);
    assert!(up.conditions.iter().all(|c| c.passed));
    assert_eq!(up.conditions[1].detail, "[BODY].status (UP) == UP");

    let down = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{url}\"\nallow_private = true\nconditions = [\"[STATUS] == 200\", \"[BODY].status == DOWN\"]"
    )))
    .await;
    assert_eq!(down.outcome, Outcome::Down);
    assert_eq!(err(&down), "condition failed: [BODY].status (UP) == DOWN");
    assert!(down.conditions[0].passed && !down.conditions[1].passed);
}

#[tokio::test]
async fn closed_port_is_down_with_connection_refused() {
    let port = closed_port().await;
    let tcp = probe(&spec(&format!(
        "kind = \"tcp\"\ntarget = \"127.0.0.1:{port}\"\nallow_private = true"
    )))
    .await;
    assert_eq!(tcp.outcome, Outcome::Down);
    assert_eq!(
        err(&tcp),
        format!("connection refused to 127.0.0.1:{port} (tcp)")
    );
    let http = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"http://127.0.0.1:{port}/\"\nallow_private = true"
    )))
    .await;
    assert_eq!(http.outcome, Outcome::Down);
    assert_eq!(
        err(&http),
        format!("connection refused to 127.0.0.1:{port} (http)")
    );
    // Expecting a closed port is allowed, and then nothing is wrong.
    let closed = probe(&spec(&format!(
        "kind = \"tcp\"\ntarget = \"127.0.0.1:{port}\"\nallow_private = true\nconditions = [\"[CONNECTED] == false\"]"
    )))
    .await;
    assert_eq!((closed.outcome, closed.error), (Outcome::Up, None));
}

#[tokio::test]
async fn open_port_is_up_with_its_address() {
    let server = http_server("127.0.0.1", |_| ok("")).await;
    let s = probe(&spec(&format!(
        "kind = \"tcp\"\ntarget = \"{}\"\nallow_private = true\nconditions = [\"[CONNECTED] == true\", \"[IP] == 127.0.0.1\"]",
        server.addr
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Up, "{s:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = http_server("127.0.0.1", |_| Reply::Hang).await;
    let started = Instant::now();
    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{}\"\nallow_private = true\ninterval = \"2s\"\ntimeout = \"500ms\"",
        server.url("/")
    )))
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.outcome, Outcome::Down);
    assert_eq!(
        err(&s),
        format!(
            "timed out after 500ms waiting for {} to answer",
            server.url("/")
        )
    );
    assert!(s.latency_ms >= 500);
}

#[tokio::test]
async fn redirects_are_followed_loops_and_excess_are_reported() {
    let server = http_server("127.0.0.1", |path| match path {
        "/a" => redirect(302, "/b"),
        "/b" => redirect(301, "/a"),
        "/old" => redirect(308, "/new"),
        "/new" => ok("new"),
        p if p.starts_with("/hop/") => {
            let n: u32 = p[5..].parse().unwrap();
            redirect(307, &format!("/hop/{}", n + 1))
        }
        _ => Reply::Full(404, vec![], String::new()),
    })
    .await;
    let base = server.url("");
    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{base}/a\"\nallow_private = true"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert_eq!(
        err(&s),
        format!("redirect loop: {base}/a -> {base}/b -> {base}/a")
    );

    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{base}/hop/0\"\nallow_private = true\nmax_redirects = 2"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert_eq!(
        err(&s),
        format!(
            "too many redirects (more than max_redirects = 2): {base}/hop/0 -> {base}/hop/1 -> {base}/hop/2 -> {base}/hop/3"
        )
    );

    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{base}/old\"\nallow_private = true\nconditions = [\"[STATUS] == 200\", \"[BODY] == new\"]"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Up, "{s:?}");

    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{base}/old\"\nallow_private = true\nfollow_redirects = false\nconditions = [\"[STATUS] == 308\"]"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Up, "{s:?}");
}

#[tokio::test]
async fn an_endless_body_is_read_only_up_to_max_body_bytes() {
    let server = http_server("127.0.0.1", |_| Reply::Forever).await;
    let url = server.url("/stream");
    let started = Instant::now();
    // Status-only conditions: the prefix is enough, the probe ends quickly and is up.
    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{url}\"\nallow_private = true\nmax_body_bytes = 65536\ntimeout = \"5s\""
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Up, "{s:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // A [BODY] condition cannot be judged on a prefix: down, with the reason.
    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{url}\"\nallow_private = true\nmax_body_bytes = 65536\ntimeout = \"5s\"\nconditions = [\"[BODY] == pat(*x*)\"]"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert!(
        err(&s).starts_with(&format!(
            "the body of {url} is larger than max_body_bytes (65536 bytes)"
        )),
        "{s:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test]
async fn a_trickling_body_times_out() {
    let server = http_server("127.0.0.1", |_| Reply::Trickle).await;
    let started = Instant::now();
    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{}\"\nallow_private = true\ninterval = \"5s\"\ntimeout = \"1s\"",
        server.url("/slow")
    )))
    .await;
    assert!(started.elapsed() < Duration::from_millis(2000));
    assert_eq!(s.outcome, Outcome::Down);
    assert!(
        err(&s).starts_with(&format!(
            "timed out after 1s reading the body of {}",
            server.url("/slow")
        )),
        "{s:?}"
    );
}

#[tokio::test]
async fn slow_but_correct_answers_are_degraded() {
    let server = http_server("127.0.0.1", |_| {
        Reply::After(Duration::from_millis(300), Box::new(ok("ok")))
    })
    .await;
    let url = server.url("/");
    let slow = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{url}\"\nallow_private = true\ndegraded_after = \"100ms\""
    )))
    .await;
    assert_eq!(slow.outcome, Outcome::Degraded, "{slow:?}");
    assert!(slow.latency_ms >= 300);
    let fine = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"{url}\"\nallow_private = true\ndegraded_after = \"2s\""
    )))
    .await;
    assert_eq!(fine.outcome, Outcome::Up);
}

#[tokio::test]
async fn the_guard_refuses_loopback_after_resolution() {
    let server = http_server("127.0.0.1", |_| ok("secret")).await;
    let port = server.addr.port();
    // A name resolving to 127.0.0.1.
    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"http://localhost:{port}/\""
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert!(
        err(&s).starts_with("refused to connect to localhost ("),
        "{s:?}"
    );
    assert!(err(&s).contains("allow_private = true"), "{s:?}");
    // An IP literal, in any spelling.
    for host in ["127.0.0.1", "127.1", "[::ffff:127.0.0.1]"] {
        let s = probe(&spec(&format!(
            "kind = \"http\"\nurl = \"http://{host}:{port}/\""
        )))
        .await;
        assert_eq!(s.outcome, Outcome::Down, "{host}");
        assert!(
            err(&s).starts_with("refused to connect to"),
            "{host}: {s:?}"
        );
    }
    // tcp and tls targets too.
    let s = probe(&spec(&format!(
        "kind = \"tcp\"\ntarget = \"localhost:{port}\""
    )))
    .await;
    assert!(
        err(&s).starts_with("refused to connect to localhost ("),
        "{s:?}"
    );
    let s = probe(&spec(&format!(
        "kind = \"tls\"\ntarget = \"127.0.0.1:{port}\""
    )))
    .await;
    assert!(
        err(&s).starts_with("refused to connect to 127.0.0.1:"),
        "{s:?}"
    );
    // And an explicit DNS resolver.
    let s = probe(&spec(&format!(
        "kind = \"dns\"\nquery = \"example.com\"\nresolver = \"127.0.0.1:{port}\""
    )))
    .await;
    assert!(
        err(&s).starts_with("refused to connect to 127.0.0.1"),
        "{s:?}"
    );
    assert_eq!(server.hits(), 0, "no request may reach the internal server");
    // The same monitor with allow_private reaches it.
    let s = probe(&spec(&format!(
        "kind = \"http\"\nurl = \"http://localhost:{port}/\"\nallow_private = true"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Up, "{s:?}");
}

#[tokio::test]
async fn the_guard_checks_every_redirect_hop() {
    // The "public" side is 127.0.0.2, which this prober is told to trust; the redirect goes to
    // 127.0.0.1 (by name and by literal), which it is not.
    let internal = http_server("127.0.0.1", |_| ok("secret")).await;
    let target_port = internal.addr.port();
    let public = http_server("127.0.0.2", move |path| match path {
        "/to-name" => redirect(302, &format!("http://localhost:{target_port}/admin")),
        "/to-literal" => redirect(302, &format!("http://127.0.0.1:{target_port}/admin")),
        _ => ok("public"),
    })
    .await;
    let prober = Prober::new(ProbeOptions {
        also_allow: vec!["127.0.0.2".parse().unwrap()],
        ..ProbeOptions::default()
    })
    .unwrap();
    let now = OffsetDateTime::now_utc();
    let plain = prober
        .probe(
            &spec(&format!("kind = \"http\"\nurl = \"{}\"", public.url("/"))),
            now,
        )
        .await;
    assert_eq!(
        plain.outcome,
        Outcome::Up,
        "the trusted first hop is allowed: {plain:?}"
    );
    for path in ["/to-name", "/to-literal"] {
        let s = prober
            .probe(
                &spec(&format!("kind = \"http\"\nurl = \"{}\"", public.url(path))),
                now,
            )
            .await;
        assert_eq!(s.outcome, Outcome::Down, "{path}");
        assert!(
            err(&s).starts_with("refused to connect to"),
            "{path}: {s:?}"
        );
        assert!(
            err(&s).contains(&format!("(redirected: {}", public.url(path))),
            "{path}: {s:?}"
        );
    }
    assert_eq!(internal.hits(), 0);
}

#[tokio::test]
async fn dns_answers_rcodes_and_silence() {
    let nx = dns_server(DnsReply::Rcode(3)).await;
    let s = probe(&spec(&format!(
        "kind = \"dns\"\nquery = \"nope.invalid\"\nresolver = \"{nx}\"\nallow_private = true"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert_eq!(err(&s), "DNS lookup failed for nope.invalid: NXDOMAIN");
    let s = probe(&spec(&format!(
        "kind = \"dns\"\nquery = \"nope.invalid\"\nresolver = \"{nx}\"\nallow_private = true\nconditions = [\"[DNS_RCODE] == NXDOMAIN\"]"
    )))
    .await;
    assert_eq!(
        (s.outcome, s.error.clone()),
        (Outcome::Up, None),
        "an expected NXDOMAIN is fine"
    );

    let servfail = dns_server(DnsReply::Rcode(2)).await;
    let s = probe(&spec(&format!(
        "kind = \"dns\"\nquery = \"example.com\"\nresolver = \"{servfail}\"\nallow_private = true"
    )))
    .await;
    assert_eq!(err(&s), "DNS lookup failed for example.com: SERVFAIL");

    let answers = dns_server(DnsReply::A(vec![[192, 0, 2, 1], [192, 0, 2, 2]])).await;
    let s = probe(&spec(&format!(
        "kind = \"dns\"\nquery = \"example.com\"\nresolver = \"{answers}\"\nallow_private = true\nexpect = [\"192.0.2.2\"]\nconditions = [\"[DNS_RCODE] == NOERROR\", \"[IP] == 192.0.2.1\", \"[BODY] == pat(*192.0.2.2*)\"]"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Up, "{s:?}");
    let s = probe(&spec(&format!(
        "kind = \"dns\"\nquery = \"example.com\"\nresolver = \"{answers}\"\nallow_private = true\nexpect = [\"192.0.2.9\"]"
    )))
    .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert_eq!(err(&s), "condition failed: expect A 192.0.2.9 (absent)");

    let silent = dns_server(DnsReply::Silent).await;
    let started = Instant::now();
    let s = probe(&spec(&format!(
        "kind = \"dns\"\nquery = \"example.com\"\nresolver = \"{silent}\"\nallow_private = true\ninterval = \"5s\"\ntimeout = \"700ms\""
    )))
    .await;
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(s.outcome, Outcome::Down);
    assert_eq!(
        err(&s),
        format!("DNS resolver {silent} did not answer within 700ms (query A example.com)")
    );
}

fn tls_prober(roots: rustls::RootCertStore) -> Prober {
    Prober::new(ProbeOptions {
        roots: Some(roots),
        ..ProbeOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn tls_certificates_are_verified_and_their_expiry_measured() {
    let now = OffsetDateTime::now_utc();
    let good = tls_server(&["localhost"], now + time::Duration::days(30)).await;
    let prober = tls_prober(good.roots.clone());
    let target = format!(
        "target = \"{}\"\nhostname = \"localhost\"\nallow_private = true",
        good.addr
    );
    let s = prober
        .probe(&spec(&format!("kind = \"tls\"\n{target}")), now)
        .await;
    assert_eq!(s.outcome, Outcome::Up, "{s:?}");
    let s = prober
        .probe(&spec(&format!("kind = \"tls\"\n{target}\nconditions = [\"[CERTIFICATE_EXPIRATION] > 168h\", \"[CERTIFICATE_EXPIRATION] < 31d\"]")), now)
        .await;
    assert_eq!(s.outcome, Outcome::Up, "{s:?}");
    let s = prober
        .probe(
            &spec(&format!(
                "kind = \"tls\"\n{target}\nconditions = [\"[CERTIFICATE_EXPIRATION] > 45d\"]"
            )),
            now,
        )
        .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert!(
        err(&s).starts_with("condition failed: [CERTIFICATE_EXPIRATION] ("),
        "{s:?}"
    );

    // Wrong host name.
    let s = prober
        .probe(&spec(&format!("kind = \"tls\"\ntarget = \"{}\"\nhostname = \"other.example\"\nallow_private = true", good.addr)), now)
        .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert!(
        err(&s).contains("the certificate is not valid for other.example"),
        "{s:?}"
    );

    // Expired.
    let expired = tls_server(&["localhost"], now - time::Duration::days(2)).await;
    let s = tls_prober(expired.roots.clone())
        .probe(
            &spec(&format!(
                "kind = \"tls\"\ntarget = \"{}\"\nhostname = \"localhost\"\nallow_private = true",
                expired.addr
            )),
            now,
        )
        .await;
    assert_eq!(s.outcome, Outcome::Down);
    assert!(err(&s).contains("the certificate has expired"), "{s:?}");

    // Signed by an authority the prober does not trust.
    let s = tls_prober(expired.roots)
        .probe(&spec(&format!("kind = \"tls\"\n{target}")), now)
        .await;
    assert!(err(&s).contains("unknown issuer"), "{s:?}");
}
