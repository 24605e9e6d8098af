//! The churn generator: a deterministic (per seed) sequence of realistic changes — pods
//! going Pending → scheduled → ContainerCreating → Running/Ready, rollouts and scaling,
//! CrashLoopBackOff with rising restarts, jobs completing, pods failing, nodes going
//! NotReady, cordoned, leaving and joining — and a modest share of trouble with its
//! events (pods stuck unschedulable, image pulls failing, a missing secret, readiness
//! failing, evictions, node pressure, OOM kills). It changes the cluster through the same
//! store functions as the HTTP API; its events are rate-limited by the recorder.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::SimContext;
use super::cluster::{self, ClusterModel, PodState, Workload, WorkloadKind};
use super::recorder::NewEvent;
use super::resource::Resource;
use super::status::ApiError;
use super::store::{Deletion, uid_from};
use super::trouble::{NodeTrouble, Origin, PodTrouble, add_taint, remove_taint};

/// A change planned for a later tick (the next stage of a lifecycle).
#[derive(Debug, Clone)]
enum Step {
    Schedule {
        w: usize,
        pod: String,
    },
    /// The kubelet's first status of a bound pod: its containers being created.
    Create {
        w: usize,
        pod: String,
    },
    Start {
        w: usize,
        pod: String,
    },
    Ready {
        w: usize,
        pod: String,
    },
    Recover {
        w: usize,
        pod: String,
    },
    Complete {
        w: usize,
        pod: String,
    },
    Remove {
        pod: (String, String),
        uid: String,
    },
    NodeReady {
        node: String,
    },
    Uncordon {
        node: String,
    },
    NodeJoin,
    /// The scheduler tries an unschedulable pod again (`left` more times, then it fits).
    RetrySchedule {
        w: usize,
        pod: String,
        left: u8,
    },
    /// The kubelet backs off pulling an image, then (the tag pushed) pulls it.
    PullBackOff {
        w: usize,
        pod: String,
    },
    /// A pod's trouble is over: it starts (the secret appears, the image is pulled, the
    /// probe passes).
    Heal {
        w: usize,
        pod: String,
    },
    /// A node's pressure is over.
    Relieve {
        node: String,
        trouble: NodeTrouble,
    },
}

/// The generator's state.
pub struct Churn {
    ctx: Arc<SimContext>,
    model: ClusterModel,
    rng: ChaCha8Rng,
    tick: u64,
    /// Planned steps keyed by (due tick, sequence).
    plan: BTreeMap<(u64, u64), Step>,
    seq: u64,
    target_pods: usize,
    job_serial: u64,
}

impl Churn {
    /// A generator over `model`, aiming to keep about `target_pods` pods.
    pub fn new(
        ctx: Arc<SimContext>,
        model: ClusterModel,
        rng: ChaCha8Rng,
        target_pods: usize,
    ) -> Self {
        Self {
            ctx,
            model,
            rng,
            tick: 0,
            plan: BTreeMap::new(),
            seq: 0,
            target_pods,
            job_serial: 0,
        }
    }

