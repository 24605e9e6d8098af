//! The field selector (the simulator's `fieldSelector=`): no input panics the parser or
//! the matcher.

#![no_main]

use libfuzzer_sys::fuzz_target;
use podwall::selector::FieldSelector;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(selector) = FieldSelector::parse(input) {
        let _ = selector.matches(|field| Some(field.to_owned()));
        let _ = selector.matches(|_| None);
    }
});
