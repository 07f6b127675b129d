//! Secrets never reach logs, errors or `Debug` output; log lines carry the record's contact id.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use scv_core::{Budget, Env, RestClient, ScrtClient, SecretStore, telemetry};
use scv_tests::{
    fixture::{CONSUMER_KEY, Fixture, USERNAME},
    logs::CapturedLogs,
    moto::{Moto, unique},
    salesforce::{Fault, FaultAction},
};
use serde_json::{Value, json};
use tracing::Instrument;

/// Runs every credential path at debug level with JSON logs, then looks for each secret in the output.
#[tokio::test(flavor = "current_thread")]
async fn no_key_jwt_or_token_appears_in_logs_errors_or_debug_output() {
    let logs = CapturedLogs::default();
    let env = Env::from_pairs([("LOG_LEVEL", "trace"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let _guard = tracing::subscriber::set_default(telemetry::subscriber(&env, logs.writer()));

    let moto = Moto::start().await.unwrap();
    let fx = Fixture::start().await.unwrap();
    let store = SecretStore::new(moto.sdk_config());
    let (scrt_param, rest_param, consumer_param) = (unique("scrt"), unique("rest"), unique("ck"));
    moto.put_secure_parameter(&scrt_param, &fx.scrt_key.pkcs1_pem())
        .await
        .unwrap();
    moto.put_secure_parameter(&rest_param, &fx.rest_key.pkcs8_pem())
        .await
        .unwrap();
    moto.put_secure_parameter(&consumer_param, CONSUMER_KEY)
        .await
        .unwrap();

    let mut scrt_env = fx.scrt_env();
    scrt_env.push(("PRIVATE_KEY_PARAM_NAME".into(), scrt_param));
    let scrt = ScrtClient::load(&Env::from_pairs(scrt_env), &store)
        .await
        .unwrap();
    let rest = RestClient::load(
        &Env::from_pairs([
            ("SALESFORCE_AUTH_ENDPOINT", fx.salesforce.token_url()),
            ("CONSUMER_KEY_PARAM_NAME", consumer_param),
            ("REST_PRIVATE_KEY_PARAM_NAME", rest_param),
            ("SUBJECT", USERNAME.to_owned()),
            ("AUDIENCE", "https://login.salesforce.com".to_owned()),
            ("SALESFORCE_RETRY_BASE_MS", "10".to_owned()),
        ]),
        &store,
    )
    .await
    .unwrap();
    let budget = Budget::unbounded();

    let mut errors = Vec::new();
    async {
        fx.salesforce
            .add_fault(Fault::times("/voiceCalls/c-1", FaultAction::Status(401), 1));
        scrt.update_voice_call(
            "c-1",
            &json!({"isActiveCall": false}).as_object().cloned().unwrap(),
            &budget,
        )
        .await
        .unwrap();
        fx.salesforce
            .add_fault(Fault::always("/voiceCalls/c-2", FaultAction::Status(401)));
        errors.push(scrt.clear_routing("c-2", &budget).await.unwrap_err());
        rest.get("limits", &budget).await.unwrap();
        fx.salesforce.expire_sessions();
        rest.get("limits", &budget).await.unwrap();
        fx.salesforce.add_fault(Fault::always(
            "/services/data/v66.0/broken",
            FaultAction::Status(503),
        ));
        errors.push(rest.get("broken", &budget).await.unwrap_err());
    }
    .instrument(telemetry::record_span("c-1"))
    .await;

    let mut secrets: Vec<String> = fx
        .salesforce
        .requests()
        .into_iter()
        .filter_map(|r| r.bearer)
        .collect();
    for request in fx
        .salesforce
        .requests()
        .iter()
        .filter(|r| r.path == "/services/oauth2/token")
    {
        secrets.push(request.body.as_str().unwrap_or_default().to_owned());
    }
    for pem in [fx.scrt_key.pkcs1_pem(), fx.rest_key.pkcs8_pem()] {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        secrets.extend(
            body.as_bytes()
                .chunks(32)
                .map(|c| String::from_utf8_lossy(c).into_owned()),
        );
    }
    secrets.push(CONSUMER_KEY.to_owned());
    assert!(secrets.len() > 20, "the run produced credentials to look for");
    let assertion = secrets
        .iter()
        .find(|s| s.contains("assertion="))
        .cloned()
        .unwrap();
    secrets.push(assertion.split("assertion=").nth(1).unwrap().to_owned());

    let text = logs.text();
    let outputs = [
        text.clone(),
        format!("{scrt:?} {rest:?} {store:?}"),
        errors
            .iter()
            .map(|e| format!("{e} {e:?}"))
            .collect::<Vec<_>>()
            .join("\n"),
    ];
    for output in &outputs {
        for secret in &secrets {
            assert!(
                !output.contains(secret.as_str()),
                "a secret leaked: {secret:.12}… in\n{output}"
            );
        }
    }
    assert!(text.contains("minted a Salesforce access token"), "{text}");
    assert!(text.contains("Salesforce refused the credential"), "{text}");
    for line in text.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

#[test]
fn every_line_inside_a_record_span_carries_the_contact_id() {
    let logs = CapturedLogs::default();
    let env = Env::from_pairs([("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    tracing::subscriber::with_default(telemetry::subscriber(&env, logs.writer()), || {
        let _entered = telemetry::record_span("4a1c-contact").entered();
        tracing::info!(sequence_number = "495", "updated the VoiceCall");
        tracing::debug!("not shown at the default level");
    });
    let lines: Vec<Value> = logs
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["span"]["contact_id"], "4a1c-contact");
    assert_eq!(lines[0]["message"], "updated the VoiceCall");
    assert_eq!(lines[0]["level"], "INFO");

    let text_logs = CapturedLogs::default();
    let env = Env::from_pairs([("LOG_LEVEL", "debug")]);
    tracing::subscriber::with_default(telemetry::subscriber(&env, text_logs.writer()), || {
        let _entered = telemetry::record_span("c-9").entered();
        tracing::debug!("shown at debug");
    });
    let text = text_logs.text();
    assert!(
        text.contains("record{contact_id=c-9}") && text.contains("shown at debug"),
        "{text}"
    );
}
