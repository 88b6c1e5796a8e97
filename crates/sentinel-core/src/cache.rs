//! A time-to-live cache. Time is passed in, so the cache is pure and testable; the Lambda
//! keeps one across warm invocations for cluster tags, which change rarely.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: HashMap<K, (Instant, V)>,
}

impl<K: Eq + Hash, V> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: HashMap::new(),
        }
    }

    /// The value stored for `key` if it is younger than the TTL at `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(stored, _)| now.saturating_duration_since(*stored) < self.ttl)
            .map(|(_, value)| value)
    }

    pub fn insert(&mut self, key: K, value: V, now: Instant) {
        self.entries.insert(key, (now, value));
    }

    /// Drops expired entries so a long-lived process does not grow without bound.
    pub fn evict_expired(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries
            .retain(|_, (stored, _)| now.saturating_duration_since(*stored) < ttl);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let start = Instant::now();
        let mut cache = TtlCache::new(Duration::from_secs(300));
        cache.insert("a", 1, start);
        assert_eq!(cache.get(&"a", start + Duration::from_secs(299)), Some(&1));
        assert_eq!(cache.get(&"a", start + Duration::from_secs(300)), None);
        assert_eq!(cache.get(&"b", start), None);
        cache.evict_expired(start + Duration::from_secs(301));
        assert!(cache.is_empty());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let now = Instant::now();
        let mut cache = TtlCache::new(Duration::ZERO);
        cache.insert("a", 1, now);
        assert_eq!(cache.get(&"a", now), None);
    }
}
