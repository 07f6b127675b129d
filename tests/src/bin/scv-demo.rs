//! `cargo xtask demo`: one synthetic call, and the account housekeeping, through the real function binaries.
//!
//! Starts moto (SSM holds the contact center's private key), a fake Salesforce that verifies every JWT, and a
//! Lambda Runtime API per function; then plays a call's life: the finished call's contact record through
//! `ctr-data-sync` and an abandoned call's disconnect event through `handle-contact-events`; a spoken
//! voicemail through `voicemail-audio-processing` into S3 (saved to `target/demo/voicemail.wav`); then the
//! IAM SAML provider for single sign-on through `provider-creator` and the log clean-up through
//! `retention-period`. Prints what reached Salesforce and AWS and stops everything it started.

#![allow(clippy::print_stdout)] // a command-line program: printing is its job

use std::{process::ExitCode, time::Duration};

use kvs_media::ConnectStreamWriter;
use scv_tests::{
    HarnessError,
    cfn_response::ResponseCatcher,
    events,
    fixture::Fixture,
    keys,
    kvs::{FakeKvs, connect_fragments},
    moto::{Moto, unique},
    runtime_api::{FunctionProcess, Outcome, RuntimeApi, function_binary},
    salesforce::{AuthCheck, Recorded},
    speech, workspace_root,
};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => {
            println!(
                "\ndemo finished: every step reached Salesforce as expected; all local services stopped."
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("\ndemo failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), HarnessError> {
    println!("== starting local stand-ins on 127.0.0.1");
    let moto = Moto::spawn().await?;
    println!(
        "   moto (AWS SSM)          {}  pid {}",
        moto.endpoint(),
        moto.pid().unwrap_or_default()
    );
    let fx = Fixture::start().await?;
    println!("   fake Salesforce (SCRT)  {}", fx.salesforce.scrt_base());
    let parameter = unique("scvdemo-scrt-jwt-auth-private-key");
    moto.put_secure_parameter(
        &parameter,
        &keys::one_line_with_literal_newlines(&fx.scrt_key.pkcs1_pem()),
    )
    .await?;
    println!(
        "   private key stored as SSM SecureString {parameter} (one line, literal \\n, as admins paste it)"
    );

    let mut env = moto.function_env();
    env.extend(fx.scrt_env());
    env.push(("PRIVATE_KEY_PARAM_NAME".into(), parameter));
    env.push(("LOG_LEVEL".into(), "warn".into()));

    let contact_id = uuid::Uuid::new_v4().to_string();
    println!("\n== a call: contact {contact_id} ends after 4 minutes with an agent");
    let ctr_api = RuntimeApi::start("ctr-data-sync").await?;
    let ctr_process = FunctionProcess::spawn(&function_binary("ctr-data-sync")?, &ctr_api, &env)?;
    let mut record = events::finished_call(&contact_id);
    record["Attributes"] =
        json!({"sfdc-Case_Reason__c": "Billing", "sf_realtime_transcription_status": "passed"});
    let outcome = ctr_api
        .invoke(events::kinesis_event(&[record]), Duration::from_secs(30))
        .await?;
    println!("   ctr-data-sync answered: {}", describe(&outcome));
    let response = outcome.response()?;
    if response != json!({"batchItemFailures": []}) {
        return Err(HarnessError::Setup(format!(
            "unexpected batch failures: {response}"
        )));
    }
    let update = expect_one(
        &fx.salesforce.requests(),
        &format!("/telephony/v1/voiceCalls/{contact_id}"),
    )?;
    show("the VoiceCall update that reached Salesforce", &update);

    fx.salesforce.clear_requests();
    let abandoned_id = uuid::Uuid::new_v4().to_string();
    println!("\n== another caller hangs up in the queue: contact {abandoned_id}");
    let events_api = RuntimeApi::start("handle-contact-events").await?;
    let events_process =
        FunctionProcess::spawn(&function_binary("handle-contact-events")?, &events_api, &env)?;
    let mut event = events::read("handle-contact-events", "abandoned-in-queue")?;
    event["detail"]["contactId"] = json!(abandoned_id);
    let outcome = events_api.invoke(event, Duration::from_secs(30)).await?;
    println!("   handle-contact-events answered: {}", describe(&outcome));
    outcome.response()?;
    let clear = expect_one(
        &fx.salesforce.requests(),
        &format!("/telephony/v1/voiceCalls/{abandoned_id}/clearRouting"),
    )?;
    show("the routing clean-up that reached Salesforce", &clear);

    let voicemail_process = voicemail(&moto).await?;
    let (provider_process, retention_process) = account_housekeeping(&moto).await?;

    for (name, process) in [
        ("ctr-data-sync", &ctr_process),
        ("handle-contact-events", &events_process),
        ("voicemail-audio-processing", &voicemail_process),
        ("provider-creator", &provider_process),
        ("retention-period", &retention_process),
    ] {
        if let Some(kib) = process.peak_rss_kib() {
            println!("   {name}: peak memory {:.1} MiB", kib as f64 / 1024.0);
        }
    }
    Ok(())
}

/// A caller leaves a voicemail: spoken audio → Connect-shaped KVS stream → WAV in S3, saved for playing.
async fn voicemail(moto: &Moto) -> Result<FunctionProcess, HarnessError> {
    let contact_id = uuid::Uuid::new_v4().to_string();
    println!("\n== a caller leaves a voicemail: contact {contact_id}");
    let words = "Hi, this is Jordan Lee. My order number is four two seven one. Please call me back this afternoon. Thanks!";
    let customer = speech::speak(words)?;
    let agent = vec![0_u8; customer.len()];
    println!(
        "   spoken by espeak-ng: {:.1} s of customer audio (the agent side is silent)",
        customer.len() as f64 / 16_000.0
    );
    let kvs = FakeKvs::start().await?;
    let stream = format!(
        "arn:aws:kinesisvideo:us-east-1:123456789012:stream/scvdemo-connect-contact-{}/1795428300000",
        &contact_id[..8]
    );
    let fragments = connect_fragments(
        &ConnectStreamWriter::default(),
        &contact_id,
        3,
        1_795_428_300_000,
        &[&customer, &agent],
    );
    let (first, last) = (
        fragments[0].number.clone(),
        fragments[fragments.len() - 1].number.clone(),
    );
    println!(
        "   Kinesis Video stream (fake KVS {}): {} fragments, {first} … {last}",
        kvs.endpoint(),
        fragments.len()
    );
    kvs.add_stream(&stream, fragments, true);
    let bucket = unique("scvdemo-recordings");
    moto.create_bucket(&bucket).await?;

    let mut record = events::read("voicemail-audio-processing", "voicemail")?;
    let (records, _) = scv_core::kinesis::records(&record);
    let mut ctr = records
        .into_iter()
        .next()
        .and_then(|r| r.document.ok())
        .unwrap_or_default();
    ctr["ContactId"] = json!(contact_id);
    ctr["Recordings"][0]["Location"] = json!(stream);
    ctr["Recordings"][0]["FragmentStartNumber"] = json!(first);
    ctr["Recordings"][0]["FragmentStopNumber"] = json!(last);
    record = events::kinesis_event(&[ctr]);

    let mut env = moto.function_env();
    env.push(("AWS_ENDPOINT_URL_KINESIS_VIDEO".into(), kvs.endpoint()));
    env.push(("s3_recordings_bucket".into(), bucket.clone()));
    let api = RuntimeApi::start("voicemail-audio-processing").await?;
    let process = FunctionProcess::spawn(&function_binary("voicemail-audio-processing")?, &api, &env)?;
    let answer = api.invoke(record, Duration::from_secs(30)).await?.response()?;
    println!("   voicemail-audio-processing answered: {answer}");
    let key = format!("voicemail_recordings/{contact_id}.wav");
    let s3 = moto.s3();
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| HarnessError::Setup(format!("the WAV is not in S3: {e:?}")))?;
    let content_type = object.content_type.clone().unwrap_or_default();
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| HarnessError::Setup(e.to_string()))?
        .into_bytes();
    let tags = s3
        .get_object_tagging()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| HarnessError::Setup(format!("{e:?}")))?;
    println!("   s3://{bucket}/{key}: {} bytes, {content_type}", bytes.len());
    for tag in tags.tag_set {
        println!("     tag {} = {}", tag.key, tag.value);
    }
    let saved = workspace_root().join("target/demo");
    std::fs::create_dir_all(&saved)?;
    let path = saved.join("voicemail.wav");
    std::fs::write(&path, &bytes)?;
    println!(
        "   saved as {} — play it with `ffplay -nodisp -autoexit {}` or `aplay {}`",
        path.display(),
        path.display(),
        path.display()
    );
    let samples = hound::WavReader::new(std::io::Cursor::new(bytes.to_vec()))
        .map(|r| r.len())
        .unwrap_or(0);
    if samples as usize * 2 != customer.len() {
        return Err(HarnessError::Setup(format!(
            "the WAV has {samples} samples, the caller spoke {}",
            customer.len() / 2
        )));
    }
    Ok(process)
}

