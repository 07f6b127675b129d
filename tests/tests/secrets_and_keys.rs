//! Keys and parameters from a real moto server (SSM and Secrets Manager) through the real SDK clients,
//! every PEM shape administrators store, and clear errors for what is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use scv_core::{
    Budget, Env, Error, RsaSigningKey, ScrtClient, SecretStore, SecretsError, secrecy::ExposeSecret,
};
use scv_tests::{
    fixture::{CALL_CENTER, Fixture, ORG_ID},
    keys::{self, TestKey},
    moto::{Moto, unique},
};
use serde_json::json;

/// The shapes one key can be stored in, by name.
fn pem_variants(key: &TestKey) -> Vec<(&'static str, String)> {
    vec![
        ("PKCS#1 multi-line", key.pkcs1_pem()),
        ("PKCS#8 multi-line", key.pkcs8_pem()),
        (
            "PKCS#8 body under an RSA PRIVATE KEY label",
            key.mislabelled_pem(),
        ),
        (
            "PKCS#1 one line with literal \\n",
            keys::one_line_with_literal_newlines(&key.pkcs1_pem()),
        ),
        (
            "PKCS#8 one line with literal \\r\\n",
            keys::one_line_with_literal_crlf(&key.pkcs8_pem()),
        ),
        ("PKCS#1 with CRLF line ends", keys::crlf(&key.pkcs1_pem())),
        (
            "PKCS#8 one line with spaces",
            keys::one_line_with_spaces(&key.pkcs8_pem()),
        ),
        (
            "mislabelled, one line with literal \\n",
            keys::one_line_with_literal_newlines(&key.mislabelled_pem()),
        ),
        ("bare base64 DER", key.bare_base64()),
        (
            "quoted PKCS#1",
            format!("\"{}\"", keys::one_line_with_literal_newlines(&key.pkcs1_pem())),
        ),
    ]
}

fn env(fx: &Fixture, extra: &[(&str, &str)]) -> Env {
    let mut pairs = fx.scrt_env();
    pairs.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Env::from_pairs(pairs)
}

#[tokio::test]
async fn every_pem_shape_from_ssm_signs_jwts_salesforce_accepts() {
    let moto = Moto::start().await.unwrap();
    let fx = Fixture::start().await.unwrap();
    let store = SecretStore::new(moto.sdk_config());
    for (shape, pem) in pem_variants(&fx.scrt_key) {
        let name = unique("scrt-key");
        moto.put_secure_parameter(&name, &pem).await.unwrap();
        let client = ScrtClient::load(&env(&fx, &[("PRIVATE_KEY_PARAM_NAME", &name)]), &store)
            .await
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
        client
            .clear_routing("c1", &Budget::unbounded())
            .await
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
    }
    let accepted = fx
        .salesforce
        .requests()
        .iter()
        .filter(|r| r.status == 200)
        .count();
    assert_eq!(accepted, pem_variants(&fx.scrt_key).len());
}

#[tokio::test]
async fn a_4096_bit_key_works_too() {
    let key = TestKey::generate_sized(aws_lc_rs::rsa::KeySize::Rsa4096).unwrap();
    assert_eq!(
        RsaSigningKey::from_pem(&key.pkcs1_pem()).unwrap().modulus_bits(),
        4096
    );
}

#[tokio::test]
async fn a_json_secret_holds_the_key_and_fills_in_missing_variables() {
    let moto = Moto::start().await.unwrap();
    let fx = Fixture::start().await.unwrap();
    let id = unique("scv-secret");
    let secret = json!({
        format!("{CALL_CENTER}-scrt-jwt-auth-private-key"): keys::one_line_with_literal_crlf(&fx.scrt_key.pkcs1_pem()),
        "SALESFORCE_ORG_ID": ORG_ID,
        "SCRT_ENDPOINT_BASE": fx.salesforce.scrt_base(),
        "CALL_CENTER_API_NAME": CALL_CENTER,
    });
    moto.create_secret(&id, &secret.to_string()).await.unwrap();
    let only_the_secret = Env::from_pairs([("PRIVATE_KEY_SECRET_ID", id.as_str())]);

    let client = ScrtClient::load(&only_the_secret, &SecretStore::new(moto.sdk_config()))
        .await
        .unwrap();
    client.reroute("c1", &Budget::unbounded()).await.unwrap();

    assert_eq!(fx.salesforce.requests()[0].status, 200);
}

#[tokio::test]
async fn a_bare_pem_secret_works_and_deployment_variables_win() {
    let moto = Moto::start().await.unwrap();
    let fx = Fixture::start().await.unwrap();
    let id = unique("scv-bare");
    moto.create_secret(&id, &fx.scrt_key.pkcs8_pem()).await.unwrap();

    let client = ScrtClient::load(
        &env(&fx, &[("PRIVATE_KEY_SECRET_ID", &id)]),
        &SecretStore::new(moto.sdk_config()),
    )
    .await
    .unwrap();
    client.reroute("c1", &Budget::unbounded()).await.unwrap();
    assert_eq!(fx.salesforce.requests()[0].status, 200);
}

