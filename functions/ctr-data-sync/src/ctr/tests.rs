//! The reference's unit tests (`anchor-spec.md` §21.1–§21.2) and every row of the mapping table (§2.4).

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use super::*;

fn inbound(extra: Value) -> Value {
    let mut ctr = json!({"ContactId": "c-1", "InitiationMethod": "INBOUND"});
    if let (Some(ctr), Some(extra)) = (ctr.as_object_mut(), extra.as_object()) {
        ctr.extend(extra.clone());
    }
    ctr
}

#[test]
fn filter_matches_the_reference_handler_tests() {
    let cases: Vec<(&str, Value, Result<(), Skip>)> = vec![
        ("1 INBOUND", inbound(json!({})), Ok(())),
        (
            "2 OUTBOUND",
            inbound(json!({"InitiationMethod": "OUTBOUND"})),
            Ok(()),
        ),
        (
            "3 TRANSFER",
            inbound(json!({"InitiationMethod": "TRANSFER"})),
            Ok(()),
        ),
        (
            "4 CALLBACK",
            inbound(json!({"InitiationMethod": "CALLBACK"})),
            Ok(()),
        ),
        ("5 API", inbound(json!({"InitiationMethod": "API"})), Ok(())),
        (
            "6 DISCONNECT",
            inbound(json!({"InitiationMethod": "DISCONNECT"})),
            Err(Skip::UnsupportedInitiationMethod("DISCONNECT".into())),
        ),
        (
            "7 voicemail",
            inbound(json!({"Recordings": ["r"], "Attributes": {"vm_flag": 1}})),
            Err(Skip::Voicemail),
        ),
        (
            "8 vm_flag, Recordings null",
            inbound(json!({"Recordings": null, "Attributes": {"vm_flag": 1}})),
            Ok(()),
        ),
        (
            "9 Recordings, no Attributes",
            inbound(json!({"Recordings": ["r"]})),
            Ok(()),
        ),
        (
            "10 Recordings, no vm_flag",
            inbound(json!({"Recordings": ["r"], "Attributes": {"x": "y"}})),
            Ok(()),
        ),
        (
            "11 NoSync true",
            inbound(json!({"Attributes": {"NoSync": "true"}})),
            Err(Skip::NoSync),
        ),
        (
            "12 NoSync false",
            inbound(json!({"Attributes": {"NoSync": "false"}})),
            Ok(()),
        ),
        (
            "13 placeholder method",
            json!({"InitiationMethod": "placeHolderInitiationMethod"}),
            Err(Skip::UnsupportedInitiationMethod(
                "placeHolderInitiationMethod".into(),
            )),
        ),
        (
            "WEBRTC_API",
            inbound(json!({"InitiationMethod": "WEBRTC_API"})),
            Ok(()),
        ),
        (
            "no ContactId",
            json!({"InitiationMethod": "INBOUND"}),
            Err(Skip::MissingContactId),
        ),
        (
            "empty ContactId",
            inbound(json!({"ContactId": " "})),
            Err(Skip::MissingContactId),
        ),
        (
            "no method",
            json!({"ContactId": "c"}),
            Err(Skip::UnsupportedInitiationMethod("(missing)".into())),
        ),
        (
            "NoSync TRUE is not true",
            inbound(json!({"Attributes": {"NoSync": "TRUE"}})),
            Ok(()),
        ),
        (
            "vm_flag \"0\" with Recordings (AD-61)",
            inbound(json!({"Recordings": [], "Attributes": {"vm_flag": "0"}})),
            Err(Skip::Voicemail),
        ),
        (
            "vm_flag empty",
            inbound(json!({"Recordings": ["r"], "Attributes": {"vm_flag": ""}})),
            Ok(()),
        ),
    ];
    for (name, ctr, expected) in cases {
        assert_eq!(should_process(&ctr).unwrap(), expected, "case {name}");
    }
}

#[test]
fn a_wrongly_typed_field_is_named() {
    let err = plan(&json!({"ContactId": 42, "InitiationMethod": "INBOUND"})).unwrap_err();
    assert_eq!(err.to_string(), "field ContactId must be a string");
    let err = plan(&inbound(json!({"Attributes": "vm_flag=1"}))).unwrap_err();
    assert_eq!(err.to_string(), "field Attributes must be an object");
}