/// The account-level functions: the SAML provider for single sign-on, and the log clean-up.
async fn account_housekeeping(moto: &Moto) -> Result<(FunctionProcess, FunctionProcess), HarnessError> {
    println!("\n== single sign-on: CloudFormation asks for the IAM SAML provider of the Salesforce org");
    let bucket = unique("scvdemo-saml");
    moto.create_bucket(&bucket).await?;
    let metadata = std::fs::read(workspace_root().join("tests/data/salesforce-idp-metadata.xml"))?;
    moto.put_object(&bucket, "saml/salesforce-idp-metadata.xml", metadata)
        .await?;
    let catcher = ResponseCatcher::start().await?;
    let api = RuntimeApi::start("provider-creator").await?;
    let process = FunctionProcess::spawn(&function_binary("provider-creator")?, &api, &moto.function_env())?;
    let mut event = events::read("provider-creator", "create")?;
    event["ResponseURL"] = json!(catcher.url());
    event["ResourceProperties"]["S3BucketForSaml"] = json!(bucket);
    let outcome = api.invoke(event, Duration::from_secs(30)).await?;
    let answer = outcome.response()?;
    println!("   CloudFormation received: {}", answer);
    let arn = answer["PhysicalResourceId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let provider = aws_sdk_iam::Client::new(moto.sdk_config())
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .map_err(|e| HarnessError::Setup(format!("the provider is not in IAM: {e:?}")))?;
    println!(
        "   IAM now holds {arn} with the org's metadata ({} bytes)",
        provider.saml_metadata_document.map(|d| d.len()).unwrap_or(0)
    );
    if answer["Status"] != "SUCCESS" {
        return Err(HarnessError::Setup("the SAML provider was not created".into()));
    }

    println!("\n== nightly clean-up: log groups of the stack get a 120-day retention policy");
    let logs = aws_sdk_cloudwatchlogs::Client::new(moto.sdk_config());
    let prefix = format!("/aws/lambda/{}-", unique("scvdemo"));
    for (name, days) in [
        ("CTRDataSync", None),
        ("HandleContactEvents", Some(365)),
        ("ProviderCreator", Some(30)),
    ] {
        let group = format!("{prefix}{name}");
        logs.create_log_group()
            .log_group_name(&group)
            .send()
            .await
            .map_err(|e| HarnessError::Setup(format!("{e:?}")))?;
        if let Some(days) = days {
            logs.put_retention_policy()
                .log_group_name(&group)
                .retention_in_days(days)
                .send()
                .await
                .map_err(|e| HarnessError::Setup(format!("{e:?}")))?;
        }
    }
    let mut env = moto.function_env();
    env.push(("LOG_GROUP_PREFIXES".into(), prefix));
    let api = RuntimeApi::start("retention-period").await?;
    let retention = FunctionProcess::spawn(&function_binary("retention-period")?, &api, &env)?;
    let report = api
        .invoke(
            events::read("retention-period", "scheduled")?,
            Duration::from_secs(30),
        )
        .await?
        .response()?;
    for line in serde_json::to_string_pretty(&report).unwrap_or_default().lines() {
        println!("     {line}");
    }
    if report["groupsChanged"].as_array().map(Vec::len) != Some(2) {
        return Err(HarnessError::Setup(
            "expected two log groups to get the 120-day policy".into(),
        ));
    }
    Ok((process, retention))
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Response(body) => body.to_string(),
        Outcome::Error(body) => format!("ERROR {body}"),
    }
}

