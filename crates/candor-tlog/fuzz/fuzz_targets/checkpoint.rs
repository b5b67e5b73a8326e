//! Fuzz target `checkpoint`: see candor_tlog::fuzz_support.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(problem) = candor_tlog::fuzz_support::run("checkpoint", data) {
        panic!("checkpoint: {problem}");
    }
});
