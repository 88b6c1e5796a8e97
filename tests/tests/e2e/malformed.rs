//! Every kind of unusable body is parked in the dead-letter queue with its reason, and the
//! rest of the batch goes on.

use integration_tests::{records, Fault, FaultKind, World};
use serde_json::json;

fn bad_bodies(valid: &serde_json::Value) -> Vec<(String, &'static str)> {
    let with = |path: &[&str], value: Option<serde_json::Value>| {
        let mut e = valid.clone();
        let (last, parents) = path.split_last().expect("non-empty path");
        let mut cursor = &mut e;
        for key in parents {
            cursor = &mut cursor[*key];
        }
        match (cursor.as_object_mut(), value) {
            (Some(obj), Some(v)) => {
                obj.insert((*last).to_owned(), v);
            }
            (Some(obj), None) => {
                obj.remove(*last);
            }
            _ => {}
        }
        e.to_string()
    };
    vec![
        ("this is not json".into(), "not-json"),
        ("[\"an\", \"array\"]".into(), "not-an-eventbridge-event"),
        (
            json!({"Records": []}).to_string(),
            "not-an-eventbridge-event",
        ),
        (
            with(&["source"], Some(json!("aws.ec2"))),
            "unexpected-source",
        ),
        (
            with(&["detail-type"], Some(json!("ECS Task State Change"))),
            "unexpected-detail-type",
        ),
        (with(&["detail", "clusterArn"], None), "missing-field"),
        (
            with(&["detail", "ec2InstanceId"], Some(json!("server-12"))),
            "invalid-field",
        ),
    ]
}

#[tokio::test]
async fn unusable_bodies_are_parked_with_reasons_and_the_rest_is_processed() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, mut events) = world.cluster_with_stopped_agents("alpha", &[], 1).await?;
    let valid = events.remove(0);
    let bad = bad_bodies(&serde_json::from_str(&valid)?);
    let mut bodies: Vec<String> = bad.iter().map(|(b, _)| b.clone()).collect();
    bodies.push(valid);

    world.emulator.reset_calls()?;
    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&bodies))
        .await;

    assert!(
        report.failed_record_ids.is_empty(),
        "parked records are acknowledged"
    );
    assert_eq!(report.dead_lettered.len(), bad.len());
    assert_eq!(
        world.stack.drain_inbox().await?.len(),
        1,
        "the valid record still alerts"
    );
    let mut parked = world.stack.drain_dead_letters().await?;
    parked.sort_by_key(|p| {
        p.source_message_id
            .trim_start_matches('m')
            .parse::<usize>()
            .unwrap_or(0)
    });
    assert_eq!(parked.len(), bad.len());
    for (i, (letter, (body, code))) in parked.iter().zip(&bad).enumerate() {
        assert_eq!(&letter.body, body);
        assert_eq!(letter.reason_code, *code);
        assert_eq!(letter.source_message_id, format!("m{i}"));
        assert!(!letter.reason.is_empty());
    }
    assert!(
        parked[3].reason.contains("found \"aws.ec2\""),
        "{}",
        parked[3].reason
    );
    assert_eq!(parked[5].reason, "detail.clusterArn is missing");
    assert_eq!(
        world.calls()?.get("sqs.SendMessageBatch"),
        Some(&1),
        "seven letters, one call"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &report
            .metrics
            .last()
            .map(|m| m.to_emf())
            .unwrap_or_default(),
    )?;
    assert_eq!(summary["InvalidRecords"], 7.0);
    Ok(())
}

#[tokio::test]
async fn records_that_cannot_be_parked_are_left_for_redelivery() -> anyhow::Result<()> {
    let world = World::start().await?;
    world.emulator.inject(&Fault::new(
        "sqs",
        "SendMessageBatch",
        FaultKind::ServerError,
    ))?;
    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&["garbage".to_owned(), "{}".to_owned()]))
        .await;
    assert_eq!(
        report.failed_record_ids.iter().collect::<Vec<_>>(),
        ["m0", "m1"]
    );
    assert!(report.dead_lettered.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_unreadable_stored_episode_fails_only_its_own_records() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 2).await?;
    // The first instance's item in the table is garbled (a hand edit, an old schema).
    use aws_sdk_dynamodb::types::AttributeValue;
    aws_sdk_dynamodb::Client::new(&world.sdk)
        .put_item()
        .table_name(&world.stack.table_name)
        .item(
            "pk",
            AttributeValue::S(members[0].container_instance_arn.clone()),
        )
        .item("status", AttributeValue::S("sideways".into()))
        .send()
        .await?;

    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&events))
        .await;
    assert_eq!(
        report.failed_record_ids.iter().collect::<Vec<_>>(),
        vec!["m0"],
        "only the garbled instance's record goes back to the queue"
    );
    assert!(
        report
            .errors
            .iter()
            .any(|(_, e)| e.contains("unreadable alert state")),
        "{:?}",
        report.errors
    );
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        integration_tests::nodes_in(&inbox[0].document),
        vec![members[1].node_id.clone()],
        "the other instance is alerted as usual"
    );
    Ok(())
}
