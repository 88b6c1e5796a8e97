//! Table-driven tests: one row per case, each row naming what it guards.

mod classify;
mod diagnosis;
mod health;
mod status;

use std::fmt::Debug;

/// Runs `f` on every row `(guard, line, want)` and reports every row that
/// disagrees, not just the first, so one run shows the whole picture.
fn check<T: PartialEq + Debug>(cases: &[(&str, &str, T)], f: impl Fn(&str) -> T) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(guard, line, want)| {
            let got = f(line);
            (got != *want).then(|| format!("{guard}: {line:?}\n    want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_pattern_compiles() {
    // Patterns are built lazily; building them all here means a bad pattern
    // fails this test instead of panicking on the first matching log line.
    crate::rules::force_patterns();
    crate::line::force_patterns();
    crate::access::force_patterns();
}

#[test]
#[should_panic(expected = "1 of 2 cases failed")]
fn check_reports_disagreements() {
    // The tables are only as good as this helper: a wrong row must fail.
    check(&[("agrees", "a", 1), ("disagrees", "b", 2)], |_| 1);
}
