//! The SSE `Last-Event-ID` (`<16 hex epoch>-<seq>`): no input panics, and every accepted
//! id prints back to an id that parses to the same position.

#![no_main]

use libfuzzer_sys::fuzz_target;
use podwall::Position;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(position) = Position::parse(input) {
        assert_eq!(
            Position::parse(&position.to_string()),
            Some(position),
            "{input:?}"
        );
    }
});
