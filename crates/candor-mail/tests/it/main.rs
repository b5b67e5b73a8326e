//! candor-mail's integration tests: one binary, a real SMTP server on loopback
//! (`smtp_server`), both databases. PostgreSQL tests use `CANDOR_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); set `CANDOR_REQUIRE_POSTGRES=1` (CI does) to make
//! an unreachable server a failure instead of a loudly reported skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod compose;
mod file;
mod outbox_store;
mod smtp;
mod smtp_server;
mod support;
mod worker;
