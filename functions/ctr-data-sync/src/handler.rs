//! The Kinesis batch handler.

use std::{collections::HashMap, time::Duration};

use aws_lambda_events::streams::KinesisEventResponse;
use futures::StreamExt;
use lambda_runtime::LambdaEvent;
use scv_core::{
    Budget, Env, ScrtClient, SecretStore,
    kinesis::{self, KinesisRecord},
    telemetry::{metric, record_span},
};
use serde_json::Value;
use tracing::Instrument;

use crate::ctr::{Plan, VoiceCallUpdate, plan};

/// Records of different contacts updated at once, at most (`SALESFORCE_CONCURRENCY`): a whole batch of
/// 100 goes out in one round trip.
pub const DEFAULT_CONCURRENCY: usize = 100;

/// Time kept back from the invocation deadline to answer the Runtime API.
const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// What the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    pub scrt: ScrtClient,
    pub concurrency: usize,
}

impl Deps {
    /// Reads the environment and the private key, at start-up.
    pub async fn from_env() -> Result<Self, scv_core::Error> {
        let env = Env::from_process();
        let aws = aws_config::load_from_env().await;
        Self::load(&env, &SecretStore::new(&aws)).await
    }

    /// Builds the dependencies from `env`, reading secrets through `secrets`.
    pub async fn load(env: &Env, secrets: &SecretStore) -> Result<Self, scv_core::Error> {
        let concurrency = env
            .parse::<usize>("SALESFORCE_CONCURRENCY")?
            .unwrap_or(DEFAULT_CONCURRENCY)
            .max(1);
        Ok(Self {
            scrt: ScrtClient::load(env, secrets).await?,
            concurrency,
        })
    }
}

/// One record's way through: its position, sequence number and what to do.
struct Work {
    position: usize,
    sequence_number: String,
    update: VoiceCallUpdate,
}

/// Handles one Kinesis batch: every record is filtered, mapped and sent on its own; the answer lists
/// exactly the records whose VoiceCall update finally failed.
pub async fn handle(
    deps: &Deps,
    event: LambdaEvent<Value>,
) -> Result<KinesisEventResponse, lambda_runtime::Error> {
    let budget = Budget::from_lambda(&event.context, DEADLINE_MARGIN);
    Ok(handle_batch(deps, &event.payload, &budget).await)
}

/// [`handle`] without the Lambda envelope.
pub async fn handle_batch(deps: &Deps, event: &Value, budget: &Budget) -> KinesisEventResponse {
    let records = kinesis::batch_records(event);
    let work: Vec<Work> = records.iter().filter_map(triage).collect();

    // Records of one contact go in batch order, one after the other; contacts go concurrently.
    let mut by_contact: Vec<Vec<Work>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in work {
        match index.get(&item.update.contact_id) {
            Some(&group) => by_contact[group].push(item),
            None => {
                index.insert(item.update.contact_id.clone(), by_contact.len());
                by_contact.push(vec![item]);
            }
        }
    }
    let mut failed: Vec<(usize, String)> = futures::stream::iter(by_contact)
        .map(|group| update_contact(deps, group, budget))
        .buffer_unordered(deps.concurrency)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    failed.sort_unstable();
    if !failed.is_empty() {
        tracing::warn!(
            failed = failed.len(),
            "some VoiceCall updates failed; reporting them for retry"
        );
    }
    kinesis::batch_response(failed.iter().map(|(_, sequence)| sequence.as_str()))
}

/// Decides what to do with one decoded record; skipped and malformed records are logged and dropped.
fn triage(record: &KinesisRecord) -> Option<Work> {
    let document = record.document_or_skip()?;
    let sequence_number = record.sequence_number.as_str();
    let contact_id = document
        .get("ContactId")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    let _span = record_span(contact_id).entered();
    match plan(document) {
        Ok(Plan::Update(update)) => Some(Work {
            position: record.position,
            sequence_number: sequence_number.to_owned(),
            update,
        }),
        Ok(Plan::Skip(skip)) => {
            tracing::info!(sequence_number, reason = skip.reason(), "skipping: {skip}");
            metrics::counter!(metric::RECORDS_SKIPPED, "reason" => skip.reason()).increment(1);
            None
        }
        Err(error) => {
            tracing::error!(sequence_number, %error, "skipping a malformed contact record");
            metrics::counter!(metric::RECORDS_SKIPPED, "reason" => "malformed").increment(1);
            None
        }
    }
}

/// Sends one contact's updates in order. After a failure the contact's later records are not sent (they
/// would be overwritten by the failed one when Kinesis retries it) and are reported too.
async fn update_contact(deps: &Deps, group: Vec<Work>, budget: &Budget) -> Vec<(usize, String)> {
    let mut failed = Vec::new();
    for work in group {
        let span = record_span(&work.update.contact_id);
        async {
            if !failed.is_empty() {
                tracing::warn!(
                    sequence_number = work.sequence_number,
                    "held back: an earlier update of this contact failed"
                );
            } else {
                match deps
                    .scrt
                    .update_voice_call(&work.update.contact_id, &work.update.fields, budget)
                    .await
                {
                    Ok(_) => {
                        tracing::info!(sequence_number = work.sequence_number, "VoiceCall updated");
                        metrics::counter!(metric::RECORDS_SUCCEEDED).increment(1);
                        return;
                    }
                    Err(error) => tracing::error!(
                        sequence_number = work.sequence_number,
                        %error,
                        status = error.status(),
                        code = error.code(),
                        "VoiceCall update failed"
                    ),
                }
            }
            metrics::counter!(metric::RECORDS_FAILED).increment(1);
            failed.push((work.position, work.sequence_number.clone()));
        }
        .instrument(span)
        .await;
    }
    failed
}
