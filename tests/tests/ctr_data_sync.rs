//! CTRDataSync in-process: the real handler, the real SCRT client, the fake Salesforce over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::{BTreeMap, HashMap};

use axum::http::Method;
use ctr_data_sync::{Deps, ctr, handle_batch};
use scv_core::Budget;
use scv_tests::{
    events::{self, finished_call, kinesis_event, sequence_number},
    fixture::{CALL_CENTER, Fixture, fast_retries},
    salesforce::{Fault, FaultAction},
};
use serde_json::{Value, json};

const PACKAGE: &str = "ctr-data-sync";

fn deps(fx: &Fixture) -> Deps {
    Deps {
        scrt: fx.scrt_client(fast_retries()).unwrap(),
        concurrency: ctr_data_sync::DEFAULT_CONCURRENCY,
    }
}

fn failures(response: &scv_core::kinesis::KinesisEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

/// Contact ids of the successful VoiceCall updates, in the order Salesforce got them.
fn updated(fx: &Fixture) -> Vec<String> {
    fx.salesforce
        .successes(Method::PATCH, "")
        .into_iter()
        .filter_map(|r| {
            r.path
                .strip_prefix("/telephony/v1/voiceCalls/")
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn every_sample_event_has_its_expected_outcome() {
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("happy-path", vec!["6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a61"]),
        ("outbound-call", vec!["7a2d3c0f-4b5e-4f60-9b8c-2d3e4f5a6b72"]),
        ("webrtc-call", vec!["8b3e4d1a-5c6f-4071-8c9d-3e4f5a6b7c83"]),
        (
            "transfer-with-parent",
            vec!["9c4f5e2b-6d70-4182-9dae-4f5a6b7c8d94"],
        ),
        ("skip-no-sync", vec![]),
        ("skip-unsupported-method", vec![]),
        ("skip-missing-contact-id", vec![]),
        ("skip-voicemail", vec![]),
        ("malformed-records", vec![]),
        (
            "mixed-batch",
            vec![
                "6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a61",
                "7a2d3c0f-4b5e-4f60-9b8c-2d3e4f5a6b72",
                "e1940d7a-b2c5-46d7-82f3-9eafb0c1d2e9",
                "6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a61",
            ],
        ),
    ]);
    assert_eq!(
        events::cases(PACKAGE).unwrap(),
        expected.keys().map(|k| k.to_string()).collect::<Vec<_>>(),
        "every sample is covered"
    );

    for (case, contacts) in expected {
        let fx = Fixture::start().await.unwrap();
        let response = handle_batch(
            &deps(&fx),
            &events::read(PACKAGE, case).unwrap(),
            &Budget::unbounded(),
        )
        .await;
        assert!(failures(&response).is_empty(), "{case}: {response:?}");
        let mut got = updated(&fx);
        let mut want: Vec<String> = contacts.iter().map(|c| c.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{case}");
        assert!(fx.salesforce.requests().iter().all(|r| r.status == 200), "{case}");
    }
}

#[tokio::test]
async fn the_update_body_is_the_mapped_record_plus_the_call_center() {
    let fx = Fixture::start().await.unwrap();
    let event = events::read(PACKAGE, "happy-path").unwrap();
    handle_batch(&deps(&fx), &event, &Budget::unbounded()).await;

    let (records, _) = scv_core::kinesis::records(&event);
    let mut expected = ctr::transform(records[0].document.as_ref().unwrap()).unwrap();
    expected.insert("callCenterApiName".into(), CALL_CENTER.into());
    let calls = fx.salesforce.voice_calls();
    let body = &calls["6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a61"];
    assert_eq!(body, &Value::Object(expected));
    assert_eq!(body["fromNumber"], "+14155550199");
    assert_eq!(body["toNumber"], "+18005550100");
    assert_eq!(body["totalHoldDuration"], 22);
    assert_eq!(
        body["disconnectReason"],
        json!({"value": "CUSTOMER_DISCONNECT", "isError": false})
    );
    assert_eq!(
        serde_json::from_str::<Value>(body["callAttributes"].as_str().unwrap()).unwrap(),
        json!({"Case_Reason__c": "Billing", "sf_realtime_transcription_status": "passed"})
    );
}

#[tokio::test]
async fn records_of_one_contact_are_sent_in_batch_order() {
    let fx = Fixture::start().await.unwrap();
    let mut documents = Vec::new();
    for n in 0..6 {
        let mut record = finished_call(&format!("contact-{}", n % 2));
        record["DisconnectTimestamp"] = json!(format!("2026-11-23T10:0{n}:00Z"));
        documents.push(record);
    }
    fx.salesforce.set_latency(std::time::Duration::from_millis(20));
    let response = handle_batch(&deps(&fx), &kinesis_event(&documents), &Budget::unbounded()).await;

    assert!(failures(&response).is_empty());
    let mut per_contact: HashMap<String, Vec<String>> = HashMap::new();
    for request in fx.salesforce.requests() {
        per_contact
            .entry(request.path)
            .or_default()
            .push(request.body["endTime"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        per_contact["/telephony/v1/voiceCalls/contact-0"],
        [
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:02:00Z",
            "2026-11-23T10:04:00Z"
        ]
    );
    assert_eq!(
        per_contact["/telephony/v1/voiceCalls/contact-1"],
        [
            "2026-11-23T10:01:00Z",
            "2026-11-23T10:03:00Z",
            "2026-11-23T10:05:00Z"
        ]
    );
    assert_eq!(
        fx.salesforce.voice_calls()["contact-0"]["endTime"],
        "2026-11-23T10:04:00Z",
        "the last record wins"
    );
}

/// The fault test of the issue: 50 contacts, some failing always, some once with 500, 429 or 401.
#[tokio::test]
async fn a_batch_of_fifty_with_faults_reports_exactly_the_always_failing_records() {
    let fx = Fixture::start().await.unwrap();
    let contact = |n: usize| format!("c{n:02}");
    for n in 0..50 {
        let path = format!("/voiceCalls/{}", contact(n));
        let fault = match n {
            0..=4 => Some(Fault::always(&path, FaultAction::Status(500))),
            5..=14 => Some(Fault::times(&path, FaultAction::Status(500), 1)),
            15..=24 => Some(Fault::times(&path, FaultAction::Status(429), 1)),
            25 => Some(Fault::times(&path, FaultAction::Status(401), 1)),
            26..=27 => Some(Fault::times(&path, FaultAction::Drop, 1)),
            _ => None,
        };
        if let Some(fault) = fault {
            fx.salesforce.add_fault(fault);
        }
    }
    let documents: Vec<Value> = (0..50).map(|n| finished_call(&contact(n))).collect();

    let response = handle_batch(&deps(&fx), &kinesis_event(&documents), &Budget::unbounded()).await;

    let expected: Vec<String> = (0..5).map(sequence_number).collect();
    assert_eq!(failures(&response), expected);
    let mut successes: HashMap<String, usize> = HashMap::new();
    for request in fx.salesforce.successes(Method::PATCH, "") {
        *successes.entry(request.path).or_default() += 1;
    }
    for n in 0..50 {
        let count = successes
            .get(&format!("/telephony/v1/voiceCalls/{}", contact(n)))
            .copied()
            .unwrap_or(0);
        assert_eq!(count, usize::from(n >= 5), "contact {n} updated {count} times");
    }
    let attempts_on_broken = fx
        .salesforce
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/c00"))
        .count();
    assert_eq!(
        attempts_on_broken,
        fast_retries().max_attempts as usize,
        "bounded retries"
    );
}

#[tokio::test]
async fn after_a_failure_the_contacts_later_records_are_held_back_and_reported() {
    let fx = Fixture::start().await.unwrap();
    fx.salesforce
        .add_fault(Fault::always("/voiceCalls/broken", FaultAction::Status(503)));
    let documents = vec![
        finished_call("broken"),
        finished_call("fine"),
        finished_call("broken"),
    ];

    let response = handle_batch(&deps(&fx), &kinesis_event(&documents), &Budget::unbounded()).await;

    assert_eq!(failures(&response), [sequence_number(0), sequence_number(2)]);
    assert_eq!(updated(&fx), ["fine"]);
    let sent_to_broken = fx
        .salesforce
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/broken"))
        .count();
    assert_eq!(
        sent_to_broken,
        fast_retries().max_attempts as usize,
        "the held-back record was never sent"
    );
}

#[tokio::test]
async fn a_rejected_update_is_reported_without_retries() {
    let fx = Fixture::start().await.unwrap();
    fx.salesforce
        .add_fault(Fault::always("/voiceCalls/rejected", FaultAction::Status(400)));
    let response = handle_batch(
        &deps(&fx),
        &kinesis_event(&[finished_call("rejected")]),
        &Budget::unbounded(),
    )
    .await;
    assert_eq!(failures(&response), [sequence_number(0)]);
    assert_eq!(fx.salesforce.requests().len(), 1);
}

#[tokio::test]
async fn an_event_that_is_not_a_kinesis_batch_fails_nothing() {
    let fx = Fixture::start().await.unwrap();
    for event in [
        json!({}),
        json!("text"),
        json!({"Records": "nope"}),
        json!({"Records": [{"kinesis": {}}]}),
    ] {
        let response = handle_batch(&deps(&fx), &event, &Budget::unbounded()).await;
        assert!(failures(&response).is_empty(), "{event}");
    }
    assert!(fx.salesforce.requests().is_empty());
}
