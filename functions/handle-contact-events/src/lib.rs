//! # HandleContactEvents
//!
//! Tidies Salesforce routing when Amazon Connect reports a contact event.
//!
//! * **Trigger**: EventBridge rule on `source: aws.connect`, `detail-type: Amazon Connect Contact Event`,
//!   `detail.eventType` `DISCONNECTED` **and** `CONTACT_DATA_UPDATED` (the reference's SAM rule forwards
//!   only the first, so its reroute branch never fired, AD-11).
//! * **Work** ([`decision::decide`], `anchor-spec.md` §3.3): an INBOUND or TRANSFER contact that
//!   disconnected without an agent → `PATCH {SCRT_ENDPOINT_BASE}/voiceCalls/{contactId}/clearRouting`;
//!   an INBOUND or TRANSFER contact whose first routing step targeting agents has `EXPIRED` →
//!   `PATCH …/reroute`; anything else → no call. Salesforce is called directly through `scv-core`.
//! * **Output**: a JSON [`Summary`] `{action, contactId, eventType, reason}`. A Salesforce call that still
//!   fails after the client's retries fails the invocation (error type `Salesforce.*`), so EventBridge
//!   retries the event (AD-01). An event that needs a call but has no `detail.contactId` is logged as an
//!   error and answered with `action: none` (retrying it cannot help).
//! * **Environment**: the SCRT variables of `scv-core`, `LOG_LEVEL`.

pub mod decision;
mod handler;

pub use decision::Action;
pub use handler::{Deps, HandlerError, Summary, handle, handle_event};
