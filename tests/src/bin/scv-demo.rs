//! `cargo xtask demo`: one synthetic call through the real function binaries.
//!
//! Starts moto (SSM holds the contact center's private key), a fake Salesforce that verifies every JWT, and a
//! Lambda Runtime API per function; then plays a call's life: the finished call's contact record through
//! `ctr-data-sync` and an abandoned call's disconnect event through `handle-contact-events`. Prints what
//! reached Salesforce and stops everything it started.

#![allow(clippy::print_stdout)] // a command-line program: printing is its job

use std::{process::ExitCode, time::Duration};

use scv_tests::{
    HarnessError, events,
    fixture::Fixture,
    keys,
    moto::{Moto, unique},
    runtime_api::{FunctionProcess, Outcome, RuntimeApi, function_binary},
    salesforce::{AuthCheck, Recorded},
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

    for (name, process) in [
        ("ctr-data-sync", &ctr_process),
        ("handle-contact-events", &events_process),
    ] {
        if let Some(kib) = process.peak_rss_kib() {
            println!("   {name}: peak memory {:.1} MiB", kib as f64 / 1024.0);
        }
    }
    Ok(())
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
