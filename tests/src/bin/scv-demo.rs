//! `cargo xtask demo`: one synthetic call, and the account housekeeping, through the real function binaries.
//!
//! Starts moto (SSM holds the contact center's private key), a fake Salesforce that verifies every JWT, and a
//! Lambda Runtime API per function; then plays a call's life: the finished call's contact record through
//! `ctr-data-sync` and an abandoned call's disconnect event through `handle-contact-events`; then the
//! IAM SAML provider for single sign-on through `provider-creator` and the log clean-up through
//! `retention-period`. Prints what reached Salesforce and AWS and stops everything it started.

#![allow(clippy::print_stdout)] // a command-line program: printing is its job

use std::{process::ExitCode, time::Duration};

use scv_tests::{
    HarnessError,
    cfn_response::ResponseCatcher,
    events,
    fixture::Fixture,
    keys,
    moto::{Moto, unique},
    runtime_api::{FunctionProcess, Outcome, RuntimeApi, function_binary},
    salesforce::{AuthCheck, Recorded},
    workspace_root,
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

    let (provider_process, retention_process) = account_housekeeping(&moto).await?;

    for (name, process) in [
        ("ctr-data-sync", &ctr_process),
        ("handle-contact-events", &events_process),
        ("provider-creator", &provider_process),
        ("retention-period", &retention_process),
    ] {
        if let Some(kib) = process.peak_rss_kib() {
            println!("   {name}: peak memory {:.1} MiB", kib as f64 / 1024.0);
        }
    }
    Ok(())
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
