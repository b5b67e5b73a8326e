//! Heartbeat (push) monitors with Healthchecks semantics: a job pings after each run; the
//! monitor is down when no success arrives within `period + grace`, at once on `/fail`, and
//! when a run announced with `/start` does not succeed within `grace`.
//!
//! The push URL carries a secret token. Only its SHA-256 hash is kept; a presented token is
//! checked in constant time.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// What a ping says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingKind {
    /// The job succeeded (`/<token>`, or exit code 0).
    Success,
    /// The job started (`/<token>/start`).
    Start,
    /// The job failed (`/<token>/fail`, or a non-zero exit code).
    Fail,
}

impl PingKind {
    /// The kind of an exit-code ping (`/<token>/<code>`): 0 is success, anything else failure.
    pub fn from_exit_code(code: u8) -> PingKind {
        if code == 0 {
            PingKind::Success
        } else {
            PingKind::Fail
        }
    }
}

/// A heartbeat monitor's state at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatStatus {
    /// Never pinged.
    New,
    /// Pinged on time.
    Up,
    /// Past its period, still within grace (Healthchecks' "late"): not yet down.
    Late,
    /// Missed its deadline, failed, or ran longer than the grace after `/start`.
    Down,
}

impl HeartbeatStatus {
    /// The sample outcome (`None` while new).
    pub fn outcome(self) -> Option<crate::Outcome> {
        match self {
            HeartbeatStatus::New => None,
            HeartbeatStatus::Up | HeartbeatStatus::Late => Some(crate::Outcome::Up),
            HeartbeatStatus::Down => Some(crate::Outcome::Down),
        }
    }
}

/// Pings received by one heartbeat monitor, and the verdict they give. Pure.
#[derive(Debug, Clone)]
pub struct HeartbeatTracker {
    period: Duration,
    grace: Duration,
    last_success: Option<OffsetDateTime>,
    last_start: Option<OffsetDateTime>,
    last_fail: Option<OffsetDateTime>,
}

impl HeartbeatTracker {
    /// A tracker that has seen no ping.
    pub fn new(period: Duration, grace: Duration) -> Self {
        HeartbeatTracker {
            period,
            grace,
            last_success: None,
            last_start: None,
            last_fail: None,
        }
    }

    /// (period, grace).
    pub fn period(&self) -> (Duration, Duration) {
        (self.period, self.grace)
    }

    /// Records a ping received at `at`.
    pub fn ping(&mut self, kind: PingKind, at: OffsetDateTime) {
        let slot = match kind {
            PingKind::Success => &mut self.last_success,
            PingKind::Start => &mut self.last_start,
            PingKind::Fail => &mut self.last_fail,
        };
        // Pings may arrive out of order; keep the latest of each kind.
        if slot.is_none_or(|t| t <= at) {
            *slot = Some(at);
        }
    }

    /// The status at `now`.
    pub fn evaluate(&self, now: OffsetDateTime) -> HeartbeatStatus {
        let after = |a: Option<OffsetDateTime>, b: Option<OffsetDateTime>| match (a, b) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            _ => false,
        };
        // The latest word was a failure.
        if after(self.last_fail, self.last_success) && !after(self.last_start, self.last_fail) {
            return HeartbeatStatus::Down;
        }
        let running =
            after(self.last_start, self.last_success) && after(self.last_start, self.last_fail);
        let grace = time::Duration::try_from(self.grace).unwrap_or(time::Duration::MAX);
        let period = time::Duration::try_from(self.period).unwrap_or(time::Duration::MAX);
        // The period is counted from the last success; a started run must finish within grace.
        let late_from = match (
            self.last_success,
            running.then_some(self.last_start).flatten(),
        ) {
            (_, Some(start)) => {
                let by_period = self.last_success.map(|s| s.saturating_add(period));
                Some(by_period.map_or(start, |p| p.min(start)))
            }
            (Some(success), None) => Some(success.saturating_add(period)),
            (None, None) => None,
        };
        let Some(late_from) = late_from else {
            // Only failures followed by a start, or nothing at all.
            return if self.last_fail.is_some() {
                HeartbeatStatus::Down
            } else {
                HeartbeatStatus::New
            };
        };
        if now > late_from.saturating_add(grace) {
            HeartbeatStatus::Down
        } else if now > late_from && !running {
            HeartbeatStatus::Late
        } else {
            HeartbeatStatus::Up
        }
    }
}

/// The SHA-256 of a push token: what is stored. `Debug` shows only a prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// From its hex form (as stored).
    pub fn from_hex(text: &str) -> Option<TokenHash> {
        let bytes = hex::decode(text).ok()?;
        <[u8; 32]>::try_from(bytes).ok().map(TokenHash)
    }

    /// Its hex form, for storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Whether `presented` is the token, compared in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        let candidate: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(candidate.ct_eq(&self.0))
    }
}

