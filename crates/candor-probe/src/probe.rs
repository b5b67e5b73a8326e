//! One probe of one monitor: run the kind's check, evaluate the conditions, decide the outcome.

use std::sync::Arc;
use std::time::Duration;

use candor_core::condition::{ConditionResult, Observation, evaluate_all};
use candor_core::monitor::{Check, MonitorSpec, format_duration};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::{Outcome, Sample, dns, http, tls};

/// How probes are made.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Trust anchors for HTTPS and TLS monitors; `None`: Mozilla's roots (webpki-roots).
    pub roots: Option<rustls::RootCertStore>,
    /// Internal addresses every monitor may reach without `allow_private` (the operator's own
    /// services); empty by default.
    pub also_allow: Vec<std::net::IpAddr>,
}

/// Why the probe engine could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("could not set up the HTTP client for monitors: {0}")]
pub struct SetupError(#[from] reqwest::Error);

/// Makes probes; cheap to share (`Arc`), holds the pooled HTTP clients and TLS settings.
#[derive(Debug, Clone)]
pub struct Prober {
    http: http::HttpClients,
    tls: Arc<rustls::ClientConfig>,
    also_allow: Arc<[std::net::IpAddr]>,
}

/// What a kind's check found: the observation, and what went wrong if anything.
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    pub observation: Observation,
    /// A problem to report.
    pub error: Option<String>,
    /// The observation is meaningless (timeout, refused by the guard...): down whatever the
    /// conditions say.
    pub fatal: bool,
    /// Verdicts that are not conditions (dns `expect`).
    pub extra: Vec<ConditionResult>,
}

impl Attempt {
    pub(crate) fn fatal(error: String, elapsed: Duration) -> Attempt {
        Attempt {
            observation: Observation {
                response_time_ms: millis(elapsed),
                ..Observation::default()
            },
            error: Some(error),
            fatal: true,
            extra: Vec::new(),
        }
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Prober {
    /// A prober with the given trust anchors.
    pub fn new(options: ProbeOptions) -> Result<Prober, SetupError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let roots = options.roots.unwrap_or_else(|| rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
        let tls = Arc::new(tls::client_config(roots));
        let also_allow: Arc<[std::net::IpAddr]> = options.also_allow.into();
        Ok(Prober {
            http: http::HttpClients::new(&tls, &also_allow)?,
            tls,
            also_allow,
        })
    }

    /// Probes `spec` once. `started_at` is the wall-clock start recorded in the sample (and the
    /// "now" certificate expiry is measured from). Never takes much longer than the timeout.
    pub async fn probe(&self, spec: &MonitorSpec, started_at: OffsetDateTime) -> Sample {
        let start = Instant::now();
        let deadline = start + spec.timeout;
        let work = async {
            match &spec.check {
                Check::Http(check) => {
                    let needs_body = spec.conditions.iter().any(|c| c.uses_body());
                    self.http
                        .probe(check, spec, needs_body, start, deadline, started_at)
                        .await
                }
                Check::Tcp(target) => {
                    tls::tcp_probe(
                        target,
                        spec.allow_private,
                        &self.also_allow,
                        start,
                        deadline,
                    )
                    .await
                }
                Check::Tls(check) => {
                    tls::tls_probe(
                        check,
                        spec.allow_private,
                        &self.also_allow,
                        &self.tls,
                        start,
                        deadline,
                        started_at,
                    )
                    .await
                }
                Check::Dns(check) => {
                    dns::probe(check, spec.allow_private, &self.also_allow, start, deadline).await
                }
                Check::Heartbeat(_) => Attempt::fatal(
                    "heartbeat monitors are not probed; they are judged by their pings".to_owned(),
                    Duration::ZERO,
                ),
            }
        };
        // A backstop: each kind keeps to the deadline itself, with a precise message.
        let attempt =
            match tokio::time::timeout_at(deadline + Duration::from_millis(50), work).await {
                Ok(a) => a,
                Err(_) => Attempt::fatal(
                    format!("timed out after {}", format_duration(spec.timeout)),
                    start.elapsed(),
                ),
            };
        judge(spec, attempt, started_at)
    }
}

fn judge(spec: &MonitorSpec, attempt: Attempt, started_at: OffsetDateTime) -> Sample {
    let latency_ms = attempt.observation.response_time_ms;
    let mut conditions = evaluate_all(&spec.conditions, &attempt.observation);
    conditions.extend(attempt.extra);
    let first_failed = conditions.iter().find(|c| !c.passed);
    let mut error = attempt.error;
    // A problem the conditions accepted (`[DNS_RCODE] == NXDOMAIN`, `[CONNECTED] == false`) is
    // the expected answer, not an error.
    if !attempt.fatal && first_failed.is_none() {
        error = None;
    }
    let outcome = if attempt.fatal || first_failed.is_some() {
        if error.is_none() {
            error = first_failed.map(|c| format!("condition failed: {}", c.detail));
        }
        Outcome::Down
    } else if spec
        .degraded_after
        .is_some_and(|limit| u128::from(latency_ms) > limit.as_millis())
    {
        Outcome::Degraded
    } else {
        Outcome::Up
    };
    Sample {
        monitor_id: spec.id.clone(),
        started_at,
        outcome,
        latency_ms,
        error,
        conditions,
    }
}
