//! A stand-in for CloudFormation's presigned `ResponseURL`: records every PUT, can fail the first ones.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    routing::put,
};
use serde_json::Value;

use crate::{
    HarnessError,
    server::{Served, lock},
};

/// One answer CloudFormation would have received.
#[derive(Debug, Clone)]
pub struct CaughtResponse {
    pub path_and_query: String,
    pub content_type: Option<String>,
    pub body: Value,
    /// The status this stand-in answered (503 for a scripted failure).
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    caught: Mutex<Vec<CaughtResponse>>,
    fail_next: Mutex<usize>,
}

/// A running stand-in; stops when dropped.
pub struct ResponseCatcher {
    served: Served,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ResponseCatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCatcher")
            .field("addr", &self.served.addr)
            .finish_non_exhaustive()
    }
}

impl ResponseCatcher {
    pub async fn start() -> Result<Self, HarnessError> {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{*path}", put(catch))
            .with_state(shared.clone());
        Ok(Self {
            served: Served::start(|_| app).await?,
            shared,
        })
    }

    /// A presigned-looking URL on this stand-in.
    pub fn url(&self) -> String {
        format!(
            "http://{}/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/scv/1%7CIdentityProvider%7Cr1?X-Amz-Signature=abc",
            self.served.addr
        )
    }

    /// Answers 503 to the next `count` PUTs.
    pub fn fail_next(&self, count: usize) {
        *lock(&self.shared.fail_next) = count;
    }

    /// Every PUT so far.
    pub fn caught(&self) -> Vec<CaughtResponse> {
        lock(&self.shared.caught).clone()
    }

    /// The bodies of the PUTs this stand-in accepted.
    pub fn accepted(&self) -> Vec<Value> {
        self.caught()
            .into_iter()
            .filter(|c| c.status == 200)
            .map(|c| c.body)
            .collect()
    }
}

async fn catch(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = {
        let mut fail = lock(&shared.fail_next);
        if *fail > 0 {
            *fail -= 1;
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }
    };
    lock(&shared.caught).push(CaughtResponse {
        path_and_query: uri.path_and_query().map(ToString::to_string).unwrap_or_default(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status: status.as_u16(),
    });
    status
}
