//! The custom resource handler: converge the SAML provider, then always answer CloudFormation.

use std::time::Duration;

use aws_sdk_iam::error::DisplayErrorContext;
use lambda_runtime::LambdaEvent;
use scv_core::{Budget, RetryPolicy, text::truncate};
use serde::Serialize;
use serde_json::{Value, json};

use crate::metadata;

/// Time kept for answering CloudFormation after the work (the work is cut off before this).
pub const ANSWER_TIME: Duration = Duration::from_secs(4);

/// What the handler needs, built once per container.
#[derive(Debug, Clone)]
pub struct Deps {
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub http: reqwest::Client,
}

impl Deps {
    /// Builds the IAM, S3 and HTTP clients.
    pub async fn from_env() -> Result<Self, reqwest::Error> {
        let aws = aws_config::load_from_env().await;
        Ok(Self {
            iam: aws_sdk_iam::Client::new(&aws),
            s3: scv_core::aws::s3_client(&aws),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        })
    }
}

/// `SUCCESS` or `FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

/// The result of the work, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub arn: Option<String>,
}

/// Answering CloudFormation failed: the stack will wait for its timeout.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the event has no ResponseURL: CloudFormation cannot be answered")]
    NoResponseUrl,
    #[error("PUT to the ResponseURL failed after {attempts} attempt(s): {detail}")]
    Put { attempts: u32, detail: String },
}