fn expect_one(requests: &[Recorded], path: &str) -> Result<Recorded, HarnessError> {
    let matching: Vec<&Recorded> = requests.iter().filter(|r| r.path == path).collect();
    match matching.as_slice() {
        [one] if one.status == 200 => Ok((*one).clone()),
        _ => Err(HarnessError::Setup(format!(
            "expected one accepted request to {path}, Salesforce saw {requests:#?}"
        ))),
    }
}

fn show(title: &str, request: &Recorded) {
    println!("   {title}:");
    println!(
        "     {} {} -> HTTP {}",
        request.method, request.path, request.status
    );
    if let AuthCheck::Jwt(claims) = &request.auth {
        println!(
            "     JWT verified with the contact center's public key: iss={} sub={} aud={} lifetime={}s",
            claims["iss"],
            claims["sub"],
            claims["aud"],
            claims["exp"]
                .as_u64()
                .unwrap_or(0)
                .saturating_sub(claims["iat"].as_u64().unwrap_or(0))
        );
    }
    if let Some(provider) = request
        .headers
        .get("telephony-provider-name")
        .and_then(|v| v.to_str().ok())
    {
        println!("     Telephony-Provider-Name: {provider}");
    }
    if request.body != Value::Null {
        let body = serde_json::to_string_pretty(&request.body).unwrap_or_default();
        for line in body.lines() {
            println!("     {line}");
        }
    } else {
        println!("     (no body)");
    }
}
