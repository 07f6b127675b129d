//! HandleContactEvents in-process: the real handler, the real SCRT client, the fake Salesforce over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use handle_contact_events::{Action, Deps, handle_event};
use scv_core::Budget;
use scv_tests::{
    events,
    fixture::{Fixture, fast_retries},
    salesforce::{Fault, FaultAction},
};
use serde_json::Value;

const PACKAGE: &str = "handle-contact-events";

fn deps(fx: &Fixture) -> Deps {
    Deps {
        scrt: fx.scrt_client(fast_retries()).unwrap(),
    }
}

#[tokio::test]
async fn every_sample_event_gets_the_right_call_or_none() {
    let expected = [
        (
            "abandoned-in-queue",
            Action::ClearRouting,
            Some("/telephony/v1/voiceCalls/5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e/clearRouting"),
        ),
        ("abandoned-missing-contact-id", Action::None, None),
        ("answered-then-disconnected", Action::None, None),
        ("outbound-disconnected", Action::None, None),
        ("queued", Action::None, None),
        ("routing-step-active", Action::None, None),
        (
            "routing-step-expired",
            Action::Reroute,
            Some("/telephony/v1/voiceCalls/91a2b3c4-d5e6-4f70-8182-9d0e1f203142/reroute"),
        ),
        (
            "transfer-abandoned",
            Action::ClearRouting,
            Some("/telephony/v1/voiceCalls/6e7f8091-a2b3-4c4d-9e5f-6a7b8c9d0e1f/clearRouting"),
        ),
    ];
    assert_eq!(
        events::cases(PACKAGE).unwrap(),
        expected.iter().map(|(c, ..)| c.to_string()).collect::<Vec<_>>(),
        "every sample is covered"
    );
    for (case, action, path) in expected {
        let fx = Fixture::start().await.unwrap();
        let summary = handle_event(
            &deps(&fx),
            &events::read(PACKAGE, case).unwrap(),
            &Budget::unbounded(),
        )
        .await
        .unwrap();
        assert_eq!(summary.action, action, "{case}: {summary:?}");
        let requests = fx.salesforce.requests();
        match path {
            Some(path) => {
                assert_eq!(requests.len(), 1, "{case}");
                assert_eq!(
                    (
                        requests[0].method.as_str(),
                        requests[0].path.as_str(),
                        requests[0].status
                    ),
                    ("PATCH", path, 200),
                    "{case}"
                );
                assert_eq!(requests[0].body, Value::Null, "{case}: no body");
            }
            None => assert!(requests.is_empty(), "{case}: {requests:?}"),
        }
    }
}

#[tokio::test]
async fn the_summary_says_what_was_done_and_why() {
    let fx = Fixture::start().await.unwrap();
    let summary = handle_event(
        &deps(&fx),
        &events::read(PACKAGE, "abandoned-in-queue").unwrap(),
        &Budget::unbounded(),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(&summary).unwrap(),
        serde_json::json!({
            "action": "clearRouting",
            "contactId": "5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e",
            "eventType": "DISCONNECTED",
            "reason": "abandoned before an agent answered: pending routing cleared"
        })
    );
    let missing = handle_event(
        &deps(&fx),
        &events::read(PACKAGE, "abandoned-missing-contact-id").unwrap(),
        &Budget::unbounded(),
    )
    .await
    .unwrap();
    assert_eq!(
        missing.reason,
        "ClearRouting needed but detail.contactId is missing"
    );
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_a_final_one_fails_the_invocation() {
    let fx = Fixture::start().await.unwrap();
    let event = events::read(PACKAGE, "routing-step-expired").unwrap();
    fx.salesforce
        .add_fault(Fault::times("/reroute", FaultAction::Status(503), 2));
    let summary = handle_event(&deps(&fx), &event, &Budget::unbounded())
        .await
        .unwrap();
    assert_eq!(summary.action, Action::Reroute);

    fx.salesforce
        .add_fault(Fault::always("/reroute", FaultAction::Status(500)));
    let error = handle_event(&deps(&fx), &event, &Budget::unbounded())
        .await
        .unwrap_err();
    assert_eq!(error.source.status(), Some(500));
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Salesforce.ServerError");
    assert!(
        diagnostic
            .error_message
            .contains("91a2b3c4-d5e6-4f70-8182-9d0e1f203142"),
        "{}",
        diagnostic.error_message
    );
}