/// A push token (a secret: never shown by `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct PushToken(String);

impl fmt::Debug for PushToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushToken(<redacted>)")
    }
}

/// Why a push token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file could not be read.
    #[error("cannot read the heartbeat token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The token in the file is too short to be a secret.
    #[error(
        "the heartbeat token in {path} is too short; use at least 16 characters (e.g. `openssl rand -hex 16`)"
    )]
    TooShort {
        /// The file.
        path: String,
    },
    /// No randomness.
    #[error("no randomness available to generate a heartbeat token")]
    Random,
}

impl PushToken {
    /// A new random token (32 hex characters, 128 bits).
    pub fn generate() -> Result<PushToken, TokenError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| TokenError::Random)?;
        Ok(PushToken(hex::encode(bytes)))
    }

    /// The token in `path` (surrounding whitespace ignored).
    pub fn from_file(path: &Path) -> Result<PushToken, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let token = text.trim();
        if token.len() < 16 {
            return Err(TokenError::TooShort {
                path: path.display().to_string(),
            });
        }
        Ok(PushToken(token.to_owned()))
    }

    /// The token itself, to show once to the person setting up the job.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its hash, the only thing to keep.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    fn minutes(m: i64) -> OffsetDateTime {
        T0 + time::Duration::minutes(m)
    }

    /// Period 60 min, grace 10 min.
    fn tracker() -> HeartbeatTracker {
        HeartbeatTracker::new(Duration::from_secs(3600), Duration::from_secs(600))
    }

    #[test]
    fn success_keeps_it_up_until_period_plus_grace() {
        let mut t = tracker();
        assert_eq!(t.evaluate(minutes(0)), HeartbeatStatus::New);
        t.ping(PingKind::Success, minutes(0));
        assert_eq!(t.evaluate(minutes(60)), HeartbeatStatus::Up);
        assert_eq!(t.evaluate(minutes(61)), HeartbeatStatus::Late);
        assert_eq!(t.evaluate(minutes(70)), HeartbeatStatus::Late);
        assert_eq!(t.evaluate(minutes(71)), HeartbeatStatus::Down);
        t.ping(PingKind::Success, minutes(72));
        assert_eq!(t.evaluate(minutes(72)), HeartbeatStatus::Up);
    }

    #[test]
    fn fail_is_down_at_once_until_the_next_success() {
        let mut t = tracker();
        t.ping(PingKind::Success, minutes(0));
        t.ping(PingKind::Fail, minutes(5));
        assert_eq!(t.evaluate(minutes(5)), HeartbeatStatus::Down);
        t.ping(PingKind::Success, minutes(6));
        assert_eq!(t.evaluate(minutes(6)), HeartbeatStatus::Up);
        assert_eq!(PingKind::from_exit_code(3), PingKind::Fail);
        assert_eq!(PingKind::from_exit_code(0), PingKind::Success);
    }

    #[test]
    fn a_started_run_must_succeed_within_grace() {
        let mut t = tracker();
        t.ping(PingKind::Success, minutes(0));
        t.ping(PingKind::Start, minutes(30));
        assert_eq!(t.evaluate(minutes(40)), HeartbeatStatus::Up);
        assert_eq!(
            t.evaluate(minutes(41)),
            HeartbeatStatus::Down,
            "ran longer than grace"
        );
        t.ping(PingKind::Success, minutes(42));
        assert_eq!(t.evaluate(minutes(42)), HeartbeatStatus::Up);
        // A start after a failure: running again, judged by grace.
        let mut t = tracker();
        t.ping(PingKind::Fail, minutes(0));
        t.ping(PingKind::Start, minutes(1));
        assert_eq!(t.evaluate(minutes(5)), HeartbeatStatus::Up);
        assert_eq!(t.evaluate(minutes(12)), HeartbeatStatus::Down);
    }

    #[test]
    fn tokens_are_kept_only_as_hashes_and_never_printed() {
        let token = PushToken::generate().unwrap();
        assert_eq!(token.expose().len(), 32);
        let hash = token.hash();
        assert!(hash.verify(token.expose()));
        assert!(!hash.verify("wrong"));
        assert!(!hash.verify(&token.expose()[..31]));
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash.clone()));
        assert!(!format!("{token:?}{hash:?}").contains(token.expose()));
        assert!(!format!("{hash:?}").contains(&hash.to_hex()));
    }

    #[test]
    fn token_files_are_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("candor-probe-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(&good, "  0123456789abcdef0123\n").unwrap();
        assert_eq!(
            PushToken::from_file(&good).unwrap().expose(),
            "0123456789abcdef0123"
        );
        let short = dir.join("short");
        std::fs::write(&short, "abc").unwrap();
        assert!(matches!(
            PushToken::from_file(&short),
            Err(TokenError::TooShort { .. })
        ));
        assert!(PushToken::from_file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
