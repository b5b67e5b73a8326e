//! HTTP(S) probes: one pooled client per guard setting, redirects followed by hand (each hop
//! checked by the guard, loops detected), the whole probe and the body read bounded by the
//! timeout, and the body bounded by `max_body_bytes`.

use std::error::Error as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use candor_core::condition::Observation;
use candor_core::monitor::{HttpCheck, MonitorSpec, format_duration};
use reqwest::{Method, StatusCode, Url, header};
use time::OffsetDateTime;
use tokio::time::{Instant, timeout_at};

use crate::guard::{self, GuardedResolver, Refused};
use crate::probe::{Attempt, millis};
use crate::tls;

/// Idle pooled connections are kept this long; longer than the default 60 s interval so that a
/// monitor reuses its connection from one probe to the next.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// The two clients: one refusing private addresses, one allowing them.
#[derive(Debug, Clone)]
pub(crate) struct HttpClients {
    guarded: reqwest::Client,
    open: reqwest::Client,
    also_allow: Arc<[IpAddr]>,
}

impl HttpClients {
    pub(crate) fn new(
        tls: &Arc<rustls::ClientConfig>,
        also_allow: &Arc<[IpAddr]>,
    ) -> Result<HttpClients, reqwest::Error> {
        Ok(HttpClients {
            guarded: build(tls, false, also_allow)?,
            open: build(tls, true, also_allow)?,
            also_allow: Arc::clone(also_allow),
        })
    }

    pub(crate) async fn probe(
        &self,
        check: &HttpCheck,
        spec: &MonitorSpec,
        needs_body: bool,
        start: Instant,
        deadline: Instant,
        now: OffsetDateTime,
    ) -> Attempt {
        let client = if spec.allow_private {
            &self.open
        } else {
            &self.guarded
        };
        let fail = |message: String| Attempt::fatal(message, start.elapsed());
        let mut url = match Url::parse(&check.url) {
            Ok(u) => u,
            Err(e) => return fail(format!("\"{}\" is not a usable URL: {e}", check.url)),
        };
        let mut method = match Method::from_bytes(check.method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return fail(format!("\"{}\" is not an HTTP method", check.method)),
        };
        let mut body = check.body.clone();
        let mut chain: Vec<Url> = Vec::new();
        let first_origin = url.origin();

        let mut response = loop {
            // reqwest does not resolve IP literals, so the guard checks them here.
            if !spec.allow_private
                && let Some(ip) = literal_ip(&url)
                && let Err(refused) = guard::filter(
                    &ip.to_string(),
                    [std::net::SocketAddr::new(ip, 0)],
                    false,
                    &self.also_allow,
                )
            {
                return fail(with_chain(refused.to_string(), &chain, &url));
            }
            chain.push(url.clone());
            let mut request = client.request(method.clone(), url.clone());
            let same_origin = url.origin() == first_origin;
            for (name, value) in &check.headers {
                // Credentials do not follow a redirect to another origin.
                let sensitive = name.eq_ignore_ascii_case("authorization")
                    || name.eq_ignore_ascii_case("cookie")
                    || name.eq_ignore_ascii_case("proxy-authorization");
                if same_origin || !sensitive {
                    request = request.header(name.as_str(), value.as_str());
                }
            }
            if let Some(b) = &body {
                request = request.body(b.clone());
            }
            let response = match timeout_at(deadline, request.send()).await {
                Err(_) => {
                    return fail(format!(
                        "timed out after {} waiting for {url} to answer",
                        format_duration(spec.timeout)
                    ));
                }
                Ok(Err(e)) => return send_error(&e, &url, &chain, start.elapsed()),
                Ok(Ok(r)) => r,
            };
            let status = response.status();
            if !check.follow_redirects || !is_followed_redirect(status) {
                break response;
            }
            let Some(location) = response
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
            else {
                break response;
            };
            let next = match url.join(location) {
                Ok(n) if matches!(n.scheme(), "http" | "https") => n,
                _ => {
                    return fail(format!(
                        "{url} redirects to \"{location}\", which is not an http(s) URL"
                    ));
                }
            };
            if chain.contains(&next) {
                return fail(format!("redirect loop: {}", render_chain(&chain, &next)));
            }
            if chain.len() > check.max_redirects as usize {
                return fail(format!(
                    "too many redirects (more than max_redirects = {}): {}",
                    check.max_redirects,
                    render_chain(&chain, &next)
                ));
            }
            // 303, and 301/302 after a POST, become a GET without body, as browsers do.
            if status == StatusCode::SEE_OTHER
                || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                    && method == Method::POST)
            {
                if method != Method::HEAD {
                    method = Method::GET;
                }
                body = None;
            }
            url = next;
        };

