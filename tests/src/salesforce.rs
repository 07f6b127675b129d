//! A fake Salesforce on 127.0.0.1: the SCRT telephony API, the OAuth 2.0 token endpoint and the REST API.
//!
//! It checks what the real one checks: every SCRT JWT is verified with the contact center's public key
//! (RS256 signature, `iss`, `sub`, `aud`, `exp` no more than 5 minutes after `iat` and not past), every
//! OAuth assertion with the connected app's public key (`iss` = consumer key, `sub`, `aud`, `exp` within 3
//! minutes), and every REST call's access token. It records every request and can script faults.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use scv_core::{Clock, SystemClock};
use serde_json::{Value, json};

use crate::{
    HarnessError,
    server::{Served, lock},
};

/// The SCRT identity the fake expects.
pub struct ScrtIdentity {
    pub org_id: String,
    pub call_center_api_name: String,
    pub public_key: DecodingKey,
}

/// The connected-app identity the fake's token endpoint expects.
pub struct RestIdentity {
    pub consumer_key: String,
    pub username: String,
    pub audience: String,
    pub public_key: DecodingKey,
}

/// How a request was authorised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthCheck {
    /// A valid SCRT JWT with these claims.
    Jwt(Value),
    /// A valid REST access token.
    AccessToken,
    /// A token request with a valid assertion (claims).
    Assertion(Value),
    /// Refused, and why.
    Rejected(String),
    /// A scripted fault answered before any check.
    Fault,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Value,
    pub auth: AuthCheck,
    /// The status answered; 0 when the connection was dropped without an answer.
    pub status: u16,
    /// The raw bearer credential sent (for tests that check it never leaks).
    pub bearer: Option<String>,
    pub at: Instant,
}

/// What a scripted fault does.
#[derive(Debug, Clone)]
pub enum FaultAction {
    /// Answer this status; the body is Salesforce-shaped for the status (401 → `INVALID_SESSION_ID`).
    Status(u16),
    /// Answer this status with `Retry-After: <seconds>`.
    StatusRetryAfter(u16, u64),
    /// Wait, then answer normally.
    Delay(Duration),
    /// Close the connection without an answer.
    Drop,
}

/// A scripted fault: requests whose path contains `path_contains` (and whose method matches, if given) get
/// `action`, for the first `times` matching requests (`None`: always).
#[derive(Debug, Clone)]
pub struct Fault {
    pub path_contains: String,
    pub method: Option<Method>,
    pub action: FaultAction,
    pub times: Option<usize>,
}

impl Fault {
    /// `action` for the first `times` requests whose path contains `path`.
    pub fn times(path: &str, action: FaultAction, times: usize) -> Self {
        Self {
            path_contains: path.to_owned(),
            method: None,
            action,
            times: Some(times),
        }
    }

    /// `action` for every request whose path contains `path`.
    pub fn always(path: &str, action: FaultAction) -> Self {
        Self {
            path_contains: path.to_owned(),
            method: None,
            action,
            times: None,
        }
    }
}

struct Shared {
    scrt: Option<ScrtIdentity>,
    rest: Option<RestIdentity>,
    clock: Arc<dyn Clock>,
    base_url: String,
    requests: Mutex<Vec<Recorded>>,
    faults: Mutex<Vec<Fault>>,
    latency: Mutex<Duration>,
    tokens: Mutex<HashSet<String>>,
    voice_calls: Mutex<HashMap<String, Value>>,
}

/// A running fake Salesforce; stops when dropped.
pub struct FakeSalesforce {
    served: Served,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeSalesforce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSalesforce")
            .field("addr", &self.served.addr)
            .finish_non_exhaustive()
    }
}

/// Builds a [`FakeSalesforce`].
pub struct FakeSalesforceBuilder {
    scrt: Option<ScrtIdentity>,
    rest: Option<RestIdentity>,
    clock: Arc<dyn Clock>,
}

impl FakeSalesforceBuilder {
    /// Accept SCRT calls signed for this identity.
    pub fn scrt(mut self, identity: ScrtIdentity) -> Self {
        self.scrt = Some(identity);
        self
    }

