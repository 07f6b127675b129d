//! The Salesforce REST API (`/services/data/vXX.X/…`) with the OAuth 2.0 JWT bearer flow.
//!
//! The access token is minted once, kept in memory (never in SSM), shared by all concurrent requests
//! (single-flight), replaced after `SALESFORCE_TOKEN_TTL_SECS` and re-minted once when Salesforce answers
//! 401 (`INVALID_SESSION_ID`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use reqwest::{Method, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use super::{
    RetryPolicy, SalesforceError,
    http::{Anonymous, Authorizer, Body, Call, Credential, Http},
};
use crate::{
    Budget, Clock, ConfigError, Env, Error, RsaSigningKey, SecretStore, SecretsError, SystemClock,
    config::parse_url, secrets::SecretDocument,
};

/// The API version used when `SALESFORCE_REST_API_ENDPOINT_BASE` is not set (Spring '26).
pub const DEFAULT_API_VERSION: &str = "v66.0";

/// A value that is either given literally or named as an SSM parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Setting {
    Literal(String),
    Parameter { name: String, variable: &'static str },
    SecretKey(String),
}

impl Setting {
    /// Where the value comes from, for error messages (never the value itself).
    fn describe(&self) -> String {
        match self {
            Self::Literal(_) => "an environment variable".into(),
            Self::Parameter { name, .. } => format!("SSM parameter {name:?}"),
            Self::SecretKey(key) => format!("secret key {key:?}"),
        }
    }
}

/// What the REST client needs to know.
///
/// | variable | meaning |
/// |---|---|
/// | `SALESFORCE_AUTH_ENDPOINT` | token URL, e.g. `https://login.salesforce.com/services/oauth2/token` |
/// | `SALESFORCE_REST_API_ENDPOINT_BASE` | optional, e.g. `https://x.my.salesforce.com/services/data/v66.0`; default: the token's `instance_url` + `/services/data/v66.0` |
/// | `CONSUMER_KEY_PARAM_NAME` | SSM parameter holding the connected app's consumer key (JWT `iss`) |
/// | `REST_PRIVATE_KEY_PARAM_NAME` | SSM parameter holding the PEM private key |
/// | `SUBJECT` | the integration user name (JWT `sub`), or, as in the reference deployment, the name of the SSM parameter holding it (any value without `@`) |
/// | `AUDIENCE` | `https://login.salesforce.com` / `https://test.salesforce.com`, or the name of the SSM parameter holding it (any value not starting with `http`) |
/// | `SALESFORCE_TOKEN_TTL_SECS` | re-mint the token after this long; default 3600 |
///
/// With `PRIVATE_KEY_SECRET_ID` (a JSON Secrets Manager secret), the keys
/// `<CALL_CENTER_API_NAME>-salesforce-rest-api-auth-consumer-key`, `…-auth-private-key`, `…-subject` and
/// `…-audience` stand in for the variables above that are not set, and `SALESFORCE_AUTH_ENDPOINT` /
/// `SALESFORCE_REST_API_ENDPOINT_BASE` in the secret fill in unset variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestSettings {
    pub token_url: Url,
    pub api_base: Option<Url>,
    pub token_ttl: Duration,
    pub retry: RetryPolicy,
    consumer_key: Setting,
    private_key: Setting,
    subject: Setting,
    audience: Setting,
}

