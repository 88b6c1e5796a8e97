//! In-memory twins of the engine's ports, and the fault exploration every monitor wired to
//! the engine must pass. Compiled only for tests (feature `testing`), never into a Lambda.
//!
//! [`MemoryWorld`] keeps a monitor's episodes and the messages subscribers received, with
//! the contracts of the real adapters (versioned conditional writes, a message id per
//! publish), and adds what tests need to provoke trouble on purpose, deterministically:
//!
//! - scripted faults on the next calls of an operation, including the two that make
//!   distributed systems hard: a write that *commits* and still reports failure (or, as a
//!   retried conditional write does, a conflict), and a publish that *is delivered* and still
//!   reports failure;
//! - gates that stop a call until the test lets it go, so another run can be played in
//!   between (every interleaving of two runs, one at a time);
//! - a count of every call, and a log of every message subscribers actually received.
//!
//! [`explore_faults`] plays every script of faults on the first three writes and the first
//! two publishes (576 scripts) through a monitor and checks the promise of the engine:
//! whatever fails, an alert that may have gone out is closed by a RESOLVED, and a notice is
//! sent twice only when an answer was lost.

use crate::engine::EpisodeRepo;
use crate::Notifier;
use chrono::{DateTime, Utc};
use futures::channel::oneshot;
use futures::future::BoxFuture;
use sentinel_core::notice::{Notice, NoticeEpisode};
use sentinel_core::notification::Notification;
use sentinel_core::{AwsError, Found, Unreadable, Written};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The operations of the in-memory ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Get,
    /// `put` and `put_all` alike: one write call.
    Put,
    Delete,
    Scan,
    Publish,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "Get",
            Op::Put => "Put",
            Op::Delete => "Delete",
            Op::Scan => "Scan",
            Op::Publish => "Publish",
        }
    }
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
    pub service: Option<String>,
    /// What the message names (container instance ARNs, task ARNs, episode keys).
    pub about: Vec<String>,
    pub subject: String,
    pub message_id: String,
    /// The whole notification, for tests that read its rendering.
    pub notification: Notification,
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

struct World<E> {
    items: BTreeMap<String, E>,
    /// Items stored that are not readable episodes.
    unreadable: Vec<Unreadable>,
    faults: HashMap<Op, VecDeque<Fault>>,
    gates: Vec<PendingGate>,
    calls: BTreeMap<Op, usize>,
    delivered: Vec<Delivered>,
}

/// A monitor's episodes and the notices subscribers received, in memory, shared by every
/// run of a test.
pub struct MemoryWorld<E> {
    world: Arc<Mutex<World<E>>>,
}

impl<E> Clone for MemoryWorld<E> {
    fn clone(&self) -> Self {
        MemoryWorld {
            world: Arc::clone(&self.world),
        }
    }
}

impl<E: NoticeEpisode> Default for MemoryWorld<E> {
    fn default() -> Self {
        MemoryWorld {
            world: Arc::new(Mutex::new(World {
                items: BTreeMap::new(),
                unreadable: Vec::new(),
                faults: HashMap::new(),
                gates: Vec::new(),
                calls: BTreeMap::new(),
                delivered: Vec::new(),
            })),
        }
    }
}

impl<E: NoticeEpisode> MemoryWorld<E> {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, World<E>> {
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

    /// The stored episode of a key.
    pub fn episode(&self, key: &str) -> Option<E> {
        self.lock().items.get(key).cloned()
    }

    /// Every stored episode, by key.
    pub fn episodes(&self) -> Vec<E> {
        self.lock().items.values().cloned().collect()
    }

    /// Every stored item that is not a readable episode.
    pub fn unreadable(&self) -> Vec<Unreadable> {
        self.lock().unreadable.clone()
    }

