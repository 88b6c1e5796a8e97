//! `ecs-sentinel health` against the emulator and loopback HTTP servers: 25 services in
//! every state (counts, rollouts, their own target groups), an endpoint that answers and
//! one that is down; the exact calls a check costs; and the binary as cron runs it: exit
//! codes, the state file written whole, and kept when the check could not run.

use integration_tests::runtime_api::cli_binary;
use integration_tests::{Fault, FaultKind, World};
use sentinel_cli::health::report::Status;
use sentinel_cli::health::{self, HealthOptions};
use sentinel_cli::services::ServiceReader;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLUSTER: &str = "shop";

/// A loopback HTTP server that answers every request with `status`; it lives as long as
/// the test's runtime.
async fn answering(status: u16) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 2048];
                let _ = socket.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 {status} Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    Ok(format!("http://127.0.0.1:{port}/health"))
}

/// A port nothing listens on.
async fn refusing() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(format!("http://127.0.0.1:{port}/health"))
}

/// Cluster `shop` with 25 services `svc-00` … `svc-24` (desired 2 each). All run 2 with
/// their rollout done, except: svc-03 runs 1; svc-07 runs none and ECS cannot place it;
/// svc-11's rollout failed. svc-00 and svc-01 share target group `tg-a` (two healthy
/// instances), svc-02 has `tg-b` whose only instance is stopped.
async fn shop(world: &World) -> anyhow::Result<()> {
    let fleet = world.fleet();
    fleet.create_cluster(CLUSTER, &[]).await?;
    let task_definition = fleet
        .register_logging_task_definition("shop-app", "app", "/ecs/shop")
        .await?;
    let ec2 = aws_sdk_ec2::Client::new(&world.sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&world.sdk);
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await?;
    let vpc = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_owned();
    let mut groups = HashMap::new();
    for name in ["tg-a", "tg-b"] {
        let created = elb
            .create_target_group()
            .name(name)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(&vpc)
            .send()
            .await?;
        let arn = created.target_groups()[0]
            .target_group_arn()
            .unwrap_or_default()
            .to_owned();
        groups.insert(name, arn);
    }
    let instances = fleet.add_ec2_instances(CLUSTER, 3).await?;
    for (group, member) in [
        ("tg-a", &instances[0]),
        ("tg-a", &instances[1]),
        ("tg-b", &instances[2]),
    ] {
        elb.register_targets()
            .target_group_arn(&groups[group])
            .targets(
                aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                    .id(&member.node_id)
                    .port(8080)
                    .build(),
            )
            .send()
            .await?;
    }
    ec2.stop_instances()
        .instance_ids(&instances[2].node_id)
        .send()
        .await?;

    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    for n in 0..25 {
        let name = format!("svc-{n:02}");
        let group = match n {
            0 | 1 => Some(&groups["tg-a"]),
            2 => Some(&groups["tg-b"]),
            _ => None,
        };
        ecs.create_service()
            .cluster(CLUSTER)
            .service_name(&name)
            .task_definition(&task_definition)
            .desired_count(2)
            .set_load_balancers(group.map(|arn| {
                vec![aws_sdk_ecs::types::LoadBalancer::builder()
                    .target_group_arn(arn)
                    .container_name("app")
                    .container_port(8080)
                    .build()]
            }))
            .send()
            .await?;
        let state = match n {
            3 => json!({"running": 1, "pending": 1, "rolloutState": "COMPLETED"}),
            7 => json!({"running": 0, "pending": 0, "rolloutState": "IN_PROGRESS", "events": [
                "(service svc-07) has started 2 tasks: (task a) (task b).",
                "(service svc-07) was unable to place a task because no container instance met all of its requirements."]}),
            11 => json!({"running": 2, "pending": 0, "rolloutState": "FAILED", "failedTasks": 4}),
            _ => json!({"running": 2, "pending": 0, "rolloutState": "COMPLETED",
                        "events": ["(service svc) has reached a steady state."]}),
        };
        world.emulator.set_service_state(CLUSTER, &name, state)?;
    }
    Ok(())
}

