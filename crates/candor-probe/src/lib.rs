//! Candor's check engine: probes (HTTP(S), TCP, DNS, TLS) that turn a [`MonitorSpec`] into a
//! [`Sample`], an outbound guard that keeps them off private networks, the threshold state
//! machine that turns samples into up/down transitions, heartbeat (push) tracking, and a
//! fixed-rate scheduler that runs thousands of monitors without bunching them up.
//!
//! Monitors are declared and validated in [`candor_core::monitor`]; conditions are evaluated
//! by [`candor_core::condition`].
#![forbid(unsafe_code)]

pub mod dns;
pub mod guard;
pub mod heartbeat;
pub mod http;
pub mod probe;
pub mod schedule;
pub mod slip;
pub mod state;
pub mod tls;

use candor_core::condition::ConditionResult;
use time::OffsetDateTime;

pub use heartbeat::{HeartbeatStatus, HeartbeatTracker, PingKind, PushToken, TokenHash};
pub use probe::{ProbeOptions, Prober};
pub use schedule::{Scheduler, SchedulerOptions};
pub use slip::SlipSnapshot;
pub use state::{MonitorState, StateMachine, Transition};

#[doc(no_inline)]
pub use candor_core::monitor::MonitorSpec;

/// How one probe went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every condition held, in time.
    Up,
    /// Every condition held, but slower than `degraded_after`.
    Degraded,
    /// A condition failed or the probe could not be made.
    Down,
}

impl Outcome {
    /// `up`, `degraded` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Degraded => "degraded",
            Outcome::Down => "down",
        }
    }
}

/// The result of one probe of one monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The monitor's id.
    pub monitor_id: String,
    /// When the probe started (wall clock, UTC).
    pub started_at: OffsetDateTime,
    /// Up, degraded or down.
    pub outcome: Outcome,
    /// Milliseconds from the start of the probe to its answer.
    pub latency_ms: u64,
    /// What went wrong, in words a person can act on.
    pub error: Option<String>,
    /// Each condition's verdict, in declaration order.
    pub conditions: Vec<ConditionResult>,
}
