//! # CTRDataSync
//!
//! Keeps each Salesforce VoiceCall in step with Amazon Connect's contact trace record (CTR).
//!
//! * **Trigger**: the Kinesis stream the Connect instance writes CTRs to (`BatchSize` 100,
//!   `FunctionResponseTypes: [ReportBatchItemFailures]`).
//! * **Input**: a Kinesis event whose records carry base64 CTR JSON, decoded leniently (missing or extra
//!   padding, as the reference).
//! * **Work**: [`ctr::should_process`] filters (NoSync, initiation method, contact id, voicemail) and
//!   [`ctr::transform`] maps the CTR to VoiceCall fields exactly as the reference (`anchor-spec.md`
//!   §2.3–§2.4); each update is sent **directly** as `PATCH {SCRT_ENDPOINT_BASE}/voiceCalls/{ContactId}`
//!   through `scv-core` (no Lambda hop whose failure could be lost, AD-01). Records of different contacts
//!   go concurrently (`SALESFORCE_CONCURRENCY`, default 100); records of one contact in batch order.
//! * **Output**: `{"batchItemFailures":[{"itemIdentifier":"<sequenceNumber>"}…]}` listing exactly the
//!   records whose update finally failed after the client's retries, so Kinesis retries them; a contact's
//!   records after its failed one are held back and reported too, so a retry cannot apply them out of
//!   order. Skipped and malformed records are logged with their sequence number and reason and are not
//!   reported (retrying them cannot help). One record never fails the batch.
//! * **Environment**: the SCRT variables of `scv-core` (`SALESFORCE_ORG_ID`, `CALL_CENTER_API_NAME`,
//!   `SCRT_ENDPOINT_BASE`, `PRIVATE_KEY_PARAM_NAME` or `PRIVATE_KEY_SECRET_ID`), `SALESFORCE_CONCURRENCY`,
//!   `LOG_LEVEL`.
//! * **Metrics**: `RecordsProcessed`, `RecordsSkipped` (by `reason`), `RecordsSucceeded`, `RecordsFailed`,
//!   and the client's `SalesforceRequests`, `SalesforceRetries`, `SalesforceLatency`.
//!
//! Where the reference is inconsistent its observable behaviour is kept, since neither choice loses data:
//! the voicemail skip uses JavaScript truthiness of `vm_flag` (AD-61, see [`ctr::should_process`]), and
//! WebRTC endpoint fallbacks are the reference's (AD-08, see [`ctr::transform`]).

pub mod ctr;
mod handler;

pub use handler::{DEFAULT_CONCURRENCY, Deps, handle, handle_batch};
