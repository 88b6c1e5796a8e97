//! The code map (ARCHITECTURE.md) as a test: which workspace crate may link which, read from
//! `cargo metadata`, so a wrong dependency fails `make test` with the rule it broke instead
//! of waiting for a reviewer. Only normal (non-dev, non-build) dependencies count: what a
//! crate links into its library and binaries.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The domain crates: pure, one per monitor (plus the kernel and the log classifier).
const DOMAINS: [&str; 3] = ["sentinel-agent", "sentinel-tasks", "sentinel-fleet"];
const PURE: [&str; 6] = [
    "sentinel-core",
    "sentinel-agent",
    "sentinel-tasks",
    "sentinel-fleet",
    "sentinel-logscan",
    // The operator's join (`why`) over the task and fleet domains.
    "sentinel-why",
];
/// Each function and the one domain it may link.
const FUNCTIONS: [(&str, &str); 3] = [
    ("agent-monitor", "sentinel-agent"),
    ("task-monitor", "sentinel-tasks"),
    ("fleet-recorder", "sentinel-fleet"),
];
/// Crates that exist for tests, the demo and benchmarks only.
const DEV_ONLY: [&str; 4] = [
    "sentinel-emulator",
    "sentinel-demo",
    "sentinel-bench",
    "integration-tests",
];

struct Workspace {
    /// Normal dependencies of each workspace crate, by name (workspace and external alike).
    direct: BTreeMap<String, BTreeSet<String>>,
}

impl Workspace {
    fn read() -> anyhow::Result<Workspace> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        let mut direct = BTreeMap::new();
        for package in metadata["packages"].as_array().into_iter().flatten() {
            let name = package["name"].as_str().unwrap_or_default().to_owned();
            let deps = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(str::to_owned))
                .collect();
            direct.insert(name, deps);
        }
        anyhow::ensure!(
            direct.contains_key("sentinel-core") && direct.contains_key("agent-monitor"),
            "cargo metadata listed no workspace crates: {:?}",
            direct.keys()
        );
        Ok(Workspace { direct })
    }

    /// Every crate `name` links, through workspace crates (external crates' own
    /// dependencies are not followed: they cannot link ours).
    fn links(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_owned()];
        while let Some(next) = todo.pop() {
            for dep in self.direct.get(&next).into_iter().flatten() {
                if seen.insert(dep.clone()) && self.direct.contains_key(dep) {
                    todo.push(dep.clone());
                }
            }
        }
        seen
    }

    fn members(&self) -> impl Iterator<Item = &String> {
        self.direct.keys()
    }
}

#[test]
fn every_crate_links_only_what_the_code_map_allows() -> anyhow::Result<()> {
    let ws = Workspace::read()?;
    let mut broken = Vec::new();
    let mut rule = |ok: bool, text: String| {
        if !ok {
            broken.push(text);
        }
    };

    for name in PURE {
        let links = ws.links(name);
        for dep in &links {
            rule(
                !(dep.starts_with("aws-")
                    || dep == "tokio"
                    || dep.starts_with("sentinel-aws")
                    || dep == "sentinel-lambda"),
                format!(
                    "{name} is a pure domain crate (no I/O, no tokio, no AWS SDK) but links {dep}"
                ),
            );
        }
    }
    let kernel_allowed = ["serde", "serde_json", "chrono", "thiserror"];
    for dep in &ws.links("sentinel-core") {
        rule(
            kernel_allowed.contains(&dep.as_str()),
            format!("sentinel-core may depend only on {kernel_allowed:?}, but links {dep}"),
        );
    }
    for name in ["sentinel-aws", "sentinel-lambda"] {
        for domain in DOMAINS {
            rule(
                !ws.links(name).contains(domain),
                format!("{name} is shared infrastructure and must know no monitor's domain, but links {domain}"),
            );
        }
    }
    for (function, own) in FUNCTIONS {
        let links = ws.links(function);
        for domain in DOMAINS.iter().filter(|d| **d != own) {
            rule(
                !links.contains(*domain),
                format!("{function} may link only its own domain ({own}), but links {domain}"),
            );
        }
        for (other, _) in FUNCTIONS.iter().filter(|(f, _)| *f != function) {
            rule(
                !links.contains(*other),
                format!("{function} must not link another function ({other})"),
            );
        }
        for forbidden in [
            "sentinel-cli",
            "sentinel-http",
            "agent-probe",
            "sentinel-why",
        ] {
            rule(
                !links.contains(forbidden),
                format!("{function} is a Lambda and must not link {forbidden}"),
            );
        }
    }
    let probe = ws.links("agent-probe");
    rule(
        !probe.contains("sentinel-aws"),
        "agent-probe runs on hosts and must not link sentinel-aws (every SDK crate)".to_owned(),
    );
    for dep in probe.iter().filter(|d| d.starts_with("aws-sdk-")) {
        rule(
            dep == "aws-sdk-cloudwatch",
            format!("agent-probe may use only the CloudWatch SDK, but links {dep}"),
        );
    }
    for name in ws.members().filter(|m| !DEV_ONLY.contains(&m.as_str())) {
        for dev in DEV_ONLY {
            rule(
                !ws.links(name).contains(dev),
                format!("{name} ships, so it must not link the dev-only crate {dev}"),
            );
        }
    }
    // Only the adapters, the functions' wiring, the CLI, the probe and dev code name the SDK.
    let may_name_sdk = [
        "sentinel-aws",
        "agent-monitor",
        "task-monitor",
        "fleet-recorder",
        "sentinel-cli",
        "agent-probe",
    ];
    for name in ws
        .members()
        .filter(|m| !DEV_ONLY.contains(&m.as_str()) && !may_name_sdk.contains(&m.as_str()))
    {
        for dep in ws.direct[name].iter().filter(|d| d.starts_with("aws-sdk-")) {
            rule(
                false,
                format!("{name} names {dep}: only sentinel-aws and the binaries' crates may name AWS SDK crates"),
            );
        }
    }
    assert!(
        broken.is_empty(),
        "the code map (ARCHITECTURE.md) is broken:\n  {}",
        broken.join("\n  ")
    );
    Ok(())
}

/// The checker itself: a crate that links a forbidden one is caught, through a chain.
#[test]
fn a_forbidden_link_through_a_chain_is_found() {
    let ws = Workspace {
        direct: BTreeMap::from([
            ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
            (
                "b".to_owned(),
                BTreeSet::from(["c".to_owned(), "serde".to_owned()]),
            ),
            ("c".to_owned(), BTreeSet::new()),
        ]),
    };
    assert_eq!(
        ws.links("a"),
        BTreeSet::from(["b".to_owned(), "c".to_owned(), "serde".to_owned()])
    );
    assert!(ws.links("c").is_empty());
}
