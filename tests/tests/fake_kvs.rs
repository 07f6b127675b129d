//! The fake KVS answers the real AWS SDK clients as Kinesis Video Streams does.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_kinesisvideo::{config::Credentials, types::ApiName};
use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType};
use scv_tests::kvs::{FakeKvs, MediaFault, MediaFragment};

const ARN: &str = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/scvcc-connect-contact-1/1795428300000";

fn fragments() -> Vec<MediaFragment> {
    (0..4)
        .map(|n| MediaFragment {
            number: format!("9134385233318143239268206261883746532539347986{n}"),
            producer_ms: 1_795_428_300_000 + n * 1000,
            server_ms: 1_795_428_300_100 + n * 1000,
            bytes: vec![n as u8; 3000 + n as usize * 100],
        })
        .collect()
}

async fn clients(kvs: &FakeKvs) -> (aws_sdk_kinesisvideo::Client, aws_config::SdkConfig) {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(kvs.endpoint())
        .load()
        .await;
    (aws_sdk_kinesisvideo::Client::new(&config), config)
}

async fn get_media(
    config: &aws_config::SdkConfig,
    endpoint: &str,
    selector: StartSelector,
) -> Result<(Vec<u8>, usize), String> {
    let media = aws_sdk_kinesisvideomedia::Client::from_conf(
        aws_sdk_kinesisvideomedia::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build(),
    );
    let mut output = media
        .get_media()
        .stream_arn(ARN)
        .start_selector(selector)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let mut bytes = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = output.payload.try_next().await.map_err(|e| e.to_string())? {
        bytes.extend_from_slice(&chunk);
        chunks += 1;
    }
    Ok((bytes, chunks))
}

fn selector(kind: StartSelectorType, fragment: Option<&str>, token: Option<&str>) -> StartSelector {
    StartSelector::builder()
        .start_selector_type(kind)
        .set_after_fragment_number(fragment.map(str::to_owned))
        .set_continuation_token(token.map(str::to_owned))
        .build()
        .unwrap()
}

#[tokio::test]
async fn get_data_endpoint_then_get_media_from_a_fragment_number() {
    let kvs = FakeKvs::start().await.unwrap();
    let fragments = fragments();
    kvs.add_stream(ARN, fragments.clone(), false);
    let (control, config) = clients(&kvs).await;

    let endpoint = control
        .get_data_endpoint()
        .api_name(ApiName::GetMedia)
        .stream_arn(ARN)
        .send()
        .await
        .unwrap();
    let endpoint = endpoint.data_endpoint.unwrap();
    assert_eq!(endpoint, kvs.endpoint());

    let (bytes, chunks) = get_media(
        &config,
        &endpoint,
        selector(
            StartSelectorType::FragmentNumber,
            Some(&fragments[1].number),
            None,
        ),
    )
    .await
    .unwrap();
    let expected: Vec<u8> = fragments[1..].iter().flat_map(|f| f.bytes.clone()).collect();
    assert_eq!(bytes, expected, "from the given fragment on");
    assert!(chunks > 5, "the body arrives in many odd-sized pieces ({chunks})");

    let (after, _) = get_media(
        &config,
        &endpoint,
        selector(
            StartSelectorType::ContinuationToken,
            None,
            Some(&fragments[2].number),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        after, fragments[3].bytes,
        "a continuation token resumes after its fragment"
    );
    let requests = kvs.requests();
    assert!(requests.iter().all(|r| r.signed), "SigV4-signed");
    assert_eq!(
        requests[1].body["StartSelector"]["StartSelectorType"],
        "FRAGMENT_NUMBER"
    );
}

#[tokio::test]
async fn unknown_streams_and_scripted_errors_are_service_errors() {
    let kvs = FakeKvs::start().await.unwrap();
    let (control, config) = clients(&kvs).await;
    let err = control
        .get_data_endpoint()
        .api_name(ApiName::GetMedia)
        .stream_arn(ARN)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_resource_not_found_exception());

    kvs.add_stream(ARN, fragments(), false);
    kvs.set_fault(ARN, MediaFault::Status(400, "ClientLimitExceededException"));
    let err = get_media(
        &config,
        &kvs.endpoint(),
        selector(StartSelectorType::Earliest, None, None),
    )
    .await
    .unwrap_err();
    assert!(err.contains("ClientLimitExceededException"), "{err}");

    kvs.set_fault(ARN, MediaFault::CutShort(5000));
    let err = get_media(
        &config,
        &kvs.endpoint(),
        selector(StartSelectorType::Earliest, None, None),
    )
    .await
    .unwrap_err();
    assert!(!err.is_empty());
}

#[tokio::test]
async fn a_live_stream_stays_open_until_the_client_hangs_up() {
    let kvs = FakeKvs::start().await.unwrap();
    let fragments = fragments();
    kvs.add_stream(ARN, fragments.clone(), true);
    let (_, config) = clients(&kvs).await;
    let media = aws_sdk_kinesisvideomedia::Client::from_conf(
        aws_sdk_kinesisvideomedia::config::Builder::from(&config)
            .endpoint_url(kvs.endpoint())
            .build(),
    );
    let mut output = media
        .get_media()
        .stream_arn(ARN)
        .start_selector(selector(StartSelectorType::Earliest, None, None))
        .send()
        .await
        .unwrap();
    let total: usize = fragments.iter().map(|f| f.bytes.len()).sum();
    let mut received = 0;
    while received < total {
        received += output.payload.try_next().await.unwrap().unwrap().len();
    }
    let more = tokio::time::timeout(Duration::from_millis(300), output.payload.try_next()).await;
    assert!(more.is_err(), "nothing more, but the body does not end");
    assert_eq!(kvs.open_bodies(), 1);
    drop(output);
    for _ in 0..100 {
        if kvs.open_bodies() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the fake still sends after the client hung up");
}
