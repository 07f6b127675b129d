//! A ready-made Salesforce side for tests: keys, identities and a running [`FakeSalesforce`].

use std::{sync::Arc, time::Duration};

use scv_core::{Env, RetryPolicy, RsaSigningKey, ScrtClient, salesforce::ScrtSettings};

use crate::{
    HarnessError,
    clock::ManualClock,
    keys::TestKey,
    salesforce::{FakeSalesforce, RestIdentity, ScrtIdentity},
};

pub const ORG_ID: &str = "00DFAKEORG00001";
pub const CALL_CENTER: &str = "scvTestCallCenter";
pub const CONSUMER_KEY: &str = "3MVG9FAKECONSUMERKEY";
pub const USERNAME: &str = "integration@scv.example.com";
pub const AUDIENCE: &str = "https://login.salesforce.com";

/// Two key pairs (SCRT and REST), a shared manual clock and a fake Salesforce that trusts both keys.
#[derive(Debug)]
pub struct Fixture {
    pub scrt_key: TestKey,
    pub rest_key: TestKey,
    pub clock: Arc<ManualClock>,
    pub salesforce: FakeSalesforce,
}

impl Fixture {
    pub async fn start() -> Result<Self, HarnessError> {
        let scrt_key = TestKey::generate()?;
        let rest_key = TestKey::generate()?;
        let clock = Arc::new(ManualClock::default());
        let salesforce = FakeSalesforce::builder()
            .scrt(ScrtIdentity {
                org_id: ORG_ID.into(),
                call_center_api_name: CALL_CENTER.into(),
                public_key: scrt_key.decoding_key(),
            })
            .rest(RestIdentity {
                consumer_key: CONSUMER_KEY.into(),
                username: USERNAME.into(),
                audience: AUDIENCE.into(),
                public_key: rest_key.decoding_key(),
            })
            .clock(clock.clone())
            .start()
            .await?;
        Ok(Self {
            scrt_key,
            rest_key,
            clock,
            salesforce,
        })
    }

    /// The SCRT variables a function needs, without the key source.
    pub fn scrt_env(&self) -> Vec<(String, String)> {
        vec![
            ("SALESFORCE_ORG_ID".into(), ORG_ID.into()),
            ("CALL_CENTER_API_NAME".into(), CALL_CENTER.into()),
            ("SCRT_ENDPOINT_BASE".into(), self.salesforce.scrt_base()),
        ]
    }

    /// An SCRT client with `retry`, the fixture's key and clock.
    pub fn scrt_client(&self, retry: RetryPolicy) -> Result<ScrtClient, HarnessError> {
        let mut settings = ScrtSettings::from_env(&Env::from_pairs(self.scrt_env()))
            .map_err(|e| HarnessError::Setup(e.to_string()))?;
        settings.retry = retry;
        let key = RsaSigningKey::from_pem(&self.scrt_key.pkcs1_pem())
            .map_err(|e| HarnessError::Setup(e.to_string()))?;
        Ok(ScrtClient::new(settings, key)
            .map_err(|e| HarnessError::Setup(e.to_string()))?
            .with_clock(self.clock.clone()))
    }
}

/// A policy with short waits, for tests: 4 attempts, 20 ms base backoff, 2 s per request.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
    }
}
