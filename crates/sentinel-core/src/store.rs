//! What a versioned store answers, in the kernel's words, so the ports that monitors and the
//! notice engine talk through name no adapter: every write is conditional on the version it
//! read, and every read keeps the items it cannot understand apart.

use std::collections::HashMap;

/// An item kept in a versioned store: one per key, every write conditional on the version
/// it was read at.
pub trait Versioned {
    /// The item's key in its store.
    fn key(&self) -> String;
    /// The version it was read at (0: not stored yet).
    fn version(&self) -> u64;
    fn set_version(&mut self, version: u64);
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Stored; the item now has this version.
    Stored { version: u64 },
    /// Someone else changed the item since it was read: nothing was written.
    Conflict,
}

/// A stored item that cannot be read: its key, and why. It costs only itself: the sweep
/// skips it, the event path leaves its records to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub key: String,
    pub why: String,
}

/// The items of some keys, by key, and the items that were unreadable.
#[derive(Debug, Clone)]
pub struct Found<T> {
    pub episodes: HashMap<String, T>,
    pub unreadable: Vec<Unreadable>,
}

impl<T> Default for Found<T> {
    fn default() -> Self {
        Found {
            episodes: HashMap::new(),
            unreadable: Vec::new(),
        }
    }
}
