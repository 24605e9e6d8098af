//! Memory per kept Warning event (issue 23, item 1): the goal is ≤ 256 B per warning on
//! average and ≤ 16 MiB at 50,000 kept warnings.
//!
//! In process, through the cache's real entry (`Sink::warnings`, what the events watch
//! calls), with a counting allocator: the heap the cache holds with a cluster's pods
//! loaded, then after 50,000 warnings (`cargo bench --bench warnings`; 2,000 without
//! `--bench`, the smoke run of `cargo test --all-targets`). The difference is what the
//! warnings cost: the store, its interned strings, and the changes they left in the ring
//! of recent changes (4,096 at most, the same whatever the number of warnings). Requested
//! bytes are exact; the allocator's own overhead is given as a bound, 16 B per live
//! allocation (glibc's chunk header and rounding).
//!
//! The mix, as a busy cluster's warnings look: a third FailedScheduling (long messages,
//! a few dozen variants shared by every pending pod of a workload), a quarter BackOff
//! (naming the pod and its UID: unique), a fifth Unhealthy (naming the pod's IP: unique),
//! a tenth FailedMount (naming a ConfigMap: a few hundred variants), the rest about nodes
//! and Deployments. Most pods have one warning, some two or three (BackOff and Unhealthy of a
//! crash loop; pods are picked spread over the cluster, so some get several). Event names
//! are client-go's `<object>.<hex>`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use podwall::fixtures;
use podwall::{Cache, EventFields, Frames, Sink};
use testkit::bench::Scale;

/// Counts live heap bytes and allocations.
struct Counting;

static BYTES: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout, as given.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as `GlobalAlloc::realloc` requires of its caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// (bytes, allocations) live now.
fn heap() -> (isize, isize) {
    (
        BYTES.load(Ordering::Relaxed),
        ALLOCATIONS.load(Ordering::Relaxed),
    )
}

/// The goal per kept warning.
const GOAL_PER_WARNING: f64 = 256.0;
/// The goal at 50,000 kept warnings.
const GOAL_AT_50K_MIB: f64 = 16.0;

fn main() {
    let scale = Scale::detect();
    let (pods, warnings) = match scale {
        Scale::Full => (60_000, 50_000),
        Scale::Quick => (3_000, 2_000),
    };
    let nodes = pods / 30;
    let cache = Cache::<Frames>::new();
    let pod_scope = fixtures::pods_scope();
    let mut names: Vec<(String, String)> = Vec::with_capacity(pods);
    for i in 0..pods {
        let ns = format!("team-{}", i % 40);
        let name = format!("svc-{}-7d9f8b6c5-{:05x}", i % 900, i);
        let node = format!("worker-{}", i % nodes);
        cache.upsert_pod(&pod_scope, fixtures::pod_on(&ns, &name, &node));
        names.push((ns, name));
    }
    let node_scope = podwall::Scope {
        kind: podwall::Kind::Node,
        namespace: None,
    };
    for n in 0..nodes {
        cache.upsert_node(&node_scope, fixtures::node(&format!("worker-{n}")));
    }
    // The events, decoded before measuring (the watch decodes one at a time).
    let events: Vec<EventFields> = (0..warnings).map(|i| event(i, &names, nodes)).collect();
    let before = heap();
    let started = Instant::now();
    let scope = fixtures::events_scope();
    for e in &events {
        cache.warnings(&scope, kube::runtime::watcher::Event::Apply(e.clone()));
    }
    let took = started.elapsed();
    let after = heap();
    drop(events);
    // What a client's reset costs the cache with this many warnings (sorted newest first,
    // and for a filtered client, each checked against its pod).
    let timed = Instant::now();
    let kept = cache.snapshot(&podwall::Filter::default()).warnings.len();
    let snapshot = timed.elapsed();
    let (filter, _) = podwall::Filter::from_query("ns=team-1").expect("a filter");
    let timed = Instant::now();
    let filtered = cache.snapshot(&filter).warnings.len();
    let filtered_snapshot = timed.elapsed();
    let bytes = (after.0 - before.0) as f64;
    let allocations = (after.1 - before.1) as f64;
    let per = bytes / kept as f64;
    let bound = (bytes + 16.0 * allocations) / kept as f64;
    let mib = |b: f64| b / (1024.0 * 1024.0);
    println!(
        "warnings memory ({}): {kept} kept of {warnings} (pods {pods}, nodes {nodes}); \
         heap +{:.2} MiB requested in {allocations:.0} allocations: {per:.0} B per warning \
         ({bound:.0} B with 16 B allocator overhead per allocation, {:.2} MiB); \
         {:.1} µs per event",
        scale.name(),
        mib(bytes),
        mib(bytes + 16.0 * allocations),
        took.as_secs_f64() * 1e6 / warnings as f64,
    );
    println!(
        "  a snapshot with them all: {snapshot:.1?}; filtered to ns=team-1 ({filtered} \
         warnings): {filtered_snapshot:.1?}"
    );
    assert!(kept > warnings * 9 / 10, "the warnings were kept: {kept}");
    if scale == Scale::Full {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let at_50k = |b: f64| mib(b) * 50_000.0 / kept as f64;
        println!(
            "  goals: ≤ {GOAL_PER_WARNING} B per warning: {} by requested bytes, {} with the \
             allocator's overhead; ≤ {GOAL_AT_50K_MIB} MiB at 50,000: {:.2} MiB requested ({}), \
             {:.2} MiB with overhead ({})",
            verdict(per <= GOAL_PER_WARNING),
            verdict(bound <= GOAL_PER_WARNING),
            at_50k(bytes),
            verdict(at_50k(bytes) <= GOAL_AT_50K_MIB),
            at_50k(bytes + 16.0 * allocations),
            verdict(at_50k(bytes + 16.0 * allocations) <= GOAL_AT_50K_MIB),
        );
    }
}

