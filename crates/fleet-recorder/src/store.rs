//! The fleet state table (`FLEET_TABLE_NAME`): one item per container instance, task,
//! service action and deployment, keyed as `sentinel_fleet` keys them, written only when the
//! state is newer than the stored one, and the ECS listings the reconcile compares it with.
//!
//! Items: `pk` (the record's key), `kind`, `cluster` (cluster ARN), `sk`
//! (`<kind>#<updated at>`, the sort key of the `by-cluster` index, so a cluster's tasks read
//! newest first), `order` (version or event time), `doc` (the record's JSON), `gone` (the
//! reconcile found ECS no longer knows it), `ttl` (stopped tasks, deregistered instances and
//! gone records expire), `recorded_at`.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use sentinel_aws::ecs::LIST_PAGE_SIZE;
use sentinel_aws::table::{number, text, time, Fields};
use sentinel_aws::{chunks, AwsError, FromSdk, Unreadable};
use sentinel_core::ClusterArn;
use sentinel_fleet::record::{deployment_of, Container, InstanceRecord, Resources, TaskRecord};
use sentinel_fleet::{FleetRecord, Kind, StoredSummary};
use std::collections::HashMap;

/// The global secondary index by cluster: partition `cluster`, sort `sk`.
pub const BY_CLUSTER_INDEX: &str = "by-cluster";
/// Conditional writes in flight at once: a batch of 100 distinct keys is 100 PutItem calls,
/// at most this many at a time.
const WRITES_IN_FLIGHT: usize = 16;
/// DescribeTasks takes at most 100 tasks per call.
pub const TASKS_PER_CALL: usize = 100;

/// What a conditional write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Written,
    /// The store already had this state or a newer one: a duplicate or a late event.
    Stale,
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub record: FleetRecord,
    pub gone: bool,
}

