//! # VoiceMailAudioProcessing
//!
//! Turns each voicemail left in Amazon Connect into a WAV file in S3, record by record.
//!
//! * **Trigger**: the contact-record Kinesis stream (`ReportBatchItemFailures`).
//! * **Selection** ([`voicemail::plan`]): `Attributes.vm_flag == "1"` with `vm_lang` and `vm_from` is a
//!   voicemail; `"0"` means already processed; anything else is skipped with a log line. The audio is in
//!   Kinesis Video Streams at `Recordings[0]` (`Location` = stream ARN, `FragmentStartNumber`,
//!   `FragmentStopNumber`).
//! * **Audio**: `GetDataEndpoint(GET_MEDIA)`, then `GetMedia` from the start fragment, **streamed** through
//!   `kvs-media`'s reader; only the **customer** track (`AUDIO_FROM_CUSTOMER`, or the legacy single track)
//!   is kept, never the agent side (AD-22); fragments of another ContactId (a reused stream) are dropped;
//!   reading stops at the stop fragment and the connection is closed at once (AD-23).
//! * **Output**: `s3://$s3_recordings_bucket/voicemail_recordings/<ContactId>.wav` (8 kHz, mono, 16-bit),
//!   content type `audio/x-wav`, tags `vm_lang`, `vm_dialedNumber`, `vm_initTimestamp`, `vm_endTimestamp`,
//!   `vm_duration` (whole seconds from the real sample count, rounded up), `vm_recordingUrl`
//!   (`<bucket>/<key>`), encoded as `encodeURIComponent` does. The same record always gives the same
//!   bytes under the same key. The answer is `batchItemFailures` with the voicemails whose failure a retry
//!   can mend (KVS service errors, S3 errors, the deadline); a missing stream, corrupt media or a recording
//!   without customer audio is logged as an error and not retried. Each record is independent: no state
//!   survives between records or invocations (AD-25); records run concurrently within
//!   `VOICEMAIL_CONCURRENCY` (default 5).
//! * **Environment**: `s3_recordings_bucket` (also accepted: `RECORDINGS_BUCKET`), `VOICEMAIL_CONCURRENCY`,
//!   `LOG_LEVEL`; the AWS SDK's own (`AWS_ENDPOINT_URL_KINESIS_VIDEO`, `AWS_ENDPOINT_URL_S3`, …).

mod handler;
pub mod voicemail;

pub use handler::{DEFAULT_CONCURRENCY, Deps, Stored, VoicemailError, handle, handle_batch, store_voicemail};
