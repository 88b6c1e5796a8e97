//! CloudWatch through the real SDK, which speaks Smithy RPC v2 CBOR, against the harness's
//! CBOR layer (moto reads CloudWatch only as query or JSON): the probe's two AgentDown datums
//! read back exactly with ListMetrics, GetMetricStatistics and GetMetricData, every attempt
//! counted, a throttle retried by the SDK, errors parsed as the SDK's modelled ones, and an
//! operation the layer does not translate refused with a clear error.

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Datapoint, Dimension, DimensionFilter, Metric, MetricDataQuery, MetricDatum, MetricStat,
    StandardUnit, Statistic, StatusCode,
};
use aws_sdk_cloudwatch::Client;
use integration_tests::{Fault, FaultKind};
use sentinel_emulator::Emulator;
use std::time::{Duration, SystemTime};

const NAMESPACE: &str = "ECS/AgentProbe";
const METRIC: &str = "AgentDown";
const CLUSTER: &str = "prod";
const INSTANCE: &str = "i-0123456789abcdef0";

async fn cloudwatch(emulator: &Emulator) -> Client {
    Client::new(&emulator.sdk_config().await)
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// The per-instance datum's dimensions.
fn per_instance() -> Vec<Dimension> {
    vec![
        dimension("ClusterName", CLUSTER),
        dimension("InstanceId", INSTANCE),
    ]
}

/// The per-cluster datum's dimensions.
fn per_cluster() -> Vec<Dimension> {
    vec![dimension("ClusterName", CLUSTER)]
}

fn pairs(dimensions: &[Dimension]) -> Vec<(String, String)> {
    dimensions
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_owned(),
                d.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// AgentDown's Sum and SampleCount for exactly `dimensions` from five minutes before `now`
/// to five after, in one hour-long period.
async fn statistics(
    client: &Client,
    dimensions: Vec<Dimension>,
    now: SystemTime,
) -> anyhow::Result<Vec<Datapoint>> {
    let output = client
        .get_metric_statistics()
        .namespace(NAMESPACE)
        .metric_name(METRIC)
        .set_dimensions(Some(dimensions))
        .start_time(DateTime::from(now - Duration::from_secs(300)))
        .end_time(DateTime::from(now + Duration::from_secs(300)))
        .period(3600)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .send()
        .await?;
    assert_eq!(output.label(), Some(METRIC));
    Ok(output.datapoints().to_vec())
}

#[tokio::test]
async fn agent_down_datums_read_back_exactly() -> anyhow::Result<()> {
    let emulator = Emulator::start()?;
    let client = cloudwatch(&emulator).await;
    let now = SystemTime::now();

    // One per-instance datum (1), one per-cluster datum as Values/Counts: 1 twice, 0 once.
    client
        .put_metric_data()
        .namespace(NAMESPACE)
        .metric_data(
            MetricDatum::builder()
                .metric_name(METRIC)
                .set_dimensions(Some(per_instance()))
                .value(1.0)
                .unit(StandardUnit::Count)
                .timestamp(DateTime::from(now))
                .build(),
        )
        .metric_data(
            MetricDatum::builder()
                .metric_name(METRIC)
                .set_dimensions(Some(per_cluster()))
                .values(1.0)
                .values(0.0)
                .counts(2.0)
                .counts(1.0)
                .unit(StandardUnit::Count)
                .timestamp(DateTime::from(now))
                .build(),
        )
        .send()
        .await?;
    assert_eq!(emulator.calls()?.get("monitoring.PutMetricData"), Some(&1));
    // The harness keeps CBOR bodies as JSON, the timestamp as epoch seconds.
    let bodies = emulator.requests("monitoring.PutMetricData")?;
    let body: serde_json::Value = serde_json::from_str(&bodies[0])?;
    assert_eq!(body["Namespace"], NAMESPACE);
    assert_eq!(
        body["MetricData"][1]["Counts"],
        serde_json::json!([2.0, 1.0])
    );
    let sent = body["MetricData"][0]["Timestamp"]
        .as_f64()
        .unwrap_or_default();
    let expected = DateTime::from(now).as_secs_f64();
    assert!((sent - expected).abs() < 0.001, "{sent} vs {expected}");

    // Each metric (namespace, name, exact dimensions) once.
    let listed = client
        .list_metrics()
        .namespace(NAMESPACE)
        .metric_name(METRIC)
        .send()
        .await?;
    assert_eq!(listed.next_token(), None);
    let mut metrics: Vec<Vec<(String, String)>> = listed
        .metrics()
        .iter()
        .map(|metric| {
            assert_eq!(metric.namespace(), Some(NAMESPACE));
            assert_eq!(metric.metric_name(), Some(METRIC));
            pairs(metric.dimensions())
        })
        .collect();
    metrics.sort();
    assert_eq!(
        metrics,
        [
            owned(&[("ClusterName", CLUSTER)]),
            owned(&[("ClusterName", CLUSTER), ("InstanceId", INSTANCE)]),
        ]
    );
    // A dimension filter without a value keeps the metrics that have that dimension.
    let with_instance = client
        .list_metrics()
        .namespace(NAMESPACE)
        .dimensions(DimensionFilter::builder().name("InstanceId").build())
        .send()
        .await?;
    let with_instance: Vec<_> = with_instance
        .metrics()
        .iter()
        .map(|m| pairs(m.dimensions()))
        .collect();
    assert_eq!(
        with_instance,
        [owned(&[("ClusterName", CLUSTER), ("InstanceId", INSTANCE)])]
    );

    // Statistics are per exact set of dimensions: the per-cluster sum leaves the
    // per-instance datum out.
    let instance = statistics(&client, per_instance(), now).await?;
    assert_eq!(instance.len(), 1, "{instance:?}");
    assert_eq!(instance[0].sum(), Some(1.0));
    assert_eq!(instance[0].sample_count(), Some(1.0));
    assert_eq!(instance[0].unit(), Some(&StandardUnit::Count));
    let period_start = instance[0]
        .timestamp()
        .map(DateTime::secs)
        .unwrap_or_default();
    let start = DateTime::from(now - Duration::from_secs(300)).secs();
    assert!(
        (start - 1..=DateTime::from(now).secs()).contains(&period_start),
        "{period_start} outside the window starting {start}"
    );
    let cluster = statistics(&client, per_cluster(), now).await?;
    assert_eq!(cluster.len(), 1, "{cluster:?}");
    assert_eq!(cluster[0].sum(), Some(2.0));
    assert_eq!(cluster[0].sample_count(), Some(3.0));

    // GetMetricData: the same sum, as a MetricStat query.
    let data = client
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("down")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(NAMESPACE)
                                .metric_name(METRIC)
                                .set_dimensions(Some(per_cluster()))
                                .build(),
                        )
                        .period(300)
                        .stat("Sum")
                        .build(),
                )
                .build(),
        )
        .start_time(DateTime::from(now - Duration::from_secs(300)))
        .end_time(DateTime::from(now + Duration::from_secs(300)))
        .send()
        .await?;
    let results = data.metric_data_results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].id(), Some("down"));
    assert_eq!(results[0].values(), [2.0]);
    assert_eq!(results[0].timestamps().len(), 1);
    assert_eq!(results[0].status_code(), Some(&StatusCode::Complete));
    Ok(())
}