impl RestSettings {
    /// Reads the settings; with `cc_prefix` (a JSON secret is configured), its `<cc>-salesforce-rest-api-*`
    /// keys stand in for unset variables.
    fn from_env(env: &Env, cc_prefix: Option<&str>) -> Result<Self, ConfigError> {
        let token_url = parse_url_exact(
            "SALESFORCE_AUTH_ENDPOINT",
            env.require("SALESFORCE_AUTH_ENDPOINT", "the OAuth 2.0 token URL")?,
        )?;
        let from_secret = |suffix: &str, variable: &'static str, meaning: &'static str| match cc_prefix {
            Some(cc) => Ok(Setting::SecretKey(format!("{cc}-salesforce-rest-api-{suffix}"))),
            None => Err(ConfigError::Missing {
                name: variable.into(),
                meaning,
            }),
        };
        let parameter = |variable: &'static str, suffix: &str, meaning: &'static str| match env.get(variable)
        {
            Some(name) => Ok(Setting::Parameter {
                name: name.to_owned(),
                variable,
            }),
            None => from_secret(suffix, variable, meaning),
        };
        let consumer_key = parameter(
            "CONSUMER_KEY_PARAM_NAME",
            "auth-consumer-key",
            "the connected app consumer key, JWT iss",
        )?;
        let private_key = parameter(
            "REST_PRIVATE_KEY_PARAM_NAME",
            "auth-private-key",
            "the OAuth JWT private key",
        )?;
        let subject = match env.get("SUBJECT") {
            Some(v) if v.contains('@') => Setting::Literal(v.to_owned()),
            Some(name) => Setting::Parameter {
                name: name.to_owned(),
                variable: "SUBJECT",
            },
            None => from_secret("subject", "SUBJECT", "the integration user name, JWT sub")?,
        };
        let audience = match env.get("AUDIENCE") {
            Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
                Setting::Literal(v.to_owned())
            }
            Some(name) => Setting::Parameter {
                name: name.to_owned(),
                variable: "AUDIENCE",
            },
            None => from_secret("audience", "AUDIENCE", "the login URL, JWT aud")?,
        };
        Ok(Self {
            token_url,
            api_base: env.optional_url("SALESFORCE_REST_API_ENDPOINT_BASE")?,
            token_ttl: Duration::from_secs(env.parse::<u64>("SALESFORCE_TOKEN_TTL_SECS")?.unwrap_or(3600)),
            retry: RetryPolicy::from_env(env)?,
            consumer_key,
            private_key,
            subject,
            audience,
        })
    }
}

fn parse_url_exact(name: &str, raw: &str) -> Result<Url, ConfigError> {
    let mut url = parse_url(name, raw)?;
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

struct AccessToken {
    token: SecretString,
    instance_url: Url,
    minted_at: std::time::SystemTime,
    generation: u64,
}

#[derive(Serialize)]
struct BearerClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    instance_url: String,
}

/// Mints access tokens with the JWT bearer flow, one at a time.
struct RestTokens {
    http: Http,
    token_url: Url,
    key: RsaSigningKey,
    consumer_key: SecretString,
    subject: String,
    audience: String,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    current: Mutex<Option<AccessToken>>,
    generation: AtomicU64,
    mints: AtomicU64,
}

impl RestTokens {
    async fn current(&self, budget: &Budget) -> Result<(Credential, Url), SalesforceError> {
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        if let Some(token) = current
            .as_ref()
            .filter(|t| now.duration_since(t.minted_at).is_ok_and(|age| age < self.ttl))
        {
            return Ok((
                Credential {
                    token: token.token.clone(),
                    generation: token.generation,
                },
                token.instance_url.clone(),
            ));
        }
        let minted = self.mint(budget).await?;
        let answer = (
            Credential {
                token: minted.token.clone(),
                generation: minted.generation,
            },
            minted.instance_url.clone(),
        );
        *current = Some(minted);
        Ok(answer)
    }

    async fn mint(&self, budget: &Budget) -> Result<AccessToken, SalesforceError> {
        const OP: &str = "oauthToken";
        let iat = self.clock.unix_seconds();
        let claims = BearerClaims {
            iss: self.consumer_key.expose_secret(),
            sub: &self.subject,
            aud: &self.audience,
            iat,
            exp: iat + 180,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let assertion = SecretString::from(
            self.key
                .sign(&claims)
                .map_err(|_| SalesforceError::Signing { operation: OP })?,
        );
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.expose_secret()),
        ];
        let call = Call {
            operation: OP,
            method: Method::POST,
            url: self.token_url.clone(),
            body: Body::Form(&form),
        };
        let reply = self.http.execute(&call, &Anonymous, budget).await?;
        let response: TokenResponse =
            serde_json::from_value(reply.body).map_err(|e| SalesforceError::UnexpectedBody {
                operation: OP,
                detail: e.to_string(),
            })?;
        let instance_url =
            parse_url(OP, &response.instance_url).map_err(|e| SalesforceError::UnexpectedBody {
                operation: OP,
                detail: e.to_string(),
            })?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.mints.fetch_add(1, Ordering::Relaxed);
        tracing::info!(generation, instance_url = %instance_url, "minted a Salesforce access token");
        Ok(AccessToken {
            token: SecretString::from(response.access_token),
            instance_url,
            minted_at: self.clock.now(),
            generation,
        })
    }
}