impl From<AnswerError> for lambda_runtime::Diagnostic {
    fn from(error: AnswerError) -> Self {
        let error_type = match error {
            AnswerError::NoResponseUrl => "InvalidEvent",
            AnswerError::Put { .. } => "CloudFormation.ResponseFailed",
        };
        Self {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// Handles one custom resource request.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, AnswerError> {
    let budget = Budget::from_lambda(&event.context, Duration::from_millis(500));
    handle_request(deps, &event.payload, &event.context.invoked_function_arn, &budget).await
}

/// [`handle`] without the Lambda envelope: `invoked_function_arn` gives the partition and account of the
/// provider's ARN; the work is cut off [`ANSWER_TIME`] before the budget ends, so the answer always goes.
pub async fn handle_request(
    deps: &Deps,
    event: &Value,
    invoked_function_arn: &str,
    budget: &Budget,
) -> Result<Value, AnswerError> {
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
    let Some(response_url) = text("ResponseURL") else {
        tracing::error!("custom resource event without ResponseURL");
        return Err(AnswerError::NoResponseUrl);
    };
    let work_time = budget.remaining().map(|left| left.saturating_sub(ANSWER_TIME));
    let work = converge(deps, event, invoked_function_arn);
    let outcome = match work_time {
        None => work.await,
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(outcome) => outcome,
            Err(_) => failed(event, None, "the work did not finish before the Lambda deadline; nothing is left half-done that a retry cannot redo".into()),
        },
    };
    let body = json!({
        "Status": outcome.status,
        "Reason": truncate(&outcome.reason, 1000),
        "PhysicalResourceId": outcome.physical_resource_id,
        "StackId": text("StackId").unwrap_or_default(),
        "RequestId": text("RequestId").unwrap_or_default(),
        "LogicalResourceId": text("LogicalResourceId").unwrap_or_default(),
        "NoEcho": false,
        "Data": { "Arn": outcome.arn.clone().unwrap_or_default(), "Reason": truncate(&outcome.reason, 500) },
    });
    match outcome.status {
        Status::Success => {
            tracing::info!(reason = %outcome.reason, physical_resource_id = %outcome.physical_resource_id, "answering SUCCESS")
        }
        Status::Failed => {
            tracing::error!(reason = %outcome.reason, physical_resource_id = %outcome.physical_resource_id, "answering FAILED")
        }
    }
    put_response(deps, &response_url, &body, budget).await?;
    Ok(body)
}

/// Does what the request asks; every failure becomes a `FAILED` outcome with its reason.
async fn converge(deps: &Deps, event: &Value, invoked_function_arn: &str) -> Outcome {
    let request_type = event.get("RequestType").and_then(Value::as_str).unwrap_or("");
    let properties = event.get("ResourceProperties");
    let property = |name: &str| {
        properties
            .and_then(|p| p.get(name))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let name = property("Name");
    let arn = name.and_then(|name| provider_arn(invoked_function_arn, name));
    if request_type == "Delete" {
        return delete(deps, event, arn).await;
    }
    if !matches!(request_type, "Create" | "Update") {
        return failed(
            event,
            arn,
            format!("unknown RequestType {request_type:?}: expected Create, Update or Delete"),
        );
    }
    let Some(name) = name else {
        return failed(event, None, "ResourceProperties.Name is missing".into());
    };
    if !valid_name(name) {
        return failed(
            event,
            None,
            format!(
                "ResourceProperties.Name {name:?} is not a valid IAM SAML provider name (1-128 of A-Z a-z 0-9 . _ -)"
            ),
        );
    }
    let Some(arn) = arn else {
        return failed(
            event,
            None,
            format!("cannot tell the account from the function ARN {invoked_function_arn:?}"),
        );
    };
    let (Some(bucket), Some(key)) = (property("S3BucketForSaml"), property("Metadata")) else {
        return failed(event, Some(arn), "ResourceProperties.S3BucketForSaml and ResourceProperties.Metadata (the S3 key of the SAML metadata) are required".into());
    };
    let document = match download(deps, bucket, key).await {
        Ok(document) => document,
        Err(reason) => return failed(event, Some(arn), reason),
    };
    if let Err(error) = metadata::validate(&document) {
        return failed(event, Some(arn), format!("s3://{bucket}/{key}: {error}"));
    }
    let reason = match deps.iam.get_saml_provider().saml_provider_arn(&arn).send().await {
        Ok(existing)
            if metadata::same_document(existing.saml_metadata_document().unwrap_or_default(), &document) =>
        {
            "the SAML provider is up to date".to_owned()
        }
        Ok(_) => match deps
            .iam
            .update_saml_provider()
            .saml_provider_arn(&arn)
            .saml_metadata_document(&document)
            .send()
            .await
        {
            Ok(_) => "the SAML provider's metadata was updated".to_owned(),
            Err(e) => {
                return failed(
                    event,
                    Some(arn),
                    format!("UpdateSAMLProvider: {}", DisplayErrorContext(&e)),
                );
            }
        },
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            match deps
                .iam
                .create_saml_provider()
                .name(name)
                .saml_metadata_document(&document)
                .send()
                .await
            {
                Ok(_) => "the SAML provider was created".to_owned(),
                Err(e) => {
                    return failed(
                        event,
                        Some(arn),
                        format!("CreateSAMLProvider: {}", DisplayErrorContext(&e)),
                    );
                }
            }
        }
        Err(e) => {
            return failed(
                event,
                Some(arn),
                format!("GetSAMLProvider: {}", DisplayErrorContext(&e)),
            );
        }
    };
    metrics::counter!(scv_core::telemetry::metric::RECORDS_SUCCEEDED).increment(1);
    Outcome {
        status: Status::Success,
        reason,
        physical_resource_id: arn.clone(),
        arn: Some(arn),
    }
}

async fn delete(deps: &Deps, event: &Value, computed: Option<String>) -> Outcome {
    // Delete what the stack knows as the resource: its physical id when that is a SAML provider ARN.
    let physical = event
        .get("PhysicalResourceId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let target = physical.clone().filter(|id| id.contains(":saml-provider/"));
    let physical_resource_id = physical.or(computed).unwrap_or_else(|| fallback_id(event));
    let success = |reason: &str| Outcome {
        status: Status::Success,
        reason: reason.to_owned(),
        physical_resource_id: physical_resource_id.clone(),
        arn: target.clone(),
    };
    let Some(arn) = target.clone() else {
        return success("no SAML provider was created for this resource; nothing to delete");
    };
    // Looking first tells "deleted" from "already gone" whatever DeleteSAMLProvider answers for a
    // missing provider.
    match deps.iam.get_saml_provider().saml_provider_arn(&arn).send().await {
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return success("the SAML provider was already gone");
        }
        _ => {}
    }
    match deps
        .iam
        .delete_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
    {
        Ok(_) => success("the SAML provider was deleted"),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            success("the SAML provider was already gone")
        }
        Err(e) => Outcome {
            status: Status::Failed,
            reason: format!("DeleteSAMLProvider: {}", DisplayErrorContext(&e)),
            physical_resource_id,
            arn: Some(arn),
        },
    }
}

