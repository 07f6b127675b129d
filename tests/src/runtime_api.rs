//! A local Lambda Runtime API (`/2018-06-01/runtime/…`) that runs the real function binaries, as Lambda,
//! `cargo lambda watch` or the Runtime Interface Emulator would.
//!
//! [`RuntimeApi::start`] serves on a free 127.0.0.1 port; [`FunctionProcess::spawn`] starts a built
//! binary with `AWS_LAMBDA_RUNTIME_API` pointing at it; [`RuntimeApi::invoke`] queues an event, hands it to
//! the function's `GET …/invocation/next` and waits for its `…/response` or `…/error`.

use std::{
    collections::{HashMap, VecDeque},
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path as UrlPath, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::{Notify, oneshot},
};

use crate::{
    HarnessError,
    server::{Served, lock},
    workspace_root,
};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST …/response` with this body.
    Response(Value),
    /// `POST …/error` with this body (`errorType`, `errorMessage`).
    Error(Value),
}

impl Outcome {
    /// The response body, or a panic-free error describing the function error.
    pub fn response(self) -> Result<Value, HarnessError> {
        match self {
            Self::Response(value) => Ok(value),
            Self::Error(error) => Err(HarnessError::Setup(format!("the function failed: {error}"))),
        }
    }
}

struct Pending {
    request_id: String,
    payload: Value,
    deadline_ms: u64,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Pending>>,
    ready: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Value>>,
    init_failed: Notify,
    function_arn: String,
}

/// A running Runtime API; stops when dropped.
pub struct RuntimeApi {
    served: Served,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.served.addr)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Serves the Runtime API for a function called `function_name`.
    pub async fn start(function_name: &str) -> Result<Self, HarnessError> {
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        Ok(Self {
            served: Served::start(|_| app).await?,
            shared,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.served.addr.to_string()
    }

    /// The ARN the function sees as `invoked_function_arn`.
    pub fn function_arn(&self) -> &str {
        &self.shared.function_arn
    }

    /// Sends `payload` to the function with `timeout` as the invocation's deadline, and waits for the
    /// answer (a little longer than the deadline, then gives up).
    pub async fn invoke(&self, payload: Value, timeout: Duration) -> Result<Outcome, HarnessError> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let deadline_ms = u64::try_from(now_ms + timeout.as_millis()).unwrap_or(u64::MAX);
        self.invoke_with_deadline_header(payload, deadline_ms, timeout)
            .await
    }

    /// Like [`invoke`](Self::invoke), with this exact `Lambda-Runtime-Deadline-Ms` value (some emulators
    /// send the timeout instead of a point in time).
    pub async fn invoke_with_deadline_header(
        &self,
        payload: Value,
        deadline_ms: u64,
        wait: Duration,
    ) -> Result<Outcome, HarnessError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (sender, receiver) = oneshot::channel();
        lock(&self.shared.waiting).insert(request_id.clone(), sender);
        lock(&self.shared.queue).push_back(Pending {
            request_id,
            payload,
            deadline_ms,
        });
        self.shared.ready.notify_one();
        match tokio::time::timeout(wait + Duration::from_secs(5), receiver).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(HarnessError::Setup("the Runtime API stopped".into())),
            Err(_) => Err(HarnessError::Setup(format!(
                "no answer from the function within {wait:?} + 5 s"
            ))),
        }
    }

    /// The body the function posted to `/runtime/init/error`, waiting up to `within` for it.
    pub async fn init_error(&self, within: Duration) -> Option<Value> {
        let notified = self.shared.init_failed.notified();
        if let Some(error) = lock(&self.shared.init_error).clone() {
            return Some(error);
        }
        let _ = tokio::time::timeout(within, notified).await;
        lock(&self.shared.init_error).clone()
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    loop {
        let notified = shared.ready.notified();
        let pending = lock(&shared.queue).pop_front();
        if let Some(pending) = pending {
            let mut headers = HeaderMap::new();
            let mut set = |name: &'static str, value: String| {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            };
            set("lambda-runtime-aws-request-id", pending.request_id);
            set("lambda-runtime-deadline-ms", pending.deadline_ms.to_string());
            set("lambda-runtime-invoked-function-arn", shared.function_arn.clone());
            set(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
            );
            set("content-type", "application/json".into());
            return (StatusCode::OK, headers, pending.payload.to_string()).into_response();
        }
        notified.await;
    }
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&shared.waiting).remove(id) {
        Some(sender) => {
            let _ = sender.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, Outcome::Response(json(&body)))
}

async fn error(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    finish(&shared, &id, Outcome::Error(json(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *lock(&shared.init_error) = Some(json(&body));
    shared.init_failed.notify_waiters();
    StatusCode::ACCEPTED
}

/// A function binary running against a [`RuntimeApi`]; killed when dropped.
#[derive(Debug)]
pub struct FunctionProcess {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    pid: u32,
}

impl FunctionProcess {
    /// Starts `binary` as Lambda would: `AWS_LAMBDA_RUNTIME_API`, the function's name, 128 MB, JSON logs,
    /// plus `env`. Standard output (logs and metrics) is kept, line by line.
    pub fn spawn(binary: &Path, api: &RuntimeApi, env: &[(String, String)]) -> Result<Self, HarnessError> {
        let name = binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("function")
            .to_owned();
        let mut child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| HarnessError::Setup(format!("cannot start {}: {e}", binary.display())))?;
        let pid = child.id().unwrap_or_default();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let lines = stdout.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(out).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    lock(&lines).push(line);
                }
            });
        }
        Ok(Self { child, stdout, pid })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the function printed so far (JSON log lines and EMF metric lines).
    pub fn stdout(&self) -> Vec<String> {
        lock(&self.stdout).clone()
    }

    /// Peak resident memory so far (`VmHWM`), in KiB, where `/proc` tells it.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Waits up to `within` for the process to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

/// The built binary of function package `name` (`cargo build --bins` puts it in `target/debug/`).
pub fn function_binary(name: &str) -> Result<PathBuf, HarnessError> {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    let profile = std::env::var("SCV_BINARY_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = target.join(profile).join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(HarnessError::Setup(format!(
            "{} is not built: run `cargo build --bins` (cargo xtask test does)",
            path.display()
        )))
    }
}
