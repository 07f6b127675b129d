use serde_json::{Value, json};

use super::*;

fn voicemail_record(attributes: Value) -> Value {
    json!({
        "ContactId": "cf728b5e-90a3-44b5-a0d1-7c8d9eafb0c7",
        "InitiationTimestamp": "2026-11-23T10:00:02Z",
        "DisconnectTimestamp": "2026-11-23T10:00:52Z",
        "SystemEndpoint": {"Address": "+18005550100", "Type": "TELEPHONE_NUMBER"},
        "Attributes": attributes,
        "Recordings": [{
            "Location": "arn:aws:kinesisvideo:us-east-1:123456789012:stream/scvcc-connect-contact-cf72/1795428300000",
            "FragmentStartNumber": "91343852333181432392682062618837465325393479862",
            "FragmentStopNumber": "91343852333181432397568423467262913447614063174",
            "StorageType": "KINESIS_VIDEO_STREAM"
        }]
    })
}

fn flagged(flag: &str) -> Value {
    voicemail_record(json!({"vm_flag": flag, "vm_lang": "en-US", "vm_from": "+14155550199"}))
}

#[test]
fn records_are_selected_by_the_explicit_vm_flag_rule() {
    let Plan::Process(voicemail) = plan(&flagged("1")).unwrap() else {
        panic!("a voicemail")
    };
    assert_eq!(voicemail.contact_id, "cf728b5e-90a3-44b5-a0d1-7c8d9eafb0c7");
    assert_eq!(
        voicemail.first_fragment,
        "91343852333181432392682062618837465325393479862"
    );
    assert_eq!(
        voicemail.last_fragment,
        "91343852333181432397568423467262913447614063174"
    );
    assert_eq!(voicemail.lang, "en-US");
    assert_eq!(voicemail.dialed_number.as_deref(), Some("+18005550100"));

    let cases = [
        (flagged("0"), Skip::AlreadyProcessed),
        (flagged("99"), Skip::NotVoicemail),
        (flagged(""), Skip::NotVoicemail),
        (voicemail_record(json!({"vm_lang": "en-US"})), Skip::NotVoicemail),
        (voicemail_record(Value::Null), Skip::NotVoicemail),
        (
            voicemail_record(json!({"vm_flag": "1", "vm_from": "+1"})),
            Skip::Incomplete("vm_lang"),
        ),
        (
            voicemail_record(json!({"vm_flag": "1", "vm_lang": "en-US"})),
            Skip::Incomplete("vm_from"),
        ),
    ];
    for (record, skip) in cases {
        assert_eq!(plan(&record).unwrap(), Plan::Skip(skip.clone()), "{skip}");
    }
}

#[test]
fn a_voicemail_without_its_recording_is_an_error_naming_the_field() {
    let mut record = flagged("1");
    record["Recordings"] = json!([]);
    assert_eq!(
        plan(&record).unwrap_err().to_string(),
        "field Recordings[0] is missing: the voicemail has no recording"
    );
    let mut record = flagged("1");
    record["Recordings"][0]["FragmentStopNumber"] = json!("12ab");
    assert_eq!(
        plan(&record).unwrap_err().to_string(),
        "field Recordings[0].FragmentStopNumber must be a decimal fragment number"
    );
    let mut record = flagged("1");
    record["Recordings"][0]["Location"] = json!("s3://bucket/key.wav");
    assert_eq!(plan(&record).unwrap_err().field, "Recordings[0].Location");
    let mut record = flagged("1");
    record["ContactId"] = json!(7);
    assert_eq!(
        plan(&record).unwrap_err().to_string(),
        "field ContactId must be a string"
    );
}

#[test]
fn tags_are_encoded_as_encode_uri_component_does() {
    let Plan::Process(voicemail) = plan(&flagged("1")).unwrap() else {
        panic!("a voicemail")
    };
    let tags = tagging(&voicemail, 51, "scv-recordings-123456789012");
    assert_eq!(
        tags,
        "vm_lang=en-US&vm_dialedNumber=%2B18005550100&vm_initTimestamp=2026-11-23T10%3A00%3A02Z\
         &vm_endTimestamp=2026-11-23T10%3A00%3A52Z&vm_duration=51\
         &vm_recordingUrl=scv-recordings-123456789012%2Fvoicemail_recordings%2Fcf728b5e-90a3-44b5-a0d1-7c8d9eafb0c7.wav"
    );
    assert_eq!(
        encode_uri_component("a b&c=d/é!~*'()"),
        "a%20b%26c%3Dd%2F%C3%A9!~*'()"
    );
}

#[test]
fn duration_is_whole_seconds_rounded_up() {
    assert_eq!(duration_seconds(0, 8000), 0);
    assert_eq!(duration_seconds(8000, 8000), 1);
    assert_eq!(duration_seconds(8001, 8000), 2);
    assert_eq!(object_key("c-1"), "voicemail_recordings/c-1.wav");
}
