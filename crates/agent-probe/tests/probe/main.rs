//! Whole runs of `ecs-agent-probe`, in-process, against loopback agents and IMDS; the
//! schedule installer against a temp directory; the real binary reporting to the AWS
//! emulator (moto with the harness's CloudWatch CBOR layer), and its retries when CloudWatch
//! keeps failing.

mod servers;

use std::time::Duration;

use agent_probe::{run, Env};
use serde_json::{json, Value};
use servers::{
    agent_saying, healthy_agent, imds, refused_addr, serve, stuck_agent, TempDir, IMDS_REGION,
    INSTANCE_ID,
};

const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc";
const VERSION: &str = "Amazon ECS Agent - v1.89.2 (2ab4e3d8)";

struct Ran {
    code: u8,
    out: String,
    err: String,
}

impl Ran {
    fn datum(&self) -> Value {
        serde_json::from_str(self.out.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON datum ({e}): {:?}", self.out))
    }
}

async fn run_with(args: &[String], env: &[(&str, &str)]) -> Ran {
    let mut argv = vec!["ecs-agent-probe".to_string()];
    argv.extend(args.iter().cloned());
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run(
        argv,
        &Env::from_pairs(env.iter().copied()),
        &mut out,
        &mut err,
    )
    .await;
    Ran {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

/// A dry run against the given agent and IMDS, with no ecs.config and no SSM registration
/// unless the test adds them.
fn dry_run(agent: &str, imds: &str, dir: &TempDir) -> Vec<String> {
    [
        "--dry-run",
        "--introspection-url",
        agent,
        "--imds-endpoint",
        imds,
        "--ecs-config",
        &dir.missing("ecs.config"),
        "--ssm-registration",
        &dir.missing("registration"),
    ]
    .map(String::from)
    .to_vec()
}

/// `args` with `more` added; a flag already in `args` gets the new value instead.
fn with(mut args: Vec<String>, more: &[&str]) -> Vec<String> {
    let mut more = more.iter().map(|s| s.to_string()).peekable();
    while let Some(arg) = more.next() {
        let takes_value = more.peek().is_some_and(|next| !next.starts_with("--"));
        match args.iter().position(|a| *a == arg) {
            Some(i) if takes_value => args[i + 1] = more.next().unwrap_or_default(),
            Some(_) => {}
            None => {
                args.push(arg);
                if takes_value {
                    args.extend(more.next());
                }
            }
        }
    }
    args
}

#[tokio::test]
async fn healthy_agent_reports_zero_with_its_identity() {
    let dir = TempDir::new("healthy");
    let agent = healthy_agent().await;
    let (imds, imds_log) = imds().await;
    let ran = run_with(&dry_run(&agent, &imds, &dir), &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.err);
    assert_eq!(
        ran.datum(),
        json!({
            "namespace": "ECS/AgentProbe",
            "metricName": "AgentDown",
            "value": 0,
            "cluster": "prod",
            "instanceId": INSTANCE_ID,
            "region": IMDS_REGION,
            "agentVersion": VERSION,
            "containerInstanceArn": ARN,
        })
    );
    assert_eq!(ran.err, "");

    // IMDSv2 as the instance requires it: one token PUT with the TTL, then GETs carrying it.
    let seen = imds_log.all();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("PUT", "/latest/api/token")
    );
    assert_eq!(
        seen[0].header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("60")
    );
    let mut gets: Vec<&str> = seen[1..].iter().map(|s| s.path.as_str()).collect();
    gets.sort();
    assert_eq!(
        gets,
        [
            "/latest/meta-data/instance-id",
            "/latest/meta-data/placement/region"
        ]
    );
    assert!(seen[1..]
        .iter()
        .all(|s| s.method == "GET" && s.header("x-aws-ec2-metadata-token") == Some("token-0")));
}

#[tokio::test]
async fn the_test_imds_insists_on_its_token() {
    // The fixture's own check: without this, the test above would not prove IMDSv2 is used.
    let (imds, _) = imds().await;
    let opts = sentinel_http::ProbeOptions::with_roots(
        Duration::from_secs(5),
        sentinel_http::RootCertStore::empty(),
    );
    let url = format!("{imds}/latest/meta-data/instance-id");
    let bare = sentinel_http::request("GET", &url, &[], b"", &opts)
        .await
        .unwrap();
    assert_eq!(bare.status, 401);
    let forged = sentinel_http::request(
        "GET",
        &url,
        &[("X-aws-ec2-metadata-token", "made-up")],
        b"",
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(forged.status, 401);
    let no_ttl =
        sentinel_http::request("PUT", &format!("{imds}/latest/api/token"), &[], b"", &opts)
            .await
            .unwrap();
    assert_eq!(no_ttl.status, 400);
}

#[tokio::test]
async fn refusing_agent_is_down_not_listening_with_the_cluster_from_ecs_config() {
    let dir = TempDir::new("refused");
    let config = dir.file(
        "ecs.config",
        "# user data\nECS_CLUSTER=\"payments\"\nECS_ENABLE_CONTAINER_METADATA=true\n",
    );
    let agent = format!("http://{}/v1/metadata", refused_addr().await);
    let (imds, _) = imds().await;
    let args = with(dry_run(&agent, &imds, &dir), &["--ecs-config", &config]);
    let ran = run_with(&args, &[]).await;
    assert_eq!(ran.code, 1, "{}", ran.err);
    assert_eq!(
        ran.datum(),
        json!({
            "namespace": "ECS/AgentProbe",
            "metricName": "AgentDown",
            "value": 1,
            "cluster": "payments",
            "instanceId": INSTANCE_ID,
            "region": IMDS_REGION,
            "reason": "agent not listening",
        })
    );
}

#[tokio::test]
async fn stuck_agent_is_down_after_the_timeout() {
    let dir = TempDir::new("stuck");
    let agent = stuck_agent().await;
    let (imds, _) = imds().await;
    let args = with(dry_run(&agent, &imds, &dir), &["--timeout", "300ms"]);
    // The reason says the timeout fired (a stuck agent never answers at all).
    let ran = run_with(&args, &[]).await;
    assert_eq!(ran.code, 1, "{}", ran.err);
    let datum = ran.datum();
    assert_eq!(datum["value"], 1);
    assert_eq!(datum["reason"], "agent did not answer within 0.3s");
    // Nobody said otherwise, so the cluster is the agent's own default.
    assert_eq!(datum["cluster"], "default");
}

#[tokio::test]
async fn other_bad_answers_each_have_their_reason() {
    let cases = [
        (
            200,
            "<html><body>It works!</body></html>",
            "agent answered something that is not its metadata",
        ),
        (500, "internal error", "agent answered HTTP 500"),
        (
            200,
            r#"{"Cluster":"staging","Version":"Amazon ECS Agent - v1.89.2 (2ab4e3d8)"}"#,
            "agent is not registered",
        ),
    ];
    for (status, body, reason) in cases {
        let dir = TempDir::new("bad");
        let agent = agent_saying(status, body).await;
        let (imds, _) = imds().await;
        let ran = run_with(&dry_run(&agent, &imds, &dir), &[]).await;
        assert_eq!(ran.code, 1, "{body}: {}", ran.err);
        let datum = ran.datum();
        assert_eq!(datum["value"], 1);
        assert_eq!(datum["reason"], reason);
        assert!(datum.get("containerInstanceArn").is_none());
    }
}

#[tokio::test]
async fn unregistered_agent_still_names_its_cluster_and_version() {
    let dir = TempDir::new("unregistered");
    let config = dir.file("ecs.config", "ECS_CLUSTER=from-config\n");
    let agent = agent_saying(
        200,
        r#"{"Cluster":"staging","ContainerInstanceArn":"","Version":"Amazon ECS Agent - v1.89.2 (2ab4e3d8)"}"#,
    )
    .await;
    let (imds, _) = imds().await;
    let ran = run_with(
        &with(dry_run(&agent, &imds, &dir), &["--ecs-config", &config]),
        &[],
    )
    .await;
    assert_eq!(ran.code, 1);
    let datum = ran.datum();
    assert_eq!(datum["cluster"], "staging");
    assert_eq!(datum["agentVersion"], VERSION);
    assert_eq!(datum["reason"], "agent is not registered");
}

#[tokio::test]
async fn refusing_imds_falls_back_to_the_ssm_registration() {
    let dir = TempDir::new("anywhere");
    let registration = dir.file(
        "registration",
        r#"{"ManagedInstanceID":"mi-0123456789abcdef0","Region":"eu-west-1"}"#,
    );
    let agent = healthy_agent().await;
    let imds = format!("http://{}", refused_addr().await);
    let args = with(
        dry_run(&agent, &imds, &dir),
        &["--ssm-registration", &registration],
    );
    let ran = run_with(&args, &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.err);
    let datum = ran.datum();
    assert_eq!(datum["instanceId"], "mi-0123456789abcdef0");
    assert_eq!(datum["region"], "eu-west-1");
    assert_eq!(datum["cluster"], "prod");
}

#[tokio::test]
async fn anywhere_skips_imds_and_the_region_flag_wins() {
    let dir = TempDir::new("anywhere-flag");
    let registration = dir.file(
        "registration",
        r#"{"ManagedInstanceID":"mi-0aaa","Region":"eu-west-1"}"#,
    );
    let agent = healthy_agent().await;
    let (imds, imds_log) = imds().await;
    let args = with(
        dry_run(&agent, &imds, &dir),
        &[
            "--anywhere",
            "--ssm-registration",
            &registration,
            "--region",
            "ap-southeast-2",
        ],
    );
    let ran = run_with(&args, &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.err);
    let datum = ran.datum();
    assert_eq!(datum["instanceId"], "mi-0aaa");
    assert_eq!(datum["region"], "ap-southeast-2");
    assert!(imds_log.all().is_empty(), "--anywhere must not ask IMDS");
}

#[tokio::test]
async fn environment_gives_the_imds_endpoint_and_the_region() {
    let dir = TempDir::new("env");
    let agent = healthy_agent().await;
    let (imds, imds_log) = imds().await;
    let args: Vec<String> = dry_run(&agent, "unused", &dir)
        .into_iter()
        .filter(|a| a != "--imds-endpoint" && a != "unused")
        .collect();
    let ran = run_with(
        &args,
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
            ("AWS_REGION", "eu-central-1"),
        ],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.err);
    let datum = ran.datum();
    assert_eq!(datum["instanceId"], INSTANCE_ID);
    assert_eq!(datum["region"], "eu-central-1");
    // The region was known, so IMDS was asked only for the token and the instance id.
    let paths: Vec<String> = imds_log.all().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        ["/latest/api/token", "/latest/meta-data/instance-id"]
    );
}

#[tokio::test]
async fn no_instance_id_anywhere_is_exit_2_with_both_reasons() {
    let dir = TempDir::new("noid");
    let agent = format!("http://{}/v1/metadata", refused_addr().await);
    // An IMDS that gives no token (IMDS switched off answers 403, for instance).
    let (imds, _) = serve(|_| (403, String::new())).await;
    let ran = run_with(&dry_run(&agent, &imds, &dir), &[]).await;
    assert_eq!(ran.code, 2);
    assert_eq!(ran.out, "");
    assert!(
        ran.err.contains("could not report AgentDown=1 (agent not listening) for cluster default: no instance id: IMDS at"),
        "{}",
        ran.err
    );
    assert!(ran.err.contains("token: HTTP 403"), "{}", ran.err);
    assert!(ran.err.contains("SSM registration file"), "{}", ran.err);
}

#[tokio::test]
async fn no_region_is_exit_2() {
    let dir = TempDir::new("noregion");
    let registration = dir.file("registration", r#"{"ManagedInstanceID":"mi-0bbb"}"#);
    let agent = healthy_agent().await;
    let args = with(
        dry_run(&agent, "http://127.0.0.1:1", &dir),
        &["--anywhere", "--ssm-registration", &registration],
    );
    let ran = run_with(&args, &[]).await;
    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("no region"), "{}", ran.err);
}

#[tokio::test]
async fn systemd_state_is_reported_and_never_fails_the_run() {
    let dir = TempDir::new("systemd");
    let agent = healthy_agent().await;
    let (imds, _) = imds().await;
    let args = with(dry_run(&agent, &imds, &dir), &["--systemd-unit", "ecs"]);
    let ran = run_with(&args, &[]).await;
    // Whatever this machine's systemctl says (or that there is none), the agent decides.
    assert_eq!(ran.code, 0, "{}", ran.err);
    let unit = &ran.datum()["systemdUnit"];
    assert_eq!(unit["name"], "ecs");
    assert!(
        unit["state"].as_str().is_some_and(|s| !s.is_empty()),
        "{unit}"
    );
}

#[tokio::test]
async fn a_bad_introspection_url_is_a_configuration_error() {
    let dir = TempDir::new("badurl");
    let (imds, _) = imds().await;
    let ran = run_with(&dry_run("localhost:51678/v1/metadata", &imds, &dir), &[]).await;
    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("cannot ask the agent"), "{}", ran.err);
}

