//! The REST client and the OAuth 2.0 JWT bearer flow, against the fake Salesforce, with its credentials
//! in a real moto server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use scv_core::{Budget, Env, RestClient, SalesforceError, SecretStore};
use scv_tests::{
    fixture::{AUDIENCE, CONSUMER_KEY, Fixture, USERNAME, fast_retries},
    moto::{Moto, unique},
    salesforce::AuthCheck,
};
use serde_json::{Value, json};

struct Setup {
    moto: Moto,
    fx: Fixture,
    env: Vec<(String, String)>,
}

/// Puts the consumer key, private key and audience in SSM; the subject is given as a value.
async fn setup() -> Setup {
    let moto = Moto::start().await.unwrap();
    let fx = Fixture::start().await.unwrap();
    let (consumer, key, audience) = (unique("ck"), unique("rest-key"), unique("aud"));
    moto.put_secure_parameter(&consumer, CONSUMER_KEY).await.unwrap();
    moto.put_secure_parameter(&key, &fx.rest_key.pkcs8_pem())
        .await
        .unwrap();
    moto.put_secure_parameter(&audience, &format!("{AUDIENCE}/"))
        .await
        .unwrap();
    let env = vec![
        ("SALESFORCE_AUTH_ENDPOINT".into(), fx.salesforce.token_url()),
        ("CONSUMER_KEY_PARAM_NAME".into(), consumer),
        ("REST_PRIVATE_KEY_PARAM_NAME".into(), key),
        ("SUBJECT".into(), USERNAME.into()),
        ("AUDIENCE".into(), audience),
        (
            "SALESFORCE_MAX_ATTEMPTS".into(),
            fast_retries().max_attempts.to_string(),
        ),
        ("SALESFORCE_RETRY_BASE_MS".into(), "20".into()),
    ];
    Setup { moto, fx, env }
}

async fn client(setup: &Setup) -> RestClient {
    RestClient::load(
        &Env::from_pairs(setup.env.clone()),
        &SecretStore::new(setup.moto.sdk_config()),
    )
    .await
    .unwrap()
    .with_clock(setup.fx.clock.clone())
}

#[tokio::test]
async fn one_token_is_minted_for_many_concurrent_calls() {
    let setup = setup().await;
    let client = client(&setup).await;
    let budget = Budget::unbounded();

    let calls = (0..20).map(|n| {
        let (client, budget) = (&client, &budget);
        async move { client.get(&format!("sobjects/VoiceCall/0LQ{n}"), budget).await }
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    client
        .get("query?q=SELECT+Id+FROM+VoiceCall", &budget)
        .await
        .unwrap();

    assert_eq!(setup.fx.salesforce.tokens_issued(), 1);
    assert_eq!(client.tokens_minted(), 1);
    let token_request = &setup.fx.salesforce.requests()[0];
    assert_eq!(token_request.path, "/services/oauth2/token");
    let AuthCheck::Assertion(claims) = &token_request.auth else {
        panic!("{:?}", token_request.auth)
    };
    assert_eq!(claims["iss"], CONSUMER_KEY);
    assert_eq!(claims["sub"], USERNAME);
    assert_eq!(
        claims["aud"], AUDIENCE,
        "a trailing slash in the stored audience is dropped"
    );
    assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 180);
    let rest: Vec<_> = setup.fx.salesforce.requests().into_iter().skip(1).collect();
    assert_eq!(rest.len(), 21);
    assert!(
        rest.iter()
            .all(|r| r.status == 200 && r.path.starts_with("/services/data/v66.0/")),
        "{rest:#?}"
    );
}

#[tokio::test]
async fn an_expired_session_is_reminted_once_and_the_call_repeated() {
    let setup = setup().await;
    let client = client(&setup).await;
    let budget = Budget::unbounded();
    client
        .patch("sobjects/VoiceCall/0LQ1", &json!({"Description": "a"}), &budget)
        .await
        .unwrap();

    setup.fx.salesforce.expire_sessions();
    let answer = client
        .patch("sobjects/VoiceCall/0LQ1", &json!({"Description": "b"}), &budget)
        .await
        .unwrap();

    assert_eq!(answer, Value::Null, "204 No Content");
    assert_eq!(setup.fx.salesforce.tokens_issued(), 2);
    let statuses: Vec<(String, u16)> = setup
        .fx
        .salesforce
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("/services/oauth2/token".to_owned(), 200),
            ("/services/data/v66.0/sobjects/VoiceCall/0LQ1".to_owned(), 204),
            ("/services/data/v66.0/sobjects/VoiceCall/0LQ1".to_owned(), 401),
            ("/services/oauth2/token".to_owned(), 200),
            ("/services/data/v66.0/sobjects/VoiceCall/0LQ1".to_owned(), 204),
        ]
    );
}

