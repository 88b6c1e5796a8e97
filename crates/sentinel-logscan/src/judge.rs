//! What a parsed line means: its error category, from its level, its error fields, its
//! words and, for access-log lines, its status alone. Reads what [`crate::line`] parsed and
//! what [`crate::access`] found of a request in it.

use crate::access::{Origin, Request};
use crate::line::{has_error_field, json_level, json_message_text, logfmt_level, Level, Line};
use crate::rules;
use crate::Category;
use serde_json::{Map, Value};

/// The category of a parsed line; `request` is what [`crate::access`] read from it.
pub(crate) fn classify(line: &Line<'_>, request: Option<&Request<'_>>) -> Option<Category> {
    match &line.json {
        Some(object) => classify_json(object, request),
        None => classify_text(&line.text, request),
    }
}

fn server_error(request: Option<&Request<'_>>) -> Option<Category> {
    request
        .and_then(|r| r.status)
        .filter(|s| (500..=599).contains(s))
        .map(|_| Category::Http5xx)
}

/// The earlier of two candidate categories in precedence order.
fn first(a: Option<Category>, b: Option<Category>) -> Option<Category> {
    a.into_iter().chain(b).min()
}

/// A JSON line: the declared level decides whether it is an error at all, the
/// message text decides which kind, and a 5xx status is a fact whatever the
/// level says (some access loggers log every request at `info`).
fn classify_json(object: &Map<String, Value>, request: Option<&Request<'_>>) -> Option<Category> {
    let text = json_message_text(object);
    let verdict = match json_level(object) {
        Some(Level::NotError) => None,
        Some(Level::Error) => {
            Some(rules::specific_category(&text).unwrap_or(Category::StructuredError))
        }
        None if has_error_field(object) => {
            Some(rules::specific_category(&text).unwrap_or(Category::StructuredError))
        }
        // No level and no error field: the message is all we have, read like
        // any text line (it may even be an access-log line a JSON formatter wrapped).
        None => {
            let inner = crate::access::text_request(&text);
            classify_text(&text, inner.as_ref())
        }
    };
    first(server_error(request), verdict)
}

/// A text line.
fn classify_text(text: &str, request: Option<&Request<'_>>) -> Option<Category> {
    // An access-log line is a record of a request; everything in it besides the
    // status was chosen by the client, so only the status can make it an error.
    if let Some(r) = request {
        if r.origin == Origin::AccessLine {
            return server_error(Some(r));
        }
    }
    let verdict = match logfmt_level(text) {
        Some(Level::NotError) => None,
        Some(Level::Error) => Some(rules::word_category(text).unwrap_or(Category::Error)),
        None => rules::word_category(text),
    };
    first(server_error(request), verdict)
}