impl StoredRecord {
    pub fn summary(&self) -> StoredSummary {
        let status = match &self.record {
            FleetRecord::Task(t) => t.last_status.clone(),
            FleetRecord::Instance(i) => i.status.clone(),
            FleetRecord::ServiceAction(s) | FleetRecord::Deployment(s) => s.event_name.clone(),
        };
        StoredSummary {
            key: self.record.key(),
            kind: self.record.kind(),
            order: self.record.order(),
            gone: self.gone,
            status,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FleetTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
    stopped_retention: TimeDelta,
}

impl FleetTable {
    /// `stopped_retention`: how long stopped tasks (and what the reconcile found gone) are
    /// kept after they stopped.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        stopped_retention: TimeDelta,
    ) -> Self {
        FleetTable {
            client,
            table: table.into(),
            stopped_retention,
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn item(&self, record: &FleetRecord, now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
        let kind = record.kind();
        let updated = record
            .updated_at()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let mut item = HashMap::from([
            ("pk".to_owned(), text(record.key())),
            ("kind".to_owned(), text(kind.as_str())),
            ("cluster".to_owned(), text(record.cluster_arn())),
            (
                "sk".to_owned(),
                text(format!("{}#{updated}", kind.as_str())),
            ),
            ("order".to_owned(), number(record.order())),
            ("doc".to_owned(), text(record.to_json().to_string())),
            ("recorded_at".to_owned(), time(now)),
        ]);
        if let Some(expiry) = record.expires_at(self.stopped_retention, now) {
            item.insert("ttl".to_owned(), time(expiry));
        }
        item
    }

    /// Writes `record` unless the table holds the same state or a newer one (one
    /// conditional PutItem).
    pub async fn record(
        &self,
        record: &FleetRecord,
        now: DateTime<Utc>,
    ) -> Result<Recorded, AwsError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(record, now)))
            .condition_expression("attribute_not_exists(pk) OR #order < :order")
            .expression_attribute_names("#order", "order")
            .expression_attribute_values(":order", number(record.order()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(Recorded::Written),
            Err(e) if is_condition_failure(&e) => Ok(Recorded::Stale),
            Err(e) => Err(AwsError::from_sdk("dynamodb", "PutItem", e)),
        }
    }

    /// [`FleetTable::record`] for each record, at most `WRITES_IN_FLIGHT` at a time, a new
    /// one as soon as any answers (a slow write holds up no other); the answers come back
    /// in the records' order.
    pub async fn record_all(
        &self,
        records: &[&FleetRecord],
        now: DateTime<Utc>,
    ) -> Vec<Result<Recorded, AwsError>> {
        // Each write's future is made when its turn comes: an SDK call's future is kilobytes,
        // and a batch of 100 made up front (a stream over them) held every one until the
        // batch ended, the largest part of the recorder's heap.
        let mut waiting = records.iter().enumerate();
        let mut in_flight = FuturesUnordered::new();
        let mut answers = Vec::with_capacity(records.len());
        loop {
            while in_flight.len() < WRITES_IN_FLIGHT {
                let Some((i, record)) = waiting.next() else {
                    break;
                };
                in_flight.push(async move { (i, self.record(record, now).await) });
            }
            let Some(answer) = in_flight.next().await else {
                break;
            };
            answers.push(answer);
        }
        answers.sort_by_key(|(i, _)| *i);
        answers.into_iter().map(|(_, answer)| answer).collect()
    }

    /// Marks a record ECS no longer knows as gone, if it is still the state the reconcile
    /// saw (`order`); it then expires like a stopped task. A newer event written meanwhile
    /// wins (`Stale`).
    pub async fn mark_gone(
        &self,
        key: &str,
        order: u64,
        now: DateTime<Utc>,
    ) -> Result<Recorded, AwsError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", text(key))
            .update_expression("SET gone = :gone, gone_at = :now, #ttl = :ttl")
            .condition_expression("attribute_exists(pk) AND #order = :order")
            .expression_attribute_names("#order", "order")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":gone", AttributeValue::Bool(true))
            .expression_attribute_values(":now", time(now))
            .expression_attribute_values(":ttl", time(now + self.stopped_retention))
            .expression_attribute_values(":order", number(order))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(Recorded::Written),
            Err(e) if is_condition_failure(&e) => Ok(Recorded::Stale),
            Err(e) => Err(AwsError::from_sdk("dynamodb", "UpdateItem", e)),
        }
    }

    /// One cluster's records (of one kind, or all), newest first, through the `by-cluster`
    /// index (every page). Items that are not readable records come back apart.
    pub async fn cluster(
        &self,
        cluster: &str,
        kind: Option<Kind>,
    ) -> Result<(Vec<StoredRecord>, Vec<Unreadable>), AwsError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_CLUSTER_INDEX)
            .scan_index_forward(false)
            .expression_attribute_values(":cluster", text(cluster));
        query = match kind {
            Some(kind) => query
                .key_condition_expression("cluster = :cluster AND begins_with(sk, :kind)")
                .expression_attribute_values(":kind", text(format!("{}#", kind.as_str()))),
            None => query.key_condition_expression("cluster = :cluster"),
        };
        let mut pages = query.into_paginator().send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("dynamodb", "Query", e))?;
            items.extend(page.items().iter().cloned());
        }
        Ok(read_items(&items))
    }

    /// The ARN of the cluster named `name` in the table's own account and region, where the
    /// recorder's rule hears the events: built from the table's ARN (one DescribeTable), so
    /// a cluster given by name is read through the `by-cluster` index like one given by ARN.
    pub async fn cluster_arn_named(&self, name: &str) -> Result<String, AwsError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb", "DescribeTable", e))?;
        let table_arn = described
            .table()
            .and_then(|t| t.table_arn())
            .unwrap_or_default();
        cluster_arn_beside(table_arn, name).ok_or_else(|| {
            AwsError::new(
                "dynamodb",
                "DescribeTable",
                format!(
                    "the table's ARN {table_arn:?} does not name a partition, region and account"
                ),
            )
        })
    }

    /// Every record of the table (Scan, every page).
    pub async fn all(&self) -> Result<(Vec<StoredRecord>, Vec<Unreadable>), AwsError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("dynamodb", "Scan", e))?;
            items.extend(page.items().iter().cloned());
        }
        Ok(read_items(&items))
    }
}

/// `arn:<partition>:ecs:<region>:<account>:cluster/<name>` from the table's
/// `arn:<partition>:dynamodb:<region>:<account>:table/<table>`.
fn cluster_arn_beside(table_arn: &str, name: &str) -> Option<String> {
    match table_arn.splitn(6, ':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "dynamodb", region, account, resource]
            if !partition.is_empty()
                && !region.is_empty()
                && !account.is_empty()
                && resource.starts_with("table/") =>
        {
            Some(format!(
                "arn:{partition}:ecs:{region}:{account}:cluster/{name}"
            ))
        }
        _ => None,
    }
}

fn is_condition_failure<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