/// Warning `i` of the mix (see the module docs), about the pods of `names`.
fn event(i: usize, names: &[(String, String)], nodes: usize) -> EventFields {
    // A fifth of the pods with warnings get two (BackOff and Unhealthy); the rest one.
    let slot = i % 100;
    let pod = &names[(i * 7919) % names.len()];
    let (ns, name) = (pod.0.as_str(), pod.1.as_str());
    let json = match slot {
        0..35 => fixtures::warning_event(
            "Pod",
            ns,
            name,
            "FailedScheduling",
            &format!(
                "0/{nodes} nodes are available: {} Insufficient cpu, {} node(s) didn't match Pod's node affinity/selector, 3 node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}. preemption: 0/{nodes} nodes are available: {} No preemption victims found for incoming pod, {} Preemption is not helpful for scheduling.",
                (i / 100) % 30 + 1,
                nodes - 3 - ((i / 100) % 30 + 1),
                (i / 100) % 30 + 1,
                nodes - ((i / 100) % 30 + 1)
            ),
        ),
        35..60 => fixtures::warning_event(
            "Pod",
            ns,
            name,
            "BackOff",
            &format!(
                "Back-off restarting failed container app in pod {name}_{ns}({:08x}-4b1e-4c2a-9f3d-{:012x})",
                i as u32,
                i * 2654435761
            ),
        ),
        60..80 => fixtures::warning_event(
            "Pod",
            ns,
            name,
            "Unhealthy",
            &format!(
                "Readiness probe failed: Get \"http://10.244.{}.{}:8080/healthz\": dial tcp 10.244.{}.{}:8080: connect: connection refused",
                i % 250,
                (i / 250) % 250,
                i % 250,
                (i / 250) % 250
            ),
        ),
        80..90 => fixtures::warning_event(
            "Pod",
            ns,
            name,
            "FailedMount",
            &format!(
                "MountVolume.SetUp failed for volume \"config\" : configmap \"{}-config\" not found",
                &name[..name.find("-7d").unwrap_or(name.len())]
            ),
        ),
        90..95 => fixtures::warning_event(
            "Node",
            "",
            &format!("worker-{}", i % nodes),
            ["NodeNotReady", "SystemOOM", "ContainerGCFailed"][i % 3],
            &format!("Node worker-{} status is now: NodeNotReady", i % nodes),
        ),
        _ => fixtures::warning_event(
            "Deployment",
            ns,
            &format!("svc-{}", i % 900),
            "FailedCreate",
            "Error creating: pods \"svc-\" is forbidden: exceeded quota: compute-resources, requested: limits.cpu=2, used: limits.cpu=40, limited: limits.cpu=40",
        ),
    };
    serde_json::from_value(json).expect("an event")
}
