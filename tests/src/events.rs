//! Sample events from `events/<package>/` and synthetic Kinesis batches.

use std::path::PathBuf;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::{HarnessError, workspace_root};

/// `events/<package>/`.
pub fn events_dir(package: &str) -> PathBuf {
    workspace_root().join("events").join(package)
}

/// The case names (file stems) in `events/<package>/`, sorted.
pub fn cases(package: &str) -> Result<Vec<String>, HarnessError> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir(package))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// `events/<package>/<case>.json`, parsed.
pub fn read(package: &str, case: &str) -> Result<Value, HarnessError> {
    let path = events_dir(package).join(format!("{case}.json"));
    let text = std::fs::read_to_string(&path)?;
    serde_json::from_str(&text).map_err(|e| HarnessError::Setup(format!("{}: {e}", path.display())))
}

/// The sequence number given to record `index` by [`kinesis_event`].
pub fn sequence_number(index: usize) -> String {
    format!("4959033827149025660855969253836157109592157598913{index:07}")
}

/// A Kinesis event carrying each document as one record (base64 JSON), numbered from 0.
pub fn kinesis_event(documents: &[Value]) -> Value {
    let records: Vec<Value> = documents
        .iter()
        .enumerate()
        .map(|(index, document)| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": document.get("ContactId").cloned().unwrap_or(Value::Null),
                    "sequenceNumber": sequence_number(index),
                    "data": STANDARD.encode(document.to_string()),
                    "approximateArrivalTimestamp": 1_795_428_312.5
                },
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000000:{}", sequence_number(index)),
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/CTRStream"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// A finished inbound call's contact record, as Amazon Connect writes it.
pub fn finished_call(contact_id: &str) -> Value {
    json!({
        "AWSAccountId": "123456789012",
        "Agent": {
            "ConnectedToAgentTimestamp": "2026-11-23T10:00:41Z",
            "CustomerHoldDuration": 22,
            "LongestHoldDuration": 15,
            "AgentInteractionDuration": 184,
            "NumberOfHolds": 2,
            "Username": "jdoe"
        },
        "Attributes": {"sfdc-Case_Reason__c": "Billing"},
        "Channel": "VOICE",
        "ContactId": contact_id,
        "CustomerEndpoint": {"Address": "+14155550199", "Type": "TELEPHONE_NUMBER"},
        "DisconnectReason": "CUSTOMER_DISCONNECT",
        "DisconnectTimestamp": "2026-11-23T10:04:05Z",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2026-11-23T10:00:02Z",
        "Queue": {"EnqueueTimestamp": "2026-11-23T10:00:12Z", "Name": "Support"},
        "SystemEndpoint": {"Address": "+18005550100", "Type": "TELEPHONE_NUMBER"}
    })
}