    /// Accept token requests for this identity, and REST calls with the tokens it issues.
    pub fn rest(mut self, identity: RestIdentity) -> Self {
        self.rest = Some(identity);
        self
    }

    /// Judge `iat`/`exp` by this clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts serving on a free 127.0.0.1 port.
    pub async fn start(self) -> Result<FakeSalesforce, HarnessError> {
        let mut shared = None;
        let served = Served::start(|addr| {
            let state = Arc::new(Shared {
                scrt: self.scrt,
                rest: self.rest,
                clock: self.clock,
                base_url: format!("http://{addr}"),
                requests: Mutex::default(),
                faults: Mutex::default(),
                latency: Mutex::default(),
                tokens: Mutex::default(),
                voice_calls: Mutex::default(),
            });
            shared = Some(state.clone());
            Router::new().fallback(handle).with_state(state)
        })
        .await?;
        let shared = shared.ok_or_else(|| HarnessError::Setup("the fake Salesforce did not start".into()))?;
        Ok(FakeSalesforce { served, shared })
    }
}

impl FakeSalesforce {
    /// A builder with the system clock and no identities.
    pub fn builder() -> FakeSalesforceBuilder {
        FakeSalesforceBuilder {
            scrt: None,
            rest: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The SCRT base, as `SCRT_ENDPOINT_BASE` takes it.
    pub fn scrt_base(&self) -> String {
        format!("{}/telephony/v1", self.shared.base_url)
    }

    /// The OAuth token URL, as `SALESFORCE_AUTH_ENDPOINT` takes it.
    pub fn token_url(&self) -> String {
        format!("{}/services/oauth2/token", self.shared.base_url)
    }

    /// Adds a scripted fault (checked in the order added).
    pub fn add_fault(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Removes every scripted fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Adds `latency` to every answer.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Requests whose path ends with `suffix` and that were answered 2xx.
    pub fn successes(&self, method: Method, suffix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix) && (200..300).contains(&r.status))
            .collect()
    }

    /// How many access tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == "/services/oauth2/token" && r.status == 200)
            .count()
    }