fn probe_options() -> anyhow::Result<sentinel_http::ProbeOptions> {
    // Plain HTTP only here; the certificate checks have their own loopback TLS tests.
    Ok(sentinel_http::ProbeOptions::with_roots(
        Duration::from_secs(2),
        sentinel_http::RootCertStore::empty(),
    ))
}

#[tokio::test]
async fn twenty_five_services_and_two_endpoints_are_judged_at_the_batching_lower_bound(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    let options = HealthOptions {
        cluster: CLUSTER.into(),
        services: Vec::new(),
        endpoints: vec![
            ("web".into(), answering(200).await?),
            ("admin".into(), refusing().await?),
        ],
        domain: None,
    };
    let reader = ServiceReader::new(&world.sdk);
    world.emulator.reset_calls()?;
    let report = health::check(&reader, &probe_options()?, &options, chrono::Utc::now()).await?;

    let calls = world.calls()?;
    let count = |op: &str| calls.get(op).copied().unwrap_or(0);
    assert_eq!(
        count("ecs.ListServices"),
        1,
        "one page of up to 100: {calls:?}"
    );
    assert_eq!(
        count("ecs.DescribeServices"),
        3,
        "25 services in chunks of 10: {calls:?}"
    );
    assert_eq!(
        count("elasticloadbalancing.DescribeTargetHealth"),
        2,
        "one per distinct target group, tg-a read once for two services: {calls:?}"
    );
    assert_eq!(calls.values().sum::<u64>(), 6, "nothing else: {calls:?}");

    assert_eq!(report.services.len(), 25);
    let status = |name: &str| {
        report
            .services
            .iter()
            .find(|s| s.name == name)
            .map(|s| (s.status, s.reasons.clone()))
    };
    assert_eq!(status("svc-00").map(|s| s.0), Some(Status::Healthy));
    assert_eq!(
        status("svc-03"),
        Some((Status::Degraded, vec!["1 of 2 tasks running".to_owned()]))
    );
    assert_eq!(status("svc-07").map(|s| s.0), Some(Status::Unhealthy));
    assert_eq!(status("svc-11").map(|s| s.0), Some(Status::Unhealthy));
    assert_eq!(
        status("svc-02"),
        Some((Status::Unhealthy, vec!["1 of 1 targets failing".to_owned()])),
        "its only target sits on a stopped instance"
    );
    let svc_00 = report.services.iter().find(|s| s.name == "svc-00");
    assert_eq!(
        svc_00.map(|s| s.targets.len()),
        Some(2),
        "tg-a's two targets"
    );
    assert!(svc_00.is_some_and(|s| s.targets.iter().all(|t| t.state == "healthy")));
    let svc_02 = report.services.iter().find(|s| s.name == "svc-02");
    assert_eq!(
        svc_02
            .and_then(|s| s.targets.first())
            .map(|t| (t.state.as_str(), t.reason.clone())),
        Some(("unused", Some("Target.InvalidState".to_owned())))
    );
    let svc_07 = report.services.iter().find(|s| s.name == "svc-07");
    assert_eq!(
        svc_07.map(|s| s.events.clone()),
        Some(vec!["(service svc-07) was unable to place a task because no container instance met all of its requirements.".to_owned()]),
        "the event that matters, not the routine start"
    );
    let healthy = report
        .services
        .iter()
        .filter(|s| s.status == Status::Healthy)
        .count();
    assert_eq!(healthy, 21);

    let web = &report.endpoints[0];
    assert!(
        web.ok && web.http_status == Some(200) && web.latency_ms.is_some(),
        "{web:?}"
    );
    let admin = &report.endpoints[1];
    assert!(
        !admin.ok,
        "a probe that got no answer is never healthy: {admin:?}"
    );
    assert_eq!(admin.http_status, None);
    assert!(
        admin
            .error
            .as_deref()
            .is_some_and(|e| e.contains("refused")),
        "{admin:?}"
    );
    assert_eq!(report.status, Status::Unhealthy);
    assert_eq!(health::exit_code(&report), 1);

    let mut text = Vec::new();
    health::print(&report, health::Style { colour: false }, &mut text)?;
    let text = String::from_utf8(text)?;
    assert!(text.starts_with("cluster shop: unhealthy"), "{text}");
    assert!(text.contains("svc-03   degraded   1/2      1        COMPLETED    -            1 of 2 tasks running\n"), "{text}");
    assert!(text.contains("svc-02 target i-"), "{text}");
    assert!(!text.contains('\x1b'), "no colour codes without a terminal");
    Ok(())
}