#[test]
fn full_transform_of_the_reference_test() {
    let ctr = json!({
        "ContactId": "c-full",
        "InitiationMethod": "TRANSFER",
        "InitiationTimestamp": "2026-11-23T10:00:00Z",
        "DisconnectTimestamp": "2026-11-23T10:05:00Z",
        "PreviousContactId": "c-parent",
        "DisconnectReason": "TELECOM_PROBLEM",
        "Recording": {"Location": "abc.com"},
        "Agent": {
            "ConnectedToAgentTimestamp": "2026-11-23T10:01:00Z",
            "CustomerHoldDuration": 10,
            "LongestHoldDuration": 8,
            "AgentInteractionDuration": 2,
            "NumberOfHolds": 1
        },
        "Queue": {"EnqueueTimestamp": "2026-11-23T10:00:30Z", "Name": "Test"},
        "Attributes": {"sf_realtime_transcription_status": "passed", "sfdc-UserInputNum__c": 10}
    });
    let Plan::Update(update) = plan(&ctr).unwrap() else {
        panic!("not planned as an update")
    };
    assert_eq!(update.contact_id, "c-full");
    let mut fields = Value::Object(update.fields);
    let attributes: Value = serde_json::from_str(fields["callAttributes"].as_str().unwrap()).unwrap();
    assert_eq!(
        attributes,
        json!({"sf_realtime_transcription_status": "passed", "UserInputNum__c": 10})
    );
    fields.as_object_mut().unwrap().remove("callAttributes");
    assert_eq!(
        fields,
        json!({
            "startTime": "2026-11-23T10:00:00Z",
            "endTime": "2026-11-23T10:05:00Z",
            "parentCallIdentifier": "c-parent",
            "initiationMethod": "TRANSFER",
            "acceptTime": "2026-11-23T10:01:00Z",
            "totalHoldDuration": 10,
            "longestHoldDuration": 8,
            "agentInteractionDuration": 2,
            "numberOfHolds": 1,
            "enqueueTime": "2026-11-23T10:00:30Z",
            "queue": "Test",
            "recordingLocation": "abc.com",
            "callSubType": "PSTN",
            "disconnectReason": {"value": "TELECOM_PROBLEM", "isError": true}
        })
    );
}

#[test]
fn undefined_and_null_values_are_removed() {
    let ctr = json!({"InitiationTimestamp": null, "DisconnectTimestamp": "2026-11-23T10:05:00Z", "DisconnectReason": "AGENT_HUNGUP", "queue": null});
    assert_eq!(
        Value::Object(transform(&ctr).unwrap()),
        json!({"endTime": "2026-11-23T10:05:00Z", "disconnectReason": {"value": "AGENT_HUNGUP", "isError": false}})
    );
}

#[test]
fn api_is_sent_as_inbound() {
    let ctr = json!({"InitiationMethod": "API", "DisconnectReason": "AGENT_HUNGUP"});
    assert_eq!(
        Value::Object(transform(&ctr).unwrap()),
        json!({"initiationMethod": "INBOUND", "callSubType": "PSTN", "disconnectReason": {"value": "AGENT_HUNGUP", "isError": false}})
    );
}

#[test]
fn call_attributes_take_sfdc_prefixed_keys_only() {
    let attributes = json!({"sfdc-field1": "a", "sfdc-field2": 2, "sfdc-field3": true, "sfdc-field4": null, "field5": "x"});
    let result: Value = serde_json::from_str(&call_attributes(attributes.as_object().unwrap())).unwrap();
    assert_eq!(
        result,
        json!({"field1": "a", "field2": 2, "field3": true, "field4": null})
    );
    let near_misses = json!({"sfd-a": 1, "sfdca": 1, "sdc-a": 1, "sfc-a": 1, "plain": 1});
    assert_eq!(call_attributes(near_misses.as_object().unwrap()), "{}");
}

#[test]
fn disconnect_reason_is_always_sent_and_flags_errors() {
    for (reason, is_error) in [
        (json!("TELECOM_PROBLEM"), true),
        (json!("CONTACT_FLOW_DISCONNECT"), true),
        (json!("OTHER"), true),
        (json!("CUSTOMER_DISCONNECT"), false),
        (json!("AGENT_DISCONNECT"), false),
    ] {
        let fields = transform(&json!({"DisconnectReason": reason})).unwrap();
        assert_eq!(
            fields["disconnectReason"],
            json!({"value": reason, "isError": is_error})
        );
    }
    assert_eq!(
        transform(&json!({})).unwrap()["disconnectReason"],
        json!({"isError": false})
    );
}