#[tokio::test]
async fn help_and_usage_errors() {
    let help = run_with(&["--help".to_string()], &[]).await;
    assert_eq!(help.code, 0);
    assert!(help.out.contains("--dry-run"));
    assert!(help.out.contains("install"));
    let bad = run_with(&["--timeout".to_string(), "0".to_string()], &[]).await;
    assert_eq!(bad.code, 2);
    assert!(bad.err.contains("--timeout"), "{}", bad.err);
    let no_room = run_with(
        &["--timeout", "5s", "--budget", "5s"].map(String::from),
        &[],
    )
    .await;
    assert_eq!(no_room.code, 2);
    assert!(
        no_room.err.contains("must be shorter than --budget"),
        "{}",
        no_room.err
    );
}

fn install_args(dir: &TempDir, more: &[&str]) -> Vec<String> {
    let mut args = vec![
        "install".to_string(),
        "--systemd".to_string(),
        "--dir".to_string(),
        dir.path().to_string_lossy().into_owned(),
    ];
    args.extend(more.iter().map(|s| s.to_string()));
    args
}

#[tokio::test]
async fn install_systemd_writes_hardened_units_once() {
    let dir = TempDir::new("install");
    let ran = run_with(&install_args(&dir, &["--", "--systemd-unit", "ecs"]), &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.err);
    assert!(ran
        .out
        .contains("next: systemctl daemon-reload && systemctl enable --now ecs-agent-probe.timer"));

    let service = std::fs::read_to_string(dir.path().join("ecs-agent-probe.service")).unwrap();
    for line in [
        "Type=oneshot",
        "ExecStart=/usr/local/bin/ecs-agent-probe --systemd-unit ecs",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=tmpfs",
        "BindReadOnlyPaths=-/root/.aws",
        "PrivateTmp=yes",
        "ReadOnlyPaths=-/etc/ecs/ecs.config -/var/lib/amazon/ssm",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=",
    ] {
        assert!(
            service.lines().any(|l| l == line),
            "missing {line:?} in\n{service}"
        );
    }
    let timer = std::fs::read_to_string(dir.path().join("ecs-agent-probe.timer")).unwrap();
    for line in [
        "OnCalendar=*-*-* *:*:00",
        "AccuracySec=1s",
        "Persistent=true",
        "WantedBy=timers.target",
    ] {
        assert!(
            timer.lines().any(|l| l == line),
            "missing {line:?} in\n{timer}"
        );
    }

    // A second install must not replace what is there (an operator may have tuned it).
    std::fs::write(dir.path().join("ecs-agent-probe.timer"), "tuned").unwrap();
    let again = run_with(&install_args(&dir, &[]), &[]).await;
    assert_eq!(again.code, 2);
    assert!(again.err.contains("--force"), "{}", again.err);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ecs-agent-probe.timer")).unwrap(),
        "tuned"
    );

    let forced = run_with(&install_args(&dir, &["--force"]), &[]).await;
    assert_eq!(forced.code, 0, "{}", forced.err);
    let service = std::fs::read_to_string(dir.path().join("ecs-agent-probe.service")).unwrap();
    assert!(service.contains("\nExecStart=/usr/local/bin/ecs-agent-probe\n"));
}