/// A `FAILED` outcome. The physical id stays what CloudFormation knows (so a failed update never looks like
/// a replacement), else the provider ARN, else a stable id made from the request.
fn failed(event: &Value, arn: Option<String>, reason: String) -> Outcome {
    metrics::counter!(scv_core::telemetry::metric::RECORDS_FAILED).increment(1);
    let physical = event
        .get("PhysicalResourceId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let physical_resource_id = physical
        .or_else(|| arn.clone())
        .unwrap_or_else(|| fallback_id(event));
    Outcome {
        status: Status::Failed,
        reason,
        physical_resource_id,
        arn,
    }
}

fn fallback_id(event: &Value) -> String {
    let logical = event
        .get("LogicalResourceId")
        .and_then(Value::as_str)
        .unwrap_or("SamlProvider");
    format!("{logical}-not-created")
}

async fn download(deps: &Deps, bucket: &str, key: &str) -> Result<String, String> {
    let object = deps
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                format!("the SAML metadata s3://{bucket}/{key} does not exist")
            } else {
                format!("reading s3://{bucket}/{key}: {}", DisplayErrorContext(&e))
            }
        })?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| format!("reading s3://{bucket}/{key}: {e}"))?
        .into_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("s3://{bucket}/{key} is not UTF-8 text"))
}

/// `arn:<partition>:iam::<account>:saml-provider/<name>` from the function's own ARN.
pub fn provider_arn(invoked_function_arn: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = invoked_function_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "lambda", _, account, ..] if !partition.is_empty() && !account.is_empty() => {
            Some(format!("arn:{partition}:iam::{account}:saml-provider/{name}"))
        }
        _ => None,
    }
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// PUTs the answer to the presigned ResponseURL (empty content type, as S3 presigning expects), retrying
/// 5xx, 429 and connection errors with backoff while the budget allows.
async fn put_response(deps: &Deps, url: &str, body: &Value, budget: &Budget) -> Result<(), AnswerError> {
    let policy = RetryPolicy {
        max_attempts: 5,
        ..RetryPolicy::default()
    };
    let payload = body.to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = deps
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "")
            .body(payload.clone())
            .timeout(budget.clamp(Duration::from_secs(10)))
            .send()
            .await;
        let (detail, transient) = match sent {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status();
                (
                    format!("HTTP {status}"),
                    status.is_server_error() || status.as_u16() == 429,
                )
            }
            Err(e) => (e.to_string(), true),
        };
        let delay = policy.backoff(attempt, None);
        if !transient || attempt >= policy.max_attempts || !budget.allows(delay) {
            return Err(AnswerError::Put {
                attempts: attempt,
                detail,
            });
        }
        tracing::warn!(attempt, %detail, "answering CloudFormation failed; retrying");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arn_follows_the_functions_partition_and_account() {
        assert_eq!(
            provider_arn(
                "arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:ProviderCreator",
                "SalesforceServiceVoiceIdp_00D"
            ),
            Some("arn:aws-us-gov:iam::111122223333:saml-provider/SalesforceServiceVoiceIdp_00D".into())
        );
        assert_eq!(provider_arn("not an arn", "x"), None);
    }

    #[test]
    fn provider_names_follow_iam_rules() {
        assert!(valid_name("SalesforceServiceVoiceIdp_00DHs00000Kmpyr"));
        assert!(!valid_name("with space"));
        assert!(!valid_name(&"x".repeat(129)));
    }
}
