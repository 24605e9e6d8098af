//! Rewind: the wall at a past moment equals the wall recorded live at that moment, object
//! by object, under churn and API server faults, over several seeds
//! (`PODWALL_REWIND_SEEDS`, default 3); `/api/history` and `/api/events?since=` replay the
//! same changes the live stream sent; malformed or out-of-window moments are answered
//! with what is wrong.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use testkit::{Model, SseEvent, Stack};

fn seeds() -> Vec<u64> {
    let n: u64 = testkit::setting("PODWALL_REWIND_SEEDS").unwrap_or(3);
    (1..=n).collect()
}

/// The pods, nodes and warnings of a snapshot, for comparing one moment with another.
fn objects(snap: &Value) -> (Value, Value, Value) {
    (
        snap["pods"].clone(),
        snap["nodes"].clone(),
        snap["warnings"].clone(),
    )
}

fn id_of(snap: &Value) -> String {
    format!(
        "{}-{}",
        snap["epoch"].as_str().expect("epoch"),
        snap["seq"].as_u64().expect("seq")
    )
}

/// An event of `/api/history`, as `/api/events` sent it.
fn as_sent(e: &Value) -> SseEvent {
    SseEvent {
        id: e["id"].as_str().map(str::to_owned),
        event: e["event"].as_str().unwrap_or_default().to_owned(),
        data: e["data"].to_string(),
    }
}

async fn json(stack: &Stack, path: &str) -> (u16, Value) {
    let (status, body) = stack.get(path).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")),
    )
}