    /// Invalidates every access token issued so far (the session expired).
    pub fn expire_sessions(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// The latest fields written to each VoiceCall by update calls, by contact id.
    pub fn voice_calls(&self) -> HashMap<String, Value> {
        lock(&self.shared.voice_calls).clone()
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = *lock(&shared.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let path = uri.path().to_owned();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let json_body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let mut record = Recorded {
        method: method.clone(),
        path: path.clone(),
        query: uri.query().map(str::to_owned),
        headers: headers.clone(),
        body: json_body.clone(),
        auth: AuthCheck::Fault,
        status: 0,
        bearer: bearer.clone(),
        at: Instant::now(),
    };

    if let Some(action) = take_fault(&shared, &method, &path) {
        let response = match &action {
            FaultAction::Status(status) => Some(fault_response(*status, None)),
            FaultAction::StatusRetryAfter(status, secs) => Some(fault_response(*status, Some(*secs))),
            FaultAction::Delay(delay) => {
                tokio::time::sleep(*delay).await;
                None
            }
            FaultAction::Drop => Some(dropped_connection()),
        };
        if let Some(response) = response {
            // A dropped connection answered nothing: recorded as status 0.
            record.status = if matches!(action, FaultAction::Drop) {
                0
            } else {
                response.status().as_u16()
            };
            lock(&shared.requests).push(record);
            return response;
        }
    }

    let (auth, status, reply) = if path == "/services/oauth2/token" && method == Method::POST {
        token_endpoint(&shared, &body)
    } else if let Some(rest) = path.strip_prefix("/telephony/v1/") {
        scrt_endpoint(&shared, &method, rest, bearer.as_deref(), &json_body)
    } else if path.starts_with("/services/data/") {
        rest_endpoint(&shared, &method, &path, bearer.as_deref())
    } else {
        (
            AuthCheck::Rejected("unknown path".into()),
            StatusCode::NOT_FOUND,
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
        )
    };
    record.auth = auth;
    record.status = status.as_u16();
    lock(&shared.requests).push(record);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    (status, axum::Json(reply)).into_response()
}

fn take_fault(shared: &Shared, method: &Method, path: &str) -> Option<FaultAction> {
    let mut faults = lock(&shared.faults);
    let index = faults.iter().position(|f| {
        path.contains(&f.path_contains) && f.method.as_ref().is_none_or(|m| m == method) && f.times != Some(0)
    })?;
    let fault = &mut faults[index];
    if let Some(times) = fault.times.as_mut() {
        *times -= 1;
    }
    Some(fault.action.clone())
}

fn fault_response(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match status.as_u16() {
        401 => json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]),
        429 => {
            json!({"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "SCV_LIMITS_ERROR: too many requests"})
        }
        s if s >= 500 => json!({"errorCode": "SERVER_ERROR", "message": "scripted server error"}),
        _ => json!({"errorCode": "SCRIPTED", "message": "scripted fault"}),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = retry_after
        && let Ok(value) = secs.to_string().parse()
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// An answer whose body fails at once: the server aborts the connection before a complete response.
fn dropped_connection() -> Response {
    let stream =
        futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("scripted drop")) });
    Response::new(Body::from_stream(stream))
}

fn verify(token: &str, key: &DecodingKey) -> Result<Value, String> {
    let mut validation = Validation::new(Algorithm::RS256);
    // Time is judged below by the fake's own clock.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    jsonwebtoken::decode::<Value>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| format!("signature: {e}"))
}

fn check_claims(
    claims: &Value,
    expected: &[(&str, &str)],
    now: u64,
    max_lifetime: u64,
    need_iat: bool,
) -> Result<(), String> {
    for (name, value) in expected {
        let got = claims.get(*name).and_then(Value::as_str);
        if got != Some(*value) {
            return Err(format!("{name} is {got:?}, expected {value:?}"));
        }
    }
    let exp = claims.get("exp").and_then(Value::as_u64).ok_or("exp missing")?;
    if exp <= now {
        return Err(format!("expired: exp {exp} <= now {now}"));
    }
    match claims.get("iat").and_then(Value::as_u64) {
        Some(iat) => {
            if iat > now + 5 {
                return Err("iat in the future".into());
            }
            if exp.saturating_sub(iat) > max_lifetime {
                return Err(format!("exp - iat = {} s > {max_lifetime} s", exp - iat));
            }
        }
        None if need_iat => return Err("iat missing".into()),
        None => {}
    }
    if exp > now + max_lifetime + 5 {
        return Err(format!("exp more than {max_lifetime} s ahead"));
    }
    Ok(())
}

fn scrt_endpoint(
    shared: &Shared,
    method: &Method,
    rest: &str,
    bearer: Option<&str>,
    body: &Value,
) -> (AuthCheck, StatusCode, Value) {
    let unauthorized = |reason: String| {
        (
            AuthCheck::Rejected(reason.clone()),
            StatusCode::UNAUTHORIZED,
            json!({"errorCode": "INVALID_JWT", "message": reason}),
        )
    };
    let Some(identity) = shared.scrt.as_ref() else {
        return unauthorized("no SCRT identity configured".into());
    };
    let Some(token) = bearer else {
        return unauthorized("no bearer token".into());
    };
    let claims = match verify(token, &identity.public_key) {
        Ok(claims) => claims,
        Err(reason) => return unauthorized(reason),
    };
    let expected = [
        ("iss", identity.org_id.as_str()),
        ("sub", identity.call_center_api_name.as_str()),
        ("aud", scv_core::salesforce::SCRT_AUDIENCE),
    ];
    if let Err(reason) = check_claims(&claims, &expected, shared.clock.unix_seconds(), 300, true) {
        return unauthorized(reason);
    }
    if claims
        .get("jti")
        .and_then(Value::as_str)
        .is_none_or(|j| uuid::Uuid::parse_str(j).is_err())
    {
        return unauthorized("jti missing or not a UUID".into());
    }
    let auth = AuthCheck::Jwt(claims);
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let answer = match (method.as_str(), segments.as_slice()) {
        ("POST", ["voiceCalls"]) => {
            let key = body
                .get("vendorCallKey")
                .and_then(Value::as_str)
                .unwrap_or_default();
            json!({"voiceCallId": format!("0LQ{:0>15}", key.len()), "errors": []})
        }
        ("POST", ["voiceCalls", "messages"]) => json!({"result": "Accepted"}),
        ("PATCH", ["voiceCalls", id]) => {
            lock(&shared.voice_calls).insert(decode(id), body.clone());
            json!({"status": "pending"})
        }
        ("POST", ["voiceCalls", _, "messages"]) => json!({"result": "Accepted"}),
        ("PATCH", ["voiceCalls", _, "clearRouting" | "reroute"]) => json!({"status": "Success"}),
        ("PATCH", ["voiceCalls", _, "omniFlow"]) => {
            json!({"agent": "agent-external-id", "queue": "queue-external-id"})
        }
        _ => {
            return (
                auth,
                StatusCode::NOT_FOUND,
                json!({"errorCode": "NOT_FOUND", "message": "no such SCRT resource"}),
            );
        }
    };
    (auth, StatusCode::OK, answer)
}

fn decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_owned())
}

