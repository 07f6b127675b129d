use crate::{ConfigError, KeyError, SalesforceError, SecretsError};

/// Every failure the core can report. Function crates wrap it in their own error types.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Salesforce(#[from] SalesforceError),
}
