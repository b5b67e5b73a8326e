//! Candor's integration tests: one binary (fast to link), driving the real `candor` executable
//! and the storage backends. PostgreSQL tests use `CANDOR_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); set `CANDOR_REQUIRE_POSTGRES=1` (CI does) to make
//! an unreachable server a failure instead of a loudly reported skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod cli;
mod crash;
mod interop;
mod log;
mod monitoring;
mod portal;
mod reload;
mod rotate;
mod sla_cli;
mod status_web;
mod store_archive;
mod store_contract;
mod store_status;
mod support;
mod verify_uptime;