fn endpoints(method: &str, attributes: Option<Value>) -> (Option<Value>, Option<Value>) {
    let mut ctr = json!({
        "InitiationMethod": method,
        "SystemEndpoint": {"Address": "+15550100", "Type": "TELEPHONE_NUMBER"},
        "CustomerEndpoint": {"Address": "+15550199", "Type": "TELEPHONE_NUMBER"}
    });
    if let Some(attributes) = attributes {
        ctr["Attributes"] = attributes;
    }
    let fields = transform(&ctr).unwrap();
    (fields.get("fromNumber").cloned(), fields.get("toNumber").cloned())
}

#[test]
fn from_and_to_numbers_follow_the_direction_of_the_call() {
    let inbound = (Some(json!("+15550199")), Some(json!("+15550100")));
    let outbound = (Some(json!("+15550100")), Some(json!("+15550199")));
    for method in ["INBOUND", "TRANSFER", "API"] {
        assert_eq!(endpoints(method, None), inbound, "{method}");
    }
    for method in ["OUTBOUND", "CALLBACK"] {
        assert_eq!(endpoints(method, None), outbound, "{method}");
    }
    assert_eq!(
        endpoints("WEBRTC_API", None),
        outbound,
        "WebRTC falls back to the reference's endpoints (AD-08)"
    );
    assert_eq!(
        endpoints(
            "WEBRTC_API",
            Some(json!({"WebRTC_From": "agent@example.com", "WebRTC_To": "+15550123"}))
        ),
        (Some(json!("agent@example.com")), Some(json!("+15550123")))
    );
    let fields = transform(&json!({"InitiationMethod": "WEBRTC_API"})).unwrap();
    assert_eq!(
        (&fields["fromNumber"], &fields["toNumber"]),
        (&json!("WebRTC_Default"), &json!("WebRTC_Default"))
    );
    assert_eq!(fields["callSubType"], "WebRTC");
    let without_endpoints = transform(&json!({"InitiationMethod": "INBOUND"})).unwrap();
    assert!(!without_endpoints.contains_key("fromNumber") && !without_endpoints.contains_key("toNumber"));
}

#[test]
fn agent_queue_and_recording_fields_need_their_objects() {
    let fields = transform(
        &json!({"Agent": null, "Queue": null, "Recording": null, "Recordings": [{"Location": "x"}]}),
    )
    .unwrap();
    for key in [
        "acceptTime",
        "totalHoldDuration",
        "queue",
        "enqueueTime",
        "recordingLocation",
    ] {
        assert!(!fields.contains_key(key), "{key}");
    }
    let fields = transform(&json!({"Agent": {"NumberOfHolds": 0}, "Queue": {"Name": "Support"}})).unwrap();
    assert_eq!(fields["numberOfHolds"], 0);
    assert_eq!(fields["queue"], "Support");
    assert!(
        !fields.contains_key("callSubType"),
        "callSubType needs InitiationMethod"
    );
}

#[test]
fn transcription_status_is_copied_when_set() {
    let fields = transform(&json!({"Attributes": {"sf_realtime_transcription_status": ""}})).unwrap();
    assert_eq!(fields["callAttributes"], "{}");
    let fields = transform(&json!({"Attributes": {"sf_realtime_transcription_status": "failed"}})).unwrap();
    assert_eq!(
        fields["callAttributes"],
        r#"{"sf_realtime_transcription_status":"failed"}"#
    );
}

#[test]
fn contact_records_in_any_language_decode_from_lenient_base64() {
    let texts = [
        ("English", "Please call me back"),
        ("French", "S’il vous plaît"),
        ("German", "Grüß Gott, bitte zurückrufen"),
        ("Mandarin", "请给我回电话"),
        ("Japanese", "折り返しお電話ください"),
        ("Swedish", "Ring mig tillbaka, tack så mycket"),
        ("Korean", "다시 전화해 주세요"),
        ("Italian", "Per favore, richiamami più tardi"),
        ("Portuguese", "Por favor, ligue-me de volta, obrigação"),
        ("Arabic", "من فضلك اتصل بي مرة أخرى"),
        ("Spanish", "Por favor, llámame mañana"),
    ];
    for (language, text) in texts {
        let document = json!({"ContactId": "c", "Attributes": {"sfdc-Note__c": text}});
        let encoded = STANDARD.encode(document.to_string());
        let encoded = match language {
            "German" => encoded.trim_end_matches('=').to_owned(),
            "Japanese" => format!("{}===", encoded.trim_end_matches('=')),
            _ => encoded,
        };
        let event = json!({"Records": [{"kinesis": {"sequenceNumber": "1", "data": encoded}}]});
        let (records, _) = scv_core::kinesis::records(&event);
        assert_eq!(records[0].document.as_ref().unwrap(), &document, "{language}");
    }
}