#[tokio::test]
async fn install_checks_the_probe_flags_and_the_binary() {
    let dir = TempDir::new("install-bad");
    let typo = run_with(&install_args(&dir, &["--", "--systemd-units", "ecs"]), &[]).await;
    assert_eq!(typo.code, 2);
    assert!(typo.err.contains("not valid"), "{}", typo.err);
    let relative = run_with(&install_args(&dir, &["--binary", "ecs-agent-probe"]), &[]).await;
    assert_eq!(relative.code, 2);
    assert!(relative.err.contains("absolute"), "{}", relative.err);
    let dry = run_with(&install_args(&dir, &["--", "--dry-run"]), &[]).await;
    assert_eq!(dry.code, 2);
    assert!(dry.err.contains("report nothing"), "{}", dry.err);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn install_cron_prints_the_entry() {
    let ran = run_with(&["install".to_string(), "--cron".to_string()], &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.err);
    let lines: Vec<&str> = ran.out.lines().collect();
    assert!(lines[0].starts_with("# /etc/cron.d/ecs-agent-probe"));
    assert_eq!(
        lines.last().copied(),
        Some("* * * * * root /usr/local/bin/ecs-agent-probe >/dev/null 2>&1")
    );
    assert!(ran.err.contains("/etc/cron.d/ecs-agent-probe"));
    // Exactly one of the two schedulers.
    let neither = run_with(&["install".to_string()], &[]).await;
    assert_eq!(neither.code, 2);
}

/// Runs the built binary with only the given environment (nothing inherited: no profile, no
/// real credentials or endpoints can leak in), off the runtime so the test's servers answer.
async fn run_binary(args: Vec<String>, env: Vec<(String, String)>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ecs-agent-probe"))
            .args(args)
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn sdk_env(dir: &TempDir, endpoint: &str) -> Vec<(String, String)> {
    [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", &dir.path().to_string_lossy()),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

/// The metric as CloudWatch (the emulator) sums it over the last ten minutes.
async fn summed(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    dimensions: &[(&str, &str)],
) -> Option<f64> {
    let now = std::time::SystemTime::now();
    let mut request = cloudwatch
        .get_metric_statistics()
        .namespace(agent_probe::DEFAULT_NAMESPACE)
        .metric_name(agent_probe::METRIC_NAME)
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(60)).into())
        .period(3600)
        .statistics(aws_sdk_cloudwatch::types::Statistic::Sum);
    for (name, value) in dimensions {
        request = request.dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name(*name)
                .value(*value)
                .build(),
        );
    }
    let answer = request.send().await.unwrap();
    answer.datapoints().first().and_then(|d| d.sum())
}

/// The real binary reports to the AWS emulator (moto, with the harness's CBOR layer) through
/// `AWS_ENDPOINT_URL`, as it would to CloudWatch: one PutMetricData, and the metric reads back
/// per instance and per cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reports_to_the_emulator_and_the_metric_reads_back() {
    let emulator = sentinel_emulator::Emulator::start().unwrap();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&emulator.sdk_config().await);
    let dir = TempDir::new("binary");
    let agent = format!("http://{}/v1/metadata", refused_addr().await);
    let (imds, _) = imds().await;
    // A loaded machine's emulator can take seconds to answer: one attempt may take a minute
    // here (production gives it 5 s), so a slow answer is never retried and the count of
    // exactly one PutMetricData below cannot race the clock.
    let args: Vec<String> = dry_run(&agent, &imds, &dir)
        .into_iter()
        .filter(|a| a != "--dry-run")
        .chain(["--budget", "150s", "--report-timeout", "60s"].map(String::from))
        .collect();
    emulator.reset_calls().unwrap();
    let output = run_binary(args, sdk_env(&dir, emulator.endpoint())).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "AgentDown=1 cluster=default instance={INSTANCE_ID} region=us-east-1: agent not listening\n"
        )
    );
    let calls = emulator.calls().unwrap();
    assert_eq!(calls.get("monitoring.PutMetricData"), Some(&1), "{calls:?}");
    assert_eq!(calls.values().sum::<u64>(), 1, "nothing else: {calls:?}");
    assert_eq!(
        summed(
            &cloudwatch,
            &[("ClusterName", "default"), ("InstanceId", INSTANCE_ID)]
        )
        .await,
        Some(1.0)
    );
    assert_eq!(
        summed(&cloudwatch, &[("ClusterName", "default")]).await,
        Some(1.0),
        "the cluster-only datum one alarm per cluster sums"
    );
}

