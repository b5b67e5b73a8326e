//! Candor's domain model.
//!
//! This crate knows what a trust center *is*: the four pillars, the route table, the
//! trust-as-code configuration (`candor.toml`) and content pages (`content/*.md`). It has no
//! async runtime and no network access; the only I/O it does is reading the trust-as-code files
//! in [`load`], so that every front end (server, `check-config`, tests) validates them the same way.
#![forbid(unsafe_code)]

pub mod canonical;
pub mod clock;
pub mod condition;
pub mod config;
pub mod content;
pub mod diagnostic;
pub mod entries;
pub mod identity;
pub mod load;
pub mod monitor;
pub mod pillar;
pub mod routes;
pub mod site;
pub mod sla;
pub mod status;
pub mod status_config;
pub mod totp;
pub mod uptime;
pub mod uptime_log;

pub use clock::{Clock, SystemClock};
pub use diagnostic::{Diagnostic, Diagnostics};
pub use pillar::Pillar;
pub use site::Site;
