//! The EventBridge event handler.

use std::time::Duration;

use lambda_runtime::LambdaEvent;
use scv_core::{
    Budget, Env, SalesforceError, ScrtClient, SecretStore,
    telemetry::{metric, record_span},
};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::decision::{Action, decide};

/// Time kept back from the invocation deadline to answer the Runtime API.
const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// What the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    pub scrt: ScrtClient,
}

impl Deps {
    /// Reads the environment and the private key, at start-up.
    pub async fn from_env() -> Result<Self, scv_core::Error> {
        let aws = aws_config::load_from_env().await;
        Self::load(&Env::from_process(), &SecretStore::new(&aws)).await
    }

    /// Builds the dependencies from `env`, reading secrets through `secrets`.
    pub async fn load(env: &Env, secrets: &SecretStore) -> Result<Self, scv_core::Error> {
        Ok(Self {
            scrt: ScrtClient::load(env, secrets).await?,
        })
    }
}

/// The invocation's answer: what was done and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    pub reason: String,
}

/// A Salesforce call that finally failed: the invocation fails, so EventBridge retries it.
#[derive(Debug, thiserror::Error)]
#[error("{action:?} for contact {contact_id} failed: {source}")]
pub struct HandlerError {
    pub action: Action,
    pub contact_id: String,
    #[source]
    pub source: SalesforceError,
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        Self {
            error_type: error.source.kind().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Handles one contact event.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
    let budget = Budget::from_lambda(&event.context, DEADLINE_MARGIN);
    handle_event(deps, &event.payload, &budget).await
}

/// [`handle`] without the Lambda envelope.
pub async fn handle_event(deps: &Deps, event: &Value, budget: &Budget) -> Result<Summary, HandlerError> {
    metrics::counter!(metric::RECORDS_PROCESSED).increment(1);
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let event_type = text("/detail/eventType");
    let contact_id = text("/detail/contactId").filter(|id| !id.trim().is_empty());
    let span = record_span(contact_id.as_deref().unwrap_or("(none)"));
    async {
        let skip = |reason: String, metric_reason: &'static str| {
            tracing::info!(event_type, reason, "no Salesforce call");
            metrics::counter!(metric::RECORDS_SKIPPED, "reason" => metric_reason).increment(1);
            Ok(Summary {
                action: Action::None,
                contact_id: contact_id.clone(),
                event_type: event_type.clone(),
                reason,
            })
        };
        let action = decide(event);
        if action == Action::None {
            return skip(
                "not an abandoned call or an expired routing step".into(),
                "no_action",
            );
        }
        let Some(contact_id) = contact_id.clone() else {
            tracing::error!(
                ?action,
                "the event needs {action:?} but detail.contactId is missing"
            );
            return skip(
                format!("{action:?} needed but detail.contactId is missing"),
                "malformed",
            );
        };
        let (result, reason) = match action {
            Action::Reroute => (
                deps.scrt.reroute(&contact_id, budget).await,
                "first routing step expired: call rerouted",
            ),
            _ => (
                deps.scrt.clear_routing(&contact_id, budget).await,
                "abandoned before an agent answered: pending routing cleared",
            ),
        };
        match result {
            Ok(_) => {
                tracing::info!(?action, "{reason}");
                metrics::counter!(metric::RECORDS_SUCCEEDED).increment(1);
                Ok(Summary {
                    action,
                    contact_id: Some(contact_id),
                    event_type: event_type.clone(),
                    reason: reason.into(),
                })
            }
            Err(source) => {
                metrics::counter!(metric::RECORDS_FAILED).increment(1);
                Err(HandlerError {
                    action,
                    contact_id,
                    source,
                })
            }
        }
    }
    .instrument(span)
    .await
}
