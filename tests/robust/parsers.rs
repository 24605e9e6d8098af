//! Property tests of every parser that reads user input: the label selector, the field
//! selector, the filter query string and the `Last-Event-ID` resume position. None may
//! panic on any input; well-formed input round-trips. Failures proptest finds are kept
//! in `tests/robust/parsers.proptest-regressions` and replayed first on every run; the
//! hand-written corpus below holds inputs that broke (or nearly broke) parsers elsewhere.
//!
//! `PROPTEST_CASES=100000 cargo test --test robust parsers::` for a longer run.

use podwall::Filter;
use podwall::selector::{FieldSelector, LabelSelector, Op};
use podwall::{Epoch, Position};
use proptest::prelude::*;

/// Inputs worth trying every time, whatever the random generator picks.
const CORPUS: &[&str] = &[
    "",
    " ",
    ",",
    ",,",
    "=",
    "==",
    "!=",
    "!",
    "!!a",
    "a=",
    "a==",
    "a!=",
    "a in",
    "a in (",
    "a in ()",
    "a in (,)",
    "a in (b,",
    "a notin (b))",
    "a in (b) c",
    "(",
    ")",
    "a=b,",
    ",a=b",
    "a=b c=d",
    "a/b/c=d",
    "/a=b",
    "a/=b",
    "x.example.com/",
    "é=ü",
    "a=\u{0}",
    "a\u{202e}=b",
    "\u{feff}a=b",
    "a = b",
    "a\t=\tb",
    "a=b\n",
    "%",
    "%%",
    "%zz",
    "q=%",
    "ns=%ff%fe",
    "lastEventId=%00",
    "label=a%3D%3D%3D",
    "ns=a&ns=b",
    "q=&q=",
    "0000000000000000-",
    "-1",
    "ffffffffffffffff-18446744073709551615",
    "ffffffffffffffff-18446744073709551616",
    "gggggggggggggggg-1",
    "+000000000000000-1",
    "0000000000000000--1",
    "0000000000000000-+1",
    "00000000000000000-1",
    "\u{00e9}00000000000000-1",
];

fn every_parser(input: &str) {
    let _ = LabelSelector::parse(input);
    let _ = FieldSelector::parse(input);
    let _ = Filter::from_query(input);
    let _ = Position::parse(input);
    let _ = Filter::from_query(&format!("label={input}"));
}

#[test]
fn the_corpus_never_panics_any_parser() {
    for input in CORPUS {
        every_parser(input);
    }
}

#[test]
fn malformed_corpus_entries_are_errors_with_a_reason() {
    // (`a in ()` is valid: apimachinery reads `()` as the set {""}.)
    for bad in ["a in (", "!!a", "a=b c=d", "(", "==", "a/b/c=d"] {
        let err = LabelSelector::parse(bad).expect_err(bad);
        assert!(!err.to_string().is_empty(), "{bad:?} has a reason");
    }
    // A sign, a 17th hex digit, an overflowing seq: not a position of ours.
    for bad in [
        "+000000000000000-1",
        "00000000000000000-1",
        "ffffffffffffffff-18446744073709551616",
        "0000000000000000--1",
    ] {
        assert_eq!(Position::parse(bad), None, "{bad:?}");
    }
}

/// A valid label key: optional DNS prefix, then a name of alphanumerics and `-_.`.
fn label_key() -> impl Strategy<Value = String> {
    (
        proptest::option::of("[a-z]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z]([a-z0-9]{0,5}))?"),
        "[A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?",
    )
        .prop_map(|(prefix, name)| match prefix {
            Some(p) => format!("{p}/{name}"),
            None => name,
        })
}

/// A valid label value (may be empty).
fn label_value() -> impl Strategy<Value = String> {
    "([A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?)?"
}

