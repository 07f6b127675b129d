//! The Kinesis batch handler: each voicemail's customer audio streamed from KVS into a WAV in S3.

use std::{
    collections::HashMap,
    io::Cursor,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use aws_sdk_kinesisvideo::{
    error::{DisplayErrorContext, ProvideErrorMetadata},
    types::ApiName,
};
use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType};
use futures::StreamExt;
use kvs_media::{
    AudioCollector, CollectOptions, Event, Flow, Reader, Selection, StopReason,
    audio::{AUDIO_FROM_CUSTOMER, LEGACY_TRACK, SAMPLE_RATE},
    tags::CONTINUATION_TOKEN,
};
use lambda_runtime::LambdaEvent;
use scv_core::{
    Budget, Env,
    kinesis::{self, KinesisEventResponse, KinesisRecord},
    telemetry::{metric, record_span},
};
use serde_json::Value;
use tracing::Instrument;

use crate::voicemail::{Plan, Voicemail, duration_seconds, object_key, plan, tagging};

/// Voicemails processed at once, at most (`VOICEMAIL_CONCURRENCY`).
pub const DEFAULT_CONCURRENCY: usize = 5;
/// Time kept back from the invocation deadline to answer.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// A GetMedia body that sends nothing for this long after the wanted audio began is taken as ended (the
/// stop fragment was the stream's last, the stream is still open, and no continuation token closed it).
const IDLE_AFTER_AUDIO: Duration = Duration::from_secs(3);

/// What the handler needs, built once per container.
#[derive(Debug)]
pub struct Deps {
    pub kvs: aws_sdk_kinesisvideo::Client,
    pub s3: aws_sdk_s3::Client,
    pub aws: aws_config::SdkConfig,
    pub bucket: String,
    pub concurrency: usize,
    media: Mutex<HashMap<String, aws_sdk_kinesisvideomedia::Client>>,
}

impl Deps {
    /// Reads `s3_recordings_bucket` (or `RECORDINGS_BUCKET`) and builds the clients.
    pub async fn from_env() -> Result<Self, scv_core::ConfigError> {
        let aws = aws_config::load_from_env().await;
        Self::new(&Env::from_process(), aws)
    }

    /// The dependencies for `env`, with clients from `aws`.
    pub fn new(env: &Env, aws: aws_config::SdkConfig) -> Result<Self, scv_core::ConfigError> {
        let bucket = env
            .get("s3_recordings_bucket")
            .or_else(|| env.get("RECORDINGS_BUCKET"))
            .ok_or_else(|| scv_core::ConfigError::Missing {
                name: "s3_recordings_bucket".into(),
                meaning: "the S3 bucket for voicemail WAV files (RECORDINGS_BUCKET is also accepted)",
            })?
            .to_owned();
        let concurrency = env
            .parse::<usize>("VOICEMAIL_CONCURRENCY")?
            .unwrap_or(DEFAULT_CONCURRENCY)
            .max(1);
        Ok(Self {
            kvs: aws_sdk_kinesisvideo::Client::new(&aws),
            s3: scv_core::aws::s3_client(&aws),
            aws,
            bucket,
            concurrency,
            media: Mutex::default(),
        })
    }

    /// The GetMedia client for a data endpoint, built once per endpoint.
    fn media_client(&self, endpoint: &str) -> aws_sdk_kinesisvideomedia::Client {
        let mut clients = self.media.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(endpoint.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_kinesisvideomedia::config::Builder::from(&self.aws)
                    .endpoint_url(endpoint)
                    .build();
                aws_sdk_kinesisvideomedia::Client::from_conf(config)
            })
            .clone()
    }
}

/// Why a voicemail could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum VoicemailError {
    #[error("Kinesis Video stream {stream} does not exist")]
    StreamNotFound { stream: String },
    #[error("Kinesis Video {operation} failed: {detail}")]
    Kvs {
        operation: &'static str,
        detail: String,
        transient: bool,
    },
    #[error("the GetMedia stream is corrupt: {0}")]
    Media(#[from] kvs_media::Error),
    #[error("no customer audio between fragments {first} and {last}{}", stopped.as_ref().map(|s| format!(" (stopped: {s:?})")).unwrap_or_default())]
    NoAudio {
        first: String,
        last: String,
        stopped: Option<StopReason>,
    },
    #[error("writing the WAV failed: {0}")]
    Wav(String),
    #[error("storing s3://{bucket}/{key} failed: {detail}")]
    S3 {
        bucket: String,
        key: String,
        detail: String,
    },
    #[error("the invocation deadline came before the voicemail was stored")]
    Deadline,
}

impl VoicemailError {
    /// Whether Kinesis should deliver the record again: service and network failures yes; a missing
    /// stream, corrupt media or no audio no (retrying cannot change them).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Kvs { transient, .. } => *transient,
            Self::S3 { .. } | Self::Deadline | Self::Wav(_) => true,
            Self::StreamNotFound { .. } | Self::Media(_) | Self::NoAudio { .. } => false,
        }
    }
}

