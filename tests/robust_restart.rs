//! Restart without loss: podwall stops (its streams end), the cluster changes while it is
//! down, a new podwall starts on the same address against the same API server, and a
//! client resuming with the old `Last-Event-ID` gets a reset with the new epoch and the
//! right state — what a browser's EventSource does, with no page reload.

mod common;

use common::{Model, SseClient, Stack};
use podwall::sim::SimConfig;
use podwall::{ClusterConfig, Config, KubeSource};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resuming_client_gets_the_new_epoch_and_the_right_state_after_a_restart() {
    common::init();
    let sim_token = CancellationToken::new();
    let sim = podwall::sim::start(
        SimConfig {
            listen: "127.0.0.1:0".parse().expect("static address"),
            nodes: 3,
            pods: 20,
            churn: 0.0,
            seed: 5,
            ..SimConfig::default()
        },
        sim_token.clone(),
    )
    .await
    .expect("sim starts");
    let kube_config = sim.kube_config();
    let serve = |listen| {
        Config::new(ClusterConfig::new(KubeSource::Config(kube_config.clone()))).listen(listen)
    };

    let first_token = CancellationToken::new();
    let first = podwall::start(
        serve("127.0.0.1:0".parse().expect("addr")),
        first_token.clone(),
    )
    .await
    .expect("first server");
    let addr = first.addr;
    let mut stack = Stack {
        sim,
        server: first,
        token: sim_token,
        http: reqwest::Client::new(),
    };
    stack.wait_ready().await;
    let mut events = stack.sse("/api/events", None).await;
    let reset = events.next().await;
    assert_eq!(reset.event, "reset");
    let old_id = reset.id.clone().expect("id");
    let old_epoch = old_id.split_once('-').expect("epoch-seq").0.to_owned();
    let mut model = Model::from_snapshot(&reset.json());
    assert_eq!(model.pods.len(), 20);

    // podwall goes away: the stream ends.
    first_token.cancel();
    assert!(
        events.next_within(common::DEADLINE).await.is_none(),
        "the stream ends on shutdown"
    );
    // The cluster changes while nobody watches.
    stack.create_pod("default", "born-while-down", None).await;
    let gone = model.pods.keys().next().expect("a pod").clone();
    let (ns, name) = gone.split_once('/').expect("ns/name");
    stack.delete_pod(ns, name).await;

    // A new podwall on the same address, once the old one has let go of it.
    common::eventually("the old server stops listening", || async {
        tokio::net::TcpStream::connect(addr)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    let second_token = CancellationToken::new();
    let second = podwall::start(serve(addr), second_token.clone())
        .await
        .expect("second server binds the same address");
    let old = std::mem::replace(&mut stack.server, second);
    old.stopped().await.expect("first server stopped cleanly");
    stack.wait_ready().await;

    // The browser reconnects with its last id.
    let mut resumed: SseClient = stack.sse("/api/events", Some(&old_id)).await;
    let reset = resumed.next().await;
    assert_eq!(reset.event, "reset", "an old epoch cannot be resumed");
    let new_id = reset.id.clone().expect("id");
    assert_ne!(
        new_id.split_once('-').expect("epoch-seq").0,
        old_epoch,
        "a restart is a new epoch"
    );
    model.apply(&reset);
    assert!(model.pods.contains_key("default/born-while-down"));
    assert!(!model.pods.contains_key(&gone));
    assert_eq!(model, Model::from_snapshot(&stack.snapshot("").await));
    second_token.cancel();
}
