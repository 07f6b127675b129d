//! The SCRT telephony API (`https://<domain>.my.salesforce-scrt.com/telephony/v1`), authorised by an RS256
//! JWT signed with the contact center's private key.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use reqwest::{
    Method,
    header::{HeaderMap, HeaderValue},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    RetryPolicy, SalesforceError,
    http::{Authorizer, Body, Call, Credential, Http, Reply},
};
use crate::{
    Budget, Clock, ConfigError, Env, Error, RsaSigningKey, SecretStore, SecretsError, SystemClock,
    secrets::SecretDocument,
};

/// The JWT `aud` the SCRT API accepts.
pub const SCRT_AUDIENCE: &str = "https://scrt.salesforce.com";

/// Where the SCRT private key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `PRIVATE_KEY_PARAM_NAME`: an SSM SecureString holding the PEM.
    SsmParameter(String),
    /// `PRIVATE_KEY_SECRET_ID`: a Secrets Manager secret, bare PEM or JSON.
    Secret(String),
}

/// Everything the SCRT client needs besides the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrtSettings {
    /// `SALESFORCE_ORG_ID`, the JWT `iss`.
    pub org_id: String,
    /// `CALL_CENTER_API_NAME`, the JWT `sub` and `callCenterApiName` in bodies.
    pub call_center_api_name: String,
    /// `SCRT_ENDPOINT_BASE`, e.g. `https://x.my.salesforce-scrt.com/telephony/v1/`.
    pub endpoint_base: Url,
    /// `TELEPHONY_PROVIDER_NAME`, sent as `Telephony-Provider-Name`; default `amazon-connect`.
    pub provider_name: String,
    /// How long a JWT is valid (`exp - iat`): 5 minutes.
    pub jwt_lifetime: Duration,
    /// A cached JWT is replaced this long before it expires: 1 minute.
    pub jwt_refresh_before: Duration,
    pub retry: RetryPolicy,
}

impl ScrtSettings {
    /// Reads the settings; every missing or malformed variable is named.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            org_id: env
                .require("SALESFORCE_ORG_ID", "the Salesforce org id, JWT iss")?
                .to_owned(),
            call_center_api_name: env
                .require("CALL_CENTER_API_NAME", "the contact center's API name, JWT sub")?
                .to_owned(),
            endpoint_base: env.url("SCRT_ENDPOINT_BASE", "the SCRT telephony API base URL")?,
            provider_name: env
                .get("TELEPHONY_PROVIDER_NAME")
                .unwrap_or("amazon-connect")
                .to_owned(),
            jwt_lifetime: Duration::from_secs(300),
            jwt_refresh_before: Duration::from_secs(60),
            retry: RetryPolicy::from_env(env)?,
        })
    }

    /// Where the private key is: `PRIVATE_KEY_SECRET_ID` (Secrets Manager) if set, else
    /// `PRIVATE_KEY_PARAM_NAME` (SSM).
    pub fn key_source(env: &Env) -> Result<KeySource, ConfigError> {
        match (
            env.get("PRIVATE_KEY_SECRET_ID"),
            env.get("PRIVATE_KEY_PARAM_NAME"),
        ) {
            (Some(id), _) => Ok(KeySource::Secret(id.to_owned())),
            (None, Some(name)) => Ok(KeySource::SsmParameter(name.to_owned())),
            (None, None) => Err(ConfigError::MissingOneOf {
                first: "PRIVATE_KEY_PARAM_NAME",
                second: "PRIVATE_KEY_SECRET_ID",
                meaning: "where the SCRT JWT private key is stored",
            }),
        }
    }
}

/// Signs SCRT JWTs and reuses each until shortly before it expires.
struct ScrtTokens {
    key: RsaSigningKey,
    issuer: String,
    subject: String,
    lifetime: Duration,
    refresh_before: Duration,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<CachedJwt>>,
    generation: AtomicU64,
}

struct CachedJwt {
    token: SecretString,
    expires_at: u64,
    generation: u64,
}

#[derive(Serialize)]
struct ScrtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