/// A stored voicemail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub samples: u64,
    pub duration_seconds: u64,
}

/// Handles one Kinesis batch of contact records.
pub async fn handle(
    deps: &Deps,
    event: LambdaEvent<Value>,
) -> Result<KinesisEventResponse, lambda_runtime::Error> {
    let budget = Budget::from_lambda(&event.context, DEADLINE_MARGIN);
    Ok(handle_batch(deps, &event.payload, &budget).await)
}

/// [`handle`] without the Lambda envelope: records run concurrently within `deps.concurrency`; the answer
/// lists the voicemails whose processing failed in a way a retry can mend.
pub async fn handle_batch(deps: &Deps, event: &Value, budget: &Budget) -> KinesisEventResponse {
    let records = kinesis::batch_records(event);
    let voicemails: Vec<(KinesisRecord, Voicemail)> = records.into_iter().filter_map(triage).collect();
    let mut failed: Vec<(usize, String)> = futures::stream::iter(voicemails)
        .map(|(record, voicemail)| async move {
            let span = record_span(&voicemail.contact_id);
            let result = store_voicemail(deps, &voicemail, budget).instrument(span.clone()).await;
            let _entered = span.enter();
            match result {
                Ok(stored) => {
                    tracing::info!(
                        sequence_number = record.sequence_number,
                        key = stored.key,
                        samples = stored.samples,
                        duration_seconds = stored.duration_seconds,
                        "voicemail stored"
                    );
                    metrics::counter!(metric::RECORDS_SUCCEEDED).increment(1);
                    None
                }
                Err(error) => {
                    let transient = error.is_transient();
                    tracing::error!(sequence_number = record.sequence_number, %error, transient, "voicemail not stored");
                    metrics::counter!(metric::RECORDS_FAILED).increment(1);
                    transient.then_some((record.position, record.sequence_number))
                }
            }
        })
        .buffer_unordered(deps.concurrency)
        .filter_map(futures::future::ready)
        .collect()
        .await;
    failed.sort_unstable();
    kinesis::batch_response(failed.iter().map(|(_, sequence)| sequence.as_str()))
}

/// Decides about one decoded record; skipped and malformed ones are logged and dropped.
fn triage(record: KinesisRecord) -> Option<(KinesisRecord, Voicemail)> {
    let document = record.document_or_skip()?;
    let contact_id = document
        .get("ContactId")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    let _span = record_span(contact_id).entered();
    match plan(document) {
        Ok(Plan::Process(voicemail)) => Some((record, voicemail)),
        Ok(Plan::Skip(skip)) => {
            tracing::info!(
                sequence_number = record.sequence_number,
                reason = skip.reason(),
                "skipping: {skip}"
            );
            metrics::counter!(metric::RECORDS_SKIPPED, "reason" => skip.reason()).increment(1);
            None
        }
        Err(error) => {
            tracing::error!(sequence_number = record.sequence_number, %error, "skipping a malformed voicemail record");
            metrics::counter!(metric::RECORDS_SKIPPED, "reason" => "malformed").increment(1);
            None
        }
    }
}

/// GetDataEndpoint, GetMedia from the first fragment, the customer track streamed through the reader until
/// past the last fragment (then the connection is dropped), WAV to S3 with its tags.
pub async fn store_voicemail(
    deps: &Deps,
    voicemail: &Voicemail,
    budget: &Budget,
) -> Result<Stored, VoicemailError> {
    let work = async {
        let pcm = read_customer_audio(deps, voicemail).await?;
        write_to_s3(deps, voicemail, pcm).await
    };
    match budget.remaining() {
        None => work.await,
        Some(left) => tokio::time::timeout(left, work)
            .await
            .map_err(|_| VoicemailError::Deadline)?,
    }
}