    /// Stores an episode as it is, version included (test set-up).
    pub fn insert(&self, episode: E) {
        self.lock().items.insert(episode.key(), episode);
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

    /// How many of the delivered messages were `notice`s naming `about`.
    pub fn times_told(&self, notice: Notice, about: &str) -> usize {
        self.lock()
            .delivered
            .iter()
            .filter(|d| d.notice == notice && d.about.iter().any(|a| a == about))
            .count()
    }

    /// How many delivered messages were `notice`s.
    pub fn notices(&self, notice: Notice) -> usize {
        self.lock()
            .delivered
            .iter()
            .filter(|d| d.notice == notice)
            .count()
    }

    pub fn calls(&self, op: Op) -> usize {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// Counts the call, takes its scripted fault, and stops at its gate if one is set.
    pub async fn enter(&self, op: Op) -> Option<Fault> {
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

    /// The error a scripted fault reports.
    pub fn error(op: Op, fault: Fault) -> AwsError {
        AwsError::new("memory", op.name(), format!("scripted fault: {fault:?}"))
    }

    /// One conditional write or delete of `episode`, under `fault`.
    fn write(&self, op: Op, episode: &E, fault: Option<Fault>) -> Result<Written, AwsError> {
        if fault == Some(Fault::Fail) {
            return Err(Self::error(op, Fault::Fail));
        }
        let mut world = self.lock();
        let key = episode.key();
        let stored = world.items.get(&key).map(E::version);
        let matches = match (op, stored) {
            (Op::Put, None) => episode.version() == 0,
            (_, Some(version)) => version == episode.version(),
            _ => false,
        };
        if !matches {
            return Ok(Written::Conflict);
        }
        if op == Op::Put {
            let mut next = episode.clone();
            next.set_version(episode.version() + 1);
            world.items.insert(key, next);
        } else {
            world.items.remove(&key);
        }
        match fault {
            Some(Fault::FailAfterEffect) => Err(Self::error(op, Fault::FailAfterEffect)),
            Some(Fault::ConflictAfterEffect) => Ok(Written::Conflict),
            _ => Ok(Written::Stored {
                version: if op == Op::Put {
                    episode.version() + 1
                } else {
                    episode.version()
                },
            }),
        }
    }
}

impl<E: NoticeEpisode + 'static> EpisodeRepo<E> for MemoryWorld<E> {
    fn get_many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<Found<E>, AwsError>> {
        Box::pin(async move {
            if let Some(fault) = self.enter(Op::Get).await {
                return Err(Self::error(Op::Get, fault));
            }
            let world = self.lock();
            Ok(Found {
                episodes: keys
                    .iter()
                    .filter_map(|k| world.items.get(k).map(|e| (k.clone(), e.clone())))
                    .collect(),
                unreadable: world
                    .unreadable
                    .iter()
                    .filter(|u| keys.contains(&u.key))
                    .cloned()
                    .collect(),
            })
        })
    }

    fn put<'a>(
        &'a self,
        episode: &'a E,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Written, AwsError>> {
        Box::pin(async move {
            let fault = self.enter(Op::Put).await;
            self.write(Op::Put, episode, fault)
        })
    }

    /// One write call for the lot (one scripted fault applies to all of it); each episode
    /// is written on its own version, as the DynamoDB adapter's transactions settle it.
    fn put_all<'a>(
        &'a self,
        episodes: &'a [E],
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>> {
        Box::pin(async move {
            let fault = self.enter(Op::Put).await;
            episodes
                .iter()
                .map(|episode| self.write(Op::Put, episode, fault))
                .collect()
        })
    }

    fn delete<'a>(&'a self, episode: &'a E) -> BoxFuture<'a, Result<Written, AwsError>> {
        Box::pin(async move {
            let fault = self.enter(Op::Delete).await;
            self.write(Op::Delete, episode, fault)
        })
    }
}

impl<E: NoticeEpisode> Notifier for MemoryWorld<E> {
    fn publish<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move {
            let fault = self.enter(Op::Publish).await;
            if fault == Some(Fault::Fail) {
                return Err(Self::error(Op::Publish, Fault::Fail));
            }
            let mut world = self.lock();
            let message_id = format!("msg-{}", world.delivered.len() + 1);
            world.delivered.push(Delivered {
                notice: notification.notice,
                cluster: notification.cluster.name().to_owned(),
                service: notification.service.clone(),
                about: notification.about.clone(),
                subject: notification.subject.clone(),
                message_id: message_id.clone(),
                notification: notification.clone(),
            });
            match fault {
                Some(fault) => Err(Self::error(Op::Publish, fault)),
                None => Ok(message_id),
            }
        })
    }
}

