//! The template and the function agree on configuration: every variable the function reads
//! is set by the template, and every one the template sets is read.

use sentinel_emulator::template;
use std::collections::BTreeSet;

#[test]
fn template_sets_exactly_the_variables_the_function_reads() -> anyhow::Result<()> {
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let set: BTreeSet<&str> = facts
        .function_variables
        .iter()
        .map(String::as_str)
        // Read by the tracing subscriber, not by our configuration.
        .filter(|v| *v != "RUST_LOG")
        .collect();
    let read: BTreeSet<&str> = agent_monitor::config::VARIABLES.iter().copied().collect();
    assert_eq!(set, read);
    Ok(())
}