impl Authorizer for ScrtTokens {
    async fn credential(&self, _: &Budget) -> Result<Option<Credential>, SalesforceError> {
        let now = self.clock.unix_seconds();
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(jwt) = cached
            .as_ref()
            .filter(|jwt| jwt.expires_at > now + self.refresh_before.as_secs())
        {
            return Ok(Some(Credential {
                token: jwt.token.clone(),
                generation: jwt.generation,
            }));
        }
        let claims = ScrtClaims {
            iss: &self.issuer,
            sub: &self.subject,
            aud: SCRT_AUDIENCE,
            iat: now,
            exp: now + self.lifetime.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = SecretString::from(self.key.sign(&claims).map_err(|_| SalesforceError::Signing {
            operation: "signScrtJwt",
        })?);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(generation, expires_at = claims.exp, "signed a new SCRT JWT");
        *cached = Some(CachedJwt {
            token: token.clone(),
            expires_at: claims.exp,
            generation,
        });
        Ok(Some(Credential { token, generation }))
    }

    fn refused(&self, credential: &Credential) {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if cached
            .as_ref()
            .is_some_and(|jwt| jwt.generation == credential.generation)
        {
            *cached = None;
        }
    }
}

/// The SCRT telephony API client: build once per container, share by reference.
pub struct ScrtClient {
    http: Http,
    base: Url,
    call_center_api_name: String,
    tokens: ScrtTokens,
}

impl std::fmt::Debug for ScrtClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrtClient")
            .field("base", &self.base.as_str())
            .field("call_center_api_name", &self.call_center_api_name)
            .field("key", &self.tokens.key)
            .finish_non_exhaustive()
    }
}

impl ScrtClient {
    /// Reads the configuration and the private key (SSM or Secrets Manager), once, at start-up.
    ///
    /// With `PRIVATE_KEY_SECRET_ID`, the secret is either a bare PEM or a JSON object whose key
    /// `<CALL_CENTER_API_NAME>-scrt-jwt-auth-private-key` holds the PEM; its `SALESFORCE_ORG_ID`,
    /// `SCRT_ENDPOINT_BASE` and `CALL_CENTER_API_NAME` fill in variables the deployment left unset.
    pub async fn load(env: &Env, secrets: &SecretStore) -> Result<Self, Error> {
        let mut env = env.clone();
        let (pem, origin) = match ScrtSettings::key_source(&env)? {
            KeySource::SsmParameter(name) => (
                secrets.parameter(&name, "PRIVATE_KEY_PARAM_NAME").await?,
                format!("SSM parameter {name:?}"),
            ),
            KeySource::Secret(id) => {
                let document = SecretDocument::parse(&secrets.secret(&id, "PRIVATE_KEY_SECRET_ID").await?);
                document.fill_in(
                    &mut env,
                    &["SALESFORCE_ORG_ID", "SCRT_ENDPOINT_BASE", "CALL_CENTER_API_NAME"],
                );
                let pem = match &document {
                    SecretDocument::Bare(pem) => pem.clone(),
                    SecretDocument::Json(_) => {
                        let cc =
                            env.require("CALL_CENTER_API_NAME", "the contact center's API name, JWT sub")?;
                        let key = format!("{cc}-scrt-jwt-auth-private-key");
                        let pem = document.field(&key).ok_or_else(|| SecretsError::MissingKey {
                            id: id.clone(),
                            key: key.clone(),
                        })?;
                        SecretString::from(pem.to_owned())
                    }
                };
                (pem, format!("Secrets Manager secret {id:?}"))
            }
        };
        let settings = ScrtSettings::from_env(&env)?;
        let key = RsaSigningKey::from_pem(secrecy::ExposeSecret::expose_secret(&pem))
            .map_err(|source| SecretsError::InvalidKey { origin, source })?;
        Self::new(settings, key)
    }

