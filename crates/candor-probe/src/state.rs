//! From samples to state: a monitor changes state only after `failure_threshold` consecutive
//! failures or `success_threshold` consecutive successes, and the transition is dated at the
//! start of the first sample of the run that caused it, so an outage starts when it started,
//! not when it was confirmed.

use time::OffsetDateTime;

use crate::{Outcome, Sample};

/// A monitor's confirmed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorState {
    /// No sample yet.
    Unknown,
    /// Working.
    Up,
    /// Working but slow.
    Degraded,
    /// Not working.
    Down,
}

impl MonitorState {
    fn of(outcome: Outcome) -> MonitorState {
        match outcome {
            Outcome::Up => MonitorState::Up,
            Outcome::Degraded => MonitorState::Degraded,
            Outcome::Down => MonitorState::Down,
        }
    }
}

/// A confirmed change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The monitor.
    pub monitor_id: String,
    /// The state before.
    pub from: MonitorState,
    /// The state after.
    pub to: MonitorState,
    /// Start of the first sample of the run that caused the change.
    pub at: OffsetDateTime,
}

/// A run of consecutive samples: how long, and when its first sample started.
#[derive(Debug, Clone, Copy)]
struct Run {
    len: u32,
    since: OffsetDateTime,
}

impl Run {
    fn extend(run: Option<Run>, at: OffsetDateTime) -> Run {
        match run {
            Some(r) => Run {
                len: r.len.saturating_add(1),
                since: r.since,
            },
            None => Run { len: 1, since: at },
        }
    }
}

/// The threshold state machine of one monitor. Pure.
///
/// - Down after `failure_threshold` consecutive down samples.
/// - Out of down after `success_threshold` consecutive samples that are not down; the new state
///   is the latest sample's (up or degraded).
/// - Between up and degraded after `success_threshold` consecutive samples of the other kind.
/// - From unknown, the first up or degraded sample decides at once (there is nothing to protect
///   against flapping yet), but down still needs `failure_threshold` samples, so a blip at start
///   is not recorded as an outage.
#[derive(Debug, Clone)]
pub struct StateMachine {
    monitor_id: String,
    failure_threshold: u32,
    success_threshold: u32,
    state: MonitorState,
    failures: Option<Run>,
    successes: Option<Run>,
    same: Option<(Outcome, Run)>,
}

impl StateMachine {
    /// A machine in the unknown state. Thresholds below 1 count as 1.
    pub fn new(
        monitor_id: impl Into<String>,
        failure_threshold: u32,
        success_threshold: u32,
    ) -> Self {
        StateMachine {
            monitor_id: monitor_id.into(),
            failure_threshold: failure_threshold.max(1),
            success_threshold: success_threshold.max(1),
            state: MonitorState::Unknown,
            failures: None,
            successes: None,
            same: None,
        }
    }

    /// A machine that resumes in `state` (after a restart, from the open interval), so a
    /// monitor that was up stays up without a fresh run of successes.
    pub fn resume(
        monitor_id: impl Into<String>,
        failure_threshold: u32,
        success_threshold: u32,
        state: MonitorState,
    ) -> Self {
        StateMachine {
            state,
            ..StateMachine::new(monitor_id, failure_threshold, success_threshold)
        }
    }

    /// The confirmed state.
    pub fn state(&self) -> MonitorState {
        self.state
    }

    /// (failure threshold, success threshold).
    pub fn thresholds(&self) -> (u32, u32) {
        (self.failure_threshold, self.success_threshold)
    }

    /// Feeds one sample; returns the transition it confirmed, if any.
    pub fn observe(&mut self, sample: &Sample) -> Option<Transition> {
        self.record(sample.outcome, sample.started_at)
    }

    /// Feeds one outcome that started at `at`.
    pub fn record(&mut self, outcome: Outcome, at: OffsetDateTime) -> Option<Transition> {
        if outcome == Outcome::Down {
            self.failures = Some(Run::extend(self.failures, at));
            self.successes = None;
        } else {
            self.successes = Some(Run::extend(self.successes, at));
            self.failures = None;
        }
        self.same = Some(match self.same {
            Some((o, run)) if o == outcome => (o, Run::extend(Some(run), at)),
            _ => (outcome, Run { len: 1, since: at }),
        });

        let target = MonitorState::of(outcome);
        if target == self.state {
            return None;
        }
        let since = match (self.state, outcome) {
            (_, Outcome::Down) => self
                .failures
                .filter(|r| r.len >= self.failure_threshold)
                .map(|r| r.since),
            (MonitorState::Unknown, _) => Some(at),
            (MonitorState::Down, _) => self
                .successes
                .filter(|r| r.len >= self.success_threshold)
                .map(|r| r.since),
            (MonitorState::Up | MonitorState::Degraded, _) => self
                .same
                .map(|(_, r)| r)
                .filter(|r| r.len >= self.success_threshold)
                .map(|r| r.since),
        }?;
        let from = self.state;
        self.state = target;
        Some(Transition {
            monitor_id: self.monitor_id.clone(),
            from,
            to: target,
            at: since,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    fn at(minute: i64) -> OffsetDateTime {
        T0 + Duration::minutes(minute)
    }

    fn feed(m: &mut StateMachine, outcomes: &str) -> Vec<(MonitorState, MonitorState, i64)> {
        outcomes
            .chars()
            .enumerate()
            .filter_map(|(i, c)| {
                let o = match c {
                    'u' => Outcome::Up,
                    'd' => Outcome::Degraded,
                    _ => Outcome::Down,
                };
                m.record(o, at(i as i64))
            })
            .map(|t| (t.from, t.to, (t.at - T0).whole_minutes()))
            .collect()
    }

    use MonitorState::{Degraded as D, Down as X, Unknown as U, Up};

    #[test]
    fn outage_needs_three_failures_and_starts_at_the_first() {
        let mut m = StateMachine::new("api", 3, 2);
        assert_eq!(
            feed(&mut m, "uuXXuXXXXuXuu"),
            vec![(U, Up, 0), (Up, X, 5), (X, Up, 11)]
        );
    }

    #[test]
    fn recovery_needs_consecutive_successes_mixed_up_and_degraded_count() {
        let mut m = StateMachine::new("api", 1, 3);
        assert_eq!(feed(&mut m, "XuuXudu"), vec![(U, X, 0), (X, Up, 4)]);
        assert_eq!(m.state(), Up);
    }

    #[test]
    fn degraded_needs_its_own_run() {
        let mut m = StateMachine::new("api", 3, 2);
        assert_eq!(
            feed(&mut m, "ududdduu"),
            vec![(U, Up, 0), (Up, D, 3), (D, Up, 6)]
        );
    }

    #[test]
    fn a_blip_at_start_is_not_an_outage() {
        let mut m = StateMachine::new("api", 3, 2);
        assert_eq!(feed(&mut m, "Xu"), vec![(U, Up, 1)]);
        let mut m = StateMachine::new("api", 2, 2);
        assert_eq!(feed(&mut m, "XX"), vec![(U, X, 0)]);
    }

    #[test]
    fn thresholds_of_one_flip_at_once() {
        let mut m = StateMachine::new("api", 1, 1);
        assert_eq!(
            feed(&mut m, "uXu"),
            vec![(U, Up, 0), (Up, X, 1), (X, Up, 2)]
        );
    }
}
