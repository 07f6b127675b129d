//! The clean-up run.

use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aws_sdk_cloudwatchlogs::{Client, error::DisplayErrorContext};
use lambda_runtime::LambdaEvent;
use scv_core::{Budget, Env};
use serde::Serialize;
use serde_json::Value;

use crate::settings::Settings;

/// Time kept back from the invocation deadline to write the report.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// Metric names of the report.
pub mod metric {
    pub const GROUPS_SEEN: &str = "LogGroupsSeen";
    pub const GROUPS_CHANGED: &str = "LogGroupsChanged";
    pub const STREAMS_DELETED: &str = "LogStreamsDeleted";
    pub const ERRORS: &str = "RetentionErrors";
}

/// What the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    pub logs: Client,
    pub settings: Settings,
}

impl Deps {
    /// Reads the settings and builds the CloudWatch Logs client (standard retries, up to 10 attempts with
    /// exponential backoff on throttling).
    pub async fn from_env() -> Result<Self, scv_core::ConfigError> {
        let settings = Settings::from_env(&Env::from_process())?;
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
            .load()
            .await;
        Ok(Self {
            logs: Client::new(&aws),
            settings,
        })
    }
}

/// A log group whose retention policy was (or, in a dry run, would be) set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionChange {
    pub log_group: String,
    /// The policy before; `None` = never expire.
    pub from_days: Option<i32>,
    pub to_days: i32,
}

/// The run's report, returned and logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dry_run: bool,
    pub retention_days: i32,
    pub prefixes: Vec<String>,
    pub groups_seen: usize,
    pub groups_changed: Vec<RetentionChange>,
    pub streams_deleted: usize,
    pub streams_deleted_by_group: BTreeMap<String, usize>,
    pub errors: Vec<String>,
    /// Whether every group was visited (false when the deadline came first).
    pub complete: bool,
    /// Why the run ended.
    pub ended: String,
}

/// Handles one scheduled event (its content does not matter).
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Report, lambda_runtime::Error> {
    let budget = Budget::from_lambda(&event.context, DEADLINE_MARGIN);
    Ok(clean_up(deps, &budget, SystemTime::now()).await)
}

/// Visits every managed group: retention policy first, then log streams whose last event is older than the
/// retention period. Errors are collected per group; the run goes on with the next one.
pub async fn clean_up(deps: &Deps, budget: &Budget, now: SystemTime) -> Report {
    let settings = &deps.settings;
    let mut report = Report {
        dry_run: settings.dry_run,
        retention_days: settings.retention_days,
        prefixes: settings.prefixes.clone(),
        complete: true,
        ..Report::default()
    };
    let now_ms =
        i64::try_from(now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(i64::MAX);
    let cutoff_ms = now_ms - i64::from(settings.retention_days) * 86_400_000;
    let mut visited = HashSet::new();
    'prefixes: for prefix in &settings.prefixes {
        let mut pages = deps
            .logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    report.errors.push(format!(
                        "listing log groups with prefix {prefix}: {}",
                        DisplayErrorContext(&e)
                    ));
                    continue 'prefixes;
                }
            };
            for group in page.log_groups.unwrap_or_default() {
                let Some(name) = group.log_group_name else {
                    continue;
                };
                // Never outside the prefixes, whatever the service answers; each group once.
                if !name.starts_with(prefix.as_str()) || !visited.insert(name.clone()) {
                    continue;
                }
                if budget.is_expired() {
                    report.complete = false;
                    break 'prefixes;
                }
                report.groups_seen += 1;
                enforce_retention(deps, &name, group.retention_in_days, &mut report).await;
                delete_old_streams(deps, &name, cutoff_ms, budget, &mut report).await;
            }
        }
    }
    report.ended = if !report.complete {
        "stopped before the invocation deadline; the next run continues".into()
    } else if report.errors.is_empty() {
        "every managed log group visited".into()
    } else {
        format!(
            "every managed log group visited, {} error(s)",
            report.errors.len()
        )
    };
    metrics::counter!(metric::GROUPS_SEEN).increment(report.groups_seen as u64);
    metrics::counter!(metric::GROUPS_CHANGED).increment(report.groups_changed.len() as u64);
    metrics::counter!(metric::STREAMS_DELETED).increment(report.streams_deleted as u64);
    metrics::counter!(metric::ERRORS).increment(report.errors.len() as u64);
    let json = serde_json::to_string(&report).unwrap_or_default();
    if report.errors.is_empty() {
        tracing::info!(report = %json, "retention run finished: {}", report.ended);
    } else {
        tracing::error!(report = %json, "retention run finished: {}", report.ended);
    }
    report
}

/// Sets the retention policy where the group keeps logs longer than the limit, or forever.
async fn enforce_retention(deps: &Deps, name: &str, current: Option<i32>, report: &mut Report) {
    let days = deps.settings.retention_days;
    if current.is_some_and(|current| current <= days) {
        return;
    }
    if !deps.settings.dry_run
        && let Err(e) = deps
            .logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
    {
        report.errors.push(format!(
            "setting retention of {name}: {}",
            DisplayErrorContext(&e)
        ));
        return;
    }
    tracing::info!(
        log_group = name,
        from_days = current,
        to_days = days,
        dry_run = deps.settings.dry_run,
        "retention policy set"
    );
    report.groups_changed.push(RetentionChange {
        log_group: name.to_owned(),
        from_days: current,
        to_days: days,
    });
}

/// Deletes the group's streams whose last event (or, without events, creation) is older than `cutoff_ms`.
async fn delete_old_streams(deps: &Deps, name: &str, cutoff_ms: i64, budget: &Budget, report: &mut Report) {
    let mut old = Vec::new();
    let mut pages = deps
        .logs
        .describe_log_streams()
        .log_group_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => old.extend(
                page.log_streams
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|stream| {
                        let last = stream.last_event_timestamp.or(stream.creation_time)?;
                        (last < cutoff_ms).then_some(stream.log_stream_name).flatten()
                    }),
            ),
            Err(e) => {
                report.errors.push(format!(
                    "listing log streams of {name}: {}",
                    DisplayErrorContext(&e)
                ));
                return;
            }
        }
    }
    let mut deleted = 0;
    for stream in old {
        if budget.is_expired() {
            report.complete = false;
            break;
        }
        if !deps.settings.dry_run
            && let Err(e) = deps
                .logs
                .delete_log_stream()
                .log_group_name(name)
                .log_stream_name(&stream)
                .send()
                .await
        {
            report.errors.push(format!(
                "deleting log stream {stream} of {name}: {}",
                DisplayErrorContext(&e)
            ));
            continue;
        }
        deleted += 1;
    }
    if deleted > 0 {
        tracing::info!(
            log_group = name,
            streams = deleted,
            dry_run = deps.settings.dry_run,
            "old log streams deleted"
        );
        report.streams_deleted += deleted;
        report.streams_deleted_by_group.insert(name.to_owned(), deleted);
    }
}