    /// A client from settings and a key.
    pub fn new(settings: ScrtSettings, key: RsaSigningKey) -> Result<Self, Error> {
        let mut headers = HeaderMap::new();
        let provider = HeaderValue::from_str(&settings.provider_name).map_err(|_| ConfigError::Invalid {
            name: "TELEPHONY_PROVIDER_NAME".into(),
            reason: "not a valid HTTP header value".into(),
        })?;
        headers.insert("Telephony-Provider-Name", provider);
        let http = Http::new(settings.retry, headers).map_err(|e| ConfigError::Invalid {
            name: "SCRT_ENDPOINT_BASE".into(),
            reason: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Self {
            http,
            base: settings.endpoint_base,
            call_center_api_name: settings.call_center_api_name.clone(),
            tokens: ScrtTokens {
                key,
                issuer: settings.org_id,
                subject: settings.call_center_api_name,
                lifetime: settings.jwt_lifetime,
                refresh_before: settings.jwt_refresh_before,
                clock: Arc::new(SystemClock),
                cached: Mutex::new(None),
                generation: AtomicU64::new(0),
            },
        })
    }

    /// Uses `clock` for JWT `iat`/`exp` (tests move time forward to see tokens renewed).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.tokens.clock = clock;
        self
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        self.http.policy()
    }

    /// The contact center API name sent as `callCenterApiName`.
    pub fn call_center_api_name(&self) -> &str {
        &self.call_center_api_name
    }

    /// `PATCH /voiceCalls/{contactId}` with the mapped VoiceCall fields plus `callCenterApiName`.
    pub async fn update_voice_call(
        &self,
        contact_id: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
        budget: &Budget,
    ) -> Result<serde_json::Value, SalesforceError> {
        const OP: &str = "updateVoiceCall";
        let mut body = fields.clone();
        body.insert(
            "callCenterApiName".into(),
            self.call_center_api_name.clone().into(),
        );
        let body = serde_json::Value::Object(body);
        let url = self.url(OP, &[contact_id])?;
        Ok(self
            .send(OP, Method::PATCH, url, Body::Json(&body), budget)
            .await?
            .body)
    }

    /// `PATCH /voiceCalls/{contactId}/clearRouting` (no body): deletes the pending routing of an abandoned call.
    pub async fn clear_routing(
        &self,
        contact_id: &str,
        budget: &Budget,
    ) -> Result<serde_json::Value, SalesforceError> {
        const OP: &str = "clearRouting";
        let url = self.url(OP, &[contact_id, "clearRouting"])?;
        Ok(self.send(OP, Method::PATCH, url, Body::Empty, budget).await?.body)
    }

    /// `PATCH /voiceCalls/{contactId}/reroute` (no body): routes the call to another rep.
    pub async fn reroute(
        &self,
        contact_id: &str,
        budget: &Budget,
    ) -> Result<serde_json::Value, SalesforceError> {
        const OP: &str = "reroute";
        let url = self.url(OP, &[contact_id, "reroute"])?;
        Ok(self.send(OP, Method::PATCH, url, Body::Empty, budget).await?.body)
    }

    /// `POST /voiceCalls/{vendorCallKey}/messages`: one transcript segment.
    pub async fn create_transcript(
        &self,
        vendor_call_key: &str,
        message: &TranscriptMessage,
        budget: &Budget,
    ) -> Result<serde_json::Value, SalesforceError> {
        const OP: &str = "createTranscript";
        let body = to_json(OP, message)?;
        let url = self.url(OP, &[vendor_call_key, "messages"])?;
        Ok(self
            .send(OP, Method::POST, url, Body::Json(&body), budget)
            .await?
            .body)
    }

    /// `POST /voiceCalls/messages`: transcripts of several calls. The API takes at most 5 entries of at most
    /// 5 messages each; larger input is split into as many requests as needed, sent in order.
    pub async fn create_transcripts_bulk(
        &self,
        entries: &[BulkTranscriptEntry],
        budget: &Budget,
    ) -> Result<(), SalesforceError> {
        const OP: &str = "createTranscriptsBulk";
        let url = self.url(OP, &["messages"])?;
        for request in bulk_requests(entries) {
            let body = to_json(OP, &serde_json::json!({ "entries": request }))?;
            self.send(OP, Method::POST, url.clone(), Body::Json(&body), budget)
                .await?;
        }
        Ok(())
    }

