//! The SCRT telephony client against the fake Salesforce over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use axum::http::Method;
use scv_core::{
    Budget, RetryPolicy, SalesforceError,
    salesforce::{
        BulkTranscriptEntry, NewVoiceCall, OmniFlowRequest, SenderType, TranscriptMessage,
        VoiceCallParticipant,
    },
};
use scv_tests::{
    fixture::{CALL_CENTER, Fixture, ORG_ID, fast_retries},
    salesforce::{AuthCheck, Fault, FaultAction},
};
use serde_json::{Map, Value, json};

fn fields() -> Map<String, Value> {
    json!({"startTime": "2026-11-23T10:00:00Z", "endTime": "2026-11-23T10:05:00Z", "isActiveCall": false})
        .as_object()
        .cloned()
        .unwrap()
}

fn claims(check: &AuthCheck) -> &Value {
    match check {
        AuthCheck::Jwt(claims) => claims,
        other => panic!("expected a verified JWT, got {other:?}"),
    }
}

#[tokio::test]
async fn jwt_claims_signature_and_headers_are_what_scrt_expects() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();

    let answer = client
        .update_voice_call("contact-1", &fields(), &Budget::unbounded())
        .await
        .unwrap();

    assert_eq!(answer, json!({"status": "pending"}));
    let requests = fx.salesforce.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, Method::PATCH);
    assert_eq!(request.path, "/telephony/v1/voiceCalls/contact-1");
    let claims = claims(&request.auth);
    assert_eq!(claims["iss"], ORG_ID);
    assert_eq!(claims["sub"], CALL_CENTER);
    assert_eq!(claims["aud"], "https://scrt.salesforce.com");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
    assert_eq!(request.headers["telephony-provider-name"], "amazon-connect");
    assert_eq!(request.headers["content-type"], "application/json");
    let mut expected = fields();
    expected.insert("callCenterApiName".into(), CALL_CENTER.into());
    assert_eq!(request.body, Value::Object(expected));
    let header = request.bearer.as_deref().unwrap().split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&base64_url(header)).unwrap();
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
}

fn base64_url(part: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}

#[tokio::test]
async fn one_jwt_serves_many_calls_and_is_resigned_shortly_before_expiry() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();
    let budget = Budget::unbounded();

    for n in 0..3 {
        client
            .update_voice_call(&format!("c{n}"), &fields(), &budget)
            .await
            .unwrap();
    }
    fx.clock.advance(Duration::from_secs(230));
    client.clear_routing("c3", &budget).await.unwrap();
    // 4 minutes and a bit: less than a minute of validity left, so a new JWT is signed.
    fx.clock.advance(Duration::from_secs(15));
    client.reroute("c4", &budget).await.unwrap();

    let requests = fx.salesforce.requests();
    assert!(requests.iter().all(|r| r.status == 200), "{requests:#?}");
    let bearers: Vec<&str> = requests.iter().map(|r| r.bearer.as_deref().unwrap()).collect();
    assert!(
        bearers[..4].iter().all(|b| *b == bearers[0]),
        "the first JWT is reused for 4 calls"
    );
    assert_ne!(
        bearers[4], bearers[0],
        "a JWT with less than a minute left is replaced"
    );
    assert_ne!(claims(&requests[4].auth)["jti"], claims(&requests[0].auth)["jti"]);
}