#[tokio::test]
async fn a_throttled_put_is_retried_by_the_sdk_and_stored_once() -> anyhow::Result<()> {
    let emulator = Emulator::start()?;
    let client = cloudwatch(&emulator).await;
    let now = SystemTime::now();
    emulator.inject(&Fault::new("monitoring", "PutMetricData", FaultKind::Throttle).times(1))?;

    client
        .put_metric_data()
        .namespace(NAMESPACE)
        .metric_data(
            MetricDatum::builder()
                .metric_name(METRIC)
                .set_dimensions(Some(per_instance()))
                .value(1.0)
                .timestamp(DateTime::from(now))
                .build(),
        )
        .send()
        .await?;

    assert_eq!(emulator.calls()?.get("monitoring.PutMetricData"), Some(&2));
    assert_eq!(emulator.fired_faults()?, [("throttle".to_owned(), 1)]);
    let stored = statistics(&client, per_instance(), now).await?;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].sample_count(), Some(1.0));
    assert_eq!(stored[0].sum(), Some(1.0));

    // Throttled for good: the SDK gives up after its three attempts and reports the code
    // CloudWatch's query-compatible header carries.
    emulator.clear_faults()?;
    emulator.inject(&Fault::new(
        "monitoring",
        "PutMetricData",
        FaultKind::Throttle,
    ))?;
    emulator.reset_calls()?;
    let error = client
        .put_metric_data()
        .namespace(NAMESPACE)
        .metric_data(
            MetricDatum::builder()
                .metric_name(METRIC)
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .expect_err("every attempt is throttled");
    assert_eq!(error.code(), Some("Throttling"), "{error:?}");
    assert_eq!(error.message(), Some("Rate exceeded (injected by harness)"));
    assert_eq!(emulator.calls()?.get("monitoring.PutMetricData"), Some(&3));
    Ok(())
}