#[tokio::test]
async fn missing_parameters_and_secrets_are_named() {
    let moto = Moto::start().await.unwrap();
    let fx = Fixture::start().await.unwrap();
    let store = SecretStore::new(moto.sdk_config());

    let err = ScrtClient::load(
        &env(&fx, &[("PRIVATE_KEY_PARAM_NAME", "no-such-parameter")]),
        &store,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Secrets(SecretsError::ParameterNotFound { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "SSM parameter \"no-such-parameter\" does not exist (check PRIVATE_KEY_PARAM_NAME)"
    );

    let err = ScrtClient::load(&env(&fx, &[("PRIVATE_KEY_SECRET_ID", "no-such-secret")]), &store)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Secrets Manager secret \"no-such-secret\" does not exist (check PRIVATE_KEY_SECRET_ID)"
    );

    let id = unique("scv-wrong-keys");
    moto.create_secret(&id, &json!({"other-key": "x"}).to_string())
        .await
        .unwrap();
    let err = ScrtClient::load(&env(&fx, &[("PRIVATE_KEY_SECRET_ID", &id)]), &store)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "without the key \"{CALL_CENTER}-scrt-jwt-auth-private-key\""
        )),
        "{err}"
    );

    let err = ScrtClient::load(&env(&fx, &[]), &store).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("PRIVATE_KEY_PARAM_NAME or PRIVATE_KEY_SECRET_ID"),
        "{err}"
    );

    let name = unique("scrt-key");
    moto.put_secure_parameter(&name, &fx.scrt_key.pkcs1_pem())
        .await
        .unwrap();
    let mut pairs = vec![("PRIVATE_KEY_PARAM_NAME".to_owned(), name)];
    pairs.extend(
        fx.scrt_env()
            .into_iter()
            .filter(|(k, _)| k != "SCRT_ENDPOINT_BASE"),
    );
    let err = ScrtClient::load(&Env::from_pairs(pairs), &store)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable SCRT_ENDPOINT_BASE is required (the SCRT telephony API base URL) but is not set"
    );
}

#[tokio::test]
async fn a_garbled_key_is_refused_without_showing_it() {
    let moto = Moto::start().await.unwrap();
    let fx = Fixture::start().await.unwrap();
    let store = SecretStore::new(moto.sdk_config());
    let pem = fx.scrt_key.pkcs1_pem();
    let garbled = pem.replacen("MII", "MII!!", 1);
    for (value, expected) in [
        (garbled.as_str(), "not valid base64"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
            "neither a PKCS#1 nor a PKCS#8",
        ),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
            "encrypted",
        ),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "without a matching END"),
    ] {
        let name = unique("bad-key");
        moto.put_secure_parameter(&name, value).await.unwrap();
        let err = ScrtClient::load(&env(&fx, &[("PRIVATE_KEY_PARAM_NAME", &name)]), &store)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expected) && text.contains(&name), "{text}");
        assert!(!text.contains("MII"), "the error shows key material: {text}");
    }
}

#[tokio::test]
async fn parameters_are_read_once_per_container() {
    let moto = Moto::start().await.unwrap();
    let store = SecretStore::new(moto.sdk_config());
    let name = unique("cached");
    moto.put_secure_parameter(&name, "first").await.unwrap();

    assert_eq!(
        store.parameter(&name, "X").await.unwrap().expose_secret(),
        "first"
    );
    moto.put_secure_parameter(&name, "second").await.unwrap();
    let clone = store.clone();
    assert_eq!(
        clone.parameter(&name, "X").await.unwrap().expose_secret(),
        "first",
        "served from the cache"
    );
    assert_eq!(
        SecretStore::new(moto.sdk_config())
            .parameter(&name, "X")
            .await
            .unwrap()
            .expose_secret(),
        "second",
        "a new container reads again"
    );
}

#[tokio::test]
async fn the_moto_launcher_seeds_s3_too() {
    let moto = Moto::start().await.unwrap();
    let bucket = unique("scv-bucket");
    moto.create_bucket(&bucket).await.unwrap();
    moto.put_object(&bucket, "saml/metadata.xml", b"<EntityDescriptor/>".to_vec())
        .await
        .unwrap();
    let object = moto
        .s3()
        .get_object()
        .bucket(&bucket)
        .key("saml/metadata.xml")
        .send()
        .await
        .unwrap();
    assert_eq!(
        object.body.collect().await.unwrap().into_bytes().as_ref(),
        b"<EntityDescriptor/>"
    );
}
