//! Metric records out: one EMF line each on stdout, which Lambda ships to CloudWatch Logs and
//! CloudWatch turns into metrics (no API call, nothing to fail).

use sentinel_core::MetricRecord;

pub fn print(records: &[MetricRecord]) {
    for record in records {
        println!("{}", record.to_emf());
    }
}
