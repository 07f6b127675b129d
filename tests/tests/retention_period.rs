//! RetentionPeriod in-process against CloudWatch Logs on a real moto server: policies, old streams,
//! pagination (60+ groups and streams), prefixes respected, dry runs, a second run that changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aws_sdk_cloudwatchlogs::{Client, types::InputLogEvent};
use retention_period::{Deps, Settings, clean_up};
use scv_core::Budget;
use scv_tests::moto::{Moto, unique};

fn ms_ago(days: u64) -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now - Duration::from_secs(days * 86_400)).as_millis() as i64
}

async fn group(logs: &Client, name: &str, retention: Option<i32>) {
    logs.create_log_group().log_group_name(name).send().await.unwrap();
    if let Some(days) = retention {
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
            .unwrap();
    }
}

async fn stream(logs: &Client, group: &str, name: &str, event_days_ago: Option<u64>) {
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(name)
        .send()
        .await
        .unwrap();
    if let Some(days) = event_days_ago {
        let event = InputLogEvent::builder()
            .timestamp(ms_ago(days))
            .message("call ended")
            .build()
            .unwrap();
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(name)
            .log_events(event)
            .send()
            .await
            .unwrap();
    }
}

async fn retentions(logs: &Client, prefix: &str) -> BTreeMap<String, Option<i32>> {
    let mut out = BTreeMap::new();
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for group in page.unwrap().log_groups.unwrap_or_default() {
            out.insert(group.log_group_name.unwrap(), group.retention_in_days);
        }
    }
    out
}

async fn streams(logs: &Client, group: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pages = logs
        .describe_log_streams()
        .log_group_name(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        out.extend(
            page.unwrap()
                .log_streams
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| s.log_stream_name),
        );
    }
    out.sort();
    out
}

fn deps(moto: &Moto, prefix: &str, days: i32, dry_run: bool) -> Deps {
    Deps {
        logs: Client::new(moto.sdk_config()),
        settings: Settings {
            retention_days: days,
            prefixes: vec![prefix.to_owned()],
            dry_run,
        },
    }
}

#[tokio::test]
async fn retention_is_set_where_longer_or_forever_across_many_pages_and_never_outside_the_prefix() {
    let moto = Moto::start().await.unwrap();
    let logs = Client::new(moto.sdk_config());
    let stack = unique("scvcc");
    let prefix = format!("/aws/lambda/{stack}-");
    for n in 0..62 {
        group(&logs, &format!("{prefix}Function{n:02}"), None).await;
    }
    group(&logs, &format!("{prefix}Short"), Some(30)).await;
    group(&logs, &format!("{prefix}Long"), Some(365)).await;
    let outside = format!("/aws/lambda/other-{stack}");
    group(&logs, &outside, None).await;

    let report = clean_up(
        &deps(&moto, &prefix, 120, false),
        &Budget::unbounded(),
        SystemTime::now(),
    )
    .await;

    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.complete);
    assert_eq!(report.groups_seen, 64);
    assert_eq!(report.groups_changed.len(), 63);
    let long = report
        .groups_changed
        .iter()
        .find(|c| c.log_group.ends_with("-Long"))
        .unwrap();
    assert_eq!((long.from_days, long.to_days), (Some(365), 120));
    let after = retentions(&logs, &prefix).await;
    assert_eq!(after.len(), 64);
    assert!(
        after
            .iter()
            .all(|(name, days)| *days == Some(if name.ends_with("-Short") { 30 } else { 120 })),
        "{after:?}"
    );
    assert_eq!(
        retentions(&logs, &outside).await[&outside],
        None,
        "a group outside the prefixes is untouched"
    );

    let again = clean_up(
        &deps(&moto, &prefix, 120, false),
        &Budget::unbounded(),
        SystemTime::now(),
    )
    .await;
    assert_eq!(
        (
            again.groups_seen,
            again.groups_changed.len(),
            again.streams_deleted
        ),
        (64, 0, 0),
        "a second run changes nothing"
    );
    assert_eq!(again.ended, "every managed log group visited");
}

#[tokio::test]
async fn streams_whose_last_event_is_older_than_the_limit_are_deleted_and_dry_runs_only_report() {
    let moto = Moto::start().await.unwrap();
    let logs = Client::new(moto.sdk_config());
    let prefix = format!("/aws/lambda/{}-", unique("scvcc"));
    let name = format!("{prefix}CTRDataSync");
    group(&logs, &name, Some(1)).await;
    for n in 0..55 {
        stream(&logs, &name, &format!("2026/11/20/[$LATEST]old{n:02}"), Some(3)).await;
    }
    stream(&logs, &name, "2026/11/23/[$LATEST]recent", Some(0)).await;
    stream(&logs, &name, "2026/11/23/[$LATEST]empty", None).await;

    // One day of retention (the shortest CloudWatch allows); moto accepts events up to 14 days old.
    let dry = clean_up(
        &deps(&moto, &prefix, 1, true),
        &Budget::unbounded(),
        SystemTime::now(),
    )
    .await;
    assert!(dry.dry_run);
    assert_eq!(dry.streams_deleted, 55, "would delete");
    assert_eq!(streams(&logs, &name).await.len(), 57, "a dry run deletes nothing");

    let report = clean_up(
        &deps(&moto, &prefix, 1, false),
        &Budget::unbounded(),
        SystemTime::now(),
    )
    .await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.streams_deleted, 55);
    assert_eq!(report.streams_deleted_by_group[&name], 55);
    assert!(
        report.groups_changed.is_empty(),
        "a 1-day policy is not longer than 1 day"
    );
    assert_eq!(
        streams(&logs, &name).await,
        ["2026/11/23/[$LATEST]empty", "2026/11/23/[$LATEST]recent"]
    );

    let again = clean_up(
        &deps(&moto, &prefix, 1, false),
        &Budget::unbounded(),
        SystemTime::now(),
    )
    .await;
    assert_eq!(again.streams_deleted, 0);
}

#[tokio::test]
async fn the_run_stops_at_the_deadline_and_says_so() {
    let moto = Moto::start().await.unwrap();
    let logs = Client::new(moto.sdk_config());
    let prefix = format!("/aws/lambda/{}-", unique("scvcc"));
    group(&logs, &format!("{prefix}A"), None).await;
    let report = clean_up(
        &deps(&moto, &prefix, 120, false),
        &Budget::within(Duration::ZERO),
        SystemTime::now(),
    )
    .await;
    assert!(!report.complete);
    assert_eq!(report.groups_seen, 0);
    assert!(
        report.ended.contains("before the invocation deadline"),
        "{}",
        report.ended
    );
}

#[tokio::test]
async fn the_report_has_the_documented_shape() {
    let moto = Moto::start().await.unwrap();
    let logs = Client::new(moto.sdk_config());
    let prefix = format!("/aws/lambda/{}-", unique("scvcc"));
    group(&logs, &format!("{prefix}A"), None).await;
    let report = clean_up(
        &deps(&moto, &prefix, 120, true),
        &Budget::unbounded(),
        SystemTime::now(),
    )
    .await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["dryRun"], true);
    assert_eq!(json["retentionDays"], 120);
    assert_eq!(json["groupsSeen"], 1);
    assert_eq!(json["groupsChanged"][0]["fromDays"], serde_json::Value::Null);
    assert_eq!(json["groupsChanged"][0]["toDays"], 120);
    assert_eq!(json["streamsDeleted"], 0);
    assert_eq!(json["errors"], serde_json::json!([]));
    assert_eq!(
        retentions(&logs, &prefix)
            .await
            .values()
            .next()
            .copied()
            .flatten(),
        None,
        "dry run"
    );
}
