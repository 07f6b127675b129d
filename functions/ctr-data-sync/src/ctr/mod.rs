//! Contact trace record → VoiceCall update: the filter (`anchor-spec.md` §2.3) and the mapping (§2.4), as
//! pure functions over the CTR's JSON.

use scv_core::text::truthy;
use serde_json::{Map, Value};

/// Why a contact record is not synced. Retrying cannot change the answer, so skipped records are never
/// reported as batch failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// `Attributes.NoSync == "true"`.
    NoSync,
    /// `InitiationMethod` is not one Salesforce takes (`DISCONNECT`, `QUEUE_TRANSFER`, missing, …).
    UnsupportedInitiationMethod(String),
    /// No `ContactId`.
    MissingContactId,
    /// A voicemail (`Attributes.vm_flag` set and `Recordings` present): its VoiceCall is written by the
    /// voicemail functions.
    Voicemail,
}

impl Skip {
    /// A stable name for logs and the `RecordsSkipped` metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoSync => "no_sync",
            Self::UnsupportedInitiationMethod(_) => "unsupported_initiation_method",
            Self::MissingContactId => "missing_contact_id",
            Self::Voicemail => "voicemail",
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSync => f.write_str("Attributes.NoSync is \"true\""),
            Self::UnsupportedInitiationMethod(method) => write!(f, "InitiationMethod {method} is not synced"),
            Self::MissingContactId => f.write_str("ContactId is missing"),
            Self::Voicemail => f.write_str("a voicemail (Attributes.vm_flag and Recordings are set)"),
        }
    }
}

/// A field of the CTR has a type the mapping cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field} {problem}")]
pub struct FieldError {
    pub field: &'static str,
    pub problem: &'static str,
}

/// What to send for one CTR.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceCallUpdate {
    pub contact_id: String,
    /// The `PATCH /voiceCalls/{contactId}` body, without `callCenterApiName` (the client adds it).
    pub fields: Map<String, Value>,
}

/// What to do with one CTR.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Update(VoiceCallUpdate),
    Skip(Skip),
}

/// The initiation methods Salesforce's VoiceCall update takes.
pub const SYNCED_METHODS: [&str; 6] = ["INBOUND", "OUTBOUND", "TRANSFER", "CALLBACK", "API", "WEBRTC_API"];

/// Disconnect reasons Salesforce counts as errors.
const ERROR_REASONS: [&str; 3] = ["TELECOM_PROBLEM", "CONTACT_FLOW_DISCONNECT", "OTHER"];

/// Filter, then mapping.
pub fn plan(ctr: &Value) -> Result<Plan, FieldError> {
    if let Err(skip) = should_process(ctr)? {
        return Ok(Plan::Skip(skip));
    }
    let contact_id = string_field(ctr, "ContactId")?.unwrap_or_default().to_owned();
    Ok(Plan::Update(VoiceCallUpdate {
        contact_id,
        fields: transform(ctr)?,
    }))
}

/// The reference's `shouldProcessCtr`: `Ok(Ok(()))` to sync, `Ok(Err(skip))` to skip.
///
/// The voicemail rule keeps the reference's JavaScript truthiness (AD-61): a record with `Recordings` and
/// any non-empty `vm_flag` (`"1"` waiting, `"0"` already processed) is a voicemail and is left to the
/// voicemail functions; the voicemail audio function applies the explicit `"1"`/`"0"` rule to the same
/// records, so no record is handled by both.
pub fn should_process(ctr: &Value) -> Result<Result<(), Skip>, FieldError> {
    let attributes = attributes(ctr)?;
    if attributes.and_then(|a| a.get("NoSync")).and_then(Value::as_str) == Some("true") {
        return Ok(Err(Skip::NoSync));
    }
    match ctr.get("InitiationMethod").and_then(Value::as_str) {
        Some(method) if SYNCED_METHODS.contains(&method) => {}
        Some(method) => return Ok(Err(Skip::UnsupportedInitiationMethod(method.to_owned()))),
        None => return Ok(Err(Skip::UnsupportedInitiationMethod("(missing)".into()))),
    }
    if string_field(ctr, "ContactId")?.is_none_or(|id| id.trim().is_empty()) {
        return Ok(Err(Skip::MissingContactId));
    }
    let vm_flag = attributes.and_then(|a| a.get("vm_flag"));
    if vm_flag.is_some_and(truthy) && ctr.get("Recordings").is_some_and(truthy) {
        return Ok(Err(Skip::Voicemail));
    }
    Ok(Ok(()))
}

