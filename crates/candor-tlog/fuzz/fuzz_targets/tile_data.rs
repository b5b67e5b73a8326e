//! Fuzz target `tile_data`: see candor_tlog::fuzz_support.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(problem) = candor_tlog::fuzz_support::run("tile_data", data) {
        panic!("tile_data: {problem}");
    }
});
