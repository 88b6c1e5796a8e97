//! A running tally of many lines, for `logs diagnose` and `logs summary`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::access::{self, Request};
use crate::judge;
use crate::line::Line;
use crate::Category;

/// Samples are cut to this many characters: enough to read an exception
/// message, short enough that one 200 KB JSON line cannot flood the report.
const SAMPLE_CHARS: usize = 300;

/// A running diagnosis of many lines.
///
/// Health-check lines are counted apart and left out of both the categories
/// and the status distribution: a load balancer probing every few seconds from
/// several zones would otherwise drown the service's real traffic. A failing
/// health check is not noise, though (it is why ECS replaces tasks), so those
/// are counted in [`failed_health_checks`](Diagnosis::failed_health_checks).
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    #[serde(skip)]
    samples_per_category: usize,
    events: usize,
    health_checks: usize,
    failed_health_checks: usize,
    categories: BTreeMap<Category, usize>,
    samples: BTreeMap<Category, Vec<String>>,
    http_status: BTreeMap<u16, usize>,
}

impl Diagnosis {
    /// An empty diagnosis that keeps up to `samples_per_category` example lines
    /// for each category (the first ones seen).
    pub fn new(samples_per_category: usize) -> Self {
        Diagnosis {
            samples_per_category,
            events: 0,
            health_checks: 0,
            failed_health_checks: 0,
            categories: BTreeMap::new(),
            samples: BTreeMap::new(),
            http_status: BTreeMap::new(),
        }
    }

    /// Reads one line: counts it, sets health checks apart, records its HTTP
    /// status, and counts and samples its error category.
    pub fn add(&mut self, raw: &str) {
        self.events += 1;
        // Parsed once; the health, status and category rules all read the same parse.
        let line = Line::parse(raw);
        let request = access::request_of(&line);
        let category = judge::classify(&line, request.as_ref());

        if access::is_health_check(&line, request.as_ref()) {
            self.health_checks += 1;
            if health_check_failed(request.as_ref(), category) {
                self.failed_health_checks += 1;
            }
            return;
        }
        if let Some(status) = request.and_then(|r| r.status) {
            *self.http_status.entry(status).or_default() += 1;
        }
        if let Some(category) = category {
            *self.categories.entry(category).or_default() += 1;
            let samples = self.samples.entry(category).or_default();
            if samples.len() < self.samples_per_category {
                samples.push(sample(&line.text));
            }
        }
    }

    /// Lines seen, health checks included.
    pub fn events(&self) -> usize {
        self.events
    }

    /// Lines that were health-check requests.
    pub fn health_checks(&self) -> usize {
        self.health_checks
    }

    /// Health-check lines that answered 4xx/5xx or read as an error: a load
    /// balancer marks the task unhealthy on these.
    pub fn failed_health_checks(&self) -> usize {
        self.failed_health_checks
    }

    /// Error lines per category (health checks excluded).
    pub fn categories(&self) -> &BTreeMap<Category, usize> {
        &self.categories
    }

    /// Up to `samples_per_category` example lines per category, each cut to
    /// about 300 characters on a character boundary.
    pub fn samples(&self) -> &BTreeMap<Category, Vec<String>> {
        &self.samples
    }

    /// Responses per HTTP status (health checks excluded).
    pub fn http_status(&self) -> &BTreeMap<u16, usize> {
        &self.http_status
    }

    /// Error lines in all categories.
    pub fn errors(&self) -> usize {
        self.categories.values().sum()
    }
}

fn health_check_failed(request: Option<&Request<'_>>, category: Option<Category>) -> bool {
    request.and_then(|r| r.status).is_some_and(|s| s >= 400) || category.is_some()
}

/// The first [`SAMPLE_CHARS`] characters of a line, marked with "…" when cut.
fn sample(text: &str) -> String {
    match text.char_indices().nth(SAMPLE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
