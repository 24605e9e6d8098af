//! The label selector of `?label=`: no input panics the parser, and a parsed selector
//! can be matched against any labels (here: every key has the input as its value, or
//! none).

#![no_main]

use libfuzzer_sys::fuzz_target;
use podwall::selector::LabelSelector;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(selector) = LabelSelector::parse(input) {
        let _ = selector.matches(|_| Some(input));
        let _ = selector.matches(|_| None);
    }
});
