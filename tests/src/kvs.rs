//! A fake Kinesis Video Streams on 127.0.0.1: `GetDataEndpoint` (control plane) and `GetMedia` (data plane),
//! speaking the AWS JSON protocol the SDK uses.
//!
//! Each stream is a list of fragments (numbered, time-stamped, already encoded as the Matroska documents
//! GetMedia returns). `GetMedia` honours the start selector (`EARLIEST`, `FRAGMENT_NUMBER` from the given
//! fragment on, `CONTINUATION_TOKEN` after the given fragment, `PRODUCER_TIMESTAMP`/`SERVER_TIMESTAMP`,
//! `NOW`), sends the body in odd-sized chunks with small pauses, and can script the errors users meet:
//! `ResourceNotFoundException` (also for unknown streams), other status errors, a body cut short, and a
//! live stream that stays open after its last fragment until the client hangs up.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

use crate::{
    HarnessError,
    server::{Served, lock},
};

/// One fragment as GetMedia returns it.
#[derive(Debug, Clone)]
pub struct MediaFragment {
    /// `AWS_KINESISVIDEO_FRAGMENT_NUMBER`, a decimal string.
    pub number: String,
    /// Producer timestamp, epoch milliseconds.
    pub producer_ms: u64,
    /// Server timestamp, epoch milliseconds.
    pub server_ms: u64,
    /// The encoded Matroska document of the fragment.
    pub bytes: Vec<u8>,
}

/// A call as Connect streams it: PCM per track (in the writer's track order) cut into ~1 s fragments
/// numbered from `first_index`, each tagged with `contact_id`.
pub fn connect_fragments(
    writer: &kvs_media::ConnectStreamWriter,
    contact_id: &str,
    first_index: u64,
    start_ms: i64,
    tracks: &[&[u8]],
) -> Vec<MediaFragment> {
    const FRAGMENT_BYTES: usize = 16_000;
    let longest = tracks.iter().map(|t| t.len()).max().unwrap_or(0);
    (0..longest.div_ceil(FRAGMENT_BYTES).max(1))
        .map(|i| {
            let audio: Vec<&[u8]> = tracks
                .iter()
                .map(|pcm| {
                    &pcm[(i * FRAGMENT_BYTES).min(pcm.len())..((i + 1) * FRAGMENT_BYTES).min(pcm.len())]
                })
                .collect();
            let number = kvs_media::writer::fragment_number(first_index + i as u64);
            let producer_ms = start_ms + i as i64 * 1000;
            let mut bytes = Vec::new();
            writer.write_fragment(
                &kvs_media::FragmentSpec {
                    number: &number,
                    producer_timestamp_ms: producer_ms,
                    server_timestamp_ms: producer_ms + 120,
                    contact_id: Some(contact_id),
                    instance_id: Some("8f5c2a1e-4b7d-4c3e-9a1f-2d6e8b0c4f11"),
                    audio: &audio,
                    ..kvs_media::FragmentSpec::default()
                },
                &mut bytes,
            );
            MediaFragment {
                number,
                producer_ms: producer_ms as u64,
                server_ms: producer_ms as u64 + 120,
                bytes,
            }
        })
        .collect()
}

/// `seconds` of a sine at `hz`, 8 kHz s16le.
pub fn tone(hz: f64, seconds: f64, amplitude: f64) -> Vec<u8> {
    let samples = (seconds * 8000.0) as usize;
    (0..samples)
        .flat_map(|n| {
            let value = (amplitude * (2.0 * std::f64::consts::PI * hz * n as f64 / 8000.0).sin()) as i16;
            value.to_le_bytes()
        })
        .collect()
}

/// A scripted failure of a stream's `GetMedia`.
#[derive(Debug, Clone)]
pub enum MediaFault {
    /// Answer this status with this `x-amzn-errortype` (e.g. 400 `ClientLimitExceededException`).
    Status(u16, &'static str),
    /// Send this many bytes of the body, then break the connection.
    CutShort(usize),
}

#[derive(Debug, Clone, Default)]
struct KvsStream {
    fragments: Vec<MediaFragment>,
    live: bool,
    fault: Option<MediaFault>,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct KvsRequest {
    pub path: String,
    pub body: Value,
    pub signed: bool,
}

#[derive(Default)]
struct Shared {
    streams: Mutex<HashMap<String, KvsStream>>,
    requests: Mutex<Vec<KvsRequest>>,
    base_url: Mutex<String>,
    open_bodies: Mutex<usize>,
}

/// A running fake KVS; stops when dropped.
pub struct FakeKvs {
    served: Served,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeKvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKvs")
            .field("addr", &self.served.addr)
            .finish_non_exhaustive()
    }
}

impl FakeKvs {
    pub async fn start() -> Result<Self, HarnessError> {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/getDataEndpoint", post(get_data_endpoint))
            .route("/getMedia", post(get_media))
            .with_state(shared.clone());
        let served = Served::start(|_| app).await?;
        *lock(&shared.base_url) = format!("http://{}", served.addr);
        Ok(Self { served, shared })
    }

    /// `http://127.0.0.1:<port>`: the control-plane endpoint (`AWS_ENDPOINT_URL_KINESIS_VIDEO`) and the
    /// data endpoint it hands out.
    pub fn endpoint(&self) -> String {
        lock(&self.shared.base_url).clone()
    }

    /// Adds (or replaces) a stream; `live` keeps GetMedia bodies open after the last fragment.
    pub fn add_stream(&self, arn: &str, fragments: Vec<MediaFragment>, live: bool) {
        lock(&self.shared.streams).insert(
            arn.to_owned(),
            KvsStream {
                fragments,
                live,
                fault: None,
            },
        );
    }