    /// `POST /voiceCalls`: creates the VoiceCall of a new inbound or transfer call.
    pub async fn create_voice_call(
        &self,
        call: &NewVoiceCall,
        budget: &Budget,
    ) -> Result<CreatedVoiceCall, SalesforceError> {
        const OP: &str = "createVoiceCall";
        let mut body = to_json(OP, call)?;
        if let Some(map) = body.as_object_mut() {
            map.insert(
                "callCenterApiName".into(),
                self.call_center_api_name.clone().into(),
            );
        }
        let url = self.url(OP, &[])?;
        let reply = self
            .send(OP, Method::POST, url, Body::Json(&body), budget)
            .await?;
        from_json(OP, reply)
    }

    /// `PATCH /voiceCalls/{contactId}/omniFlow`: runs the Omni-Channel flow that routes the call.
    pub async fn execute_omni_flow(
        &self,
        contact_id: &str,
        request: &OmniFlowRequest,
        budget: &Budget,
    ) -> Result<OmniFlowResponse, SalesforceError> {
        const OP: &str = "executeOmniFlow";
        let body = to_json(OP, request)?;
        let url = self.url(OP, &[contact_id, "omniFlow"])?;
        let reply = self
            .send(OP, Method::PATCH, url, Body::Json(&body), budget)
            .await?;
        from_json(OP, reply)
    }

    /// `{base}/voiceCalls/{segments…}`, each segment percent-encoded; empty segments are refused.
    fn url(&self, operation: &'static str, segments: &[&str]) -> Result<Url, SalesforceError> {
        if segments.iter().any(|s| s.trim().is_empty()) {
            return Err(SalesforceError::InvalidRequest {
                operation,
                detail: "the contact id is empty".into(),
            });
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| SalesforceError::InvalidRequest {
                operation,
                detail: "the base URL cannot take a path".into(),
            })?
            .pop_if_empty()
            .push("voiceCalls")
            .extend(segments);
        Ok(url)
    }

    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Body<'_>,
        budget: &Budget,
    ) -> Result<Reply, SalesforceError> {
        self.http
            .execute(
                &Call {
                    operation,
                    method,
                    url,
                    body,
                },
                &self.tokens,
                budget,
            )
            .await
    }
}

fn to_json(operation: &'static str, value: &impl Serialize) -> Result<serde_json::Value, SalesforceError> {
    serde_json::to_value(value).map_err(|e| SalesforceError::InvalidRequest {
        operation,
        detail: e.to_string(),
    })
}

fn from_json<T: serde::de::DeserializeOwned>(
    operation: &'static str,
    reply: Reply,
) -> Result<T, SalesforceError> {
    serde_json::from_value(reply.body).map_err(|e| SalesforceError::UnexpectedBody {
        operation,
        detail: e.to_string(),
    })
}

/// Splits entries into bulk requests of at most 5 entries × 5 messages, keeping message order per call.
fn bulk_requests(entries: &[BulkTranscriptEntry]) -> Vec<Vec<BulkTranscriptEntry>> {
    const MAX_ENTRIES: usize = 5;
    const MAX_MESSAGES: usize = 5;
    let pieces: Vec<BulkTranscriptEntry> = entries
        .iter()
        .flat_map(|entry| {
            entry
                .messages
                .chunks(MAX_MESSAGES)
                .map(|messages| BulkTranscriptEntry {
                    vendor_call_key: entry.vendor_call_key.clone(),
                    messages: messages.to_vec(),
                })
        })
        .collect();
    pieces.chunks(MAX_ENTRIES).map(<[_]>::to_vec).collect()
}

/// Who spoke a transcript segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SenderType {
    EndUser,
    HumanAgent,
    VirtualAgent,
    Supervisor,
    ExternalUser,
}