/// A requirement as (key, op, values) and its text.
fn requirement() -> impl Strategy<Value = (String, Op, Vec<String>)> {
    (
        label_key(),
        0..6u8,
        proptest::collection::vec(
            label_value().prop_filter("non-empty in sets", |v| !v.is_empty()),
            1..4,
        ),
        label_value(),
    )
        .prop_map(|(key, op, set, value)| match op {
            0 => (key, Op::Equals, vec![value]),
            1 => (key, Op::NotEquals, vec![value]),
            2 => (key, Op::In, set),
            3 => (key, Op::NotIn, set),
            4 => (key, Op::Exists, vec![]),
            _ => (key, Op::DoesNotExist, vec![]),
        })
}

fn render(key: &str, op: Op, values: &[String], space: &str) -> String {
    match op {
        Op::Equals => format!("{key}{space}={space}{}", values[0]),
        Op::NotEquals => format!("{key}{space}!={space}{}", values[0]),
        Op::In => format!("{key} in{space}({})", values.join(",")),
        Op::NotIn => format!("{key} notin{space}({})", values.join(",")),
        Op::Exists => key.to_owned(),
        Op::DoesNotExist => format!("!{key}"),
    }
}

/// Requirements in a comparable form: sorted, value sets deduplicated.
fn normalized(reqs: impl IntoIterator<Item = (String, Op, Vec<String>)>) -> Vec<String> {
    let mut out: Vec<String> = reqs
        .into_iter()
        .map(|(k, op, mut v)| {
            v.sort();
            v.dedup();
            format!("{k} {op:?} {v:?}")
        })
        .collect();
    out.sort();
    out
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_parser_panics_on_any_string(input in any::<String>()) {
        every_parser(&input);
    }

    #[test]
    fn no_parser_panics_on_selector_like_strings(input in "[a-z0-9=!(), ./_-]{0,40}|[a-z]{1,5}( (in|notin) )?[(),a-z ]{0,20}") {
        every_parser(&input);
    }

    #[test]
    fn valid_label_selectors_round_trip(
        reqs in proptest::collection::vec(requirement(), 0..5),
        space in "( |  )?",
    ) {
        let text = reqs
            .iter()
            .map(|(k, op, v)| render(k, *op, v, &space))
            .collect::<Vec<_>>()
            .join(",");
        let parsed = LabelSelector::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let got = parsed
            .requirements()
            .iter()
            .map(|r| (r.key.clone(), r.op, r.values.clone()));
        prop_assert_eq!(normalized(got), normalized(reqs.clone()), "{}", text);
        // And through the query string of every filtered endpoint.
        let query = format!("label={}", percent_encode(&text));
        prop_assert!(Filter::from_query(&query).is_ok(), "{}", query);
    }

    #[test]
    fn filter_errors_name_the_parameter(
        param in "(ns|label|node|q)",
        value in any::<String>(),
    ) {
        let query = format!("{param}={}", percent_encode(&value));
        if let Err(e) = Filter::from_query(&query) {
            let msg = e.to_string();
            prop_assert!(msg.starts_with(&format!("{param}:")), "{}: {}", query, msg);
        }
    }

    #[test]
    fn positions_round_trip(epoch in any::<u64>(), seq in any::<u64>()) {
        let p = Position { epoch: Epoch(epoch), seq };
        prop_assert_eq!(Position::parse(&p.to_string()), Some(p));
        prop_assert_eq!(Position::parse(&format!(" {p}\t")), Some(p), "header whitespace");
    }

    #[test]
    fn a_parsed_position_is_exactly_its_printed_form(input in "[0-9a-fA-F+-]{0,20}-[0-9+-]{0,22}") {
        if let Some(p) = Position::parse(&input) {
            // Only upper-case hex and leading zeros in seq may differ from the printed form.
            let (epoch, seq) = input.split_once('-').expect("parsed, so it has a dash");
            prop_assert_eq!(epoch.to_ascii_lowercase(), p.epoch.to_string());
            prop_assert_eq!(seq.parse::<u64>().ok(), Some(p.seq));
            prop_assert!(seq.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