/// CloudWatch failing every attempt: the SDK tries MAX_ATTEMPTS times, then the probe exits
/// 2 and says why on stderr, with what it found about the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_2_when_cloudwatch_keeps_failing() {
    let emulator = sentinel_emulator::Emulator::start().unwrap();
    emulator
        .inject(&sentinel_emulator::Fault::new(
            "monitoring",
            "PutMetricData",
            sentinel_emulator::FaultKind::ServerError,
        ))
        .unwrap();
    let dir = TempDir::new("binary-fail");
    let agent = healthy_agent().await;
    let (imds, _) = imds().await;
    let args: Vec<String> = dry_run(&agent, &imds, &dir)
        .into_iter()
        .filter(|a| a != "--dry-run")
        .collect();
    emulator.reset_calls().unwrap();
    let output = run_binary(args, sdk_env(&dir, emulator.endpoint())).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(
            "ecs-agent-probe: could not report AgentDown=0 for cluster prod: PutMetricData failed"
        ),
        "{stderr}"
    );
    assert_eq!(output.stdout, b"");
    assert_eq!(
        emulator
            .calls()
            .unwrap()
            .get("monitoring.PutMetricData")
            .copied(),
        Some(u64::from(agent_probe::cloudwatch::MAX_ATTEMPTS))
    );
}
