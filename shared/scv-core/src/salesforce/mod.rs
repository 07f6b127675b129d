//! Salesforce clients: the SCRT telephony API ([`ScrtClient`]) and the REST API ([`RestClient`]).
//!
//! Both send through one [`http::Http`] executor: one `reqwest` client per container (connection reuse,
//! HTTP/2 where the server offers it), a timeout per attempt cut to the invocation's [`Budget`](crate::Budget),
//! one fresh credential on 401, and bounded exponential backoff with jitter on 429, 5xx, timeouts and
//! connection errors, honouring `Retry-After`.

mod error;
pub(crate) mod http;
mod rest;
mod retry;
mod scrt;

pub use error::SalesforceError;
pub use rest::{RestClient, RestSettings};
pub use retry::RetryPolicy;
pub use scrt::{
    BulkTranscriptEntry, CreatedVoiceCall, NewVoiceCall, OmniFlowRequest, OmniFlowResponse, SCRT_AUDIENCE,
    ScrtClient, ScrtSettings, SenderType, TranscriptMessage, VoiceCallParticipant,
};