/// One transcript segment (`salesforce-api.md` §1.5); times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptMessage {
    pub participant_id: String,
    pub message_id: String,
    pub start_time: i64,
    pub end_time: i64,
    pub content: String,
    pub sender_type: SenderType,
}

/// The messages of one call in a bulk request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkTranscriptEntry {
    pub vendor_call_key: String,
    pub messages: Vec<TranscriptMessage>,
}

/// The end user of a new VoiceCall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceCallParticipant {
    pub participant_key: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `POST /voiceCalls` body (`salesforce-api.md` §1.3); `callCenterApiName` is added by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewVoiceCall {
    pub vendor_call_key: String,
    pub to: String,
    pub from: String,
    pub initiation_method: String,
    pub start_time: String,
    pub participants: Vec<VoiceCallParticipant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_voice_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_subtype: Option<String>,
    /// JSON-encoded object of VoiceCall fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_attributes: Option<String>,
}

/// `POST /voiceCalls` answer. `errors` is an array or a string (the record is created even then).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedVoiceCall {
    pub voice_call_id: String,
    #[serde(default)]
    pub errors: serde_json::Value,
}

/// `PATCH /voiceCalls/{id}/omniFlow` body (`salesforce-api.md` §1.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OmniFlowRequest {
    pub dialed_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_dev_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_queue: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_input_parameters: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_target: Option<String>,
}

/// `omniFlow` answer: Amazon Connect agent/queue ids to transfer to, or errors.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OmniFlowResponse {
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub errors: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: usize) -> TranscriptMessage {
        TranscriptMessage {
            participant_id: "cEND_USER".into(),
            message_id: format!("m{n}"),
            start_time: n as i64,
            end_time: n as i64 + 1,
            content: "hi".into(),
            sender_type: SenderType::EndUser,
        }
    }

    #[test]
    fn bulk_requests_respect_five_by_five_and_keep_order() {
        let entries: Vec<_> = (0..7)
            .map(|c| BulkTranscriptEntry {
                vendor_call_key: format!("c{c}"),
                messages: (0..(c + 1)).map(message).collect(),
            })
            .collect();
        let requests = bulk_requests(&entries);
        assert!(
            requests
                .iter()
                .all(|r| r.len() <= 5 && r.iter().all(|e| e.messages.len() <= 5))
        );
        let flattened: Vec<(String, String)> = requests
            .iter()
            .flatten()
            .flat_map(|e| {
                e.messages
                    .iter()
                    .map(|m| (e.vendor_call_key.clone(), m.message_id.clone()))
            })
            .collect();
        let expected: Vec<(String, String)> = entries
            .iter()
            .flat_map(|e| {
                e.messages
                    .iter()
                    .map(|m| (e.vendor_call_key.clone(), m.message_id.clone()))
            })
            .collect();
        assert_eq!(flattened, expected);
    }

    #[test]
    fn transcript_message_has_the_wire_names() {
        let json = serde_json::to_value(message(3)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"participantId":"cEND_USER","messageId":"m3","startTime":3,"endTime":4,"content":"hi","senderType":"END_USER"})
        );
    }

    #[test]
    fn key_source_prefers_the_secret_and_names_both_variables() {
        let both = Env::from_pairs([("PRIVATE_KEY_SECRET_ID", "s"), ("PRIVATE_KEY_PARAM_NAME", "p")]);
        assert_eq!(
            ScrtSettings::key_source(&both).unwrap(),
            KeySource::Secret("s".into())
        );
        let err = ScrtSettings::key_source(&Env::default()).unwrap_err().to_string();
        assert!(
            err.contains("PRIVATE_KEY_PARAM_NAME") && err.contains("PRIVATE_KEY_SECRET_ID"),
            "{err}"
        );
    }

    #[test]
    fn settings_name_the_missing_variable() {
        let env = Env::from_pairs([
            ("SALESFORCE_ORG_ID", "00D"),
            ("SCRT_ENDPOINT_BASE", "https://x/telephony/v1"),
        ]);
        let err = ScrtSettings::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("CALL_CENTER_API_NAME"), "{err}");
    }
}