impl Authorizer for RestTokens {
    async fn credential(&self, budget: &Budget) -> Result<Option<Credential>, SalesforceError> {
        Ok(Some(self.current(budget).await?.0))
    }

    fn refused(&self, credential: &Credential) {
        // A request that holds the lock is minting a fresh token already; nothing to drop then.
        if let Ok(mut current) = self.current.try_lock()
            && current
                .as_ref()
                .is_some_and(|t| t.generation == credential.generation)
        {
            *current = None;
        }
    }
}

/// The Salesforce REST API client: build once per container, share by reference.
pub struct RestClient {
    api_base: Option<Url>,
    tokens: RestTokens,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("token_url", &self.tokens.token_url.as_str())
            .field("api_base", &self.api_base.as_ref().map(Url::as_str))
            .field("subject", &self.tokens.subject)
            .field("key", &self.tokens.key)
            .finish_non_exhaustive()
    }
}

impl RestClient {
    /// Reads the configuration, the consumer key, subject, audience and private key, once, at start-up.
    pub async fn load(env: &Env, secrets: &SecretStore) -> Result<Self, Error> {
        let mut env = env.clone();
        let document = match env.get("PRIVATE_KEY_SECRET_ID") {
            Some(id) => {
                let id = id.to_owned();
                let document = SecretDocument::parse(&secrets.secret(&id, "PRIVATE_KEY_SECRET_ID").await?);
                document.fill_in(
                    &mut env,
                    &[
                        "SALESFORCE_AUTH_ENDPOINT",
                        "SALESFORCE_REST_API_ENDPOINT_BASE",
                        "CALL_CENTER_API_NAME",
                    ],
                );
                Some((id, document))
            }
            None => None,
        };
        let cc = document.as_ref().and(env.get("CALL_CENTER_API_NAME"));
        let settings = RestSettings::from_env(&env, cc)?;
        let resolve = async |setting: &Setting| -> Result<SecretString, Error> {
            match setting {
                Setting::Literal(value) => Ok(SecretString::from(value.clone())),
                Setting::Parameter { name, variable } => Ok(secrets.parameter(name, variable).await?),
                Setting::SecretKey(key) => {
                    let (id, document) = document.as_ref().ok_or_else(|| ConfigError::Missing {
                        name: key.clone(),
                        meaning: "a REST credential",
                    })?;
                    let value = document.field(key).ok_or_else(|| SecretsError::MissingKey {
                        id: id.clone(),
                        key: key.clone(),
                    })?;
                    Ok(SecretString::from(value.to_owned()))
                }
            }
        };
        let consumer_key = resolve(&settings.consumer_key).await?;
        let pem = resolve(&settings.private_key).await?;
        let subject = resolve(&settings.subject)
            .await?
            .expose_secret()
            .trim()
            .to_owned();
        let audience = resolve(&settings.audience)
            .await?
            .expose_secret()
            .trim()
            .trim_end_matches('/')
            .to_owned();
        let key =
            RsaSigningKey::from_pem(pem.expose_secret()).map_err(|source| SecretsError::InvalidKey {
                origin: settings.private_key.describe(),
                source,
            })?;
        Self::new(settings, key, consumer_key, subject, audience)
    }

    /// A client from settings and resolved credentials.
    fn new(
        settings: RestSettings,
        key: RsaSigningKey,
        consumer_key: SecretString,
        subject: String,
        audience: String,
    ) -> Result<Self, Error> {
        let http = Http::new(settings.retry, HeaderMap::new()).map_err(|e| ConfigError::Invalid {
            name: "SALESFORCE_AUTH_ENDPOINT".into(),
            reason: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Self {
            api_base: settings.api_base,
            tokens: RestTokens {
                http,
                token_url: settings.token_url,
                key,
                consumer_key,
                subject,
                audience,
                ttl: settings.token_ttl,
                clock: Arc::new(SystemClock),
                current: Mutex::new(None),
                generation: AtomicU64::new(0),
                mints: AtomicU64::new(0),
            },
        })
    }

    /// Uses `clock` for token age and JWT times.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.tokens.clock = clock;
        self
    }

    /// How many access tokens this client has minted.
    pub fn tokens_minted(&self) -> u64 {
        self.tokens.mints.load(Ordering::Relaxed)
    }

