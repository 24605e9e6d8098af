//! The wall's filter query string (`ns`, `label`, `node`, `q`): no input panics, and the
//! parameters of an accepted query are accepted again on their own (what the page's
//! form round-trips).

#![no_main]

use libfuzzer_sys::fuzz_target;
use podwall::Filter;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((filter, params)) = Filter::from_query(input) {
        assert!(
            Filter::from_params(&params).is_ok(),
            "accepted parameters must stay accepted: {input:?}"
        );
        let _ = filter.matches_node_name(input);
    }
});
