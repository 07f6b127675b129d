//! Which contact records are voicemails to process (`anchor-spec.md` §6.2), and the S3 object that
//! stores one (§6.4), as pure functions.

use serde_json::Value;

/// Why a record is left alone. Retrying cannot change the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// No `Attributes.vm_flag`, or a value other than `"1"` and `"0"`.
    NotVoicemail,
    /// `vm_flag == "0"`: the voicemail was processed already.
    AlreadyProcessed,
    /// `vm_flag == "1"` without `vm_lang` or `vm_from` (the reference skips these too).
    Incomplete(&'static str),
}

impl Skip {
    /// A stable name for logs and the `RecordsSkipped` metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotVoicemail => "not_voicemail",
            Self::AlreadyProcessed => "already_processed",
            Self::Incomplete(_) => "incomplete_voicemail_attributes",
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotVoicemail => f.write_str("not a voicemail (Attributes.vm_flag is not \"1\")"),
            Self::AlreadyProcessed => f.write_str("already processed (Attributes.vm_flag is \"0\")"),
            Self::Incomplete(field) => {
                write!(f, "Attributes.vm_flag is \"1\" but Attributes.{field} is missing")
            }
        }
    }
}

/// A field the voicemail needs is missing or of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field} {problem}")]
pub struct FieldError {
    pub field: &'static str,
    pub problem: &'static str,
}

/// A voicemail to turn into a WAV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voicemail {
    pub contact_id: String,
    /// `Recordings[0].Location`: the Kinesis Video stream ARN.
    pub stream_arn: String,
    /// `Recordings[0].FragmentStartNumber`, inclusive.
    pub first_fragment: String,
    /// `Recordings[0].FragmentStopNumber`, inclusive.
    pub last_fragment: String,
    pub lang: String,
    pub dialed_number: Option<String>,
    pub initiation_timestamp: Option<String>,
    pub disconnect_timestamp: Option<String>,
}

/// What to do with one contact record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Process(Voicemail),
    Skip(Skip),
}

/// `vm_flag == "1"` with `vm_lang` and `vm_from` → process; `"0"` → already done; anything else → not a
/// voicemail. The same explicit rule CTRDataSync's voicemail skip agrees with (AD-61): every record
/// processed here is one CTRDataSync leaves alone.
pub fn plan(ctr: &Value) -> Result<Plan, FieldError> {
    let attributes = match ctr.get("Attributes") {
        None | Some(Value::Null) => return Ok(Plan::Skip(Skip::NotVoicemail)),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(FieldError {
                field: "Attributes",
                problem: "must be an object",
            });
        }
    };
    let attribute = |name: &str| {
        attributes
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    match attribute("vm_flag") {
        Some("1") => {}
        Some("0") => return Ok(Plan::Skip(Skip::AlreadyProcessed)),
        _ => return Ok(Plan::Skip(Skip::NotVoicemail)),
    }
    let Some(lang) = attribute("vm_lang") else {
        return Ok(Plan::Skip(Skip::Incomplete("vm_lang")));
    };
    if attribute("vm_from").is_none() {
        return Ok(Plan::Skip(Skip::Incomplete("vm_from")));
    }
    let contact_id = text(ctr, "/ContactId", "ContactId")?.ok_or(FieldError {
        field: "ContactId",
        problem: "is missing",
    })?;
    let recording = ctr
        .pointer("/Recordings/0")
        .filter(|r| r.is_object())
        .ok_or(FieldError {
            field: "Recordings[0]",
            problem: "is missing: the voicemail has no recording",
        })?;
    let required = |pointer: &str, field: &'static str| -> Result<String, FieldError> {
        text(recording, pointer, field)?.ok_or(FieldError {
            field,
            problem: "is missing",
        })
    };
    let stream_arn = required("/Location", "Recordings[0].Location")?;
    if !stream_arn.starts_with("arn:") || !stream_arn.contains(":kinesisvideo:") {
        return Err(FieldError {
            field: "Recordings[0].Location",
            problem: "is not a Kinesis Video stream ARN",
        });
    }
    let first_fragment = fragment(
        recording,
        "/FragmentStartNumber",
        "Recordings[0].FragmentStartNumber",
    )?;
    let last_fragment = fragment(
        recording,
        "/FragmentStopNumber",
        "Recordings[0].FragmentStopNumber",
    )?;
    Ok(Plan::Process(Voicemail {
        contact_id,
        stream_arn,
        first_fragment,
        last_fragment,
        lang: lang.to_owned(),
        dialed_number: text(ctr, "/SystemEndpoint/Address", "SystemEndpoint.Address")?,
        initiation_timestamp: text(ctr, "/InitiationTimestamp", "InitiationTimestamp")?,
        disconnect_timestamp: text(ctr, "/DisconnectTimestamp", "DisconnectTimestamp")?,
    }))
}

fn text(value: &Value, pointer: &str, field: &'static str) -> Result<Option<String>, FieldError> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(FieldError {
            field,
            problem: "must be a string",
        }),
    }
}

/// A fragment number: decimal digits, given as a string (or, leniently, a whole number).
fn fragment(recording: &Value, pointer: &str, field: &'static str) -> Result<String, FieldError> {
    let raw = match recording.pointer(pointer) {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        None | Some(Value::Null) => {
            return Err(FieldError {
                field,
                problem: "is missing",
            });
        }
        Some(_) => {
            return Err(FieldError {
                field,
                problem: "must be a fragment number",
            });
        }
    };
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError {
            field,
            problem: "must be a decimal fragment number",
        });
    }
    Ok(raw)
}

/// `voicemail_recordings/<ContactId>.wav`.
pub fn object_key(contact_id: &str) -> String {
    format!("voicemail_recordings/{contact_id}.wav")
}

/// Whole seconds of audio, rounded up as the reference does (`ceil(bytes / 16000)` at 8 kHz 16-bit mono).
pub fn duration_seconds(samples: u64, sample_rate: u32) -> u64 {
    samples.div_ceil(u64::from(sample_rate.max(1)))
}

/// The S3 object tags (`x-amz-tagging`, URL query form), values encoded as JavaScript's
/// `encodeURIComponent` encodes them: `vm_lang`, `vm_dialedNumber`, `vm_initTimestamp`, `vm_endTimestamp`,
/// `vm_duration`, `vm_recordingUrl` (`<bucket>/<key>`). Absent values are sent empty, as the reference.
pub fn tagging(voicemail: &Voicemail, duration_seconds: u64, bucket: &str) -> String {
    let key = object_key(&voicemail.contact_id);
    let pairs = [
        ("vm_lang", voicemail.lang.clone()),
        (
            "vm_dialedNumber",
            voicemail.dialed_number.clone().unwrap_or_default(),
        ),
        (
            "vm_initTimestamp",
            voicemail.initiation_timestamp.clone().unwrap_or_default(),
        ),
        (
            "vm_endTimestamp",
            voicemail.disconnect_timestamp.clone().unwrap_or_default(),
        ),
        ("vm_duration", duration_seconds.to_string()),
        ("vm_recordingUrl", format!("{bucket}/{key}")),
    ];
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", encode_uri_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// JavaScript's `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` percent-encoded.
pub fn encode_uri_component(value: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    percent_encoding::utf8_percent_encode(value, KEEP).to_string()
}

#[cfg(test)]
mod tests;
