//! VoiceMailAudioProcessing in-process: S3 on a real moto server, KVS on the fake (real SDK clients,
//! Connect-shaped Matroska from kvs-media's writer, bodies in odd-sized chunks).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::{
    collections::BTreeMap,
    io::Cursor,
    time::{Duration, Instant},
};

use kvs_media::{ConnectStreamWriter, StreamOptions, writer::TrackSpec};
use scv_core::{Budget, Env};
use scv_tests::{
    events,
    kvs::{FakeKvs, MediaFault, MediaFragment, connect_fragments, tone},
    moto::{Moto, unique},
};
use serde_json::Value;
use voicemail_audio_processing::{Deps, handle_batch};

const PACKAGE: &str = "voicemail-audio-processing";
const CONTACT: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
const STREAM: &str =
    "arn:aws:kinesisvideo:us-east-1:123456789012:stream/scvcc-connect-contact-0f1e2d3c/1795428300000";

struct Setup {
    moto: Moto,
    kvs: FakeKvs,
    deps: Deps,
    bucket: String,
}

impl Setup {
    async fn new() -> Self {
        let moto = Moto::start().await.unwrap();
        let kvs = FakeKvs::start().await.unwrap();
        let bucket = unique("scv-recordings");
        moto.create_bucket(&bucket).await.unwrap();
        let mut deps = Deps::new(
            &Env::from_pairs([("s3_recordings_bucket", bucket.as_str())]),
            moto.sdk_config().clone(),
        )
        .unwrap();
        deps.s3 = moto.s3();
        deps.kvs = aws_sdk_kinesisvideo::Client::from_conf(
            aws_sdk_kinesisvideo::config::Builder::from(moto.sdk_config())
                .endpoint_url(kvs.endpoint())
                .build(),
        );
        Self {
            moto,
            kvs,
            deps,
            bucket,
        }
    }

    async fn object(&self, contact: &str) -> Option<(Vec<u8>, Option<String>, BTreeMap<String, String>)> {
        let key = format!("voicemail_recordings/{contact}.wav");
        let object = self
            .moto
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .ok()?;
        let content_type = object.content_type.clone();
        let bytes = object.body.collect().await.unwrap().into_bytes().to_vec();
        let tags = self
            .moto
            .s3()
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        let tags = tags.tag_set.into_iter().map(|t| (t.key, t.value)).collect();
        Some((bytes, content_type, tags))
    }
}

/// The voicemail's stream: 3 fragments of the previous caller, the voicemail's 10 (fragments 3 to 12,
/// customer 440 Hz, agent 1 kHz), 5 of the next caller; live, so the body never ends by itself.
fn reused_stream(writer: &ConnectStreamWriter) -> (Vec<MediaFragment>, Vec<u8>) {
    let customer = tone(440.0, 10.0, 8000.0);
    let agent = tone(1000.0, 10.0, 3000.0);
    let before = tone(300.0, 3.0, 8000.0);
    let after = tone(600.0, 5.0, 8000.0);
    let mut fragments = connect_fragments(
        writer,
        "previous-caller",
        0,
        1_795_428_297_000,
        &[&before, &before],
    );
    fragments.extend(connect_fragments(
        writer,
        CONTACT,
        3,
        1_795_428_300_000,
        &[&customer, &agent],
    ));
    fragments.extend(connect_fragments(
        writer,
        "next-caller",
        13,
        1_795_428_310_000,
        &[&after, &after],
    ));
    (fragments, customer)
}

fn wav_samples(bytes: &[u8]) -> (hound::WavSpec, Vec<u8>) {
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = reader.spec();
    let pcm = reader
        .samples::<i16>()
        .flat_map(|s| s.unwrap().to_le_bytes())
        .collect();
    (spec, pcm)
}

