use std::time::Duration;

use crate::text::truncate;

/// A Salesforce call that finally failed. Carries the HTTP status and Salesforce's error code where there
/// was an answer; never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SalesforceError {
    #[error("{operation}: Salesforce answered HTTP {status}{} after {attempts} attempt(s)", describe(.code, .message))]
    Status {
        operation: &'static str,
        status: u16,
        code: Option<String>,
        message: Option<String>,
        attempts: u32,
    },
    #[error("{operation}: no answer within {} ms after {attempts} attempt(s)", .timeout.as_millis())]
    Timeout {
        operation: &'static str,
        timeout: Duration,
        attempts: u32,
    },
    #[error("{operation}: connection failed after {attempts} attempt(s): {detail}")]
    Connection {
        operation: &'static str,
        detail: String,
        attempts: u32,
    },
    #[error("{operation}: the invocation deadline left no time for attempt {}", .attempts + 1)]
    Deadline { operation: &'static str, attempts: u32 },
    #[error("{operation}: could not sign the JWT")]
    Signing { operation: &'static str },
    #[error("{operation}: unexpected answer from Salesforce: {detail}")]
    UnexpectedBody { operation: &'static str, detail: String },
    #[error("{operation}: invalid request: {detail}")]
    InvalidRequest { operation: &'static str, detail: String },
}

fn describe(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(" {code}: {message}"),
        (Some(code), None) => format!(" {code}"),
        (None, Some(message)) => format!(": {message}"),
        (None, None) => String::new(),
    }
}

impl SalesforceError {
    /// The HTTP status Salesforce answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Salesforce's error code (`errorCode`, OAuth `error`), if it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// How many requests were sent.
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Status { attempts, .. }
            | Self::Timeout { attempts, .. }
            | Self::Connection { attempts, .. }
            | Self::Deadline { attempts, .. } => *attempts,
            Self::Signing { .. } | Self::UnexpectedBody { .. } | Self::InvalidRequest { .. } => 0,
        }
    }

    /// Whether a later attempt (a Kinesis/EventBridge retry) may succeed: 429, 5xx, timeouts, connection
    /// failures and deadline cuts are transient; other 4xx and invalid requests are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout { .. } | Self::Connection { .. } | Self::Deadline { .. } => true,
            Self::Signing { .. } | Self::UnexpectedBody { .. } | Self::InvalidRequest { .. } => false,
        }
    }

    /// A stable name for metrics and `Diagnostic::error_type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status {
                status: 401 | 403, ..
            } => "Salesforce.Unauthorized",
            Self::Status { status: 429, .. } => "Salesforce.Throttled",
            Self::Status { status, .. } if *status >= 500 => "Salesforce.ServerError",
            Self::Status { .. } => "Salesforce.Rejected",
            Self::Timeout { .. } => "Salesforce.Timeout",
            Self::Connection { .. } => "Salesforce.Connection",
            Self::Deadline { .. } => "Salesforce.Deadline",
            Self::Signing { .. } => "Salesforce.Signing",
            Self::UnexpectedBody { .. } => "Salesforce.UnexpectedBody",
            Self::InvalidRequest { .. } => "Salesforce.InvalidRequest",
        }
    }
}

/// Salesforce's error code and message from an error body, whichever of its shapes it has:
/// REST `[{"errorCode","message"}]`, OAuth `{"error","error_description"}`, SCRT `{"errors":[…]}` or
/// `{"errorCode","message"}`, or plain text.
pub(crate) fn error_details(body: &serde_json::Value) -> (Option<String>, Option<String>) {
    use serde_json::Value;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| truncate(s, 300));
    match body {
        Value::Array(items) => items.first().map_or((None, None), error_details),
        Value::Object(map) => {
            if let Some(code) = map.get("errorCode").or_else(|| map.get("error_code")) {
                (text(Some(code)), text(map.get("message")))
            } else if let Some(error) = map.get("error").filter(|e| e.is_string()) {
                (text(Some(error)), text(map.get("error_description")))
            } else if let Some(errors) = map.get("errors") {
                match errors {
                    Value::String(s) => (None, Some(truncate(s, 300))),
                    other => error_details(other),
                }
            } else {
                (None, text(map.get("message")))
            }
        }
        Value::String(s) if !s.is_empty() => (None, Some(truncate(s, 300))),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn error_details_reads_every_salesforce_shape() {
        let cases = [
            (
                json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}]),
                Some("INVALID_SESSION_ID"),
                Some("Session expired"),
            ),
            (
                json!({"error": "invalid_grant", "error_description": "audience"}),
                Some("invalid_grant"),
                Some("audience"),
            ),
            (
                json!({"errors": [{"errorCode": "X", "message": "m"}]}),
                Some("X"),
                Some("m"),
            ),
            (
                json!({"errors": "We created your voice call but"}),
                None,
                Some("We created your voice call but"),
            ),
            (
                json!({"message": "no such call", "errorCode": "NOT_FOUND"}),
                Some("NOT_FOUND"),
                Some("no such call"),
            ),
            (json!("Service Unavailable"), None, Some("Service Unavailable")),
            (json!(null), None, None),
        ];
        for (body, code, message) in cases {
            let (c, m) = error_details(&body);
            assert_eq!((c.as_deref(), m.as_deref()), (code, message), "{body}");
        }
    }

    #[test]
    fn display_names_operation_status_and_code() {
        let err = SalesforceError::Status {
            operation: "updateVoiceCall",
            status: 400,
            code: Some("INVALID_FIELD".into()),
            message: Some("No such column".into()),
            attempts: 1,
        };
        assert_eq!(
            err.to_string(),
            "updateVoiceCall: Salesforce answered HTTP 400 INVALID_FIELD: No such column after 1 attempt(s)"
        );
        assert!(!err.is_transient());
        assert_eq!(err.kind(), "Salesforce.Rejected");
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        let status = |status| SalesforceError::Status {
            operation: "x",
            status,
            code: None,
            message: None,
            attempts: 4,
        };
        assert!(status(429).is_transient());
        assert!(status(503).is_transient());
        assert!(!status(404).is_transient());
        assert!(
            SalesforceError::Timeout {
                operation: "x",
                timeout: Duration::from_secs(1),
                attempts: 2
            }
            .is_transient()
        );
    }
}
