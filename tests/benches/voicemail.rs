//! VoiceMailAudioProcessing speed and memory: a 5-minute voicemail (two 8 kHz tracks, 300 fragments) from
//! the fake KVS, through the release binary behind the Runtime API, to S3 on moto. Prints the wall time
//! per voicemail, the stream's throughput, and the function's peak resident memory beside the 30 MB
//! target (the function runs at 128 MB; the reference runs at 512 MB and its decoder alone peaked at
//! 293 MiB on a 100 MB stream, `reference-baselines.md` 1c).
//!
//! Run with `cargo xtask bench` (builds the release binaries first).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark report

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use kvs_media::ConnectStreamWriter;
use scv_tests::{
    events,
    kvs::{FakeKvs, connect_fragments, tone},
    moto::{Moto, unique},
    runtime_api::{FunctionProcess, Outcome, RuntimeApi, function_binary},
};
use serde_json::json;

const CONTACT: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
const STREAM: &str =
    "arn:aws:kinesisvideo:us-east-1:123456789012:stream/scvcc-connect-contact-0f1e2d3c/1795428300000";

fn five_minutes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let binary = match function_binary("voicemail-audio-processing") {
        Ok(binary) => binary,
        Err(error) => {
            println!("SKIPPED voicemail: {error}");
            return;
        }
    };
    let moto = rt.block_on(Moto::start()).unwrap();
    let kvs = rt.block_on(FakeKvs::start()).unwrap();
    let bucket = unique("bench-recordings");
    rt.block_on(moto.create_bucket(&bucket)).unwrap();
    let customer = tone(440.0, 300.0, 8000.0);
    let agent = tone(1000.0, 300.0, 3000.0);
    let fragments = connect_fragments(
        &ConnectStreamWriter::default(),
        CONTACT,
        3,
        1_795_428_300_000,
        &[&customer, &agent],
    );
    let stream_bytes: usize = fragments.iter().map(|f| f.bytes.len()).sum();
    let (first, last) = (
        fragments[0].number.clone(),
        fragments[fragments.len() - 1].number.clone(),
    );
    kvs.add_stream(STREAM, fragments, true);
    let mut event = events::read("voicemail-audio-processing", "voicemail").unwrap();
    let (records, _) = scv_core::kinesis::records(&event);
    let mut ctr = records[0].document.clone().unwrap();
    ctr["Recordings"][0]["FragmentStartNumber"] = json!(first);
    ctr["Recordings"][0]["FragmentStopNumber"] = json!(last);
    event = events::kinesis_event(&[ctr]);

    let mut env = moto.function_env();
    env.push(("AWS_ENDPOINT_URL_KINESIS_VIDEO".into(), kvs.endpoint()));
    env.push(("s3_recordings_bucket".into(), bucket.clone()));
    env.push(("LOG_LEVEL".into(), "warn".into()));
    let api = rt
        .block_on(RuntimeApi::start("voicemail-audio-processing"))
        .unwrap();
    let process = rt
        .block_on(async { FunctionProcess::spawn(&binary, &api, &env) })
        .unwrap();

    let samples = Mutex::new(Vec::new());
    let mut group = c.benchmark_group("voicemail-audio-processing");
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    group.bench_function("5-minute voicemail, KVS to S3, release binary", |b| {
        b.to_async(&rt).iter_custom(|iterations| {
            let (api, event, samples) = (&api, &event, &samples);
            async move {
                let started = Instant::now();
                for _ in 0..iterations {
                    let outcome = api.invoke(event.clone(), Duration::from_secs(60)).await.unwrap();
                    assert_eq!(outcome, Outcome::Response(json!({"batchItemFailures": []})));
                }
                let elapsed = started.elapsed();
                samples
                    .lock()
                    .unwrap()
                    .push(elapsed / u32::try_from(iterations).unwrap_or(1));
                elapsed
            }
        })
    });
    group.finish();

    let mut all = samples.lock().unwrap().clone();
    all.sort();
    let median = all.get(all.len() / 2).copied().unwrap_or_default();
    let peak_mib = process.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    println!(
        "RESULT voicemail 5 min ({:.1} MB two-track GetMedia stream, 4.8 MB WAV): {:.0} ms per voicemail = {:.0} MB/s of stream \
         | peak RSS {peak_mib:.1} MiB (target ≤ 30 MB; function size 128 MB; reference decoder: 293 MiB for 100 MB)",
        stream_bytes as f64 / 1e6,
        median.as_secs_f64() * 1e3,
        stream_bytes as f64 / 1e6 / median.as_secs_f64().max(1e-9)
    );
}

criterion_group!(benches, five_minutes);
criterion_main!(benches);
