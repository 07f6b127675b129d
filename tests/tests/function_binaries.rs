//! The built function binaries behind a local Lambda Runtime API, as a user runs them: private key in
//! SSM (moto), Salesforce on the fake, JSON logs and embedded metrics on standard output.
//! `cargo xtask test` builds the binaries first (`cargo build --bins`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::time::{Duration, Instant};

use scv_tests::{
    events,
    fixture::Fixture,
    keys,
    moto::{Moto, unique},
    runtime_api::{FunctionProcess, Outcome, RuntimeApi, function_binary},
    salesforce::{Fault, FaultAction},
};
use serde_json::{Value, json};

struct Running {
    _moto: Moto,
    fx: Fixture,
    api: RuntimeApi,
    process: FunctionProcess,
}

/// Starts `package`'s binary with its key in SSM; `drop_var` leaves one variable out.
async fn start(package: &str, drop_var: Option<&str>) -> Running {
    let moto = Moto::start().await.unwrap();
    let fx = Fixture::start().await.unwrap();
    let parameter = unique("scrt-key");
    moto.put_secure_parameter(
        &parameter,
        &keys::one_line_with_literal_newlines(&fx.scrt_key.pkcs1_pem()),
    )
    .await
    .unwrap();
    let mut env = moto.function_env();
    env.extend(fx.scrt_env());
    env.push(("PRIVATE_KEY_PARAM_NAME".into(), parameter));
    env.push(("SALESFORCE_RETRY_BASE_MS".into(), "20".into()));
    env.retain(|(k, _)| Some(k.as_str()) != drop_var);
    let api = RuntimeApi::start(package).await.unwrap();
    let process = FunctionProcess::spawn(&function_binary(package).unwrap(), &api, &env).unwrap();
    Running {
        _moto: moto,
        fx,
        api,
        process,
    }
}

