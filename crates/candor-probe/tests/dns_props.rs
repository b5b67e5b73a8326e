//! The DNS codec never panics on what a network may send.
#![allow(clippy::unwrap_used)]

use candor_core::monitor::RecordType;
use candor_probe::dns::{decode_response, encode_query};
use proptest::prelude::*;

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_response(&bytes);
    }

    #[test]
    fn decoding_mutated_responses_never_panics(flips in prop::collection::vec((0usize..64, any::<u8>()), 1..6)) {
        let mut msg = encode_query(1, "www.example.com", RecordType::A).unwrap();
        msg[2] |= 0x80;
        msg[7] = 2;
        msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        msg.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]);
        for (at, value) in flips {
            if let Some(b) = msg.get_mut(at) {
                *b = value;
            }
        }
        let _ = decode_response(&msg);
    }
}