#[tokio::test]
async fn named_services_are_described_in_chunks_and_an_unknown_one_is_unhealthy(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    let mut services: Vec<String> = (0..12).map(|n| format!("svc-{n:02}")).collect();
    services.push("gone".into());
    let options = HealthOptions {
        cluster: CLUSTER.into(),
        services,
        endpoints: Vec::new(),
        domain: None,
    };
    world.emulator.reset_calls()?;
    let report = health::check(
        &ServiceReader::new(&world.sdk),
        &probe_options()?,
        &options,
        chrono::Utc::now(),
    )
    .await?;
    let calls = world.calls()?;
    assert_eq!(
        calls.get("ecs.ListServices"),
        None,
        "named services need no listing"
    );
    assert_eq!(
        calls.get("ecs.DescribeServices"),
        Some(&2),
        "13 names in chunks of 10"
    );
    let gone = report.services.iter().find(|s| s.name == "gone");
    assert_eq!(
        gone.map(|s| (s.status, s.reasons.clone())),
        Some((
            Status::Unhealthy,
            vec!["ECS does not know this service".to_owned()]
        ))
    );
    assert_eq!(report.services.len(), 13, "in the order asked");
    assert_eq!(report.services[12].name, "gone");
    Ok(())
}

/// The binary as cron runs it, with the shell monitor's variables, in the state file's
/// directory (its `./data/` gets the per-run reports and alerts.jsonl).
fn health_command(world: &World, state: &std::path::Path) -> anyhow::Result<std::process::Command> {
    let mut command = std::process::Command::new(cli_binary()?);
    command
        .arg("health")
        .current_dir(state.parent().unwrap_or(std::path::Path::new(".")))
        .env_clear()
        .env("AWS_ENDPOINT_URL", world.emulator.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("ECS_REGION", "us-east-1")
        .env("ECS_CLUSTER", CLUSTER)
        .env("ECS_SERVICES", "svc-00, svc-01")
        .env("ECS_HEALTH_STATE", state)
        .env("NO_COLOR", "1");
    Ok(command)
}

#[tokio::test]
async fn the_binary_exits_by_status_and_never_replaces_the_state_with_a_failed_check(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    let dir = std::env::temp_dir().join(format!("sentinel-health-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let state = dir.join("state.json");
    let alerts = dir.join("data").join("alerts.jsonl");

    // Healthy services: exit 0, --quiet prints nothing, the state file holds the report.
    let ok = health_command(&world, &state)?.arg("--quiet").output()?;
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(ok.stdout.is_empty(), "--quiet writes the state file only");
    let kept: Value = serde_json::from_slice(&std::fs::read(&state)?)?;
    assert_eq!(kept["status"], "healthy");
    assert_eq!(kept["services"].as_array().map(Vec::len), Some(2));

    // A flag wins over its variable: svc-03 runs 1 of 2, and its logs are diagnosed.
    integration_tests::log_stream(
        &world,
        "/ecs/shop",
        "ecs/app/0123456789abcdef",
        &[
            "INFO starting",
            "ERROR connection refused: db.internal:5432",
        ],
    )
    .await?;
    let degraded = health_command(&world, &state)?
        .args(["--services", "svc-03", "--json"])
        .output()?;
    assert_eq!(degraded.status.code(), Some(1));
    let printed: Value = serde_json::from_slice(&degraded.stdout)?;
    assert_eq!(printed["status"], "degraded");
    assert_eq!(printed["services"][0]["name"], "svc-03");
    let diagnosis = &printed["services"][0]["diagnosis"];
    assert_eq!(diagnosis["logGroup"], "/ecs/shop", "{diagnosis}");
    assert_eq!(diagnosis["events"], 2, "{diagnosis}");
    let errors: u64 = diagnosis["categories"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, n)| n.as_u64())
        .sum();
    assert_eq!(errors, 1, "{diagnosis}");
    assert_eq!(
        serde_json::from_slice::<Value>(&std::fs::read(&state)?)?,
        printed
    );
    let as_text = health_command(&world, &state)?
        .args(["--services", "svc-03"])
        .output()?;
    let as_text = String::from_utf8(as_text.stdout)?;
    assert!(
        as_text.contains("  svc-03 logs: 2 lines in /ecs/shop, 1 errors"),
        "{as_text}"
    );
    // --quiet sent no alert; this run alerts once on what got worse: svc-03, which the
    // previous report did not have (healthy as far as anyone was told).
    let lines = std::fs::read_to_string(&alerts)?;
    let lines: Vec<Value> = lines
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (
            &lines[0]["target"],
            &lines[0]["kind"],
            &lines[0]["from"],
            &lines[0]["to"]
        ),
        (
            &json!("svc-03"),
            &json!("service"),
            &json!("healthy"),
            &json!("degraded")
        )
    );
    let reports = std::fs::read_dir(dir.join("data"))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("health-"))
        .count();
    assert!(
        reports >= 1,
        "one timestamped report per run (same second: one file)"
    );

    // With a topic: a first run (no state) publishes its transition with the stack's
    // attributes; the same state again publishes nothing.
    std::fs::remove_file(&state)?;
    world.stack.drain_inbox().await?;
    let notify = |state: &std::path::Path| -> anyhow::Result<std::process::Output> {
        Ok(health_command(&world, state)?
            .args([
                "--services",
                "svc-03",
                "--notify-topic",
                &world.stack.topic_arn,
            ])
            .output()?)
    };
    let first = notify(&state)?;
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let published = world.stack.drain_inbox().await?;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(
        published[0].subject,
        "[WARNING] service svc-03 in shop: first check -> degraded"
    );
    for (name, value) in [
        ("monitor", "health"),
        ("cluster", "shop"),
        ("service", "svc-03"),
        ("severity", "warning"),
    ] {
        assert_eq!(published[0].attributes[name]["Value"], value, "{name}");
    }
    let again = notify(&state)?;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        world.stack.drain_inbox().await?.is_empty(),
        "no change, no alert"
    );
    let printed: Value = serde_json::from_slice(&std::fs::read(&state)?)?;

    // ECS fails every attempt: exit 2 with the reason, and the last good state stays.
    world.emulator.inject(&Fault::new(
        "ecs",
        "DescribeServices",
        FaultKind::ServerError,
    ))?;
    let failed = health_command(&world, &state)?.output()?;
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot describe the services of cluster shop"),
        "{stderr}"
    );
    assert!(stderr.contains("DescribeServices"), "{stderr}");
    assert_eq!(
        serde_json::from_slice::<Value>(&std::fs::read(&state)?)?,
        printed
    );
    world.emulator.clear_faults()?;

    // Bad configuration is a clear error, not a check.
    let bad = health_command(&world, &state)?
        .env("ECS_HTTP_ENDPOINTS", "web=example.com")
        .output()?;
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no http:// or https:// URL"));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A CA (its PEM) and a TLS server on 127.0.0.1 presenting a leaf for `localhost` that the
/// CA signed, expiring in `days` days. The server completes handshakes and closes.
async fn tls_server(days: u32) -> anyhow::Result<(String, u16)> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let day = Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "sentinel health test CA");
    ca.not_before = (now - day).into();
    ca.not_after = (now + 365 * day).into();
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()])?;
    leaf.not_before = (now - day).into();
    leaf.not_after = (now + day * days).into();
    let cert = leaf.signed_by(&key, &issuer)?;
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Completes the handshake, then answers any request 200 (the domain is
                // probed over HTTPS as well as inspected).
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                if let Ok(mut tls) = acceptor.accept(socket).await {
                    let mut request = [0u8; 1024];
                    if matches!(tls.read(&mut request).await, Ok(n) if n > 0) {
                        let _ = tls
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                            .await;
                        let _ = tls.shutdown().await;
                    }
                }
            });
        }
    });
    Ok((ca_pem, port))
}