#[tokio::test]
async fn the_token_is_reminted_after_its_ttl() {
    let mut setup = setup().await;
    setup.env.push(("SALESFORCE_TOKEN_TTL_SECS".into(), "600".into()));
    let client = client(&setup).await;
    let budget = Budget::unbounded();
    client
        .post("sobjects/Task", &json!({"Subject": "x"}), &budget)
        .await
        .unwrap();
    setup.fx.clock.advance(std::time::Duration::from_secs(601));
    let created = client
        .post("sobjects/Task", &json!({"Subject": "y"}), &budget)
        .await
        .unwrap();
    assert_eq!(created["success"], true);
    assert_eq!(setup.fx.salesforce.tokens_issued(), 2);
}

#[tokio::test]
async fn a_refused_grant_is_a_typed_error_and_not_retried() {
    let mut setup = setup().await;
    let wrong = unique("ck");
    setup
        .moto
        .put_secure_parameter(&wrong, "WRONG-CONSUMER-KEY")
        .await
        .unwrap();
    setup.env.retain(|(k, _)| k != "CONSUMER_KEY_PARAM_NAME");
    setup.env.push(("CONSUMER_KEY_PARAM_NAME".into(), wrong));
    let client = client(&setup).await;

    let err = client.get("limits", &Budget::unbounded()).await.unwrap_err();

    assert!(
        matches!(err, SalesforceError::Status { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("invalid_grant"));
    assert_eq!(setup.fx.salesforce.requests().len(), 1);
}

#[tokio::test]
async fn the_configured_api_base_is_used_and_paths_join_below_it() {
    let mut setup = setup().await;
    let base = format!("{}/services/data/v67.0", setup.fx.salesforce.base_url());
    setup.env.push(("SALESFORCE_REST_API_ENDPOINT_BASE".into(), base));
    let client = client(&setup).await;
    client
        .get("/sobjects/VoiceCall/describe", &Budget::unbounded())
        .await
        .unwrap();
    let paths: Vec<String> = setup
        .fx
        .salesforce
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        paths,
        [
            "/services/oauth2/token",
            "/services/data/v67.0/sobjects/VoiceCall/describe"
        ]
    );
}

#[tokio::test]
async fn credentials_can_come_from_the_contact_center_json_secret() {
    let setup = setup().await;
    let id = unique("scv-secret");
    let secret = json!({
        "CALL_CENTER_API_NAME": "CC1",
        "SALESFORCE_AUTH_ENDPOINT": setup.fx.salesforce.token_url(),
        "CC1-salesforce-rest-api-auth-consumer-key": CONSUMER_KEY,
        "CC1-salesforce-rest-api-auth-private-key": scv_tests::keys::one_line_with_literal_newlines(&setup.fx.rest_key.pkcs1_pem()),
        "CC1-salesforce-rest-api-subject": USERNAME,
        "CC1-salesforce-rest-api-audience": AUDIENCE,
    });
    setup.moto.create_secret(&id, &secret.to_string()).await.unwrap();
    let env = Env::from_pairs([("PRIVATE_KEY_SECRET_ID", id)]);
    let client = RestClient::load(&env, &SecretStore::new(setup.moto.sdk_config()))
        .await
        .unwrap();
    client.get("limits", &Budget::unbounded()).await.unwrap();
    assert_eq!(setup.fx.salesforce.tokens_issued(), 1);
}

#[tokio::test]
async fn missing_rest_configuration_is_named() {
    let setup = setup().await;
    let store = SecretStore::new(setup.moto.sdk_config());
    let without = |name: &str| Env::from_pairs(setup.env.iter().filter(|(k, _)| k != name).cloned());
    for name in [
        "SALESFORCE_AUTH_ENDPOINT",
        "CONSUMER_KEY_PARAM_NAME",
        "SUBJECT",
        "AUDIENCE",
    ] {
        let err = RestClient::load(&without(name), &store)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(name), "{name}: {err}");
    }
}