/// Waits up to 5 s for a line of the function's output that satisfies `matches`.
async fn wait_for_line(process: &FunctionProcess, matches: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        if let Some(line) = process
            .stdout()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| matches(v))
        {
            return line;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no such line in:\n{}",
            process.stdout().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn ctr_data_sync_binary_updates_voice_calls_and_reports_failures() {
    let run = start("ctr-data-sync", None).await;

    let outcome = run
        .api
        .invoke(
            events::read("ctr-data-sync", "mixed-batch").unwrap(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Response(json!({"batchItemFailures": []})));
    assert_eq!(run.fx.salesforce.voice_calls().len(), 3);

    let broken = "6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a61";
    run.fx.salesforce.add_fault(Fault::always(
        &format!("/voiceCalls/{broken}"),
        FaultAction::Status(500),
    ));
    let event = events::read("ctr-data-sync", "happy-path").unwrap();
    let sequence = event["Records"][0]["kinesis"]["sequenceNumber"].clone();
    let outcome = run.api.invoke(event, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Response(json!({"batchItemFailures": [{"itemIdentifier": sequence}]}))
    );

    let line = wait_for_line(&run.process, |v| v["message"] == "VoiceCall update failed").await;
    assert_eq!(
        line["span"]["contact_id"], broken,
        "the record's log line carries its contact id: {line}"
    );
    assert_eq!(line["level"], "ERROR");
    let skipped = wait_for_line(&run.process, |v| v["reason"] == "no_sync").await;
    assert_eq!(
        skipped["span"]["contact_id"],
        "ad506f3c-7e81-4293-8ebf-5a6b7c8d9ea5"
    );
    let metrics = wait_for_line(&run.process, |v| {
        v.get("_aws").is_some() && v.get("RecordsFailed").is_some()
    })
    .await;
    assert_eq!(
        metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "ServiceCloudVoice"
    );
    assert_eq!(metrics["Function"], "ctr-data-sync");
    assert_eq!(metrics["RecordsFailed"], 1);
    assert!(metrics["SalesforceRetries"].as_u64().unwrap() >= 3, "{metrics}");
    wait_for_line(&run.process, |v| {
        v.get("_aws").is_some() && v["RecordsSucceeded"] == 4
    })
    .await;
    wait_for_line(&run.process, |v| {
        v.get("_aws").is_some() && v["reason"] == "no_sync" && v["RecordsSkipped"] == 1
    })
    .await;
    if let Some(kib) = run.process.peak_rss_kib() {
        eprintln!("ctr-data-sync peak RSS: {} MiB", kib / 1024);
        assert!(kib < 128 * 1024, "fits a 128 MB function: {kib} KiB");
    }
}

/// `cargo lambda watch` sends the function's timeout (`600000`) as `Lambda-Runtime-Deadline-Ms`.
#[tokio::test]
async fn binaries_work_under_emulators_that_send_the_timeout_as_deadline() {
    let run = start("handle-contact-events", None).await;
    let event = events::read("handle-contact-events", "abandoned-in-queue").unwrap();
    let outcome = run
        .api
        .invoke_with_deadline_header(event, 600_000, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(outcome.response().unwrap()["action"], "clearRouting");
    assert_eq!(run.fx.salesforce.requests()[0].status, 200);
}

#[tokio::test]
async fn a_missing_variable_is_an_init_error_that_names_it() {
    let mut run = start("ctr-data-sync", Some("SCRT_ENDPOINT_BASE")).await;
    let error = run
        .api
        .init_error(Duration::from_secs(10))
        .await
        .expect("an init error is reported");
    assert_eq!(error["errorType"], "Runtime.InitError");
    assert_eq!(
        error["errorMessage"],
        "environment variable SCRT_ENDPOINT_BASE is required (the SCRT telephony API base URL) but is not set"
    );
    let status = run
        .process
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the process exits");
    assert!(!status.success());
}

#[tokio::test]
async fn a_missing_key_parameter_is_an_init_error_that_names_it() {
    let mut run = start("handle-contact-events", Some("PRIVATE_KEY_PARAM_NAME")).await;
    let error = run
        .api
        .init_error(Duration::from_secs(10))
        .await
        .expect("an init error is reported");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(message.contains("PRIVATE_KEY_PARAM_NAME"), "{message}");
    assert!(
        !run.process
            .wait_exit(Duration::from_secs(10))
            .await
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn handle_contact_events_binary_clears_routing_and_fails_on_a_final_error() {
    let run = start("handle-contact-events", None).await;

    let outcome = run
        .api
        .invoke(
            events::read("handle-contact-events", "abandoned-in-queue").unwrap(),
            Duration::from_secs(10),
        )
        .await;
    let summary = outcome.unwrap().response().unwrap();
    assert_eq!(summary["action"], "clearRouting");
    assert_eq!(
        run.fx.salesforce.requests()[0].path,
        "/telephony/v1/voiceCalls/5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e/clearRouting"
    );

    let outcome = run
        .api
        .invoke(
            events::read("handle-contact-events", "queued").unwrap(),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(outcome.unwrap().response().unwrap()["action"], "none");

    run.fx
        .salesforce
        .add_fault(Fault::always("/reroute", FaultAction::Status(500)));
    let outcome = run
        .api
        .invoke(
            events::read("handle-contact-events", "routing-step-expired").unwrap(),
            Duration::from_secs(10),
        )
        .await;
    let Outcome::Error(error) = outcome.unwrap() else {
        panic!("a final Salesforce failure fails the invocation")
    };
    assert_eq!(error["errorType"], "Salesforce.ServerError");
    assert!(
        error["errorMessage"].as_str().unwrap().contains("HTTP 500"),
        "{error}"
    );
    let ended = wait_for_line(&run.process, |v| v["message"] == "invocation failed").await;
    assert_eq!(ended["level"], "ERROR");
}

#[tokio::test]
async fn retention_period_binary_reports_and_emits_metrics() {
    let moto = Moto::start().await.unwrap();
    let logs = aws_sdk_cloudwatchlogs::Client::new(moto.sdk_config());
    let prefix = format!("/aws/lambda/{}-", unique("scvcc"));
    for name in ["CTRDataSync", "HandleContactEvents"] {
        logs.create_log_group()
            .log_group_name(format!("{prefix}{name}"))
            .send()
            .await
            .unwrap();
    }
    let mut env = moto.function_env();
    env.push(("LOG_GROUP_PREFIXES".into(), prefix.clone()));
    let api = RuntimeApi::start("retention-period").await.unwrap();
    let process = FunctionProcess::spawn(&function_binary("retention-period").unwrap(), &api, &env).unwrap();

    let outcome = api
        .invoke(
            events::read("retention-period", "scheduled").unwrap(),
            Duration::from_secs(20),
        )
        .await;
    let report = outcome.unwrap().response().unwrap();
    assert_eq!(report["groupsSeen"], 2);
    assert_eq!(report["groupsChanged"].as_array().unwrap().len(), 2);
    assert_eq!(report["prefixes"], json!([prefix]));
    let metrics = wait_for_line(&process, |v| {
        v.get("_aws").is_some() && v.get("LogGroupsSeen").is_some()
    })
    .await;
    assert_eq!(metrics["LogGroupsChanged"], 2);
}

#[tokio::test]
async fn provider_creator_binary_always_answers_cloudformation() {
    let moto = Moto::start().await.unwrap();
    let bucket = unique("scv-saml");
    moto.create_bucket(&bucket).await.unwrap();
    let metadata =
        std::fs::read(scv_tests::workspace_root().join("tests/data/salesforce-idp-metadata.xml")).unwrap();
    moto.put_object(&bucket, "saml/salesforce-idp-metadata.xml", metadata)
        .await
        .unwrap();
    let catcher = scv_tests::cfn_response::ResponseCatcher::start().await.unwrap();
    let api = RuntimeApi::start("provider-creator").await.unwrap();
    let _process = FunctionProcess::spawn(
        &function_binary("provider-creator").unwrap(),
        &api,
        &moto.function_env(),
    )
    .unwrap();
    let name = format!("SalesforceServiceVoiceIdp_{}", &unique("00D")[..20]);
    let event = |case: &str| {
        let mut event = events::read("provider-creator", case).unwrap();
        event["ResponseURL"] = json!(catcher.url());
        event["ResourceProperties"]["S3BucketForSaml"] = json!(bucket);
        event["ResourceProperties"]["Name"] = json!(name);
        event
    };

    let created = api
        .invoke(event("create"), Duration::from_secs(20))
        .await
        .unwrap()
        .response()
        .unwrap();
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let arn = format!("arn:aws:iam::123456789012:saml-provider/{name}");
    assert_eq!(created["PhysicalResourceId"], arn);
    let mut unknown = event("unknown-request-type");
    unknown["PhysicalResourceId"] = json!(arn);
    let failed = api
        .invoke(unknown, Duration::from_secs(20))
        .await
        .unwrap()
        .response()
        .unwrap();
    assert_eq!(failed["Status"], "FAILED");
    assert_eq!(catcher.accepted(), [created, failed]);

    let Outcome::Error(error) = api
        .invoke(json!({"RequestType": "Create"}), Duration::from_secs(20))
        .await
        .unwrap()
    else {
        panic!("an event without ResponseURL cannot be answered: the invocation fails")
    };
    assert_eq!(error["errorType"], "InvalidEvent");
}

#[tokio::test]
async fn voicemail_binary_writes_the_wav_to_s3() {
    use scv_tests::kvs::{FakeKvs, connect_fragments, tone};
    let moto = Moto::start().await.unwrap();
    let kvs = FakeKvs::start().await.unwrap();
    let bucket = unique("scv-recordings");
    moto.create_bucket(&bucket).await.unwrap();
    let contact = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
    let stream =
        "arn:aws:kinesisvideo:us-east-1:123456789012:stream/scvcc-connect-contact-0f1e2d3c/1795428300000";
    let customer = tone(440.0, 10.0, 8000.0);
    let agent = tone(1000.0, 10.0, 3000.0);
    let writer = kvs_media::ConnectStreamWriter::default();
    kvs.add_stream(
        stream,
        connect_fragments(&writer, contact, 3, 1_795_428_300_000, &[&customer, &agent]),
        true,
    );
    let mut env = moto.function_env();
    env.push(("AWS_ENDPOINT_URL_KINESIS_VIDEO".into(), kvs.endpoint()));
    env.push(("s3_recordings_bucket".into(), bucket.clone()));
    let api = RuntimeApi::start("voicemail-audio-processing").await.unwrap();
    let process = FunctionProcess::spawn(
        &function_binary("voicemail-audio-processing").unwrap(),
        &api,
        &env,
    )
    .unwrap();

    let outcome = api
        .invoke(
            events::read("voicemail-audio-processing", "mixed-batch").unwrap(),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(
        outcome.unwrap().response().unwrap(),
        json!({"batchItemFailures": []})
    );
    let object = moto
        .s3()
        .get_object()
        .bucket(&bucket)
        .key(format!("voicemail_recordings/{contact}.wav"))
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type.as_deref(), Some("audio/x-wav"));
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let mut wav = hound::WavReader::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let pcm: Vec<u8> = wav
        .samples::<i16>()
        .flat_map(|s| s.unwrap().to_le_bytes())
        .collect();
    assert!(pcm == customer, "the customer's audio only");
    let stored = wait_for_line(&process, |v| v["message"] == "voicemail stored").await;
    assert_eq!(stored["span"]["contact_id"], contact);
    let missing = wait_for_line(&process, |v| v["message"] == "voicemail not stored").await;
    assert_eq!(missing["transient"], false, "{missing}");
    if let Some(kib) = process.peak_rss_kib() {
        eprintln!("voicemail-audio-processing peak RSS: {} MiB", kib / 1024);
    }
}
