//! Time, as every run sees it: one clock, passed in, so tests move it instead of waiting.

use chrono::{DateTime, SubsecRound, Utc};
use std::sync::Mutex;

pub trait Clock: Send + Sync {
    /// Now, in whole seconds: notices show it to people and tables store seconds.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(0)
    }
}

/// A clock that stands still until it is moved (tests, demos, replays of old events).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(now.trunc_subsecs(0)),
        }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.lock() = now.trunc_subsecs(0);
    }

    pub fn advance(&self, by: chrono::TimeDelta) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // One value, replaced whole: a poisoned lock still holds a valid time.
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    #[test]
    fn a_manual_clock_moves_only_when_told_and_in_whole_seconds() {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
            .single()
            .expect("a valid time")
            + TimeDelta::milliseconds(700);
        let clock = ManualClock::at(start);
        assert_eq!(clock.now(), start.trunc_subsecs(0));
        clock.advance(TimeDelta::minutes(61));
        assert_eq!(clock.now() - start.trunc_subsecs(0), TimeDelta::minutes(61));
        assert_eq!(SystemClock.now().timestamp_subsec_nanos(), 0);
    }
}
