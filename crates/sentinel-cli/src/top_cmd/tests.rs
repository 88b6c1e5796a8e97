//! The screen as ratatui's test backend draws it, and the keys, from plain events.

use super::*;
use serde_json::{json, Value};

const PROD: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

fn ago(minutes: i64) -> DateTime<Utc> {
    Utc::now() - TimeDelta::minutes(minutes)
}

fn event(detail_type: &str, minutes_ago: i64, detail: Value) -> Value {
    json!({"version": "0", "id": format!("{detail_type}{minutes_ago}"), "detail-type": detail_type,
        "source": "aws.ecs", "account": "123456789012", "time": ago(minutes_ago).to_rfc3339(),
        "region": "us-east-1", "resources": [], "detail": detail})
}

fn stop(n: u32, service: &str, minutes_ago: i64, reason: &str, exit: i64) -> Value {
    let time = ago(minutes_ago).to_rfc3339();
    event(
        "ECS Task State Change",
        minutes_ago,
        json!({"clusterArn": PROD,
            "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}"),
            "group": format!("service:{service}"),
            "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{service}:4"),
            "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited", "stoppedReason": reason,
            "containers": [{"name": "app", "exitCode": exit}], "stoppedAt": time, "updatedAt": time,
            "version": 3}),
    )
}

fn agent(minutes_ago: i64, connected: bool, version: u64) -> Value {
    event(
        "ECS Container Instance State Change",
        minutes_ago,
        json!({"clusterArn": PROD, "status": "ACTIVE", "agentConnected": connected,
            "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0f0f",
            "ec2InstanceId": "i-0f0f0f", "version": version,
            "updatedAt": ago(minutes_ago).to_rfc3339()}),
    )
}

fn app() -> App {
    let mut app = App::new(None, TimeDelta::hours(1), false);
    let events = vec![
        agent(50, true, 1),
        agent(30, false, 2),
        stop(1, "api", 20, "Essential container in task exited", 1),
        stop(2, "api", 10, "Essential container in task exited", 1),
        stop(
            3,
            "web",
            5,
            "OutOfMemoryError: Container killed due to memory usage",
            137,
        ),
    ];
    let alert = Alert {
        cluster_arn: PROD.into(),
        about: sentinel_why::Alerted::Instance {
            container_instance_arn:
                "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0f0f".into(),
            node: "i-0f0f0f".into(),
            node_unreachable: false,
        },
        opened_at: Some(ago(25)),
        alert_sent: true,
        notices_sent: 1,
        last_notice_at: Some(ago(25)),
        resolved_at: None,
    };
    let read = Readings {
        events,
        alerts: vec![alert],
        ..Readings::default()
    };
    app.show(read, Utc::now());
    app
}

#[test]
fn one_frame_shows_agents_down_services_in_trouble_and_stopped_tasks() {
    let text = frame_text(&app(), 120, 30).unwrap();
    assert!(
        text.starts_with("ecs-sentinel top: every cluster, last 1h, refreshed "),
        "{text}"
    );
    assert!(text.contains("Agents down (1)"), "{text}");
    assert!(text.contains("i-0f0f0f"), "{text}");
    assert!(text.contains("Services in trouble (2 of 2 seen)"), "{text}");
    let api = text
        .lines()
        .find(|l| l.contains(" api "))
        .unwrap_or_default();
    assert!(
        api.contains("FAILING") && api.contains("container-exit"),
        "{text}"
    );
    let web = text
        .lines()
        .find(|l| l.contains(" web "))
        .unwrap_or_default();
    assert!(web.contains("out-of-memory"), "{text}");
    assert!(text.contains("Latest stopped tasks (3)"), "{text}");
    // Newest first; the reason as far as the frame is wide (`why` has it whole).
    let stops: Vec<&str> = text.lines().filter(|l| l.contains("service:")).collect();
    assert_eq!(stops.len(), 3, "{text}");
    assert!(
        stops[0].contains("service:web") && stops[0].contains("OutOfMemoryError"),
        "{text}"
    );
    assert!(
        stops[2].contains(&format!("{:032x}", 1)),
        "the whole task id: {text}"
    );
    assert!(text.contains("Open alerts (1)"), "{text}");
    let alert = text
        .lines()
        .find(|l| l.contains("agent-disconnected") && l.contains("i-0f0f0f"))
        .unwrap_or_default();
    let notices = alert.trim_end_matches(['│', ' ']).rsplit(' ').next();
    assert!(alert.contains("prod") && notices == Some("1"), "{text}");
    assert!(text.contains("q quit"), "{text}");
    assert!(
        text.contains("read: no event log, no fleet table, no alert table"),
        "{text}"
    );
    assert!(text.contains("> "), "the selected row is marked: {text}");
}

#[test]
fn a_still_frame_has_no_selection_and_no_keys() {
    let mut app = app();
    app.still = true;
    let text = frame_text(&app, 120, 30).unwrap();
    assert!(text.contains("Services in trouble (2 of 2 seen)"), "{text}");
    assert!(!text.contains("> "), "{text}");
    assert!(!text.contains("q quit"), "{text}");
    assert!(
        text.contains("read: no event log, no fleet table, no alert table"),
        "{text}"
    );
}

#[test]
fn keys_select_a_service_show_its_why_filter_and_quit() {
    let mut app = app();
    assert!(app.key(KeyCode::Down));
    assert_eq!(app.selected, 1);
    assert!(app.key(KeyCode::Down), "past the last row it stays");
    assert_eq!(app.selected, 1);
    assert!(app.key(KeyCode::Up));
    assert!(app.key(KeyCode::Enter));
    let text = frame_text(&app, 120, 30).unwrap();
    assert!(text.contains("why api (esc to go back)"), "{text}");
    assert!(text.contains("service api in prod: FAILING"), "{text}");
    assert!(text.contains("cause: container-exit"), "{text}");
    assert!(app.key(KeyCode::Esc), "esc leaves the why, not top");
    assert!(!app.detail);

    for key in [
        KeyCode::Char('/'),
        KeyCode::Char('W'),
        KeyCode::Char('e'),
        KeyCode::Char('b'),
        KeyCode::Enter,
    ] {
        assert!(app.key(key));
    }
    assert_eq!(app.filter, "Web");
    let text = frame_text(&app, 120, 30).unwrap();
    assert!(text.contains("Services in trouble (1 of 2 seen)"), "{text}");
    assert!(text.contains("filter \"Web\""), "{text}");
    assert!(!text.lines().any(|l| l.contains(" api ")), "{text}");
    assert!(!app.key(KeyCode::Char('q')));
}

#[test]
fn colour_only_when_asked() {
    let mut plain = app();
    plain.colour = false;
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    terminal.draw(|f| draw(f, &plain)).unwrap();
    let coloured_cells = |t: &Terminal<TestBackend>| {
        t.backend()
            .buffer()
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset)
            .count()
    };
    assert_eq!(coloured_cells(&terminal), 0);
    let mut coloured = app();
    coloured.colour = true;
    terminal.draw(|f| draw(f, &coloured)).unwrap();
    assert!(coloured_cells(&terminal) > 0);
}
