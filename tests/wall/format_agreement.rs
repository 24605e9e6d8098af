//! The page formats numbers as the server does: `static/wall/format.mjs` (the wall's node
//! headers and details, and the overlay's usage rows) against `podwall::format::cpu`
//! and `bytes` (the server-rendered node headers), over a table of values, by running
//! the module in Node.js. Needs `node` on the PATH; fails (never skips) without it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use podwall::format::{bytes as bytes_text, cpu as cpu_text};
use serde_json::{Value, json};

const KI: u64 = 1 << 10;
const MI: u64 = 1 << 20;
const GI: u64 = 1 << 30;
const TI: u64 = 1 << 40;
/// 2^53: every integer up to it is a JS number.
const EXACT: u64 = 1 << 53;

/// Millicores: the edges of each way `cpu_text` writes a number, and some plain values.
fn millis() -> Vec<u64> {
    #[rustfmt::skip]
    let mut v = vec![
        0, 1, 9, 10, 99, 100, 250, 999,
        1000, 1001, 1049, 1050, 1051, 1149, 1150, 1949, 1950, 1999, 2000,
        3900, 3949, 3950, 4000, 9949, 9950, 9999, 10_000, 10_049, 10_050, 99_950, 123_456,
        1 << 31, 1 << 32, 1_000_000_000_050,
        // The largest the JS side computes exactly: millis + 50 stays below 2^53.
        EXACT - 51, EXACT - 100,
    ];
    v.extend(sample(200, 1 << 40));
    v
}

/// Bytes: every unit's edges (exact, 100 and more, one decimal, rounding up to the next
/// whole or to "100.0"), the values the wall shows most, and values only a u64 holds.
fn bytes() -> Vec<u64> {
    #[rustfmt::skip]
    let mut v = vec![
        0, 1, 2, 100, 999, 1000, 1023, 1024, 1025, 1280, 1536, 1996, 1997, 2047, 2048,
        102_375, 102_376, 102_400, 1_048_575, 1_048_576,
        64 * MI, 100 * MI, 100 * MI + 1, 100 * MI + 512 * KI, 128 * MI - 1, 1023 * MI,
        15 * GI, 16 * GI, 16 * GI + 1, 16 * GI + 100 * MI, 16_106_127_360, 1536 * MI,
        99 * GI + 1000 * MI, 100 * GI - 1, 3 * GI / 2 + 51 * MI,
        TI - 1, TI, TI + 1, TI + TI / 2, 99 * TI + TI / 20, 100 * TI, 1023 * TI, 1024 * TI,
        // u64 scale, exactly representable in JS (a power of two, or a few bits wide).
        EXACT - 1, EXACT, EXACT + 2, 1 << 60, (1 << 60) + (1 << 50), 1 << 63,
        (1 << 63) + (1 << 62), u64::MAX - (1 << 11) + 1,
    ];
    for unit in [KI, MI, GI, TI] {
        for k in [1, 2, 9, 10, 99, 100, 101, 999, 1000, 1023] {
            let at = k * unit;
            v.extend([at - 1, at, at + 1, at + unit / 2, at + unit / 20]);
        }
    }
    v.extend(sample(300, EXACT));
    v
}

/// `n` spread-out values below `max` (a fixed linear congruential sequence).
fn sample(n: usize, max: u64) -> Vec<u64> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Mostly small, some large: a random bit length, then a value of that length.
            let bits = (x >> 58) % 64;
            (x >> 7) % (max.min(1 << bits).max(2))
        })
        .collect()
}

/// Runs format.mjs in Node.js over the values: `{"cpu": [...], "bytes": [...]}`.
fn format_in_node(millis: &[u64], bytes: &[u64]) -> Value {
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("static/wall/format.mjs");
    let module = module
        .canonicalize()
        .expect("static/wall/format.mjs exists");
    let url = format!("file://{}", module.display());
    let script = format!(
        "import {{ cpuText, bytesText }} from {url:?};
         let input = '';
         process.stdin.setEncoding('utf8');
         for await (const chunk of process.stdin) input += chunk;
         const values = JSON.parse(input);
         process.stdout.write(JSON.stringify({{
           cpu: values.millis.map(cpuText),
           bytes: values.bytes.map(bytesText),
         }}));"
    );
    let mut child = match Command::new("node")
        .args(["--input-type=module", "--eval", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "this test runs static/wall/format.mjs in Node.js, and `node` cannot be started \
             ({e}): install Node.js (Debian: apt-get install nodejs)"
        ),
    };
    let input = json!({ "millis": millis, "bytes": bytes }).to_string();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the values to node");
    let out = child.wait_with_output().expect("node runs");
    assert!(
        out.status.success(),
        "node failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("node prints JSON")
}

#[test]
fn page_formats_numbers_as_the_server_does() {
    let millis = millis();
    let bytes = bytes();
    for v in millis.iter().chain(&bytes) {
        // Each value must reach the JS side unchanged (a JSON number is a double there).
        assert_eq!((*v as f64) as u64, *v, "{v} is not a JS number");
    }
    let js = format_in_node(&millis, &bytes);
    let mut wrong = Vec::new();
    for (i, m) in millis.iter().enumerate() {
        let (rust, page) = (cpu_text(*m), &js["cpu"][i]);
        if page != rust.as_str() {
            wrong.push(format!("cpu {m}: server {rust:?}, page {page}"));
        }
    }
    for (i, b) in bytes.iter().enumerate() {
        let (rust, page) = (bytes_text(*b), &js["bytes"][i]);
        if page != rust.as_str() {
            wrong.push(format!("bytes {b}: server {rust:?}, page {page}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The case that started it: 16 GiB reads "16Gi" everywhere.
    assert_eq!(
        js["bytes"][bytes.iter().position(|b| *b == 16 * GI).expect("16 GiB")],
        "16Gi"
    );
}