#[tokio::test]
async fn bad_and_untranslated_requests_get_clear_errors() -> anyhow::Result<()> {
    let emulator = Emulator::start()?;
    let client = cloudwatch(&emulator).await;

    // A validation error reaches the SDK as its modelled error.
    let now = SystemTime::now();
    let error = client
        .get_metric_statistics()
        .namespace(NAMESPACE)
        .metric_name(METRIC)
        .start_time(DateTime::from(now))
        .end_time(DateTime::from(now - Duration::from_secs(600)))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect_err("the window ends before it starts")
        .into_service_error();
    assert!(error.is_invalid_parameter_value_exception(), "{error:?}");
    assert_eq!(
        error.message(),
        Some("The parameter StartTime must be less than the parameter EndTime.")
    );

    // An operation the CBOR layer does not translate: refused once, not retried.
    let error = client
        .list_dashboards()
        .send()
        .await
        .expect_err("ListDashboards is not translated");
    assert_eq!(error.code(), Some("UnsupportedOperation"), "{error:?}");
    let message = error.message().unwrap_or_default();
    assert!(
        message.contains("monitoring.ListDashboards") && message.contains("RPC v2 CBOR"),
        "{message}"
    );
    assert_eq!(emulator.calls()?.get("monitoring.ListDashboards"), Some(&1));
    Ok(())
}

#[tokio::test]
async fn a_put_large_enough_to_be_gzipped_is_read() -> anyhow::Result<()> {
    let emulator = Emulator::start()?;
    let client = cloudwatch(&emulator).await;
    // The SDK gzips a PutMetricData body of 10 KiB or more: 300 per-instance datums.
    let instances: Vec<String> = (0..300).map(|n| format!("i-{n:017x}")).collect();
    let datums = instances.iter().map(|instance| {
        MetricDatum::builder()
            .metric_name(METRIC)
            .dimensions(dimension("ClusterName", CLUSTER))
            .dimensions(dimension("InstanceId", instance))
            .value(0.0)
            .unit(StandardUnit::Count)
            .build()
    });
    client
        .put_metric_data()
        .namespace(NAMESPACE)
        .set_metric_data(Some(datums.collect()))
        .send()
        .await?;

    let listed = client
        .list_metrics()
        .namespace(NAMESPACE)
        .dimensions(DimensionFilter::builder().name("InstanceId").build())
        .send()
        .await?;
    let mut listed: Vec<String> = listed
        .metrics()
        .iter()
        .flat_map(|m| m.dimensions())
        .filter(|d| d.name() == Some("InstanceId"))
        .filter_map(|d| d.value().map(str::to_owned))
        .collect();
    listed.sort();
    assert_eq!(listed, instances);
    Ok(())
}