fn failures(response: &scv_core::kinesis::KinesisEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn the_customer_track_of_the_voicemail_fragments_becomes_a_tagged_wav() {
    let setup = Setup::new().await;
    let (fragments, customer) = reused_stream(&ConnectStreamWriter::default());
    setup.kvs.add_stream(STREAM, fragments, true);

    let started = Instant::now();
    let response = handle_batch(
        &setup.deps,
        &events::read(PACKAGE, "voicemail").unwrap(),
        &Budget::unbounded(),
    )
    .await;
    let elapsed = started.elapsed();

    assert!(failures(&response).is_empty(), "{response:?}");
    let (bytes, content_type, tags) = setup.object(CONTACT).await.expect("the WAV is in S3");
    let (spec, pcm) = wav_samples(&bytes);
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (8000, 1, 16)
    );
    assert_eq!(pcm.len(), customer.len(), "exactly the voicemail's fragments");
    assert!(
        pcm == customer,
        "exactly the customer's PCM, no agent audio, no other caller"
    );
    assert_eq!(content_type.as_deref(), Some("audio/x-wav"));
    let expected: BTreeMap<String, String> = [
        ("vm_lang", "en-US".to_owned()),
        ("vm_dialedNumber", "+18005550100".to_owned()),
        ("vm_initTimestamp", "2026-11-23T10:00:02Z".to_owned()),
        ("vm_endTimestamp", "2026-11-23T10:00:52Z".to_owned()),
        ("vm_duration", "10".to_owned()),
        (
            "vm_recordingUrl",
            format!("{}/voicemail_recordings/{CONTACT}.wav", setup.bucket),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(tags, expected);
    assert!(
        elapsed < Duration::from_secs(2),
        "did not wait for the live stream to end: {elapsed:?}"
    );
    for _ in 0..100 {
        if setup.kvs.open_bodies() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        setup.kvs.open_bodies(),
        0,
        "the GetMedia connection was closed at the stop fragment"
    );
    let media = setup
        .kvs
        .requests()
        .into_iter()
        .find(|r| r.path == "/getMedia")
        .unwrap();
    assert_eq!(
        media.body["StartSelector"]["StartSelectorType"],
        "FRAGMENT_NUMBER"
    );
    assert_eq!(
        media.body["StartSelector"]["AfterFragmentNumber"],
        kvs_media::writer::fragment_number(3)
    );

    // Processing the same record again writes the same bytes under the same key.
    handle_batch(
        &setup.deps,
        &events::read(PACKAGE, "voicemail").unwrap(),
        &Budget::unbounded(),
    )
    .await;
    assert_eq!(setup.object(CONTACT).await.unwrap().0, bytes);
}

#[tokio::test]
async fn a_stop_fragment_at_the_live_edge_ends_the_read_at_its_continuation_token() {
    let setup = Setup::new().await;
    let writer = ConnectStreamWriter::default();
    let customer = tone(440.0, 10.0, 8000.0);
    let fragments = connect_fragments(&writer, CONTACT, 3, 1_795_428_300_000, &[&customer, &customer]);
    setup.kvs.add_stream(STREAM, fragments, true);
    let started = Instant::now();
    let response = handle_batch(
        &setup.deps,
        &events::read(PACKAGE, "voicemail").unwrap(),
        &Budget::unbounded(),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait for a next fragment: {:?}",
        started.elapsed()
    );
    assert!(failures(&response).is_empty());
    assert_eq!(wav_samples(&setup.object(CONTACT).await.unwrap().0).1, customer);
}

#[tokio::test]
async fn without_a_continuation_token_a_quiet_live_stream_ends_the_read() {
    let setup = Setup::new().await;
    let customer = tone(440.0, 10.0, 8000.0);
    let mut fragments = connect_fragments(
        &ConnectStreamWriter::default(),
        CONTACT,
        3,
        1_795_428_300_000,
        &[&customer, &customer],
    );
    // Cut the last fragment's trailing Tags element (ID 0x1254C367), which carries the continuation token.
    let last = fragments.last_mut().unwrap();
    let trailing = last
        .bytes
        .windows(4)
        .rposition(|w| w == [0x12, 0x54, 0xC3, 0x67])
        .unwrap();
    last.bytes.truncate(trailing);
    setup.kvs.add_stream(STREAM, fragments, true);
    let response = handle_batch(
        &setup.deps,
        &events::read(PACKAGE, "voicemail").unwrap(),
        &Budget::unbounded(),
    )
    .await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(wav_samples(&setup.object(CONTACT).await.unwrap().0).1, customer);
}

#[tokio::test]
async fn the_legacy_single_track_and_tags_before_the_cluster_are_read_too() {
    let setup = Setup::new().await;
    let writer = ConnectStreamWriter::new(StreamOptions {
        tracks: vec![TrackSpec {
            number: 1,
            name: "Track_audio/L16".into(),
        }],
        connect_tags: kvs_media::writer::TagPlacement::BeforeCluster,
        cluster_size: kvs_media::writer::ClusterSize::Known,
        ..StreamOptions::default()
    });
    let customer = tone(500.0, 10.0, 6000.0);
    setup.kvs.add_stream(
        STREAM,
        connect_fragments(&writer, CONTACT, 3, 1_795_428_300_000, &[&customer]),
        false,
    );
    let response = handle_batch(
        &setup.deps,
        &events::read(PACKAGE, "voicemail").unwrap(),
        &Budget::unbounded(),
    )
    .await;
    assert!(failures(&response).is_empty());
    assert_eq!(wav_samples(&setup.object(CONTACT).await.unwrap().0).1, customer);
}

#[tokio::test]
async fn a_mixed_batch_stores_the_good_ones_and_reports_only_what_a_retry_can_mend() {
    let setup = Setup::new().await;
    let writer = ConnectStreamWriter::default();
    let (fragments, customer) = reused_stream(&writer);
    setup.kvs.add_stream(STREAM, fragments, true);
    let fourth = "3c4d5e6f-7081-4c9d-aebf-2a3b4c5d6e7f";
    let fourth_stream =
        "arn:aws:kinesisvideo:us-east-1:123456789012:stream/scvcc-connect-contact-3c4d5e6f/1795428300000";
    let fourth_audio = tone(700.0, 5.0, 8000.0);
    setup.kvs.add_stream(
        fourth_stream,
        connect_fragments(
            &writer,
            fourth,
            20,
            1_795_428_400_000,
            &[&fourth_audio, &fourth_audio],
        ),
        false,
    );

    // good, already processed (skip), a deleted stream (not retried), good
    let event = events::read(PACKAGE, "mixed-batch").unwrap();
    let response = handle_batch(&setup.deps, &event, &Budget::unbounded()).await;

    assert!(
        failures(&response).is_empty(),
        "a missing stream cannot be mended by a retry: {response:?}"
    );
    assert_eq!(wav_samples(&setup.object(CONTACT).await.unwrap().0).1, customer);
    assert_eq!(
        wav_samples(&setup.object(fourth).await.unwrap().0).1,
        fourth_audio
    );
    assert!(
        setup
            .object("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
            .await
            .is_none()
    );
    assert!(
        setup
            .object("2b3c4d5e-6f70-4b8c-9dae-1f2a3b4c5d6e")
            .await
            .is_none()
    );

    // A throttled KVS is reported for retry; the other records still complete.
    setup.kvs.set_fault(
        fourth_stream,
        MediaFault::Status(400, "ClientLimitExceededException"),
    );
    let response = handle_batch(&setup.deps, &event, &Budget::unbounded()).await;
    let sequence = event["Records"][3]["kinesis"]["sequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(failures(&response), std::slice::from_ref(&sequence));

    // A body cut short is retried too.
    setup.kvs.set_fault(fourth_stream, MediaFault::CutShort(40_000));
    let response = handle_batch(&setup.deps, &event, &Budget::unbounded()).await;
    assert_eq!(failures(&response), [sequence]);
}

#[tokio::test]
async fn an_unwritable_bucket_is_reported_and_bad_records_are_not() {
    let setup = Setup::new().await;
    let (fragments, _) = reused_stream(&ConnectStreamWriter::default());
    setup.kvs.add_stream(STREAM, fragments, false);
    let mut missing_bucket = Deps::new(
        &Env::from_pairs([("s3_recordings_bucket", "no-such-bucket-here")]),
        setup.moto.sdk_config().clone(),
    )
    .unwrap();
    missing_bucket.s3 = setup.moto.s3();
    missing_bucket.kvs = setup.deps.kvs.clone();
    let event = events::read(PACKAGE, "voicemail").unwrap();
    let response = handle_batch(&missing_bucket, &event, &Budget::unbounded()).await;
    assert_eq!(
        failures(&response),
        [event["Records"][0]["kinesis"]["sequenceNumber"].as_str().unwrap()]
    );

    let before = setup.kvs.requests().len();
    for case in ["missing-recording", "already-processed", "not-a-voicemail"] {
        let response = handle_batch(
            &setup.deps,
            &events::read(PACKAGE, case).unwrap(),
            &Budget::unbounded(),
        )
        .await;
        assert!(failures(&response).is_empty(), "{case}");
    }
    assert_eq!(
        setup.kvs.requests().len(),
        before,
        "skipped records never reach KVS"
    );
}

#[test]
fn a_missing_bucket_variable_is_named() {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let err = Deps::new(&Env::default(), config.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("s3_recordings_bucket"), "{err}");
    let deps = Deps::new(&Env::from_pairs([("RECORDINGS_BUCKET", "b")]), config).unwrap();
    assert_eq!(deps.bucket, "b");
}

#[test]
fn every_sample_event_is_a_kinesis_batch_of_contact_records() {
    for case in events::cases(PACKAGE).unwrap() {
        let (records, unidentified) = scv_core::kinesis::records(&events::read(PACKAGE, &case).unwrap());
        assert!(unidentified.is_empty() && !records.is_empty(), "{case}");
        assert!(
            records
                .iter()
                .all(|r| r.document.as_ref().is_ok_and(Value::is_object)),
            "{case}"
        );
    }
}