fn read_items(items: &[HashMap<String, AttributeValue>]) -> (Vec<StoredRecord>, Vec<Unreadable>) {
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    for item in items {
        match read_item(item) {
            Ok(record) => records.push(record),
            Err(e) => unreadable.push(Unreadable {
                key: sentinel_aws::table::item_key(item),
                why: e.to_string(),
            }),
        }
    }
    (records, unreadable)
}

fn read_item(item: &HashMap<String, AttributeValue>) -> Result<StoredRecord, AwsError> {
    let fields = Fields::new(item);
    let kind_text = fields.required_s("kind")?;
    let kind = Kind::parse(kind_text).ok_or_else(|| fields.bad("kind"))?;
    let doc: serde_json::Value =
        serde_json::from_str(fields.required_s("doc")?).map_err(|_| fields.bad("doc"))?;
    let record = FleetRecord::from_json(kind, doc).map_err(|_| fields.bad("doc"))?;
    let gone = matches!(fields.get("gone"), Some(AttributeValue::Bool(true)));
    Ok(StoredRecord { record, gone })
}

/// What ECS lists now, as fleet records, for the reconcile.
#[derive(Debug, Clone)]
pub struct FleetInventory {
    client: aws_sdk_ecs::Client,
}

impl FleetInventory {
    pub fn new(client: aws_sdk_ecs::Client) -> Self {
        FleetInventory { client }
    }

    /// The cluster's container instances (every status ECS lists) as instance records:
    /// ListContainerInstances pages of 100, DescribeContainerInstances per 100.
    pub async fn instances(&self, cluster: &ClusterArn) -> Result<Vec<InstanceRecord>, AwsError> {
        let inventory = sentinel_aws::EcsInventory::new(self.client.clone());
        let arns = inventory.list_container_instances(cluster).await?;
        inventory
            .describe_container_instances(cluster, &arns, |i| instance_record(cluster, i))
            .await
    }

    /// The cluster's tasks that are running or about to (desired RUNNING) and those ECS
    /// still remembers stopping (desired STOPPED, about an hour), as task records:
    /// ListTasks pages of 100 per desired status, DescribeTasks per 100, concurrently.
    pub async fn tasks(&self, cluster: &ClusterArn) -> Result<Vec<TaskRecord>, AwsError> {
        let mut arns = Vec::new();
        for desired in [
            aws_sdk_ecs::types::DesiredStatus::Running,
            aws_sdk_ecs::types::DesiredStatus::Stopped,
        ] {
            match self.list_tasks(cluster, desired, None).await? {
                Some(listed) => arns.extend(listed),
                None => return Ok(Vec::new()),
            }
        }
        self.describe_tasks(cluster, &arns).await
    }

    /// The tasks of one service that ECS still remembers stopping (about an hour): what
    /// ECS itself says about a service's restarts. An unknown cluster is an error here: an
    /// operator named it.
    pub async fn stopped_service_tasks(
        &self,
        cluster: &ClusterArn,
        service: &str,
    ) -> Result<Vec<TaskRecord>, AwsError> {
        let arns = self
            .list_tasks(
                cluster,
                aws_sdk_ecs::types::DesiredStatus::Stopped,
                Some(service),
            )
            .await?
            .ok_or_else(|| {
                AwsError::new("ecs", "ListTasks", format!("cluster {cluster} not found"))
            })?;
        self.describe_tasks(cluster, &arns).await
    }

    /// Every page of ListTasks; `None` when the cluster does not exist.
    async fn list_tasks(
        &self,
        cluster: &ClusterArn,
        desired: aws_sdk_ecs::types::DesiredStatus,
        service: Option<&str>,
    ) -> Result<Option<Vec<String>>, AwsError> {
        let mut pages = self
            .client
            .list_tasks()
            .cluster(cluster.as_str())
            .desired_status(desired)
            .set_service_name(service.map(str::to_owned))
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => arns.extend(page.task_arns().iter().cloned()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_cluster_not_found_exception()) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(AwsError::from_sdk("ecs", "ListTasks", e)),
            }
        }
        Ok(Some(arns))
    }

    /// DescribeTasks per 100, concurrently.
    async fn describe_tasks(
        &self,
        cluster: &ClusterArn,
        arns: &[String],
    ) -> Result<Vec<TaskRecord>, AwsError> {
        let calls = chunks(arns, TASKS_PER_CALL).map(|chunk| async move {
            self.client
                .describe_tasks()
                .cluster(cluster.as_str())
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ecs", "DescribeTasks", e))
        });
        let mut tasks = Vec::new();
        for output in futures::future::try_join_all(calls).await? {
            tasks.extend(
                output
                    .tasks()
                    .iter()
                    .filter_map(|t| task_record(cluster, t)),
            );
        }
        Ok(tasks)
    }
}