    /// Runs at the rate in `rate` (changes per second; 0 pauses) until `shutdown`.
    pub async fn run(mut self, mut rate: watch::Receiver<f64>) {
        let shutdown = self.ctx.shutdown.clone();
        let mut next = Instant::now();
        loop {
            let r = *rate.borrow_and_update();
            if r <= 0.0 || !r.is_finite() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    changed = rate.changed() => if changed.is_err() { return },
                }
                next = Instant::now();
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = rate.changed() => { if changed.is_err() { return } continue }
                _ = tokio::time::sleep_until(next) => {}
            }
            let now = Instant::now();
            next += Duration::from_secs_f64(1.0 / r);
            // After a pause or a slow step, do not try to catch up in a burst.
            if next + Duration::from_secs(1) < now {
                next = now;
            }
            self.step();
        }
    }

    /// Makes one change: the next due planned step, else a new action.
    pub fn step(&mut self) {
        self.tick += 1;
        if let Some(entry) = self.plan.first_entry()
            && entry.key().0 <= self.tick
        {
            let step = entry.remove();
            self.execute(step);
            return;
        }
        self.new_action();
    }

    fn later(&mut self, min: u64, max: u64, step: Step) {
        self.seq += 1;
        let due = self.tick + self.rng.random_range(min..=max);
        self.plan.insert((due, self.seq), step);
    }

    fn new_action(&mut self) {
        match self.rng.random_range(0..100) {
            0..=39 => self.deployment_change(),
            40..=54 => self.crash(),
            55..=64 => self.run_job(),
            65..=69 => self.fail_pod(),
            70..=77 => self.node_not_ready(),
            78..=84 => self.cordon(),
            85..=87 => self.node_leave(),
            88..=90 => self.stuck_pending(),
            91..=92 => self.pod_trouble(PodTrouble::ImagePullBackOff),
            93 => self.pod_trouble(PodTrouble::ConfigError),
            94..=95 => self.pod_trouble(PodTrouble::ReadinessFailing),
            96 => self.node_pressure(),
            97 => self.evict(),
            98 => self.oom_kill(),
            _ => self.deployment_change(),
        }
    }

    /// A new pod no node fits for a while: FailedScheduling, repeated, then scheduled.
    fn stuck_pending(&mut self) {
        let Some(w) = self.pick_workload(&[WorkloadKind::Deployment]) else {
            return;
        };
        let store = &self.ctx.store;
        let name = cluster::fresh_pod_name(store, &mut self.model.workloads[w], &mut self.rng);
        let wl = &self.model.workloads[w];
        let uid = uid_from(&mut self.rng);
        let mut pod =
            cluster::pod_object(wl, &name, uid, None, PodState::Pending, 0, &mut self.rng);
        cluster::as_just_created(&mut pod);
        let message =
            cluster::unschedulable_message(self.model.nodes.len(), self.model.control_plane);
        if store.create(Resource::Pods, pod).is_ok() {
            self.model.workloads[w].pods.push(name.clone());
            // Then the scheduler's verdict, a write of its own as on a real cluster.
            self.update_pod(w, &name, |v| {
                cluster::set_unschedulable(v, &message);
                true
            });
            let Some(stored) =
                self.ctx
                    .store
                    .get(Resource::Pods, &self.model.workloads[w].namespace, &name)
            else {
                return;
            };
            let pod = stored.decode();
            self.ctx
                .pod_trouble_events(&pod, PodTrouble::Unschedulable, Origin::Churn, true);
            let left = self.rng.random_range(1..=3);
            self.later(3, 8, Step::RetrySchedule { w, pod: name, left });
        }
    }

    /// A running pod of a deployment or statefulset in `trouble` for a while.
    fn pod_trouble(&mut self, trouble: PodTrouble) {
        let Some((w, ns, pod)) =
            self.pick_running_pod(&[WorkloadKind::Deployment, WorkloadKind::StatefulSet])
        else {
            return;
        };
        if trouble == PodTrouble::ImagePullBackOff {
            // A new image that cannot be pulled: ErrImagePull first, back-off later.
            let done = self.update_pod(w, &pod, |v| {
                cluster::set_pod_state(v, PodState::ErrImagePull);
                true
            });
            if done && let Some(stored) = self.ctx.store.get(Resource::Pods, &ns, &pod) {
                self.ctx.image_pull_failed(&stored.decode(), Origin::Churn);
                self.later(2, 5, Step::PullBackOff { w, pod });
            }
            return;
        }
        if self
            .ctx
            .pod_trouble(&ns, &pod, trouble, Origin::Churn)
            .is_ok()
        {
            self.later(5, 15, Step::Heal { w, pod });
        }
    }

    fn evict(&mut self) {
        let Some((w, ns, pod)) = self.pick_running_pod(&[WorkloadKind::Deployment]) else {
            return;
        };
        if let Ok(stored) = self
            .ctx
            .pod_trouble(&ns, &pod, PodTrouble::Evicted, Origin::Churn)
        {
            // The evicted pod stays (Failed) a while; its ReplicaSet replaces it.
            self.model.workloads[w].pods.retain(|p| p != &pod);
            let uid = stored.index.uid.clone();
            self.later(
                5,
                15,
                Step::Remove {
                    pod: (ns, pod),
                    uid,
                },
            );
            self.new_pod(w);
        }
    }

    fn node_pressure(&mut self) {
        let Some(node) = self.model.nodes.choose(&mut self.rng).cloned() else {
            return;
        };
        let trouble = *[
            NodeTrouble::MemoryPressure,
            NodeTrouble::DiskPressure,
            NodeTrouble::DiskPressure,
            NodeTrouble::PidPressure,
            NodeTrouble::NetworkUnavailable,
        ]
        .choose(&mut self.rng)
        .unwrap_or(&NodeTrouble::DiskPressure);
        if self
            .ctx
            .node_trouble(&node, trouble, true, Origin::Churn)
            .is_ok()
        {
            self.later(5, 20, Step::Relieve { node, trouble });
        }
    }

    fn oom_kill(&mut self) {
        let Some(node) = self.model.nodes.choose(&mut self.rng).cloned() else {
            return;
        };
        let _ = self
            .ctx
            .node_trouble(&node, NodeTrouble::OomKill, true, Origin::Churn);
    }

    /// The kubelet's BackOff event for a pod that crashed again.
    fn crashed_event(&self, w: usize, pod: &str) {
        let ns = &self.model.workloads[w].namespace;
        if let Some(stored) = self.ctx.store.get(Resource::Pods, ns, pod) {
            let v = stored.decode();
            let how = v["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"]
                .as_str()
                .and_then(cluster::Termination::parse)
                .unwrap_or(cluster::Termination::Error);
            self.ctx
                .pod_trouble_events(&v, PodTrouble::CrashLoop(how), Origin::Churn, false);
        }
    }

    fn pick_workload(&mut self, kinds: &[WorkloadKind]) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.model.workloads.len())
            .filter(|i| {
                kinds.contains(&self.model.workloads[*i].kind)
                    && !self.model.workloads[*i].pods.is_empty()
            })
            .collect();
        candidates.choose(&mut self.rng).copied()
    }

    fn pick_pod(&mut self, w: usize) -> Option<String> {
        self.model.workloads[w].pods.choose(&mut self.rng).cloned()
    }

    /// A pod of a workload of one of `kinds`, picked at random, if it is Running and not
    /// being deleted: its workload, namespace and name.
    fn pick_running_pod(&mut self, kinds: &[WorkloadKind]) -> Option<(usize, String, String)> {
        let w = self.pick_workload(kinds)?;
        let pod = self.pick_pod(w)?;
        let ns = self.model.workloads[w].namespace.clone();
        let running = self
            .ctx
            .store
            .get(Resource::Pods, &ns, &pod)
            .is_some_and(|p| {
                p.index.field("status.phase").as_deref() == Some("Running") && !p.index.deleting
            });
        running.then_some((w, ns, pod))
    }

    /// Changes a pod through the store; forgets it when it is gone.
    fn update_pod(
        &mut self,
        w: usize,
        pod: &str,
        mut change: impl FnMut(&mut Value) -> bool,
    ) -> bool {
        let ns = self.model.workloads[w].namespace.clone();
        let result = self
            .ctx
            .store
            .update(Resource::Pods, &ns, pod, None, |mut v| {
                if !v["metadata"]["deletionTimestamp"].is_null() || !change(&mut v) {
                    return Err(ApiError::bad_request("skip"));
                }
                Ok(v)
            });
        match result {
            Ok(_) => true,
            Err(e) if e.code == 404 => {
                self.model.workloads[w].pods.retain(|p| p != pod);
                false
            }
            Err(_) => false,
        }
    }

    fn new_pod(&mut self, w: usize) {
        let store = &self.ctx.store;
        let name = cluster::fresh_pod_name(store, &mut self.model.workloads[w], &mut self.rng);
        let wl = &self.model.workloads[w];
        let uid = uid_from(&mut self.rng);
        let mut pod =
            cluster::pod_object(wl, &name, uid, None, PodState::Pending, 0, &mut self.rng);
        cluster::as_just_created(&mut pod);
        if store.create(Resource::Pods, pod).is_ok() {
            self.model.workloads[w].pods.push(name.clone());
            self.later(1, 3, Step::Schedule { w, pod: name });
        }
    }

    fn terminate(&mut self, w: usize, pod: &str) {
        let ns = self.model.workloads[w].namespace.clone();
        self.model.workloads[w].pods.retain(|p| p != pod);
        if let Ok(Deletion::Terminating(obj, _)) =
            self.ctx
                .store
                .delete(Resource::Pods, &ns, pod, Some(30), None)
        {
            let uid = obj.index.uid.clone();
            self.later(
                2,
                6,
                Step::Remove {
                    pod: (ns, pod.to_string()),
                    uid,
                },
            );
        }
    }

    fn deployment_change(&mut self) {
        let Some(w) = self.pick_workload(&[WorkloadKind::Deployment]) else {
            return;
        };
        let total = self.ctx.store.stats().pods;
        if total < self.target_pods {
            self.new_pod(w);
        } else if total > self.target_pods {
            if let Some(pod) = self.pick_pod(w) {
                self.terminate(w, &pod);
            }
        } else {
            // A rolling update step: maybe a new ReplicaSet, one new pod, one old pod goes.
            if self.rng.random_bool(0.3) {
                let hash: String =
                    format!("{:x}", self.rng.random_range(0x1000_0000u32..0xffff_ffff))
                        .chars()
                        .take(10)
                        .collect();
                self.model.workloads[w].hash = hash;
            }
            let oldest = self.model.workloads[w].pods.first().cloned();
            self.new_pod(w);
            if let Some(pod) = oldest {
                self.terminate(w, &pod);
            }
        }
    }

    fn crash(&mut self) {
        let Some(w) = self.pick_workload(&[WorkloadKind::Deployment, WorkloadKind::StatefulSet])
        else {
            return;
        };
        let Some(pod) = self.pick_pod(w) else { return };
        let crashed = self.update_pod(w, &pod, |v| {
            if v["status"]["phase"] != "Running" {
                return false;
            }
            cluster::set_pod_state(v, PodState::CrashLoopBackOff);
            true
        });
        if crashed {
            self.crashed_event(w, &pod);
            self.later(3, 10, Step::Recover { w, pod });
        }
    }

    fn run_job(&mut self) {
        self.job_serial += 1;
        let mut rng_uid = uid_from(&mut self.rng);
        let base = ["backup", "report", "etl", "cleanup", "migrate"]
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("batch");
        let name = format!("{base}-{}", 29_000_000 + self.job_serial);
        let images = vec!["ghcr.io/acme/batch:3.1.0".to_string()];
        let job = Workload {
            kind: WorkloadKind::Job,
            namespace: "batch".into(),
            name,
            hash: String::new(),
            owner_uid: std::mem::take(&mut rng_uid),
            images,
            cpu_m: 500,
            mem_mi: 512,
            pods: Vec::new(),
            next: 0,
        };
        self.model.workloads.push(job);
        let w = self.model.workloads.len() - 1;
        self.new_pod(w);
        // Old finished jobs are cleaned up (ttlSecondsAfterFinished), keeping the count.
        if let Some(old) = self
            .model
            .workloads
            .iter()
            .position(|x| x.kind == WorkloadKind::Job && !x.pods.is_empty())
            && old != w
            && let Some(pod) = self.model.workloads[old].pods.first().cloned()
        {
            self.terminate(old, &pod);
        }
    }

    fn fail_pod(&mut self) {
        let Some(w) = self.pick_workload(&[WorkloadKind::Deployment]) else {
            return;
        };
        let Some(pod) = self.pick_pod(w) else { return };
        if self.update_pod(w, &pod, |v| {
            cluster::set_pod_state(v, PodState::Failed);
            true
        }) {
            self.model.workloads[w].pods.retain(|p| p != &pod);
            let ns = self.model.workloads[w].namespace.clone();
            // The failed pod lingers a moment, then its controller replaces it.
            if let Some(obj) = self.ctx.store.get(Resource::Pods, &ns, &pod) {
                let uid = obj.index.uid.clone();
                self.later(
                    2,
                    5,
                    Step::Remove {
                        pod: (ns, pod),
                        uid,
                    },
                );
            }
            self.new_pod(w);
        }
    }

    fn update_node(&self, node: &str, mut change: impl FnMut(&mut Value)) -> bool {
        self.ctx
            .store
            .update(Resource::Nodes, "", node, None, |mut v| {
                change(&mut v);
                Ok(v)
            })
            .is_ok()
    }

    fn node_not_ready(&mut self) {
        let Some(node) = self.model.nodes.choose(&mut self.rng).cloned() else {
            return;
        };
        let done = self
            .ctx
            .node_trouble(&node, NodeTrouble::NotReady, true, Origin::Churn)
            .is_ok();
        if done {
            self.later(5, 15, Step::NodeReady { node });
        }
    }

    fn cordon(&mut self) {
        let Some(node) = self.model.nodes.choose(&mut self.rng).cloned() else {
            return;
        };
        let done = self.update_node(&node, |v| {
            v["spec"]["unschedulable"] = true.into();
            add_taint(v, "node.kubernetes.io/unschedulable", "NoSchedule");
        });
        if done {
            if let Some(stored) = self.ctx.store.get(Resource::Nodes, "", &node) {
                let v = stored.decode();
                let message = format!("Node {node} status is now: NodeNotSchedulable");
                self.ctx.record_churn(NewEvent::node_kubelet(
                    &v,
                    "Normal",
                    "NodeNotSchedulable",
                    message,
                ));
            }
            self.later(5, 20, Step::Uncordon { node });
        }
    }

    fn node_leave(&mut self) {
        if self.model.nodes.len() <= self.model.control_plane + 1 {
            return;
        }
        let i = self
            .rng
            .random_range(self.model.control_plane..self.model.nodes.len());
        let node = self.model.nodes.remove(i);
        let (_, pods) = self.ctx.store.snapshot(Resource::Pods, None);
        let on_node: Vec<(String, String)> = pods
            .iter()
            .filter(|p| p.index.field("spec.nodeName").as_deref() == Some(node.as_str()))
            .map(|p| p.index.key())
            .collect();
        for (ns, name) in on_node {
            let _ = self.ctx.store.remove(Resource::Pods, &ns, &name, None);
            if let Some(w) = self
                .model
                .workloads
                .iter()
                .position(|w| w.namespace == ns && w.pods.contains(&name))
            {
                self.model.workloads[w].pods.retain(|p| p != &name);
                if matches!(
                    self.model.workloads[w].kind,
                    WorkloadKind::Deployment | WorkloadKind::StatefulSet
                ) {
                    self.new_pod(w);
                }
            }
        }
        let _ = self.ctx.store.remove(Resource::Nodes, "", &node, None);
        self.later(10, 30, Step::NodeJoin);
    }

    fn node_join(&mut self) {
        let name = format!("worker-{}", self.model.next_node);
        self.model.next_node += 1;
        let index = self.model.next_node + self.model.control_plane;
        let node =
            cluster::node_object(&name, uid_from(&mut self.rng), index, false, &mut self.rng);
        if self.ctx.store.create(Resource::Nodes, node).is_err() {
            return;
        }
        self.model.nodes.push(name.clone());
        for w in 0..self.model.workloads.len() {
            if self.model.workloads[w].kind != WorkloadKind::DaemonSet {
                continue;
            }
            let pod_name = cluster::fresh_pod_name(
                &self.ctx.store,
                &mut self.model.workloads[w],
                &mut self.rng,
            );
            let pod = cluster::pod_object(
                &self.model.workloads[w],
                &pod_name,
                uid_from(&mut self.rng),
                Some(&name),
                PodState::ContainerCreating,
                0,
                &mut self.rng,
            );
            if self.ctx.store.create(Resource::Pods, pod).is_ok() {
                self.model.workloads[w].pods.push(pod_name.clone());
                self.later(1, 4, Step::Start { w, pod: pod_name });
            }
        }
    }

    fn schedulable_node(&mut self) -> Option<String> {
        let workers = &self.model.nodes[self.model.control_plane.min(self.model.nodes.len())..];
        let pool = if workers.is_empty() {
            &self.model.nodes[..]
        } else {
            workers
        };
        let ok: Vec<&String> =
            pool.iter()
                .filter(|n| {
                    self.ctx.store.get(Resource::Nodes, "", n).is_some_and(|s| {
                        s.index.field("spec.unschedulable").as_deref() != Some("true")
                    })
                })
                .collect();
        ok.choose(&mut self.rng).map(|s| s.to_string())
    }

    fn execute(&mut self, step: Step) {
        match step {
            Step::Schedule { w, pod } => {
                let Some(node) = self.schedulable_node() else {
                    self.later(3, 6, Step::Schedule { w, pod });
                    return;
                };
                // Two writes, as on a real cluster: the scheduler's binding, then the
                // kubelet's first status (tests/big_cluster/shape.rs compares the paths).
                if self.update_pod(w, &pod, |v| {
                    v["spec"]["nodeName"] = node.clone().into();
                    cluster::set_pod_state(v, PodState::Bound);
                    true
                }) {
                    self.later(1, 3, Step::Create { w, pod });
                }
            }
            Step::Create { w, pod } => {
                if self.update_pod(w, &pod, |v| {
                    v["status"]["hostIP"] = "10.0.0.2".into();
                    cluster::set_pod_state(v, PodState::ContainerCreating);
                    true
                }) {
                    self.later(1, 4, Step::Start { w, pod });
                }
            }
            Step::Start { w, pod } => {
                let ip = format!(
                    "10.244.{}.{}",
                    self.rng.random_range(0..256),
                    self.rng.random_range(2..254)
                );
                if self.update_pod(w, &pod, |v| {
                    v["status"]["podIP"] = ip.clone().into();
                    v["status"]["podIPs"] = json!([{"ip": ip}]);
                    cluster::set_pod_state(v, PodState::Running { ready: false });
                    true
                }) {
                    let next = if self.model.workloads[w].kind == WorkloadKind::Job {
                        Step::Complete { w, pod }
                    } else {
                        Step::Ready { w, pod }
                    };
                    self.later(1, 5, next);
                }
            }
            Step::Ready { w, pod } => {
                self.update_pod(w, &pod, |v| {
                    cluster::set_pod_state(v, PodState::Running { ready: true });
                    true
                });
            }
            Step::Complete { w, pod } => {
                self.update_pod(w, &pod, |v| {
                    cluster::set_pod_state(v, PodState::Completed);
                    true
                });
            }
            Step::Recover { w, pod } => {
                let again = self.rng.random_bool(0.4);
                let ok = self.update_pod(w, &pod, |v| {
                    cluster::set_pod_state(
                        v,
                        if again {
                            PodState::CrashLoopBackOff
                        } else {
                            PodState::Running { ready: true }
                        },
                    );
                    true
                });
                if ok && again {
                    self.crashed_event(w, &pod);
                    self.later(3, 10, Step::Recover { w, pod });
                }
            }
            Step::Remove {
                pod: (ns, name),
                uid,
            } => {
                // The kubelet's final delete: grace 0, MODIFIED then DELETED.
                let _ = self
                    .ctx
                    .store
                    .delete(Resource::Pods, &ns, &name, Some(0), Some(&uid));
            }
            Step::NodeReady { node } => {
                let _ = self
                    .ctx
                    .node_trouble(&node, NodeTrouble::NotReady, false, Origin::Churn);
            }
            Step::RetrySchedule { w, pod, left } => {
                if left == 0 {
                    self.execute(Step::Schedule { w, pod });
                    return;
                }
                let ns = self.model.workloads[w].namespace.clone();
                match self.ctx.store.get(Resource::Pods, &ns, &pod) {
                    Some(p) if p.index.field("spec.nodeName").as_deref() == Some("") => {
                        self.ctx.pod_trouble_events(
                            &p.decode(),
                            PodTrouble::Unschedulable,
                            Origin::Churn,
                            false,
                        );
                        let left = left - 1;
                        self.later(3, 8, Step::RetrySchedule { w, pod, left });
                    }
                    _ => {}
                }
            }
            Step::PullBackOff { w, pod } => {
                if self.update_pod(w, &pod, |v| {
                    cluster::set_pod_state(v, PodState::ImagePullBackOff);
                    true
                }) {
                    let ns = self.model.workloads[w].namespace.clone();
                    if let Some(p) = self.ctx.store.get(Resource::Pods, &ns, &pod) {
                        self.ctx.pod_trouble_events(
                            &p.decode(),
                            PodTrouble::ImagePullBackOff,
                            Origin::Churn,
                            false,
                        );
                    }
                    self.later(3, 10, Step::Heal { w, pod });
                }
            }
            Step::Heal { w, pod } => {
                self.update_pod(w, &pod, |v| {
                    cluster::set_pod_state(v, PodState::Running { ready: true });
                    true
                });
            }
            Step::Relieve { node, trouble } => {
                let _ = self.ctx.node_trouble(&node, trouble, false, Origin::Churn);
            }
            Step::Uncordon { node } => {
                self.update_node(&node, |v| {
                    if let Some(spec) = v["spec"].as_object_mut() {
                        spec.remove("unschedulable");
                    }
                    remove_taint(v, "node.kubernetes.io/unschedulable");
                });
            }
            Step::NodeJoin => self.node_join(),
        }
    }
}
