//! The demo target: a tiny HTTP service on loopback that is healthy except for the first part
//! of every cycle, so the demo trust center's monitors see real outages, draft real incidents
//! and build real history. `GET /health` answers `{"status":"UP"}` (200) or
//! `{"status":"DOWN"}` (503); the cycle is aligned to the Unix epoch, so restarts do not move it.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use candor_core::config::DemoTarget;

/// Whether the target fails at Unix time `now_secs`.
pub fn failing_at(target: &DemoTarget, now_secs: u64) -> bool {
    let cycle = target.cycle.as_secs().max(1);
    now_secs % cycle < target.down_for.as_secs()
}

/// Starts it; errors when the address is taken.
pub async fn start(target: DemoTarget) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(target.listen)
        .await
        .map_err(|e| format!("the demo target cannot listen on {}: {e}", target.listen))?;
    let shared = target.clone();
    let health = move || {
        let target = shared.clone();
        async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs();
            if failing_at(&target, now) {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("content-type", "application/json")],
                    "{\"status\":\"DOWN\"}",
                )
            } else {
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    "{\"status\":\"UP\"}",
                )
            }
        }
    };
    let app = Router::new().route("/health", get(health));
    tracing::info!(listen = %target.listen, cycle_s = target.cycle.as_secs(), down_for_s = target.down_for.as_secs(), "demo target started (fails at the start of every cycle)");
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the demo target stopped");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_only_at_the_start_of_each_cycle() {
        let t = DemoTarget {
            listen: "127.0.0.1:1"
                .parse()
                .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 1))),
            cycle: Duration::from_secs(1200),
            down_for: Duration::from_secs(120),
        };
        assert!(failing_at(&t, 1200 * 5));
        assert!(failing_at(&t, 1200 * 5 + 119));
        assert!(!failing_at(&t, 1200 * 5 + 120));
        assert!(!failing_at(&t, 1200 * 6 - 1));
    }
}