    /// `GET {base}/{path}`.
    pub async fn get(&self, path: &str, budget: &Budget) -> Result<serde_json::Value, SalesforceError> {
        self.request("restGet", Method::GET, path, None, budget).await
    }

    /// `POST {base}/{path}` with a JSON body.
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        budget: &Budget,
    ) -> Result<serde_json::Value, SalesforceError> {
        self.request("restPost", Method::POST, path, Some(body), budget)
            .await
    }

    /// `PATCH {base}/{path}` with a JSON body (`204 No Content` answers `Null`).
    pub async fn patch(
        &self,
        path: &str,
        body: &serde_json::Value,
        budget: &Budget,
    ) -> Result<serde_json::Value, SalesforceError> {
        self.request("restPatch", Method::PATCH, path, Some(body), budget)
            .await
    }

    async fn request(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        budget: &Budget,
    ) -> Result<serde_json::Value, SalesforceError> {
        let base = match &self.api_base {
            Some(base) => base.clone(),
            None => {
                let (_, instance) = self.tokens.current(budget).await?;
                instance
                    .join(&format!("services/data/{DEFAULT_API_VERSION}/"))
                    .map_err(|e| SalesforceError::UnexpectedBody {
                        operation,
                        detail: format!("instance_url: {e}"),
                    })?
            }
        };
        let url =
            join(&base, path).map_err(|detail| SalesforceError::InvalidRequest { operation, detail })?;
        let body = body.map_or(Body::Empty, Body::Json);
        Ok(self
            .tokens
            .http
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
            .await?
            .body)
    }
}

/// `path` below `base`: `sobjects/VoiceCall` and `/sobjects/VoiceCall` both go under the version base;
/// a path that starts with `/services/` is taken from the host's root (e.g. a `nextRecordsUrl`).
fn join(base: &Url, path: &str) -> Result<Url, String> {
    let joined = if path.starts_with("/services/") {
        base.join(path)
    } else {
        base.join(path.trim_start_matches('/'))
    };
    joined.map_err(|e| format!("{path:?} is not a valid path: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_below_the_version_base() {
        let base = parse_url("B", "https://x.my.salesforce.com/services/data/v66.0").unwrap();
        assert_eq!(
            join(&base, "sobjects/VoiceCall").unwrap().as_str(),
            "https://x.my.salesforce.com/services/data/v66.0/sobjects/VoiceCall"
        );
        assert_eq!(
            join(&base, "/query?q=SELECT+Id").unwrap().as_str(),
            "https://x.my.salesforce.com/services/data/v66.0/query?q=SELECT+Id"
        );
        assert_eq!(
            join(&base, "/services/data/v66.0/query/01g-2000")
                .unwrap()
                .as_str(),
            "https://x.my.salesforce.com/services/data/v66.0/query/01g-2000"
        );
    }

    #[test]
    fn subject_and_audience_are_values_or_parameter_names() {
        let env = Env::from_pairs([
            (
                "SALESFORCE_AUTH_ENDPOINT",
                "https://login.salesforce.com/services/oauth2/token",
            ),
            ("CONSUMER_KEY_PARAM_NAME", "ck"),
            ("REST_PRIVATE_KEY_PARAM_NAME", "pk"),
            ("SUBJECT", "integration@example.com"),
            ("AUDIENCE", "salesforce-rest-api-audience"),
        ]);
        let settings = RestSettings::from_env(&env, None).unwrap();
        assert_eq!(
            settings.token_url.as_str(),
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert_eq!(
            settings.subject,
            Setting::Literal("integration@example.com".into())
        );
        assert_eq!(
            settings.audience,
            Setting::Parameter {
                name: "salesforce-rest-api-audience".into(),
                variable: "AUDIENCE"
            }
        );
    }

    #[test]
    fn missing_rest_variables_are_named() {
        let env = Env::from_pairs([(
            "SALESFORCE_AUTH_ENDPOINT",
            "https://login.salesforce.com/services/oauth2/token",
        )]);
        let err = RestSettings::from_env(&env, None).unwrap_err().to_string();
        assert!(err.contains("CONSUMER_KEY_PARAM_NAME"), "{err}");
        let with_secret = RestSettings::from_env(&env, Some("CC")).unwrap();
        assert_eq!(
            with_secret.private_key,
            Setting::SecretKey("CC-salesforce-rest-api-auth-private-key".into())
        );
    }
}