fn sdk_time(t: Option<&aws_sdk_ecs::primitives::DateTime>) -> Option<String> {
    let t = t?;
    DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn resources(list: &[aws_sdk_ecs::types::Resource]) -> Resources {
    let value = |name: &str| {
        list.iter()
            .find(|r| r.name() == Some(name))
            .map(|r| i64::from(r.integer_value()))
    };
    Resources {
        cpu: value("CPU"),
        memory: value("MEMORY"),
    }
}

/// An instance as DescribeContainerInstances describes it; `None` without an ARN or version.
fn instance_record(
    cluster: &ClusterArn,
    i: &aws_sdk_ecs::types::ContainerInstance,
) -> Option<InstanceRecord> {
    Some(InstanceRecord {
        container_instance_arn: i.container_instance_arn()?.to_owned(),
        cluster_arn: cluster.as_str().to_owned(),
        ec2_instance_id: i.ec2_instance_id().map(str::to_owned),
        status: i.status().unwrap_or_default().to_owned(),
        agent_connected: i.agent_connected(),
        agent_version: i
            .version_info()
            .and_then(|v| v.agent_version())
            .map(str::to_owned),
        registered: resources(i.registered_resources()),
        remaining: resources(i.remaining_resources()),
        running_tasks: Some(i64::from(i.running_tasks_count())),
        updated_at: sdk_time(i.registered_at()),
        version: u64::try_from(i.version()).ok()?,
    })
}

/// A task as DescribeTasks describes it; `None` without an ARN.
fn task_record(cluster: &ClusterArn, t: &aws_sdk_ecs::types::Task) -> Option<TaskRecord> {
    let stopped_at = sdk_time(t.stopped_at());
    let started_at = sdk_time(t.started_at());
    let created_at = sdk_time(t.created_at());
    Some(TaskRecord {
        task_arn: t.task_arn()?.to_owned(),
        cluster_arn: cluster.as_str().to_owned(),
        last_status: t.last_status().unwrap_or_default().to_owned(),
        desired_status: t.desired_status().map(str::to_owned),
        group: t.group().map(str::to_owned),
        task_definition_arn: t.task_definition_arn().map(str::to_owned),
        container_instance_arn: t.container_instance_arn().map(str::to_owned),
        started_by: t.started_by().map(str::to_owned),
        deployment_id: t.started_by().and_then(deployment_of),
        launch_type: t.launch_type().map(|l| l.as_str().to_owned()),
        capacity_provider_name: t.capacity_provider_name().map(str::to_owned),
        containers: t
            .containers()
            .iter()
            .map(|c| Container {
                name: c.name().unwrap_or("(unnamed)").to_owned(),
                last_status: c.last_status().map(str::to_owned),
                exit_code: c.exit_code().map(i64::from),
                reason: c.reason().map(str::to_owned),
            })
            .collect(),
        stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        updated_at: stopped_at
            .clone()
            .or_else(|| started_at.clone())
            .or_else(|| created_at.clone()),
        created_at,
        started_at,
        stopped_at,
        version: u64::try_from(t.version()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::cluster_arn_beside;

    #[test]
    fn a_cluster_name_becomes_the_arn_of_the_tables_own_account_and_region() {
        assert_eq!(
            cluster_arn_beside(
                "arn:aws:dynamodb:eu-west-1:123456789012:table/ecs-sentinel-fleet",
                "prod"
            )
            .as_deref(),
            Some("arn:aws:ecs:eu-west-1:123456789012:cluster/prod")
        );
        assert_eq!(
            cluster_arn_beside("arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t", "c")
                .as_deref(),
            Some("arn:aws-cn:ecs:cn-north-1:123456789012:cluster/c")
        );
        for odd in [
            "",
            "not-an-arn",
            "arn:aws:dynamodb::123456789012:table/t",
            "arn:aws:sqs:us-east-1:123456789012:queue",
            "arn:aws:dynamodb:us-east-1:123456789012:index/t",
        ] {
            assert_eq!(cluster_arn_beside(odd, "prod"), None, "{odd}");
        }
    }
}