    /// Makes the stream's next GetMedia calls fail.
    pub fn set_fault(&self, arn: &str, fault: MediaFault) {
        if let Some(stream) = lock(&self.shared.streams).get_mut(arn) {
            stream.fault = Some(fault);
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<KvsRequest> {
        lock(&self.shared.requests).clone()
    }

    /// GetMedia bodies still being sent (a live stream the client has not hung up on).
    pub fn open_bodies(&self) -> usize {
        *lock(&self.shared.open_bodies)
    }
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut response = (status, axum::Json(json!({ "message": message }))).into_response();
    if let Ok(value) = error_type.parse() {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}

fn record(shared: &Shared, path: &str, headers: &HeaderMap, body: &Bytes) -> Value {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    lock(&shared.requests).push(KvsRequest {
        path: path.to_owned(),
        body: body.clone(),
        signed: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256")),
    });
    body
}

fn stream_key(body: &Value) -> Option<String> {
    body.get("StreamARN")
        .or_else(|| body.get("StreamName"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

async fn get_data_endpoint(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body = record(&shared, "/getDataEndpoint", &headers, &body);
    let Some(key) = stream_key(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentException",
            "StreamARN or StreamName is required",
        );
    };
    let known = lock(&shared.streams)
        .keys()
        .any(|arn| arn == &key || arn.contains(&format!("/{key}/")));
    if !known {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "The requested stream does not exist",
        );
    }
    let endpoint = lock(&shared.base_url).clone();
    axum::Json(json!({ "DataEndpoint": endpoint })).into_response()
}

/// The index of the first fragment the selector asks for.
fn start_index(fragments: &[MediaFragment], selector: &Value) -> Result<usize, String> {
    let kind = selector
        .get("StartSelectorType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let text = |key: &str| selector.get(key).and_then(Value::as_str);
    let seconds = || {
        selector
            .get("StartTimestamp")
            .and_then(Value::as_f64)
            .map(|s| (s * 1000.0) as u64)
    };
    let position = |number: &str| fragments.iter().position(|f| f.number == number);
    match kind {
        "EARLIEST" => Ok(0),
        "NOW" => Ok(fragments.len()),
        "FRAGMENT_NUMBER" => {
            let number = text("AfterFragmentNumber").ok_or("AfterFragmentNumber is required")?;
            position(number).ok_or_else(|| format!("fragment {number} not found"))
        }
        "CONTINUATION_TOKEN" => {
            let token = text("ContinuationToken").ok_or("ContinuationToken is required")?;
            position(token)
                .map(|i| i + 1)
                .ok_or_else(|| format!("continuation token {token} not found"))
        }
        "PRODUCER_TIMESTAMP" | "SERVER_TIMESTAMP" => {
            let start = seconds().ok_or("StartTimestamp is required")?;
            let producer = kind == "PRODUCER_TIMESTAMP";
            Ok(fragments
                .iter()
                .position(|f| (if producer { f.producer_ms } else { f.server_ms }) >= start)
                .unwrap_or(fragments.len()))
        }
        other => Err(format!("unknown StartSelectorType {other:?}")),
    }
}

/// Chunk sizes that cut elements anywhere: 1, 7, 61, 509, 4093 bytes, round and round.
const CHUNK_SIZES: [usize; 5] = [1, 7, 61, 509, 4093];

async fn get_media(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body = record(&shared, "/getMedia", &headers, &body);
    let Some(key) = stream_key(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentException",
            "StreamARN or StreamName is required",
        );
    };
    let stream = lock(&shared.streams)
        .iter()
        .find(|(arn, _)| **arn == key || arn.contains(&format!("/{key}/")))
        .map(|(_, s)| s.clone());
    let Some(stream) = stream else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "The requested stream does not exist",
        );
    };
    if let Some(MediaFault::Status(status, kind)) = &stream.fault {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, kind, "scripted GetMedia failure");
    }
    let start = match start_index(
        &stream.fragments,
        body.get("StartSelector").unwrap_or(&Value::Null),
    ) {
        Ok(start) => start,
        Err(message) => return error(StatusCode::BAD_REQUEST, "InvalidArgumentException", &message),
    };
    let mut bytes: Vec<u8> = stream.fragments[start.min(stream.fragments.len())..]
        .iter()
        .flat_map(|f| f.bytes.clone())
        .collect();
    let cut = match stream.fault {
        Some(MediaFault::CutShort(after)) => {
            bytes.truncate(after);
            true
        }
        _ => false,
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    *lock(&shared.open_bodies) += 1;
    let counter = shared.clone();
    tokio::spawn(async move {
        let mut offset = 0;
        let mut turn = 0;
        while offset < bytes.len() {
            let size = CHUNK_SIZES[turn % CHUNK_SIZES.len()].min(bytes.len() - offset);
            if sender
                .send(Ok(Bytes::copy_from_slice(&bytes[offset..offset + size])))
                .await
                .is_err()
            {
                break;
            }
            offset += size;
            turn += 1;
            if turn % 16 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        if cut {
            let _ = sender
                .send(Err(std::io::Error::other("scripted: connection cut")))
                .await;
        } else if stream.live {
            // A live stream: nothing more to say, but the connection stays open until the client leaves.
            sender.closed().await;
        }
        *lock(&counter.open_bodies) -= 1;
    });
    let body = Body::from_stream(tokio_stream_from(receiver));
    let mut response = (StatusCode::OK, body).into_response();
    if let Ok(value) = "video/webm".parse() {
        response.headers_mut().insert("content-type", value);
    }
    response
}

fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