/// The reference's `transformCTR`: the VoiceCall fields for a CTR, with null values left out.
///
/// WebRTC calls keep the reference's endpoint fallbacks (AD-08): `fromNumber` = `Attributes.WebRTC_From`,
/// else `SystemEndpoint.Address`, else `WebRTC_Default`; `toNumber` = `Attributes.WebRTC_To`, else
/// `CustomerEndpoint.Address`, else `WebRTC_Default`. A WebRTC record without `Attributes` is mapped with
/// the fallbacks instead of failing the batch (AD-09).
pub fn transform(ctr: &Value) -> Result<Map<String, Value>, FieldError> {
    let mut fields = Map::new();
    let mut put = |name: &str, value: Option<&Value>| {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            fields.insert(name.to_owned(), value.clone());
        }
    };
    put("startTime", ctr.get("InitiationTimestamp"));
    put("endTime", ctr.get("DisconnectTimestamp"));
    put("parentCallIdentifier", ctr.get("PreviousContactId"));

    if let Some(agent) = ctr.get("Agent").filter(|a| truthy(a)) {
        put("acceptTime", agent.get("ConnectedToAgentTimestamp"));
        put("totalHoldDuration", agent.get("CustomerHoldDuration"));
        put("longestHoldDuration", agent.get("LongestHoldDuration"));
        put("agentInteractionDuration", agent.get("AgentInteractionDuration"));
        put("numberOfHolds", agent.get("NumberOfHolds"));
    }
    if let Some(queue) = ctr.get("Queue").filter(|q| truthy(q)) {
        put("enqueueTime", queue.get("EnqueueTimestamp"));
        put("queue", queue.get("Name"));
    }
    if let Some(recording) = ctr.get("Recording").filter(|r| truthy(r)) {
        put("recordingLocation", recording.get("Location"));
    }

    let method = string_field(ctr, "InitiationMethod")?;
    if let Some(method) = method {
        let wire = if method == "API" { "INBOUND" } else { method };
        put("initiationMethod", Some(&Value::from(wire)));
        let subtype = if method == "WEBRTC_API" { "WebRTC" } else { "PSTN" };
        put("callSubType", Some(&Value::from(subtype)));
    }

    let attributes = attributes(ctr)?;
    let system = ctr
        .get("SystemEndpoint")
        .filter(|e| truthy(e))
        .map(|e| e.get("Address"));
    let customer = ctr
        .get("CustomerEndpoint")
        .filter(|e| truthy(e))
        .map(|e| e.get("Address"));
    match method {
        Some("OUTBOUND" | "CALLBACK") => {
            put("fromNumber", system.flatten());
            put("toNumber", customer.flatten());
        }
        Some("WEBRTC_API") => {
            let default = Value::from("WebRTC_Default");
            let pick = |attribute: &str, endpoint: Option<Option<&Value>>| {
                attributes
                    .and_then(|a| a.get(attribute))
                    .filter(|v| truthy(v))
                    .or_else(|| endpoint.flatten().filter(|v| truthy(v)))
                    .cloned()
                    .unwrap_or_else(|| default.clone())
            };
            put("fromNumber", Some(&pick("WebRTC_From", system)));
            put("toNumber", Some(&pick("WebRTC_To", customer)));
        }
        _ => {
            put("toNumber", system.flatten());
            put("fromNumber", customer.flatten());
        }
    }

    if let Some(attributes) = attributes {
        put("callAttributes", Some(&Value::from(call_attributes(attributes))));
    }

    let reason = ctr.get("DisconnectReason").filter(|r| !r.is_null());
    let is_error = reason
        .and_then(Value::as_str)
        .is_some_and(|r| ERROR_REASONS.contains(&r));
    let mut disconnect = Map::new();
    if let Some(reason) = reason {
        disconnect.insert("value".into(), reason.clone());
    }
    disconnect.insert("isError".into(), is_error.into());
    put("disconnectReason", Some(&Value::Object(disconnect)));
    Ok(fields)
}

/// `callAttributes`: the `sfdc-` attributes without the prefix, plus `sf_realtime_transcription_status`
/// when set, as a JSON string (`"{}"` when none).
pub fn call_attributes(attributes: &Map<String, Value>) -> String {
    let mut selected: Map<String, Value> = attributes
        .iter()
        .filter_map(|(key, value)| {
            key.strip_prefix("sfdc-")
                .map(|name| (name.to_owned(), value.clone()))
        })
        .collect();
    if let Some(status) = attributes
        .get("sf_realtime_transcription_status")
        .filter(|v| truthy(v))
    {
        selected.insert("sf_realtime_transcription_status".into(), status.clone());
    }
    Value::Object(selected).to_string()
}

fn attributes(ctr: &Value) -> Result<Option<&Map<String, Value>>, FieldError> {
    match ctr.get("Attributes") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(FieldError {
            field: "Attributes",
            problem: "must be an object",
        }),
    }
}

fn string_field<'a>(ctr: &'a Value, field: &'static str) -> Result<Option<&'a str>, FieldError> {
    match ctr.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError {
            field,
            problem: "must be a string",
        }),
    }
}

#[cfg(test)]
mod tests;