/// `--domain` and `--ca-file` through the binary: a certificate ten days from expiry warns,
/// which degrades an otherwise healthy report (exit 1), with its days, issuer and verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_near_expiry_degrades_the_report() -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    let (ca_pem, port) = tls_server(10).await?;
    let dir = std::env::temp_dir().join(format!("sentinel-health-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_pem)?;
    let mut command = health_command(&world, &dir.join("state.json"))?;
    command
        .env("ECS_DOMAIN", format!("localhost:{port}"))
        .arg("--ca-file")
        .arg(&ca_file)
        .arg("--json");
    // The server runs on this test's runtime: wait for the binary off it.
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout)?;
    let certificate = &report["certificate"];
    assert_eq!(certificate["domain"], format!("localhost:{port}"));
    assert_eq!(certificate["verdict"], "warn", "{certificate}");
    assert_eq!(certificate["ok"], true);
    assert!(
        matches!(certificate["daysLeft"].as_i64(), Some(9..=10)),
        "{certificate}"
    );
    assert!(certificate["issuer"]
        .as_str()
        .is_some_and(|i| i.contains("sentinel health test CA")));
    assert_eq!(
        report["endpoints"][0]["url"],
        format!("https://localhost:{port}/"),
        "the domain is probed over HTTPS too"
    );
    assert_eq!(
        report["endpoints"][0]["ok"], true,
        "{}",
        report["endpoints"]
    );
    assert_eq!(report["status"], "degraded", "the two services are healthy");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// DescribeTargetHealth under faults: one throttle is absorbed by the SDK's retry (the same
/// judgement); failing every attempt makes the check an error that names the call and the
/// cluster (exit 2 in the binary), never a report with the targets silently missing.
#[tokio::test]
async fn describe_target_health_failing_is_an_error_never_a_partial_report() -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    let options = HealthOptions {
        cluster: CLUSTER.into(),
        services: vec!["svc-00".into(), "svc-02".into()],
        endpoints: Vec::new(),
        domain: None,
    };
    let reader = ServiceReader::new(&world.sdk);
    let clean = health::check(&reader, &probe_options()?, &options, chrono::Utc::now()).await?;

    world.emulator.inject(
        &Fault::new(
            "elasticloadbalancing",
            "DescribeTargetHealth",
            FaultKind::Throttle,
        )
        .times(1),
    )?;
    let throttled = health::check(&reader, &probe_options()?, &options, chrono::Utc::now()).await?;
    let judged = |r: &sentinel_cli::health::report::HealthReport| {
        r.services
            .iter()
            .map(|s| (s.name.clone(), s.status, s.targets.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(judged(&throttled), judged(&clean));
    assert_eq!(throttled.status, clean.status);

    world.emulator.clear_faults()?;
    world.emulator.inject(&Fault::new(
        "elasticloadbalancing",
        "DescribeTargetHealth",
        FaultKind::ServerError,
    ))?;
    world.emulator.reset_calls()?;
    let err = health::check(&reader, &probe_options()?, &options, chrono::Utc::now())
        .await
        .expect_err("no report without the targets");
    let err = format!("{err:#}");
    assert!(
        err.contains("cannot read the target health of cluster shop's services")
            && err.contains("DescribeTargetHealth"),
        "{err}"
    );
    let tried = world
        .calls()?
        .get("elasticloadbalancing.DescribeTargetHealth")
        .copied()
        .unwrap_or(0);
    assert!(tried >= 3, "the SDK's three attempts at least: {tried}");
    Ok(())
}
