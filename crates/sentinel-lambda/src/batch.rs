//! What the event source mapping drives: a function's batch handler, records in, a report
//! out that names the records to deliver again. Lambda's runtime calls each function's
//! `handle`; the local stand-in for the event source mapping (`sentinel_emulator::QueuePoller`,
//! dev-only) calls the same code through this trait.

use aws_lambda_events::event::sqs::SqsMessage;
use std::collections::BTreeSet;
use std::future::Future;

/// A function's batch handler as the event source mapping drives it: records in, a report
/// out that names the records to deliver again (the partial-batch answer).
pub trait BatchHandler {
    type Report;
    fn handle_batch(&self, records: &[SqsMessage]) -> impl Future<Output = Self::Report>;
    fn failed_record_ids(report: &Self::Report) -> &BTreeSet<String>;
}
