use std::collections::BTreeMap;

use crate::{Category, Diagnosis};

/// A mixed stream: three health checks (one failing), five real requests, and
/// application lines of several categories, two of which only look like errors.
const LINES: [&str; 15] = [
    // 1-3: health checks, set apart; the 503 one failed.
    r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0""#,
    r#"{"method":"GET","path":"/readyz","status":200,"user_agent":"kube-probe/1.29"}"#,
    r#"10.0.1.23 - - [01/Jan/2024:12:00:05 +0000] "GET /health HTTP/1.1" 503 0 "-" "ELB-HealthChecker/2.0""#,
    // 4-7: real traffic: 200, 200, 503 (an http_5xx error), 404 (not an error).
    r#"10.0.0.1 - - [01/Jan/2024:12:00:01 +0000] "GET /api/orders HTTP/1.1" 200 512 "-" "Mozilla/5.0""#,
    r#"10.0.0.1 - - [01/Jan/2024:12:00:02 +0000] "GET /api/orders HTTP/1.1" 200 498 "-" "Mozilla/5.0""#,
    r#"10.0.0.2 - - [01/Jan/2024:12:00:03 +0000] "POST /api/orders HTTP/1.1" 503 0 "-" "okhttp/4""#,
    r#"10.0.0.3 - - [01/Jan/2024:12:00:04 +0000] "GET /api/missing HTTP/1.1" 404 0 "-" "curl/8""#,
    // 8-10: three connection errors; only two samples are kept.
    "Error: connect ECONNREFUSED 10.0.0.5:5432",
    "dial tcp 10.0.1.5:6379: connect: connection refused",
    "read tcp 10.0.0.1:443: read: connection reset by peer",
    // 11: out of memory.
    "java.lang.OutOfMemoryError: Java heap space",
    // 12-13: look like errors to a substring match, are not.
    r#"{"level":"info","msg":"0 errors"}"#,
    "booked meeting room 4",
    // 14: structured error.
    r#"{"level":"error","msg":"payment failed"}"#,
    // 15: plain error.
    "ERROR scheduler stalled",
];

#[test]
fn counts_a_mixed_stream() {
    let mut d = Diagnosis::new(2);
    for line in LINES {
        d.add(line);
    }

    assert_eq!(
        d.events(),
        15,
        "every line is an event, health checks included"
    );
    assert_eq!(d.health_checks(), 3);
    assert_eq!(d.failed_health_checks(), 1, "the 503 health check");

    let want: BTreeMap<Category, usize> = [
        (Category::Oom, 1),
        (Category::ConnectionError, 3),
        (Category::Http5xx, 1),
        (Category::StructuredError, 1),
        (Category::Error, 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        d.categories(),
        &want,
        "health checks are not in the categories"
    );
    assert_eq!(d.errors(), 7);

    // The failing health check's 503 is not in the distribution: only real traffic is.
    let statuses: BTreeMap<u16, usize> = [(200, 2), (404, 1), (503, 1)].into_iter().collect();
    assert_eq!(d.http_status(), &statuses);

    let connection = &d.samples()[&Category::ConnectionError];
    assert_eq!(
        connection,
        &[
            "Error: connect ECONNREFUSED 10.0.0.5:5432".to_string(),
            "dial tcp 10.0.1.5:6379: connect: connection refused".to_string(),
        ],
        "the first two samples, then no more"
    );
    assert_eq!(d.samples()[&Category::Oom].len(), 1);
    assert_eq!(
        d.samples().keys().copied().collect::<Vec<_>>(),
        d.categories().keys().copied().collect::<Vec<_>>(),
        "a sample list for every counted category"
    );
}

#[test]
fn samples_are_cut_on_a_character_boundary() {
    let long = format!("ERROR {}", "é".repeat(400));
    let short = "ERROR short line";
    let mut d = Diagnosis::new(5);
    d.add(&long);
    d.add(short);

    let samples = &d.samples()[&Category::Error];
    assert_eq!(
        samples[0].chars().count(),
        301,
        "300 characters and the cut mark"
    );
    assert!(samples[0].ends_with('…'));
    assert!(long.starts_with(samples[0].trim_end_matches('…')));
    assert_eq!(samples[1], short, "a short line is kept whole");
}

#[test]
fn samples_are_readable_text() {
    let mut d = Diagnosis::new(1);
    d.add("  \x1b[31mERROR\x1b[0m db write failed\r\n");
    d.add(r#"{"source":"stderr","log":"java.lang.IllegalStateException: closed"}"#);

    assert_eq!(d.samples()[&Category::Error], ["ERROR db write failed"]);
    assert_eq!(
        d.samples()[&Category::Exception],
        ["java.lang.IllegalStateException: closed"],
        "the application's line, out of its log-router envelope"
    );
}

#[test]
fn zero_samples_still_counts() {
    let mut d = Diagnosis::new(0);
    d.add("fatal error: all goroutines are asleep - deadlock!");
    assert_eq!(d.categories()[&Category::Fatal], 1);
    assert!(d.samples()[&Category::Fatal].is_empty());
}

#[test]
fn serialises_for_the_cli() {
    let mut d = Diagnosis::new(1);
    d.add("worker 3 killed by OOM");
    d.add(r#"10.0.0.1 - - [01/Jan/2024:12:00:01 +0000] "GET /api HTTP/1.1" 200 5 "-" "curl/8""#);
    let json = serde_json::to_value(&d).ok();
    let want = serde_json::json!({
        "events": 2,
        "health_checks": 0,
        "failed_health_checks": 0,
        "categories": {"oom": 1},
        "samples": {"oom": ["worker 3 killed by OOM"]},
        "http_status": {"200": 1},
    });
    assert_eq!(json, Some(want));
}
