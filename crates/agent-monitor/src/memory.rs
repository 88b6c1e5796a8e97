//! In-memory implementations of the [`ports`](crate::ports), for fast tests of the
//! lifecycle's races and failures. They keep the contracts of the real adapters (versioned
//! conditional writes, a message id per publish) and add what tests need to provoke trouble
//! on purpose, deterministically:
//!
//! - scripted faults on the next calls of an operation, including the two that make
//!   distributed systems hard: a write that *commits* and still reports failure (or, as a
//!   retried conditional write does, a conflict), and a publish that *is delivered* and still
//!   reports failure;
//! - gates that stop a call until the test lets it go, so another run can be played in
//!   between (every interleaving of two runs, one at a time);
//! - a log of every call, and of every message subscribers actually received.

use crate::ports::{EpisodeRepo, NodeRemedies, Notifier, RemediationLedger};
use chrono::{DateTime, Utc};
use futures::channel::oneshot;
use futures::future::BoxFuture;
use sentinel_agent::episode::{Episode, Notice};
use sentinel_agent::NodeId;
use sentinel_aws::{AwsError, Found, Listing, Unreadable, Written};
use sentinel_core::notification::Notification;
use sentinel_core::ClusterArn;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The operations of the in-memory ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Get,
    Put,
    Delete,
    Scan,
    Publish,
}

/// What a scripted fault does to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call goes through as usual (a placeholder in a script of faults).
    Pass,
    /// The call fails and changes nothing.
    Fail,
    /// The call takes effect (the item is written, the message delivered), then the caller
    /// is told it failed: a lost answer.
    FailAfterEffect,
    /// A write takes effect, then the caller is told of a conflict: what an SDK retry of a
    /// committed conditional write sees.
    ConflictAfterEffect,
}

/// A message that reached subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub notice: Notice,
    pub cluster: String,
    /// Container instance ARNs the message names.
    pub instances: Vec<String>,
    pub message_id: String,
}

/// A call stopped at a gate: `reached` fires when it arrives, and it goes on when `release`
/// is sent (or dropped).
pub struct Gate {
    pub reached: oneshot::Receiver<()>,
    pub release: oneshot::Sender<()>,
}

struct PendingGate {
    op: Op,
    /// Stop the call when this many more calls of `op` have been made (0: the next one).
    skip: usize,
    reached: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

#[derive(Default)]
struct World {
    items: BTreeMap<String, Episode>,
    /// Items stored that are not readable episodes.
    unreadable: Vec<Unreadable>,
    faults: HashMap<Op, VecDeque<Fault>>,
    gates: Vec<PendingGate>,
    calls: BTreeMap<Op, usize>,
    delivered: Vec<Delivered>,
    slots_taken: usize,
}

/// Episodes, notices and remediation budget in memory, shared by every run of a test.
#[derive(Clone, Default)]
pub struct MemoryWorld {
    world: Arc<Mutex<World>>,
}

impl MemoryWorld {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // Tests only: a panicking test poisons nothing another test shares.
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next calls of `op` meet these faults, in order.
    pub fn fail_next(&self, op: Op, faults: &[Fault]) {
        self.lock()
            .faults
            .entry(op)
            .or_default()
            .extend(faults.iter().copied());
    }

    /// Stops the call of `op` made after `skip` more calls of it, until released.
    pub fn gate(&self, op: Op, skip: usize) -> Gate {
        let (reached_tx, reached_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        self.lock().gates.push(PendingGate {
            op,
            skip,
            reached: reached_tx,
            release: release_rx,
        });
        Gate {
            reached: reached_rx,
            release: release_tx,
        }
    }

    /// The stored episode of a container instance.
    pub fn episode(&self, arn: &str) -> Option<Episode> {
        self.lock().items.get(arn).cloned()
    }

    /// Stores an episode as it is, version included (test set-up).
    pub fn insert(&self, episode: Episode) {
        self.lock()
            .items
            .insert(episode.container_instance_arn.clone(), episode);
    }

    /// Stores an item that is not a readable episode (reads report it apart).
    pub fn insert_unreadable(&self, key: &str, why: &str) {
        self.lock().unreadable.push(Unreadable {
            key: key.to_owned(),
            why: why.to_owned(),
        });
    }

    /// Every message that reached subscribers, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.lock().delivered.clone()
    }