async fn read_customer_audio(
    deps: &Deps,
    voicemail: &Voicemail,
) -> Result<kvs_media::TrackAudio, VoicemailError> {
    let stream = &voicemail.stream_arn;
    let endpoint = deps
        .kvs
        .get_data_endpoint()
        .api_name(ApiName::GetMedia)
        .stream_arn(stream)
        .send()
        .await
        .map_err(|e| kvs_failure("GetDataEndpoint", stream, &e))?
        .data_endpoint
        .ok_or_else(|| VoicemailError::Kvs {
            operation: "GetDataEndpoint",
            detail: "no DataEndpoint in the answer".into(),
            transient: true,
        })?;
    let selector = StartSelector::builder()
        .start_selector_type(StartSelectorType::FragmentNumber)
        .after_fragment_number(&voicemail.first_fragment)
        .build()
        .map_err(|e| VoicemailError::Kvs {
            operation: "GetMedia",
            detail: e.to_string(),
            transient: false,
        })?;
    let mut output = deps
        .media_client(&endpoint)
        .get_media()
        .stream_arn(stream)
        .start_selector(selector)
        .send()
        .await
        .map_err(|e| kvs_failure("GetMedia", stream, &e))?;

    let mut reader = Reader::new();
    let mut collector = AudioCollector::new(CollectOptions {
        selection: Selection::Names(vec![AUDIO_FROM_CUSTOMER.into(), LEGACY_TRACK.into()]),
        first_fragment: Some(voicemail.first_fragment.clone()),
        last_fragment: Some(voicemail.last_fragment.clone()),
        contact_id: Some(voicemail.contact_id.clone()),
        stop_streaming: true,
    });
    let mut done = false;
    let mut audio_started = false;
    while !done {
        let next = output.payload.try_next();
        let chunk = if audio_started {
            match tokio::time::timeout(IDLE_AFTER_AUDIO, next).await {
                Ok(chunk) => chunk,
                Err(_) => {
                    tracing::info!("GetMedia went quiet after the voicemail's audio; taking it as complete");
                    Ok(None)
                }
            }
        } else {
            next.await
        };
        let chunk = chunk.map_err(|e| VoicemailError::Kvs {
            operation: "GetMedia body",
            detail: e.to_string(),
            transient: true,
        })?;
        let Some(chunk) = chunk else { break };
        let mut input: &[u8] = &chunk;
        while let Some(event) = reader.next(&mut input)? {
            audio_started |= matches!(event, Event::Frame(_));
            // KVS closes every fragment with its continuation token (= the fragment's number): the last
            // wanted fragment is complete then, without waiting for the next fragment's header, which a
            // stream at its live edge may not send for a long time.
            let last_complete = matches!(event, Event::Tag(tag)
                if tag.name == CONTINUATION_TOKEN && tag.value == voicemail.last_fragment);
            if feed(&mut collector, &event, &voicemail.last_fragment) {
                done = true;
                break;
            }
            if last_complete {
                feed(
                    &mut collector,
                    &Event::FragmentEnd(reader.fragment()),
                    &voicemail.last_fragment,
                );
                done = true;
                break;
            }
        }
    }
    // Drop the body now: a live stream is not read to its end (AD-23).
    drop(output);
    if !done && let Some(event) = reader.finish()? {
        feed(&mut collector, &event, &voicemail.last_fragment);
    }
    let stopped = collector.stopped().cloned();
    let track = collector
        .into_tracks()
        .into_iter()
        .find(|t| t.name == AUDIO_FROM_CUSTOMER || t.name == LEGACY_TRACK)
        .filter(|t| t.samples() > 0);
    track.ok_or_else(|| VoicemailError::NoAudio {
        first: voicemail.first_fragment.clone(),
        last: voicemail.last_fragment.clone(),
        stopped,
    })
}

/// A KVS SDK error: a missing stream cannot be mended by a retry, nor can an invalid argument; the rest
/// (throttling, limits, service and network errors) can.
fn kvs_failure<E>(operation: &'static str, stream: &str, error: &E) -> VoicemailError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error.code() {
        Some("ResourceNotFoundException") => VoicemailError::StreamNotFound {
            stream: stream.to_owned(),
        },
        code => VoicemailError::Kvs {
            operation,
            detail: DisplayErrorContext(error).to_string(),
            transient: code != Some("InvalidArgumentException"),
        },
    }
}

/// Feeds one event; `true` when reading can stop (the collector says so, or the last wanted fragment is
/// complete).
fn feed(collector: &mut AudioCollector, event: &Event<'_>, last_fragment: &str) -> bool {
    if let Flow::Stop(reason) = collector.push(event) {
        tracing::debug!(?reason, "stopped reading GetMedia");
        return true;
    }
    matches!(event, Event::FragmentEnd(fragment) if fragment.number() == Some(last_fragment))
}

async fn write_to_s3(
    deps: &Deps,
    voicemail: &Voicemail,
    track: kvs_media::TrackAudio,
) -> Result<Stored, VoicemailError> {
    let mut wav = Cursor::new(Vec::with_capacity(track.pcm.len() + 44));
    track
        .write_wav_to(&mut wav)
        .map_err(|e| VoicemailError::Wav(e.to_string()))?;
    let samples = track.samples();
    let duration = duration_seconds(samples, SAMPLE_RATE);
    let key = object_key(&voicemail.contact_id);
    deps.s3
        .put_object()
        .bucket(&deps.bucket)
        .key(&key)
        .content_type("audio/x-wav")
        .tagging(tagging(voicemail, duration, &deps.bucket))
        .body(wav.into_inner().into())
        .send()
        .await
        .map_err(|e| VoicemailError::S3 {
            bucket: deps.bucket.clone(),
            key: key.clone(),
            detail: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        })?;
    Ok(Stored {
        key,
        samples,
        duration_seconds: duration,
    })
}
