//! A real moto server for AWS APIs (SSM, Secrets Manager, S3, Logs, IAM, Kinesis Video control plane).
//!
//! [`Moto::start`] reuses the server named by `SCV_MOTO_ENDPOINT` (started once by `cargo xtask test` for
//! the whole run) or starts its own `moto_server` on a free 127.0.0.1 port and kills it by PID when
//! dropped. The binary comes from `SCV_MOTO_SERVER`, the project's `.venv/bin/moto_server` (installed by
//! `cargo xtask test`), or `PATH`. Tests use unique resource names, so they can share one server.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::{config::Credentials, types::ParameterType};
use tokio::process::{Child, Command};

use crate::{HarnessError, workspace_root};

/// A moto server this process started, or one it was pointed at.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    child: Option<Child>,
    config: SdkConfig,
}

impl Moto {
    /// The shared server from `SCV_MOTO_ENDPOINT`, or a new one.
    pub async fn start() -> Result<Self, HarnessError> {
        match std::env::var("SCV_MOTO_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => Ok(Self::at(endpoint, None).await),
            _ => Self::spawn().await,
        }
    }

    /// Always starts a server of its own.
    pub async fn spawn() -> Result<Self, HarnessError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let binary = moto_binary();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                HarnessError::Setup(format!(
                    "cannot start {}: {e} (run `cargo xtask test`, which installs moto into .venv)",
                    binary.display()
                ))
            })?;
        wait_ready(&endpoint, Duration::from_secs(60)).await?;
        Ok(Self::at(endpoint, Some(child)).await)
    }

    async fn at(endpoint: String, child: Option<Child>) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await;
        Self {
            endpoint,
            child,
            config,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The PID of the server this process started.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// SDK configuration pointed at this server (test credentials, us-east-1).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The environment a function needs to reach this server through `aws_config` defaults.
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Puts an SSM SecureString parameter.
    pub async fn put_secure_parameter(&self, name: &str, value: &str) -> Result<(), HarnessError> {
        aws_sdk_ssm::Client::new(&self.config)
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| HarnessError::Setup(format!("put_parameter {name}: {e:?}")))?;
        Ok(())
    }

    /// Creates a Secrets Manager secret with a string value.
    pub async fn create_secret(&self, id: &str, value: &str) -> Result<(), HarnessError> {
        aws_sdk_secretsmanager::Client::new(&self.config)
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| HarnessError::Setup(format!("create_secret {id}: {e:?}")))?;
        Ok(())
    }
}

impl Moto {
    /// An S3 client for this server (path-style addressing, as against any local endpoint).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.config)
                .force_path_style(true)
                .build(),
        )
    }

    /// Creates an S3 bucket.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), HarnessError> {
        self.s3()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| HarnessError::Setup(format!("create_bucket {bucket}: {e:?}")))?;
        Ok(())
    }

    /// Puts an object into a bucket.
    pub async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), HarnessError> {
        self.s3()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .map_err(|e| HarnessError::Setup(format!("put_object {bucket}/{key}: {e:?}")))?;
        Ok(())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Where the moto server binary is.
pub fn moto_binary() -> PathBuf {
    if let Ok(path) = std::env::var("SCV_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("moto_server")
    }
}

/// Polls `GET /moto-api/` until the server answers.
pub async fn wait_ready(endpoint: &str, limit: Duration) -> Result<(), HarnessError> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if client
            .get(format!("{endpoint}/moto-api/"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(HarnessError::Setup(format!(
                "moto at {endpoint} not ready after {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
