//! Kinesis batches: records are decoded one by one, so one bad record never spoils the batch, and the
//! partial-batch answer (`batchItemFailures`).
//!
//! The event is read as plain JSON rather than `aws_lambda_events::kinesis::KinesisEvent`, whose strict
//! base64 field fails the whole event on one record without padding; the reference decodes leniently.

pub use aws_lambda_events::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use serde_json::Value;

use crate::{encoding::decode_base64_lenient, telemetry::metric};

/// One record of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct KinesisRecord {
    /// Position in the batch, from 0.
    pub position: usize,
    /// `kinesis.sequenceNumber`, the identifier reported back on failure.
    pub sequence_number: String,
    /// The record's JSON document, or why it could not be read.
    pub document: Result<Value, String>,
}

/// A record without a sequence number: it can be neither processed nor reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {position}: {reason}")]
pub struct UnidentifiedRecord {
    pub position: usize,
    pub reason: String,
}

/// The records of a Kinesis event, each decoded from base64 JSON on its own.
pub fn records(event: &Value) -> (Vec<KinesisRecord>, Vec<UnidentifiedRecord>) {
    let mut records = Vec::new();
    let mut unidentified = Vec::new();
    let Some(items) = event.get("Records").and_then(Value::as_array) else {
        unidentified.push(UnidentifiedRecord {
            position: 0,
            reason: "the event has no Records array".into(),
        });
        return (records, unidentified);
    };
    for (position, item) in items.iter().enumerate() {
        let kinesis = item.get("kinesis");
        let Some(sequence_number) = kinesis
            .and_then(|k| k.get("sequenceNumber"))
            .and_then(Value::as_str)
        else {
            unidentified.push(UnidentifiedRecord {
                position,
                reason: "kinesis.sequenceNumber is missing".into(),
            });
            continue;
        };
        let document = match kinesis.and_then(|k| k.get("data")).and_then(Value::as_str) {
            None => Err("kinesis.data is missing or not a string".to_owned()),
            Some(data) => decode_base64_lenient(data)
                .ok_or_else(|| "kinesis.data is not base64".to_owned())
                .and_then(|bytes| {
                    serde_json::from_slice(&bytes)
                        .map_err(|e| format!("kinesis.data is not a JSON document: {e}"))
                }),
        };
        records.push(KinesisRecord {
            position,
            sequence_number: sequence_number.to_owned(),
            document,
        });
    }
    (records, unidentified)
}

/// [`records`] for a handler: every record counts as processed (`RecordsProcessed`); records without a
/// sequence number are logged and counted as skipped (`RecordsSkipped`, reason `malformed`).
pub fn batch_records(event: &Value) -> Vec<KinesisRecord> {
    let (records, unidentified) = records(event);
    metrics::counter!(metric::RECORDS_PROCESSED).increment((records.len() + unidentified.len()) as u64);
    for record in &unidentified {
        tracing::error!(position = record.position, reason = %record.reason, "skipping a malformed record");
        metrics::counter!(metric::RECORDS_SKIPPED, "reason" => "malformed").increment(1);
    }
    records
}

impl KinesisRecord {
    /// The record's JSON document; a record that could not be read is logged with its sequence number and
    /// counted as skipped (`malformed`): retrying it cannot help.
    pub fn document_or_skip(&self) -> Option<&Value> {
        match &self.document {
            Ok(document) => Some(document),
            Err(reason) => {
                tracing::error!(sequence_number = self.sequence_number, %reason, "skipping a malformed record");
                metrics::counter!(metric::RECORDS_SKIPPED, "reason" => "malformed").increment(1);
                None
            }
        }
    }
}

/// The partial-batch answer listing `failed` sequence numbers, in the order given.
pub fn batch_response<'a>(failed: impl IntoIterator<Item = &'a str>) -> KinesisEventResponse {
    let mut response = KinesisEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|sequence_number| {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number.to_owned());
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use serde_json::json;

    use super::*;

    #[test]
    fn every_record_is_read_on_its_own() {
        let good = STANDARD.encode(r#"{"ContactId":"c1"}"#);
        let event = json!({"Records": [
            {"kinesis": {"sequenceNumber": "1", "data": good.trim_end_matches('=')}},
            {"kinesis": {"sequenceNumber": "2", "data": "%%%"}},
            {"kinesis": {"sequenceNumber": "3", "data": STANDARD.encode("not json")}},
            {"kinesis": {"data": good}},
            {"kinesis": {"sequenceNumber": "5"}},
        ]});
        let (records, unidentified) = records(&event);
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].document, Ok(json!({"ContactId": "c1"})));
        assert_eq!(records[1].document, Err("kinesis.data is not base64".into()));
        assert!(
            records[2]
                .document
                .as_ref()
                .unwrap_err()
                .starts_with("kinesis.data is not a JSON document")
        );
        assert_eq!(records[3].position, 4);
        assert_eq!(
            unidentified,
            [UnidentifiedRecord {
                position: 3,
                reason: "kinesis.sequenceNumber is missing".into()
            }]
        );
    }

    #[test]
    fn the_response_lists_failures_by_sequence_number() {
        let response = serde_json::to_value(batch_response(["7", "9"])).unwrap();
        assert_eq!(
            response,
            json!({"batchItemFailures": [{"itemIdentifier": "7"}, {"itemIdentifier": "9"}]})
        );
        assert_eq!(
            serde_json::to_value(batch_response([])).unwrap(),
            json!({"batchItemFailures": []})
        );
    }

    #[test]
    fn an_event_without_records_is_reported() {
        let (records, unidentified) = records(&json!({"foo": 1}));
        assert!(records.is_empty());
        assert_eq!(unidentified.len(), 1);
    }
}
