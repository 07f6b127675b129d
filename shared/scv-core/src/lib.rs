//! # scv-core
//!
//! The shared core of the Amazon Connect side of Salesforce Service Cloud Voice:
//!
//! * [`config`]: typed configuration from the environment, failing at start-up with a message that
//!   names the bad or missing variable;
//! * [`secrets`] and [`keys`]: private keys and parameters from SSM Parameter Store and Secrets Manager,
//!   read once per container, PEM parsed leniently (PKCS#1 or PKCS#8, one line with literal `\n`, wrong
//!   armour label);
//! * [`salesforce`]: the SCRT telephony API client (RS256 JWT, cached until shortly before expiry) and the
//!   Salesforce REST client (OAuth 2.0 JWT bearer flow), both with timeouts, one re-sign on 401 and
//!   bounded, deadline-aware exponential backoff with jitter on 429/5xx/connection errors;
//! * [`telemetry`]: logs (`tracing`, JSON under Lambda), a span per record with its contact id, and
//!   CloudWatch embedded-format metrics flushed after every invocation;
//! * [`Error`]: the common error type.
//!
//! Secrets (private keys, JWTs, access tokens) are held in [`secrecy::SecretString`] or
//! [`keys::RsaSigningKey`] and never reach logs, errors or `Debug` output.

pub mod aws;
pub mod budget;
pub mod clock;
pub mod config;
pub mod encoding;
mod error;
pub mod keys;
pub mod kinesis;
pub mod lambda;
pub mod salesforce;
pub mod secrets;
pub mod telemetry;
pub mod text;

pub use budget::Budget;
pub use clock::{Clock, SystemClock};
pub use config::{ConfigError, Env};
pub use error::Error;
pub use keys::{KeyError, RsaSigningKey};
pub use salesforce::{RestClient, RetryPolicy, SalesforceError, ScrtClient};
pub use secrets::{SecretStore, SecretsError};

/// Re-exported so that function crates and tests use the same versions.
pub use secrecy;