#[tokio::test]
async fn concurrent_calls_share_one_signature() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();
    let budget = Budget::unbounded();
    let calls = (0..100).map(|n| {
        let client = &client;
        let budget = &budget;
        async move {
            client
                .update_voice_call(&format!("c{n}"), &fields(), budget)
                .await
        }
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    let bearers: HashSet<String> = fx
        .salesforce
        .requests()
        .into_iter()
        .filter_map(|r| r.bearer)
        .collect();
    assert_eq!(bearers.len(), 1);
    assert_eq!(fx.salesforce.voice_calls().len(), 100);
}

#[tokio::test]
async fn a_401_is_answered_by_exactly_one_fresh_jwt() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();
    let budget = Budget::unbounded();
    client
        .update_voice_call("warm", &fields(), &budget)
        .await
        .unwrap();

    fx.salesforce
        .add_fault(Fault::times("/voiceCalls/once", FaultAction::Status(401), 1));
    client
        .update_voice_call("once", &fields(), &budget)
        .await
        .unwrap();
    let once: Vec<_> = fx
        .salesforce
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/once"))
        .collect();
    assert_eq!(once.len(), 2);
    assert_eq!((once[0].status, once[1].status), (401, 200));
    assert_ne!(
        once[0].bearer, once[1].bearer,
        "the retry carries a freshly signed JWT"
    );

    fx.salesforce
        .add_fault(Fault::always("/voiceCalls/always", FaultAction::Status(401)));
    let err = client
        .update_voice_call("always", &fields(), &budget)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some("INVALID_SESSION_ID"));
    let always = fx
        .salesforce
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/always"))
        .count();
    assert_eq!(always, 2, "401 gets one re-sign, not a loop");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_with_backoff_then_succeed() {
    let fx = Fixture::start().await.unwrap();
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(40),
        ..fast_retries()
    };
    let client = fx.scrt_client(policy).unwrap();
    fx.salesforce
        .add_fault(Fault::times("/voiceCalls/busy", FaultAction::Status(429), 2));
    fx.salesforce
        .add_fault(Fault::times("/voiceCalls/down", FaultAction::Status(503), 1));

    client
        .update_voice_call("busy", &fields(), &Budget::unbounded())
        .await
        .unwrap();
    client.clear_routing("down", &Budget::unbounded()).await.unwrap();

    let busy: Vec<_> = fx
        .salesforce
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/busy"))
        .collect();
    assert_eq!(busy.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 429, 200]);
    let first_gap = busy[1].at - busy[0].at;
    let second_gap = busy[2].at - busy[1].at;
    assert!(
        first_gap >= Duration::from_millis(20),
        "first backoff {first_gap:?} is at least half the base"
    );
    assert!(
        second_gap >= Duration::from_millis(40),
        "second backoff {second_gap:?} is at least half of twice the base"
    );
    let down: Vec<u16> = fx
        .salesforce
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/down/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(down, [503, 200]);
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_a_typed_error() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();
    fx.salesforce
        .add_fault(Fault::always("/voiceCalls/broken", FaultAction::Status(500)));

    let err = client
        .update_voice_call("broken", &fields(), &Budget::unbounded())
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            SalesforceError::Status {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("SERVER_ERROR"));
    assert!(err.is_transient());
    assert_eq!(fx.salesforce.requests().len(), 4);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fx = Fixture::start().await.unwrap();
    let policy = RetryPolicy {
        max_delay: Duration::from_secs(2),
        ..fast_retries()
    };
    let client = fx.scrt_client(policy).unwrap();
    fx.salesforce.add_fault(Fault::times(
        "/voiceCalls/later",
        FaultAction::StatusRetryAfter(429, 1),
        1,
    ));

    client
        .update_voice_call("later", &fields(), &Budget::unbounded())
        .await
        .unwrap();

    let requests = fx.salesforce.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(1));
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();
    fx.salesforce
        .add_fault(Fault::always("/voiceCalls/bad", FaultAction::Status(400)));

    let err = client
        .update_voice_call("bad", &fields(), &Budget::unbounded())
        .await
        .unwrap_err();

    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("SCRIPTED"));
    assert!(!err.is_transient());
    assert_eq!(fx.salesforce.requests().len(), 1);
    assert!(
        err.to_string()
            .starts_with("updateVoiceCall: Salesforce answered HTTP 400 SCRIPTED"),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_salesforce_gives_a_timeout_error_within_the_deadline() {
    let fx = Fixture::start().await.unwrap();
    let policy = RetryPolicy {
        request_timeout: Duration::from_millis(200),
        max_attempts: 3,
        ..fast_retries()
    };
    let client = fx.scrt_client(policy).unwrap();
    fx.salesforce.add_fault(Fault::always(
        "/voiceCalls/slow",
        FaultAction::Delay(Duration::from_secs(5)),
    ));

    let started = Instant::now();
    let err = client
        .update_voice_call("slow", &fields(), &Budget::unbounded())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SalesforceError::Timeout { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // With a generous per-request timeout, the invocation deadline is what cuts the call short.
    let client = fx
        .scrt_client(RetryPolicy {
            request_timeout: Duration::from_secs(30),
            ..fast_retries()
        })
        .unwrap();
    let started = Instant::now();
    let err = client
        .update_voice_call("slow", &fields(), &Budget::within(Duration::from_millis(700)))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            err,
            SalesforceError::Timeout { .. } | SalesforceError::Deadline { .. }
        ),
        "{err:?}"
    );
    assert!(
        elapsed < Duration::from_millis(900),
        "{elapsed:?} past a 700 ms deadline"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();
    fx.salesforce
        .add_fault(Fault::times("/voiceCalls/flaky", FaultAction::Drop, 1));

    client
        .update_voice_call("flaky", &fields(), &Budget::unbounded())
        .await
        .unwrap();

    let statuses: Vec<u16> = fx.salesforce.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 200], "the dropped request, then the retry");
    assert_eq!(fx.salesforce.voice_calls().len(), 1);
}