    /// How many of the delivered messages were `notice`s naming `arn`.
    pub fn times_told(&self, notice: Notice, arn: &str) -> usize {
        self.lock()
            .delivered
            .iter()
            .filter(|d| d.notice == notice && d.instances.iter().any(|i| i == arn))
            .count()
    }

    pub fn calls(&self, op: Op) -> usize {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    pub fn slots_taken(&self) -> usize {
        self.lock().slots_taken
    }

    /// Counts the call, takes its scripted fault, and stops at its gate if one is set.
    async fn enter(&self, op: Op) -> Option<Fault> {
        let (fault, gate) = {
            let mut world = self.lock();
            *world.calls.entry(op).or_default() += 1;
            let fault = world
                .faults
                .get_mut(&op)
                .and_then(VecDeque::pop_front)
                .filter(|f| *f != Fault::Pass);
            let mut gate = None;
            let mut kept = Vec::new();
            for mut pending in std::mem::take(&mut world.gates) {
                if pending.op != op || gate.is_some() {
                    kept.push(pending);
                } else if pending.skip == 0 {
                    gate = Some(pending);
                } else {
                    pending.skip -= 1;
                    kept.push(pending);
                }
            }
            world.gates = kept;
            (fault, gate)
        };
        if let Some(gate) = gate {
            let _ = gate.reached.send(());
            // A dropped sender releases the call too.
            let _ = gate.release.await;
        }
        fault
    }

    fn error(op: Op, fault: Fault) -> AwsError {
        AwsError::new("memory", op_name(op), format!("scripted fault: {fault:?}"))
    }

    fn write(
        &self,
        op: Op,
        episode: &Episode,
        fault: Option<Fault>,
        apply: impl FnOnce(&mut BTreeMap<String, Episode>),
    ) -> Result<Written, AwsError> {
        if fault == Some(Fault::Fail) {
            return Err(Self::error(op, Fault::Fail));
        }
        let mut world = self.lock();
        let stored = world
            .items
            .get(&episode.container_instance_arn)
            .map(|e| e.version);
        let matches = match (op, stored) {
            (Op::Put, None) => episode.version == 0,
            (_, Some(version)) => version == episode.version,
            _ => false,
        };
        if !matches {
            return Ok(Written::Conflict);
        }
        apply(&mut world.items);
        match fault {
            Some(Fault::FailAfterEffect) => Err(Self::error(op, Fault::FailAfterEffect)),
            Some(Fault::ConflictAfterEffect) => Ok(Written::Conflict),
            _ => Ok(Written::Stored {
                version: if op == Op::Put {
                    episode.version + 1
                } else {
                    episode.version
                },
            }),
        }
    }

    fn deliver(
        &self,
        fault: Option<Fault>,
        notification: &Notification,
    ) -> Result<String, AwsError> {
        if fault == Some(Fault::Fail) {
            return Err(Self::error(Op::Publish, Fault::Fail));
        }
        let mut world = self.lock();
        let message_id = format!("msg-{}", world.delivered.len() + 1);
        world.delivered.push(Delivered {
            notice: notification.notice,
            cluster: notification.cluster.name().to_owned(),
            instances: notification.about.clone(),
            message_id: message_id.clone(),
        });
        match fault {
            Some(fault) => Err(Self::error(Op::Publish, fault)),
            None => Ok(message_id),
        }
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Get => "Get",
        Op::Put => "Put",
        Op::Delete => "Delete",
        Op::Scan => "Scan",
        Op::Publish => "Publish",
    }
}

impl EpisodeRepo for MemoryWorld {
    fn get_many<'a>(
        &'a self,
        arns: &'a [String],
    ) -> BoxFuture<'a, Result<Found<Episode>, AwsError>> {
        Box::pin(async move {
            if let Some(fault) = self.enter(Op::Get).await {
                return Err(Self::error(Op::Get, fault));
            }
            let world = self.lock();
            Ok(Found {
                episodes: arns
                    .iter()
                    .filter_map(|arn| world.items.get(arn).map(|e| (arn.clone(), e.clone())))
                    .collect(),
                unreadable: world
                    .unreadable
                    .iter()
                    .filter(|u| arns.contains(&u.key))
                    .cloned()
                    .collect(),
            })
        })
    }

