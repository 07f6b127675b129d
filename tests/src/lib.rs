//! # scv-tests
//!
//! The workspace's integration tests (in `tests/`) and the local stand-ins they run against, all on
//! 127.0.0.1 and speaking the real wire protocols:
//!
//! * [`salesforce::FakeSalesforce`]: the SCRT telephony API, the OAuth 2.0 token endpoint and the REST
//!   API over HTTP; it verifies every JWT with the public key, records every request and can script faults
//!   (status codes for the first N calls, latency, dropped connections);
//! * [`moto::Moto`]: a real `moto_server` (from the project's `.venv`), started on a free port and
//!   stopped by PID, with helpers to seed SSM, Secrets Manager and S3;
//! * [`keys::TestKey`]: throw-away RSA key pairs in every PEM shape administrators store;
//! * [`clock::ManualClock`]: a clock tests can move forward.

pub mod cfn_response;
pub mod clock;
pub mod events;
pub mod fixture;
pub mod keys;
pub mod kvs;
pub mod logs;
pub mod moto;
pub mod runtime_api;
pub mod salesforce;
pub mod server;
pub mod speech;

/// The workspace root (where `Cargo.toml`, `.venv` and `target/` are).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

/// Errors of the test harness itself.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
