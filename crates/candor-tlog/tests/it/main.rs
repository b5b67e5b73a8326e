//! Integration tests for candor-tlog: spec test vectors, property tests and malformed inputs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corpus;
mod merkle_vectors;
mod notes;
mod policy;
mod proof_files;
mod proof_props;
mod tiles;

/// Decodes hex test data.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A hash from hex.
pub fn h(s: &str) -> candor_tlog::Hash {
    candor_tlog::Hash::from_slice(&hex(s)).unwrap()
}

/// A malformed-input case: the input and a check on the error it must produce.
pub type Case<I, E> = (I, fn(&E) -> bool);