/// Churns with faults, snapshotting now and then; returns the live snapshots.
async fn record_under_churn(stack: &Stack, seed: u64) -> Vec<Value> {
    let sim = stack.sim().handle();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    sim.set_churn(150.0);
    let mut recorded = Vec::new();
    for step in 0..24 {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..200))).await;
        recorded.push(stack.snapshot("").await);
        match rng.random_range(0..8) {
            0 => sim.cut_watches(),
            // A compacted history: the informer re-lists, and what it misses is deleted.
            1 => {
                sim.compact();
                sim.cut_watches();
            }
            2 if step % 3 == 0 => sim.restart(),
            _ => {}
        }
    }
    sim.set_churn(0.0);
    sim.clear();
    recorded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_at_a_past_moment_is_the_wall_recorded_then() {
    testkit::init();
    for seed in seeds() {
        let stack = Stack::builder().nodes(6).pods(80).seed(seed).start().await;
        let recorded = record_under_churn(&stack, seed).await;
        let seqs: Vec<u64> = recorded.iter().filter_map(|s| s["seq"].as_u64()).collect();
        assert!(
            seqs.last() > seqs.first(),
            "seed {seed}: the cluster changed: {seqs:?}"
        );
        assert!(
            recorded
                .iter()
                .any(|s| s["warnings"].as_array().is_some_and(|w| !w.is_empty())),
            "seed {seed}: the churn raised warnings"
        );
        for live in &recorded {
            let id = id_of(live);
            let (status, past) = json(&stack, &format!("/api/snapshot?at={id}")).await;
            assert_eq!(status, 200, "seed {seed} at {id}: {past}");
            assert_eq!(past["seq"], live["seq"], "seed {seed}");
            assert_eq!(
                objects(&past),
                objects(live),
                "seed {seed}: the wall rebuilt at {id} is the wall recorded then"
            );
            assert!(past["time"].as_str().is_some_and(|t| t.ends_with('Z')));
            // The same moment by its time: the last change at or before it.
            let time = past["time"].as_str().unwrap_or_default().to_owned();
            let (status, by_time) = json(&stack, &format!("/api/snapshot?at={time}")).await;
            assert_eq!(status, 200, "{by_time}");
            // Every change is kept: the time resolves to this change, or to a later one
            // of the same millisecond.
            assert!(by_time["seq"].as_u64() >= live["seq"].as_u64(), "{by_time}");
            if by_time["seq"] == live["seq"] {
                assert_eq!(objects(&by_time), objects(live), "seed {seed} at {time}");
            }
            let (_, same) = json(&stack, &format!("/api/snapshot?at={}", id_of(&by_time))).await;
            assert_eq!(objects(&same), objects(&by_time), "seed {seed}");
        }
        // A filter applies to the past as to the present.
        let live = &recorded[recorded.len() / 2];
        let (_, past) = json(&stack, &format!("/api/snapshot?ns=web&at={}", id_of(live))).await;
        let web: Vec<&Value> = live["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .filter(|p| p["namespace"] == "web")
            .collect();
        assert_eq!(
            past["pods"]
                .as_array()
                .map(|p| p.iter().collect::<Vec<_>>()),
            Some(web),
            "seed {seed}"
        );
        stack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_events_since_replay_what_the_live_stream_sent() {
    testkit::init();
    let stack = Stack::builder().nodes(4).pods(40).seed(11).start().await;
    let recorded = record_under_churn(&stack, 11).await;
    let (first, last) = (&recorded[2], &recorded[recorded.len() - 2]);

    // /api/history from one moment to another: applied to the first, gives the second.
    let (status, history) = json(
        &stack,
        &format!("/api/history?since={}&until={}", id_of(first), id_of(last)),
    )
    .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["from"]["seq"], first["seq"]);
    assert_eq!(history["until"]["seq"], last["seq"]);
    assert_eq!(history["more"], false);
    let mut model = Model::from_snapshot(first);
    let events = history["events"].as_array().expect("events");
    assert!(!events.is_empty());
    for e in events {
        assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
        model.apply(&as_sent(e));
    }
    let expected = Model::from_snapshot(last);
    assert_eq!(
        (&model.pods, &model.nodes, &model.warnings),
        (&expected.pods, &expected.nodes, &expected.warnings),
        "history applied to the first snapshot is the last"
    );

    // /api/events?since=: the state then, the changes since, then live; filtered too,
    // where pods (and so their warnings) enter and leave the filter as they change.
    for filter in ["", "&status=bad,starting"] {
        replay_since(&stack, first, filter).await;
    }

    // A Last-Event-ID wins over since=: a reconnecting EventSource resumes, no replay.
    let now = stack.snapshot("").await;
    stack.sim().handle().set_churn(20.0);
    let mut resumed = stack
        .sse(
            &format!("/api/events?since={}", id_of(first)),
            Some(&id_of(&now)),
        )
        .await;
    let next = resumed.next().await;
    assert_ne!(next.event, "reset");
    let target = now["seq"].as_u64().expect("seq");
    assert!(next.seq() > target, "{next:?}");
    stack.stop().await;
}

/// `/api/events?since=<first>` with `filter`, read through the present: the state then,
/// then every change since, gives the present.
async fn replay_since(stack: &Stack, first: &Value, filter: &str) {
    let mut sse = stack
        .sse(&format!("/api/events?since={}{filter}", id_of(first)), None)
        .await;
    let reset = sse.next().await;
    assert_eq!(reset.event, "reset");
    let mut model = Model::from_snapshot(&reset.json());
    assert_eq!(model.seq, first["seq"].as_u64().expect("seq"));
    let (_, then) = json(stack, &format!("/api/snapshot?at={}{filter}", id_of(first))).await;
    assert_eq!(objects(&reset.json()), objects(&then), "{filter}");
    let now = stack.snapshot(&filter.replacen('&', "?", 1)).await;
    let target = now["seq"].as_u64().expect("seq");
    // A filtered stream holds only the changes it sees: read through the last of them
    // at or before `now` (reading on could apply changes made after it).
    let (_, kept) = json(
        stack,
        &format!(
            "/api/history?since={}&until={}{filter}",
            id_of(first),
            id_of(&now)
        ),
    )
    .await;
    assert_eq!(kept["more"], false);
    let through = kept["events"]
        .as_array()
        .and_then(|e| e.last())
        .map_or(model.seq, |e| as_sent(e).seq());
    assert!(through <= target, "{through} > {target}");
    if filter.is_empty() {
        assert_eq!(through, target, "every change is kept, warnings too");
    }
    while model.seq < through {
        let ev = sse.next().await;
        assert_ne!(ev.event, "reset", "a replay, not a reset");
        model.apply(&ev);
    }
    assert_eq!(
        model.seq, through,
        "the stream sent the last change {filter}"
    );
    let expected = Model::from_snapshot(&now);
    assert_eq!(
        (&model.pods, &model.nodes, &model.warnings),
        (&expected.pods, &expected.nodes, &expected.warnings),
        "replayed to now (change {through} of {target}), the stream {filter} is the present"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_out_of_window_moments_say_what_is_wrong() {
    testkit::init();
    let stack = Stack::builder().nodes(2).pods(10).seed(3).start().await;
    for (path, status, says) in [
        ("/api/snapshot?at=yesterday", 400, "at: "),
        ("/api/snapshot?at=15m", 400, "starts with '-'"),
        ("/api/snapshot?at=-0m", 400, "is zero"),
        ("/api/snapshot?at=2026-13-45T99:00:00Z", 400, "RFC 3339"),
        ("/api/snapshot?at=-2h", 404, "before the history window"),
        (
            "/api/snapshot?at=2999-01-01T00:00:00Z",
            400,
            "in the future",
        ),
        (
            "/api/snapshot?at=0000000000000001-5",
            404,
            "not of this server",
        ),
        ("/api/history", 400, "since: required"),
        ("/api/history?since=-1m&until=soon", 400, "until: "),
        ("/api/events?since=whenever", 400, "since: "),
        ("/api/events?since=-3h", 404, "before the history window"),
        ("/events?since=-1m", 400, "only /api/events"),
        ("/?at=nonsense", 400, "at: "),
    ] {
        let (got, body) = stack.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
    }
    // A moment before the server started is outside its window; a second later, inside.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, now) = json(&stack, "/api/snapshot?at=-1s").await;
    assert_eq!(status, 200, "{now}");
    assert!(stack.metric("podwall_history_changes").await >= 0.0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_off_is_a_404_that_says_so() {
    testkit::init();
    let stack = Stack::builder()
        .nodes(2)
        .pods(5)
        .each_cluster(|c| {
            let mut wall = c.wall.clone();
            wall.history = podwall::HistoryBounds {
                window: Duration::ZERO,
                ..podwall::HistoryBounds::default()
            };
            c.wall(wall)
        })
        .start()
        .await;
    let (status, body) = stack.get("/api/snapshot?at=-1s").await;
    assert_eq!(status, 404);
    assert!(body.contains("history is off"), "{body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cluster_keeps_its_own_history() {
    testkit::init();
    let stack = Stack::builder()
        .clusters(["east", "west"])
        .nodes(3)
        .pods(20)
        .start()
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for name in ["east", "west"] {
        let (_, live) = json(&stack, &format!("/clusters/{name}/api/snapshot")).await;
        let (status, past) = json(
            &stack,
            &format!("/clusters/{name}/api/snapshot?at={}", id_of(&live)),
        )
        .await;
        assert_eq!(status, 200, "{name}: {past}");
        assert_eq!(past["cluster"], name);
        assert_eq!(objects(&past), objects(&live), "{name}");
    }
    // One cluster's event id names nothing in the other's history.
    let (_, east) = json(&stack, "/clusters/east/api/snapshot").await;
    let (status, body) = stack
        .get(&format!("/clusters/west/api/snapshot?at={}", id_of(&east)))
        .await;
    assert_eq!(status, 404, "{body}");
    stack.stop().await;
}
