//! The one place where requests to Salesforce are sent, timed, authorised and retried.

use std::time::{Duration, Instant};

use reqwest::{Method, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{RetryPolicy, SalesforceError, error::error_details};
use crate::{Budget, telemetry::metric};

/// Shortest time worth starting another attempt in.
const MIN_ATTEMPT: Duration = Duration::from_millis(50);

/// A bearer credential and the generation it belongs to (so that a 401 drops exactly this one).
#[derive(Clone)]
pub(crate) struct Credential {
    pub(crate) token: SecretString,
    pub(crate) generation: u64,
}

/// Where requests get their `Authorization: Bearer`.
pub(crate) trait Authorizer {
    /// The credential for the next attempt, `None` for unauthenticated requests.
    async fn credential(&self, budget: &Budget) -> Result<Option<Credential>, SalesforceError>;
    /// Salesforce refused `credential` (401): the next call must get a fresh one.
    fn refused(&self, credential: &Credential);
}

/// Requests that carry no credential (the OAuth token endpoint).
pub(crate) struct Anonymous;

impl Authorizer for Anonymous {
    async fn credential(&self, _: &Budget) -> Result<Option<Credential>, SalesforceError> {
        Ok(None)
    }
    fn refused(&self, _: &Credential) {}
}

/// What to send.
pub(crate) struct Call<'a> {
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Body<'a>,
}

pub(crate) enum Body<'a> {
    Empty,
    Json(&'a serde_json::Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// A successful answer: the status and the body as JSON (`Null` when empty, a string when not JSON).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: serde_json::Value,
}

/// One `reqwest` client per container, with the retry policy and default headers.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    policy: RetryPolicy,
}

enum Failure {
    Answer {
        status: u16,
        body: serde_json::Value,
        retry_after: Option<Duration>,
    },
    Timeout(Duration),
    Connection(String),
}

impl Failure {
    fn is_transient(&self) -> bool {
        match self {
            Self::Answer { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout(_) | Self::Connection(_) => true,
        }
    }

    fn reason(&self) -> String {
        match self {
            Self::Answer { status, .. } => format!("HTTP {status}"),
            Self::Timeout(_) => "timeout".into(),
            Self::Connection(detail) => format!("connection: {detail}"),
        }
    }

    fn into_error(self, operation: &'static str, attempts: u32) -> SalesforceError {
        match self {
            Self::Answer { status, body, .. } => {
                let (code, message) = error_details(&body);
                SalesforceError::Status {
                    operation,
                    status,
                    code,
                    message,
                    attempts,
                }
            }
            Self::Timeout(timeout) => SalesforceError::Timeout {
                operation,
                timeout,
                attempts,
            },
            Self::Connection(detail) => SalesforceError::Connection {
                operation,
                detail,
                attempts,
            },
        }
    }
}

impl Http {
    pub(crate) fn new(policy: RetryPolicy, default_headers: HeaderMap) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .default_headers(default_headers)
            .user_agent(concat!("scv-connect-lambdas/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(policy.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client, policy })
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Sends `call`, retrying within the policy and the budget, and answers 2xx or the final error.
    pub(crate) async fn execute<A: Authorizer>(
        &self,
        call: &Call<'_>,
        auth: &A,
        budget: &Budget,
    ) -> Result<Reply, SalesforceError> {
        let started = Instant::now();
        let operation = call.operation;
        let mut sent = 0_u32;
        let mut counted = 0_u32;
        let mut resigned = false;
        let result = loop {
            let credential = auth.credential(budget).await?;
            let timeout = budget.clamp(self.policy.request_timeout);
            if timeout < MIN_ATTEMPT {
                break Err(SalesforceError::Deadline {
                    operation,
                    attempts: sent,
                });
            }
            sent += 1;
            counted += 1;
            let failure = match self.send_once(call, credential.as_ref(), timeout).await {
                Ok(reply) => break Ok(reply),
                Err(failure) => failure,
            };
            if let (Failure::Answer { status: 401, .. }, Some(credential), false) =
                (&failure, &credential, resigned)
            {
                tracing::info!(
                    operation,
                    "Salesforce refused the credential (401); retrying once with a fresh one"
                );
                auth.refused(credential);
                resigned = true;
                counted -= 1;
                metrics::counter!(metric::SALESFORCE_RETRIES).increment(1);
                continue;
            }
            if failure.is_transient() && counted < self.policy.max_attempts {
                let retry_after = match &failure {
                    Failure::Answer { retry_after, .. } => *retry_after,
                    _ => None,
                };
                let delay = self.policy.backoff(counted, retry_after);
                if budget.allows(delay + MIN_ATTEMPT) {
                    tracing::warn!(
                        operation,
                        attempt = sent,
                        reason = %failure.reason(),
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "Salesforce call failed; retrying"
                    );
                    metrics::counter!(metric::SALESFORCE_RETRIES).increment(1);
                    tokio::time::sleep(delay).await;
                    continue;
                }
                tracing::warn!(operation, attempt = sent, reason = %failure.reason(), "no time left before the deadline for another attempt");
            }
            break Err(failure.into_error(operation, sent));
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        metrics::histogram!(metric::SALESFORCE_LATENCY).record(elapsed_ms);
        metrics::counter!(metric::SALESFORCE_REQUESTS).increment(u64::from(sent));
        match &result {
            Ok(reply) => tracing::debug!(
                operation,
                status = reply.status,
                attempts = sent,
                elapsed_ms,
                "Salesforce call done"
            ),
            Err(error) => {
                metrics::counter!(metric::SALESFORCE_FAILURES).increment(1);
                tracing::error!(operation, error = %error, kind = error.kind(), "Salesforce call failed");
            }
        }
        result
    }

    async fn send_once(
        &self,
        call: &Call<'_>,
        credential: Option<&Credential>,
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        let mut request = self
            .client
            .request(call.method.clone(), call.url.clone())
            .timeout(timeout);
        if let Some(credential) = credential {
            request = request.bearer_auth(credential.token.expose_secret());
        }
        request = match call.body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Form(fields) => request.form(fields),
        };
        let response = request.send().await.map_err(|e| classify(&e, timeout))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| classify(&e, timeout))?;
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if status.is_success() {
            Ok(Reply {
                status: status.as_u16(),
                body,
            })
        } else {
            Err(Failure::Answer {
                status: status.as_u16(),
                body,
                retry_after,
            })
        }
    }
}

fn classify(error: &reqwest::Error, timeout: Duration) -> Failure {
    if error.is_timeout() {
        return Failure::Timeout(timeout);
    }
    // The chain of causes says what really happened ("connection refused", "connection reset"); no part
    // of it carries a credential.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    Failure::Connection(detail)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
