//! Parameters and secrets from SSM Parameter Store (SecureString) and Secrets Manager, read once per
//! container and cached for its lifetime.

use std::{collections::HashMap, sync::Arc};

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

/// A parameter or secret that could not be read. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("SSM parameter {name:?} does not exist (check {variable})")]
    ParameterNotFound { name: String, variable: &'static str },
    #[error("reading SSM parameter {name:?} failed: {detail}")]
    Ssm { name: String, detail: String },
    #[error("Secrets Manager secret {id:?} does not exist (check {variable})")]
    SecretNotFound { id: String, variable: &'static str },
    #[error("reading Secrets Manager secret {id:?} failed: {detail}")]
    SecretsManager { id: String, detail: String },
    #[error("Secrets Manager secret {id:?} has no string value (binary secrets are not supported)")]
    NotAString { id: String },
    #[error("Secrets Manager secret {id:?} is a JSON object without the key {key:?}")]
    MissingKey { id: String, key: String },
    #[error("the private key in {origin} is not usable: {source}")]
    InvalidKey {
        origin: String,
        #[source]
        source: crate::KeyError,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Name {
    Parameter(String),
    Secret(String),
}

/// Reads SSM parameters (with decryption) and Secrets Manager secret strings, each at most once.
///
/// Cloning is cheap and shares the cache. `Debug` shows which names are cached, never their values.
#[derive(Clone)]
pub struct SecretStore {
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
    cache: Arc<Mutex<HashMap<Name, SecretString>>>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore").finish_non_exhaustive()
    }
}

impl SecretStore {
    /// Builds the SSM and Secrets Manager clients from the shared AWS configuration.
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        Self {
            ssm: aws_sdk_ssm::Client::new(aws),
            secrets: aws_sdk_secretsmanager::Client::new(aws),
            cache: Arc::default(),
        }
    }

    /// The decrypted value of an SSM parameter (String or SecureString). `variable` names the environment
    /// variable that holds the parameter name, for the error message.
    pub async fn parameter(&self, name: &str, variable: &'static str) -> Result<SecretString, SecretsError> {
        let key = Name::Parameter(name.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some(value) = cache.get(&key) {
            return Ok(value.clone());
        }
        let output = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) {
                    SecretsError::ParameterNotFound {
                        name: name.to_owned(),
                        variable,
                    }
                } else {
                    SecretsError::Ssm {
                        name: name.to_owned(),
                        detail: DisplayErrorContext(&e).to_string(),
                    }
                }
            })?;
        let value = output.parameter.and_then(|p| p.value).unwrap_or_default();
        tracing::debug!(parameter = name, "read SSM parameter");
        let value = SecretString::from(value);
        cache.insert(key, value.clone());
        Ok(value)
    }

    /// The `SecretString` of a Secrets Manager secret.
    pub async fn secret(&self, id: &str, variable: &'static str) -> Result<SecretString, SecretsError> {
        let key = Name::Secret(id.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some(value) = cache.get(&key) {
            return Ok(value.clone());
        }
        let output = self
            .secrets
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception())
                {
                    SecretsError::SecretNotFound {
                        id: id.to_owned(),
                        variable,
                    }
                } else {
                    SecretsError::SecretsManager {
                        id: id.to_owned(),
                        detail: DisplayErrorContext(&e).to_string(),
                    }
                }
            })?;
        let value = output
            .secret_string
            .ok_or_else(|| SecretsError::NotAString { id: id.to_owned() })?;
        tracing::debug!(secret = id, "read Secrets Manager secret");
        let value = SecretString::from(value);
        cache.insert(key, value.clone());
        Ok(value)
    }
}

/// What a Secrets Manager secret holds: a JSON object of named values, or one bare value (a PEM key).
#[derive(Clone)]
pub enum SecretDocument {
    Json(serde_json::Map<String, serde_json::Value>),
    Bare(SecretString),
}

impl std::fmt::Debug for SecretDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Json(map) => f.debug_set().entries(map.keys()).finish(),
            Self::Bare(_) => f.write_str("Bare(redacted)"),
        }
    }
}

impl SecretDocument {
    /// Reads a secret string: a JSON object, or anything else taken as a bare value.
    pub fn parse(value: &SecretString) -> Self {
        match serde_json::from_str::<serde_json::Value>(value.expose_secret()) {
            Ok(serde_json::Value::Object(map)) => Self::Json(map),
            _ => Self::Bare(value.clone()),
        }
    }

    /// Fills in the variables of `names` that `env` leaves unset from the JSON object's string values:
    /// the contact center's secret completes a deployment, it never overrides it.
    pub fn fill_in(&self, env: &mut crate::Env, names: &[&str]) {
        for name in names {
            if let Some(value) = self.field(name) {
                env.fill_in(name, value);
            }
        }
    }

    /// A string value of the JSON object (`None` for a bare secret or a missing/non-string key).
    pub fn field(&self, key: &str) -> Option<&str> {
        match self {
            Self::Json(map) => map.get(key).and_then(serde_json::Value::as_str),
            Self::Bare(_) => None,
        }
    }
}