fn token_endpoint(shared: &Shared, body: &[u8]) -> (AuthCheck, StatusCode, Value) {
    let invalid = |reason: String| {
        (
            AuthCheck::Rejected(reason.clone()),
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": reason}),
        )
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return (
            AuthCheck::Rejected("grant_type".into()),
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"}),
        );
    }
    let Some(identity) = shared.rest.as_ref() else {
        return invalid("no connected app configured".into());
    };
    let Some(assertion) = form.get("assertion") else {
        return invalid("assertion missing".into());
    };
    let claims = match verify(assertion, &identity.public_key) {
        Ok(claims) => claims,
        Err(reason) => return invalid(format!("invalid assertion: {reason}")),
    };
    let expected = [
        ("iss", identity.consumer_key.as_str()),
        ("sub", identity.username.as_str()),
        ("aud", identity.audience.as_str()),
    ];
    if let Err(reason) = check_claims(&claims, &expected, shared.clock.unix_seconds(), 180, false) {
        return invalid(reason);
    }
    let token = format!("00DFAKE!{}", uuid::Uuid::new_v4().simple());
    lock(&shared.tokens).insert(token.clone());
    let answer = json!({
        "access_token": token,
        "instance_url": shared.base_url,
        "id": format!("{}/id/00DFAKE/005FAKE", shared.base_url),
        "token_type": "Bearer",
        "scope": "api",
    });
    (AuthCheck::Assertion(claims), StatusCode::OK, answer)
}

fn rest_endpoint(
    shared: &Shared,
    method: &Method,
    path: &str,
    bearer: Option<&str>,
) -> (AuthCheck, StatusCode, Value) {
    if bearer.is_none_or(|t| !lock(&shared.tokens).contains(t)) {
        return (
            AuthCheck::Rejected("session".into()),
            StatusCode::UNAUTHORIZED,
            json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]),
        );
    }
    let answer = match *method {
        Method::GET if path.contains("/query") => json!({"totalSize": 0, "done": true, "records": []}),
        Method::GET => json!({"path": path}),
        Method::POST => {
            return (
                AuthCheck::AccessToken,
                StatusCode::CREATED,
                json!({"id": "a00FAKE", "success": true, "errors": []}),
            );
        }
        Method::PATCH => return (AuthCheck::AccessToken, StatusCode::NO_CONTENT, Value::Null),
        _ => {
            return (
                AuthCheck::AccessToken,
                StatusCode::METHOD_NOT_ALLOWED,
                json!([{"errorCode": "METHOD_NOT_ALLOWED", "message": "method"}]),
            );
        }
    };
    (AuthCheck::AccessToken, StatusCode::OK, answer)
}