/// Faults on one call: what the exploration tries for writes and for publishes.
pub const WRITE_FAULTS: [Fault; 4] = [
    Fault::Pass,
    Fault::Fail,
    Fault::FailAfterEffect,
    Fault::ConflictAfterEffect,
];
pub const PUBLISH_FAULTS: [Fault; 3] = [Fault::Pass, Fault::Fail, Fault::FailAfterEffect];

/// One script: faults for the first three writes and the first two publishes of a play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script {
    pub writes: [Fault; 3],
    pub publishes: [Fault; 2],
}

impl Script {
    /// Every script: 4³ × 3² = 576.
    pub fn all() -> Vec<Script> {
        let mut scripts = Vec::new();
        for w1 in WRITE_FAULTS {
            for w2 in WRITE_FAULTS {
                for w3 in WRITE_FAULTS {
                    for p1 in PUBLISH_FAULTS {
                        for p2 in PUBLISH_FAULTS {
                            scripts.push(Script {
                                writes: [w1, w2, w3],
                                publishes: [p1, p2],
                            });
                        }
                    }
                }
            }
        }
        scripts
    }

    /// Whether a call of the script took effect and reported otherwise.
    pub fn loses_an_answer(&self) -> bool {
        self.writes
            .iter()
            .chain(&self.publishes)
            .any(|f| matches!(f, Fault::FailAfterEffect | Fault::ConflictAfterEffect))
    }

    /// Puts the script's faults on a world's next calls.
    pub fn install<E: NoticeEpisode>(&self, world: &MemoryWorld<E>) {
        world.fail_next(Op::Put, &self.writes);
        world.fail_next(Op::Publish, &self.publishes);
    }
}

/// What subscribers heard in one play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Told {
    pub alerts: usize,
    pub resolveds: usize,
}

/// What the exploration found over every script.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Exploration {
    pub scripts: usize,
    /// Scripts that sent a RESOLVED without a delivered alert: the alert's publish failed
    /// cleanly and the thing recovered before the retry. The engine cannot tell a clean
    /// failure from a lost answer, so it closes what it may have opened.
    pub closed_without_alert: usize,
    /// Scripts that sent an alert or a RESOLVED twice (each one lost an answer).
    pub duplicates: usize,
}

/// Plays every [`Script`] through `play` (a monitor's scenario: the watched thing fails,
/// then recovers, and SQS redelivers every record until it is acknowledged; it returns what
/// subscribers heard) and checks, for each, that an alert that may have gone out was
/// closed by a RESOLVED and that a notice went out twice only when an answer was lost.
/// Panics naming the script that broke a promise.
pub async fn explore_faults<F, Fut>(mut play: F) -> Exploration
where
    F: FnMut(Script) -> Fut,
    Fut: Future<Output = Told>,
{
    let mut found = Exploration::default();
    for script in Script::all() {
        let told = play(script).await;
        found.scripts += 1;
        assert!(
            told.alerts == 0 || told.resolveds >= 1,
            "{script:?}: alerted {}, never resolved",
            told.alerts
        );
        assert!(
            told.resolveds <= 1 || script.loses_an_answer(),
            "{script:?}: {} RESOLVED without a lost answer",
            told.resolveds
        );
        assert!(
            told.alerts <= 1 || script.loses_an_answer(),
            "{script:?}: {} alerts without a lost answer",
            told.alerts
        );
        if told.alerts == 0 && told.resolveds > 0 {
            found.closed_without_alert += 1;
        }
        if told.alerts > 1 || told.resolveds > 1 {
            found.duplicates += 1;
        }
    }
    found
}