    fn put<'a>(
        &'a self,
        episode: &'a Episode,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Written, AwsError>> {
        Box::pin(async move {
            let fault = self.enter(Op::Put).await;
            self.write(Op::Put, episode, fault, |items| {
                let mut next = episode.clone();
                next.version += 1;
                items.insert(next.container_instance_arn.clone(), next);
            })
        })
    }

    /// One write call for the lot (one scripted fault applies to all of it); each episode
    /// is written on its own version, as the DynamoDB adapter's transactions settle it.
    fn put_all<'a>(
        &'a self,
        episodes: &'a [Episode],
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>> {
        Box::pin(async move {
            let fault = self.enter(Op::Put).await;
            let mut answers = Vec::with_capacity(episodes.len());
            for episode in episodes {
                answers.push(self.write(Op::Put, episode, fault, |items| {
                    let mut next = episode.clone();
                    next.version += 1;
                    items.insert(next.container_instance_arn.clone(), next);
                }));
            }
            answers.into_iter().collect()
        })
    }

    fn delete<'a>(&'a self, episode: &'a Episode) -> BoxFuture<'a, Result<Written, AwsError>> {
        Box::pin(async move {
            let fault = self.enter(Op::Delete).await;
            self.write(Op::Delete, episode, fault, |items| {
                items.remove(&episode.container_instance_arn);
            })
        })
    }

    fn all(&self) -> BoxFuture<'_, Result<Listing, AwsError>> {
        Box::pin(async move {
            if let Some(fault) = self.enter(Op::Scan).await {
                return Err(Self::error(Op::Scan, fault));
            }
            let world = self.lock();
            Ok(Listing {
                episodes: world.items.values().cloned().collect(),
                unreadable: world.unreadable.clone(),
            })
        })
    }
}

impl Notifier for MemoryWorld {
    fn publish<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move {
            let fault = self.enter(Op::Publish).await;
            self.deliver(fault, notification)
        })
    }
}

impl RemediationLedger for MemoryWorld {
    fn take_slot<'a>(
        &'a self,
        _cluster: &'a ClusterArn,
        _now: DateTime<Utc>,
        budget: usize,
    ) -> BoxFuture<'a, Result<bool, AwsError>> {
        Box::pin(async move {
            let mut world = self.lock();
            if world.slots_taken < budget {
                world.slots_taken += 1;
                Ok(true)
            } else {
                Ok(false)
            }
        })
    }
}

/// Remedies that succeed without touching anything; the cluster size is fixed.
pub struct NoopRemedies {
    pub cluster_size: usize,
}

impl NodeRemedies for NoopRemedies {
    fn cluster_sizes<'a>(
        &'a self,
        clusters: &'a [ClusterArn],
    ) -> BoxFuture<'a, Result<HashMap<ClusterArn, usize>, AwsError>> {
        let sizes = clusters
            .iter()
            .map(|c| (c.clone(), self.cluster_size))
            .collect();
        Box::pin(async move { Ok(sizes) })
    }

    fn restart_agent<'a>(
        &'a self,
        node: &'a NodeId,
        _windows: bool,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move { Ok(format!("command-for-{node}")) })
    }

    fn drain<'a>(
        &'a self,
        _cluster: &'a ClusterArn,
        _container_instance_arn: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async { Ok(()) })
    }

    fn reboot<'a>(&'a self, _node: &'a NodeId) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async { Ok(()) })
    }

    fn replace<'a>(&'a self, _node: &'a NodeId) -> BoxFuture<'a, Result<Option<String>, AwsError>> {
        Box::pin(async { Ok(None) })
    }
}
