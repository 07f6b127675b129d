//! ProviderCreator in-process: IAM and S3 on a real moto server, CloudFormation's ResponseURL on a local
//! stand-in. Every branch, each run twice where that matters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::time::Duration;

use provider_creator::{ANSWER_TIME, AnswerError, Deps, handle_request, provider_arn};
use scv_core::Budget;
use scv_tests::{
    cfn_response::ResponseCatcher,
    events,
    moto::{Moto, unique},
    workspace_root,
};
use serde_json::{Value, json};

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:provider-creator";

fn metadata() -> String {
    std::fs::read_to_string(workspace_root().join("tests/data/salesforce-idp-metadata.xml")).unwrap()
}

struct Setup {
    moto: Moto,
    deps: Deps,
    catcher: ResponseCatcher,
    bucket: String,
    name: String,
}

impl Setup {
    async fn new() -> Self {
        let moto = Moto::start().await.unwrap();
        let bucket = unique("scv-saml");
        moto.create_bucket(&bucket).await.unwrap();
        moto.put_object(
            &bucket,
            "saml/salesforce-idp-metadata.xml",
            metadata().into_bytes(),
        )
        .await
        .unwrap();
        let deps = Deps {
            iam: aws_sdk_iam::Client::new(moto.sdk_config()),
            s3: moto.s3(),
            http: reqwest::Client::new(),
        };
        let name = format!("SalesforceServiceVoiceIdp_{}", &unique("00D")[..20]);
        Self {
            moto,
            deps,
            catcher: ResponseCatcher::start().await.unwrap(),
            bucket,
            name,
        }
    }

    fn arn(&self) -> String {
        provider_arn(FUNCTION_ARN, &self.name).unwrap()
    }

    /// A sample event pointed at this setup's bucket, provider name and response stand-in.
    fn event(&self, case: &str) -> Value {
        let mut event = events::read("provider-creator", case).unwrap();
        event["ResponseURL"] = json!(self.catcher.url());
        if let Some(properties) = event["ResourceProperties"].as_object_mut() {
            properties.insert("S3BucketForSaml".into(), json!(self.bucket));
            properties.insert("Name".into(), json!(self.name));
        }
        if event.get("PhysicalResourceId").is_some() {
            event["PhysicalResourceId"] = json!(self.arn());
        }
        event
    }

    async fn send(&self, event: &Value) -> Value {
        let body = handle_request(
            &self.deps,
            event,
            FUNCTION_ARN,
            &Budget::within(Duration::from_secs(30)),
        )
        .await
        .unwrap();
        let accepted = self.catcher.accepted();
        assert_eq!(
            accepted.last(),
            Some(&body),
            "the answer CloudFormation got is the one returned"
        );
        body
    }

    async fn stored_document(&self) -> Option<String> {
        let provider = self
            .deps
            .iam
            .get_saml_provider()
            .saml_provider_arn(self.arn())
            .send()
            .await
            .ok()?;
        provider.saml_metadata_document
    }
}

#[tokio::test]
async fn create_makes_the_provider_and_a_second_create_changes_nothing() {
    let setup = Setup::new().await;
    let event = setup.event("create");

    let first = setup.send(&event).await;
    assert_eq!(first["Status"], "SUCCESS", "{first}");
    assert_eq!(first["Reason"], "the SAML provider was created");
    assert_eq!(first["PhysicalResourceId"], setup.arn());
    assert_eq!(
        first["Data"],
        json!({"Arn": setup.arn(), "Reason": "the SAML provider was created"})
    );
    assert_eq!(first["StackId"], event["StackId"]);
    assert_eq!(first["RequestId"], event["RequestId"]);
    assert_eq!(first["LogicalResourceId"], "IdentityProvider");
    assert_eq!(
        setup.stored_document().await.as_deref(),
        Some(metadata().as_str())
    );

    let second = setup.send(&event).await;
    assert_eq!(second["Status"], "SUCCESS");
    assert_eq!(second["Reason"], "the SAML provider is up to date");
    assert_eq!(second["PhysicalResourceId"], first["PhysicalResourceId"]);
    let caught = setup.catcher.caught();
    assert_eq!(
        caught[0].content_type.as_deref(),
        Some(""),
        "presigned S3 URLs want no content type"
    );
    assert!(caught[0].path_and_query.contains("X-Amz-Signature=abc"));
}

#[tokio::test]
async fn create_refreshes_an_existing_provider_whose_metadata_differs() {
    let setup = Setup::new().await;
    let stale = metadata().replace("HttpRedirect", "HttpRedirectOld");
    setup
        .deps
        .iam
        .create_saml_provider()
        .name(&setup.name)
        .saml_metadata_document(&stale)
        .send()
        .await
        .unwrap();

    let body = setup.send(&setup.event("create")).await;

    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["Reason"], "the SAML provider's metadata was updated");
    assert_eq!(
        setup.stored_document().await.as_deref(),
        Some(metadata().as_str())
    );
}