#[tokio::test]
async fn an_unreachable_salesforce_is_a_connection_error_after_the_retries() {
    let fx = Fixture::start().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = scv_core::Env::from_pairs([
        ("SALESFORCE_ORG_ID", ORG_ID.to_owned()),
        ("CALL_CENTER_API_NAME", CALL_CENTER.to_owned()),
        (
            "SCRT_ENDPOINT_BASE",
            format!("http://127.0.0.1:{port}/telephony/v1"),
        ),
    ]);
    let mut settings = scv_core::salesforce::ScrtSettings::from_env(&env).unwrap();
    settings.retry = fast_retries();
    let key = scv_core::RsaSigningKey::from_pem(&fx.scrt_key.pkcs8_pem()).unwrap();
    let client = scv_core::ScrtClient::new(settings, key).unwrap();

    let err = client.reroute("c", &Budget::unbounded()).await.unwrap_err();
    assert!(
        matches!(err, SalesforceError::Connection { attempts: 4, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn every_operation_has_its_documented_wire_format() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();
    let budget = Budget::unbounded();
    let message = |n: i64| TranscriptMessage {
        participant_id: "c1END_USER".into(),
        message_id: format!("m{n}"),
        start_time: 1_700_000_000_000 + n,
        end_time: 1_700_000_000_500 + n,
        content: "hello".into(),
        sender_type: SenderType::EndUser,
    };

    client.clear_routing("c1", &budget).await.unwrap();
    client.reroute("c1", &budget).await.unwrap();
    assert_eq!(
        client
            .create_transcript("c1", &message(0), &budget)
            .await
            .unwrap(),
        json!({"result": "Accepted"})
    );
    let entries = vec![BulkTranscriptEntry {
        vendor_call_key: "c1".into(),
        messages: (0..12).map(message).collect(),
    }];
    client.create_transcripts_bulk(&entries, &budget).await.unwrap();
    let many: Vec<_> = (0..7)
        .map(|c| BulkTranscriptEntry {
            vendor_call_key: format!("k{c}"),
            messages: vec![message(c)],
        })
        .collect();
    client.create_transcripts_bulk(&many, &budget).await.unwrap();
    let created = client
        .create_voice_call(
            &NewVoiceCall {
                vendor_call_key: "c2".into(),
                to: "+15550100".into(),
                from: "+15550199".into(),
                initiation_method: "Inbound".into(),
                start_time: "2026-11-23T10:00:00Z".into(),
                participants: vec![VoiceCallParticipant {
                    participant_key: "+15550199".into(),
                    kind: "END_USER".into(),
                }],
                parent_voice_call_id: None,
                call_origin: None,
                queue: None,
                call_subtype: Some("PSTN".into()),
                call_attributes: None,
            },
            &budget,
        )
        .await
        .unwrap();
    assert!(created.voice_call_id.starts_with("0LQ"));
    let routed = client
        .execute_omni_flow(
            "c2",
            &OmniFlowRequest {
                dialed_number: "+15550100".into(),
                flow_dev_name: Some("Route_Calls".into()),
                fallback_queue: None,
                flow_input_parameters: None,
                transfer_target: None,
            },
            &budget,
        )
        .await
        .unwrap();
    assert_eq!(routed.agent.as_deref(), Some("agent-external-id"));

    let seen: Vec<(String, String, Value)> = fx
        .salesforce
        .requests()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path, r.body))
        .collect();
    let paths: Vec<(&str, &str)> = seen.iter().map(|(m, p, _)| (m.as_str(), p.as_str())).collect();
    assert_eq!(
        paths,
        [
            ("PATCH", "/telephony/v1/voiceCalls/c1/clearRouting"),
            ("PATCH", "/telephony/v1/voiceCalls/c1/reroute"),
            ("POST", "/telephony/v1/voiceCalls/c1/messages"),
            ("POST", "/telephony/v1/voiceCalls/messages"),
            ("POST", "/telephony/v1/voiceCalls/messages"),
            ("POST", "/telephony/v1/voiceCalls/messages"),
            ("POST", "/telephony/v1/voiceCalls"),
            ("PATCH", "/telephony/v1/voiceCalls/c2/omniFlow"),
        ]
    );
    assert_eq!(seen[0].2, Value::Null, "clearRouting has no body");
    assert_eq!(seen[1].2, Value::Null, "reroute has no body");
    assert_eq!(seen[2].2["senderType"], "END_USER");
    let bulk_sizes: Vec<usize> = seen[3].2["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messages"].as_array().unwrap().len())
        .collect();
    assert_eq!(bulk_sizes, [5, 5, 2], "at most 5 messages per entry, in order");
    let split: Vec<usize> = seen[4..6]
        .iter()
        .map(|(_, _, b)| b["entries"].as_array().unwrap().len())
        .collect();
    assert_eq!(split, [5, 2], "at most 5 entries per request");
    assert_eq!(seen[6].2["callCenterApiName"], CALL_CENTER);
    assert_eq!(seen[6].2["participants"][0]["type"], "END_USER");
    assert_eq!(
        seen[7].2,
        json!({"dialedNumber": "+15550100", "flowDevName": "Route_Calls"})
    );
}

#[tokio::test]
async fn contact_ids_are_path_encoded_and_empty_ones_refused() {
    let fx = Fixture::start().await.unwrap();
    let client = fx.scrt_client(fast_retries()).unwrap();
    client.clear_routing("a/b c", &Budget::unbounded()).await.unwrap();
    assert_eq!(
        fx.salesforce.requests()[0].path,
        "/telephony/v1/voiceCalls/a%2Fb%20c/clearRouting"
    );
    let err = client.clear_routing(" ", &Budget::unbounded()).await.unwrap_err();
    assert!(matches!(err, SalesforceError::InvalidRequest { .. }), "{err:?}");
}
