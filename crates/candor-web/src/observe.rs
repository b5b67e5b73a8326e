//! Per-request bookkeeping: security headers, Prometheus metrics by route, and `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::App;

const DURATION: &str = "candor_http_request_duration_seconds";
const REQUESTS: &str = "candor_http_requests_total";

/// The app's own metrics registry (not the process-global one, so that several servers can
/// run in one test process).
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Metrics {
    /// A registry with latency buckets from 100 µs to 5 s and the build info recorded.
    pub fn new() -> Metrics {
        let buckets = [
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5, 5.0,
        ];
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets_for_metric(Matcher::Full(DURATION.into()), &buckets)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!(
                REQUESTS,
                "HTTP requests answered, by route, method and status"
            );
            metrics::describe_histogram!(
                DURATION,
                metrics::Unit::Seconds,
                "Time to answer HTTP requests, by route"
            );
            metrics::describe_gauge!(
                "candor_build_info",
                "Always 1; labels say which build is running"
            );
            metrics::gauge!("candor_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        });
        Metrics { recorder, handle }
    }

    /// Sets a gauge in this registry.
    pub fn set_gauge(&self, name: &'static str, value: f64) {
        metrics::with_local_recorder(&self.recorder, || metrics::gauge!(name).set(value));
    }

    /// Folds recorded histogram samples into their buckets every few seconds; without it samples
    /// pile up in memory until the next `/metrics` scrape.
    pub fn spawn_upkeep(&self) {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        });
    }

    fn record(&self, route: String, method: &str, status: u16, seconds: f64) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(REQUESTS, "route" => route.clone(), "method" => method.to_owned(), "status" => status.to_string()).increment(1);
            metrics::histogram!(DURATION, "route" => route).record(seconds);
        });
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Wraps every request: adds the security headers and records count and latency by route.
/// Portal pages are one route (`portal`) so that arbitrary paths cannot explode label cardinality.
pub async fn around_request(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "portal".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let mut response = next.run(request).await;
    let published = app.current.load();
    let headers = response.headers_mut();
    for (name, value) in &published.security_headers {
        headers.insert(name.clone(), value.clone());
    }
    app.metrics.record(
        route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let body = app.metrics.handle.render();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