#[tokio::test]
async fn update_compares_documents_ignoring_whitespace_and_valid_until() {
    let setup = Setup::new().await;
    setup.send(&setup.event("create")).await;
    let update = setup.event("update");

    let reformatted = metadata()
        .replace("2036-11-21T10:00:00.000Z", "2037-05-01T00:00:00.000Z")
        .replace("\n   ", "\r\n\t");
    setup
        .moto
        .put_object(
            &setup.bucket,
            "saml/salesforce-idp-metadata.xml",
            reformatted.into_bytes(),
        )
        .await
        .unwrap();
    let unchanged = setup.send(&update).await;
    assert_eq!(unchanged["Reason"], "the SAML provider is up to date");
    assert_eq!(
        setup.stored_document().await.as_deref(),
        Some(metadata().as_str()),
        "not rewritten"
    );

    let rotated = metadata().replace("HttpPost", "HttpPostNew");
    setup
        .moto
        .put_object(
            &setup.bucket,
            "saml/salesforce-idp-metadata.xml",
            rotated.clone().into_bytes(),
        )
        .await
        .unwrap();
    let changed = setup.send(&update).await;
    assert_eq!(changed["Status"], "SUCCESS");
    assert_eq!(changed["Reason"], "the SAML provider's metadata was updated");
    assert_eq!(
        changed["PhysicalResourceId"],
        setup.arn(),
        "same id: no replacement"
    );
    assert_eq!(setup.stored_document().await.as_deref(), Some(rotated.as_str()));
}

#[tokio::test]
async fn update_recreates_a_provider_deleted_behind_the_stacks_back() {
    let setup = Setup::new().await;
    let body = setup.send(&setup.event("update")).await;
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["Reason"], "the SAML provider was created");
    assert!(setup.stored_document().await.is_some());
}

#[tokio::test]
async fn delete_removes_the_provider_and_a_second_delete_succeeds() {
    let setup = Setup::new().await;
    setup.send(&setup.event("create")).await;
    let delete = setup.event("delete");

    let first = setup.send(&delete).await;
    assert_eq!(
        (first["Status"].as_str(), first["Reason"].as_str()),
        (Some("SUCCESS"), Some("the SAML provider was deleted"))
    );
    assert!(setup.stored_document().await.is_none());
    let second = setup.send(&delete).await;
    assert_eq!(
        (second["Status"].as_str(), second["Reason"].as_str()),
        (Some("SUCCESS"), Some("the SAML provider was already gone"))
    );
    assert_eq!(second["PhysicalResourceId"], setup.arn());

    let mut after_failed_create = delete.clone();
    after_failed_create["PhysicalResourceId"] = json!("IdentityProvider-not-created");
    let third = setup.send(&after_failed_create).await;
    assert_eq!(third["Status"], "SUCCESS");
    assert_eq!(third["PhysicalResourceId"], "IdentityProvider-not-created");
}

#[tokio::test]
async fn every_wrong_input_is_answered_failed_with_its_reason() {
    let setup = Setup::new().await;

    let unknown = setup.send(&setup.event("unknown-request-type")).await;
    assert_eq!(unknown["Status"], "FAILED");
    assert_eq!(
        unknown["Reason"],
        "unknown RequestType \"Replace\": expected Create, Update or Delete"
    );
    assert_eq!(
        unknown["PhysicalResourceId"],
        setup.arn(),
        "the physical id CloudFormation knows is kept"
    );

    let missing = setup.send(&setup.event("missing-metadata-property")).await;
    assert_eq!(missing["Status"], "FAILED");
    assert!(
        missing["Reason"]
            .as_str()
            .unwrap()
            .contains("ResourceProperties.S3BucketForSaml and ResourceProperties.Metadata")
    );

    let mut no_object = setup.event("create");
    no_object["ResourceProperties"]["Metadata"] = json!("saml/missing.xml");
    let body = setup.send(&no_object).await;
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(
        body["Reason"],
        format!(
            "the SAML metadata s3://{}/saml/missing.xml does not exist",
            setup.bucket
        )
    );

    setup
        .moto
        .put_object(
            &setup.bucket,
            "saml/login-page.html",
            format!("<html>{}</html>", "x".repeat(2000)).into_bytes(),
        )
        .await
        .unwrap();
    let mut not_saml = setup.event("create");
    not_saml["ResourceProperties"]["Metadata"] = json!("saml/login-page.html");
    let body = setup.send(&not_saml).await;
    assert_eq!(body["Status"], "FAILED");
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("not a SAML 2.0 md:EntityDescriptor"),
        "{body}"
    );
    assert!(setup.stored_document().await.is_none(), "nothing reached IAM");

    let mut bad_name = setup.event("create");
    bad_name["ResourceProperties"]["Name"] = json!("bad name!");
    let body = setup.send(&bad_name).await;
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["PhysicalResourceId"], "IdentityProvider-not-created");

    let garbage = json!({"ResponseURL": setup.catcher.url(), "hello": "world"});
    let body = setup.send(&garbage).await;
    assert_eq!(body["Status"], "FAILED");

    let err = handle_request(
        &setup.deps,
        &json!({"RequestType": "Create"}),
        FUNCTION_ARN,
        &Budget::unbounded(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AnswerError::NoResponseUrl));
}

#[tokio::test]
async fn the_answer_is_retried_when_the_response_url_fails() {
    let setup = Setup::new().await;
    setup.catcher.fail_next(2);
    let body = setup.send(&setup.event("create")).await;
    assert_eq!(body["Status"], "SUCCESS");
    let statuses: Vec<u16> = setup.catcher.caught().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
}

#[tokio::test]
async fn work_still_running_at_the_deadline_is_answered_failed_in_time() {
    let setup = Setup::new().await;
    // Leaves the work no time at all: the answer must still go out.
    let budget = Budget::within(ANSWER_TIME + Duration::from_millis(1));
    let body = handle_request(&setup.deps, &setup.event("create"), FUNCTION_ARN, &budget)
        .await
        .unwrap();
    assert_eq!(body["Status"], "FAILED");
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("did not finish before the Lambda deadline"),
        "{body}"
    );
    assert_eq!(setup.catcher.accepted(), [body]);
}