        let status = response.status().as_u16();
        let ip = response.remote_addr().map(|a| a.ip());
        let certificate_expiration_ms = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .and_then(tls::not_after)
            .map(|not_after| millis_between(now, not_after));

        // The body: bounded in size and by the deadline.
        let limit = usize::try_from(check.max_body_bytes).unwrap_or(usize::MAX);
        let mut bytes: Vec<u8> = Vec::new();
        let mut truncated = false;
        loop {
            match timeout_at(deadline, response.chunk()).await {
                Err(_) => {
                    return fail(format!(
                        "timed out after {} reading the body of {url} ({} bytes received)",
                        format_duration(spec.timeout),
                        bytes.len()
                    ));
                }
                Ok(Err(e)) => {
                    return fail(format!(
                        "reading the body of {url} failed after {} bytes: {}",
                        bytes.len(),
                        innermost(&e)
                    ));
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    let room = limit - bytes.len();
                    if chunk.len() > room {
                        bytes.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    bytes.extend_from_slice(&chunk);
                }
            }
        }
        let elapsed = start.elapsed();
        let mut attempt = Attempt {
            observation: Observation {
                status: Some(status),
                response_time_ms: millis(elapsed),
                body: Some(bytes),
                ip,
                connected: Some(true),
                certificate_expiration_ms,
                ..Observation::default()
            },
            ..Attempt::default()
        };
        if truncated && needs_body {
            attempt.fatal = true;
            attempt.error = Some(format!(
                "the body of {url} is larger than max_body_bytes ({limit} bytes); conditions on [BODY] need the whole body: raise max_body_bytes or check a smaller endpoint"
            ));
        }
        attempt
    }
}

fn build(
    tls: &Arc<rustls::ClientConfig>,
    allow_private: bool,
    also_allow: &Arc<[IpAddr]>,
) -> Result<reqwest::Client, reqwest::Error> {
    let mut config = (**tls).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve names itself, out of the guard's sight.
        .no_proxy()
        .tls_backend_preconfigured(config)
        .tls_info(true)
        .dns_resolver(GuardedResolver {
            allow_private,
            also_allow: Arc::clone(also_allow),
        })
        .pool_idle_timeout(POOL_IDLE)
        .user_agent(concat!("Candor-Monitor/", env!("CARGO_PKG_VERSION")))
        .build()
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn render_chain(chain: &[Url], next: &Url) -> String {
    chain
        .iter()
        .chain(std::iter::once(next))
        .map(|u| u.as_str().to_owned())
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn with_chain(message: String, chain: &[Url], url: &Url) -> String {
    if chain.is_empty() {
        message
    } else {
        format!("{message} (redirected: {})", render_chain(chain, url))
    }
}

fn send_error(e: &reqwest::Error, url: &Url, chain: &[Url], elapsed: Duration) -> Attempt {
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    let mut refused_conn = false;
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return Attempt::fatal(
                with_chain(
                    refused.to_string(),
                    &chain[..chain.len().saturating_sub(1)],
                    url,
                ),
                elapsed,
            );
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            refused_conn = true;
        }
        source = s.source();
    }
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(0);
    let message = if refused_conn {
        format!("connection refused to {host}:{port} (http)")
    } else if e.is_connect() {
        format!(
            "could not connect to {host}:{port} (http): {}",
            innermost(e)
        )
    } else {
        format!("request to {url} failed: {}", innermost(e))
    };
    Attempt {
        observation: Observation {
            response_time_ms: millis(elapsed),
            connected: Some(false),
            ..Observation::default()
        },
        error: Some(message),
        fatal: !e.is_connect(),
        extra: Vec::new(),
    }
}

/// The most specific cause of an error (reqwest wraps hyper wraps io).
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

pub(crate) fn millis_between(now: OffsetDateTime, later: OffsetDateTime) -> i64 {
    let ms = (later - now).whole_milliseconds();
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}
