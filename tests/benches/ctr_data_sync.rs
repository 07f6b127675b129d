//! CTRDataSync speed, printed beside its physical limit and the reference's figures
//! (`../shared/spec/reference-baselines.md`, measured on this kind of machine).
//!
//! * a batch of 100 contact records against the fake Salesforce with 50 ms added to every request: the
//!   limit is one round trip (the updates are independent), the target at most two;
//! * the same batch with no added latency: the cost per record (reference: 1002.5 µs transform + sign,
//!   1186.9 µs end to end, per record, with the network stubbed);
//! * cold start of the built binary: process start → first response through the Runtime API, beside the
//!   floor of starting `/bin/true` (reference: 153.0 ms only to load the Node handler).
//!
//! Run with `cargo xtask bench` (builds the release binaries first).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark report

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use ctr_data_sync::{Deps, handle_batch};
use scv_core::{Budget, RetryPolicy};
use scv_tests::{
    events,
    fixture::Fixture,
    keys,
    moto::{Moto, unique},
    runtime_api::{FunctionProcess, Outcome, RuntimeApi, function_binary},
};
use serde_json::Value;

const ROUND_TRIP: Duration = Duration::from_millis(50);
const REFERENCE_PER_RECORD_US: f64 = 1186.9;
const REFERENCE_TRANSFORM_SIGN_US: f64 = 1002.5;
const REFERENCE_START_MS: f64 = 153.0;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn batch_of(n: usize) -> Value {
    let documents: Vec<Value> = (0..n)
        .map(|i| events::finished_call(&format!("bench-contact-{i:03}")))
        .collect();
    events::kinesis_event(&documents)
}

fn median(samples: &Mutex<Vec<Duration>>) -> Duration {
    let mut samples = samples.lock().unwrap().clone();
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn batches(c: &mut Criterion) {
    let rt = runtime();
    let fx = rt.block_on(Fixture::start()).unwrap();
    let policy = RetryPolicy {
        request_timeout: Duration::from_secs(5),
        ..RetryPolicy::default()
    };
    let deps = Deps {
        scrt: fx.scrt_client(policy).unwrap(),
        concurrency: ctr_data_sync::DEFAULT_CONCURRENCY,
    };
    let event = batch_of(100);
    let mut group = c.benchmark_group("ctr-data-sync");
    group.sample_size(20).measurement_time(Duration::from_secs(5));

    for (label, latency) in [
        ("batch of 100, 50 ms per request", ROUND_TRIP),
        ("batch of 100, no added latency", Duration::ZERO),
    ] {
        fx.salesforce.set_latency(latency);
        let samples = Mutex::new(Vec::new());
        group.bench_function(label, |b| {
            b.to_async(&rt).iter_custom(|iterations| {
                let (deps, event, samples) = (&deps, &event, &samples);
                async move {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        let response = handle_batch(deps, event, &Budget::unbounded()).await;
                        assert!(response.batch_item_failures.is_empty());
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
        let batch = median(&samples);
        if latency.is_zero() {
            let per_record = batch.as_secs_f64() * 1e6 / 100.0;
            println!(
                "RESULT ctr-data-sync per record (local HTTP, no added latency): {per_record:.1} µs \
                 | reference: {REFERENCE_PER_RECORD_US} µs end to end with the network stubbed, {REFERENCE_TRANSFORM_SIGN_US} µs transform + sign \
                 | {:.1}× faster",
                REFERENCE_PER_RECORD_US / per_record
            );
        } else {
            let ratio = batch.as_secs_f64() / ROUND_TRIP.as_secs_f64();
            println!(
                "RESULT ctr-data-sync batch of 100 at 50 ms per request: {:.1} ms = {ratio:.2} round trips \
                 | limit: 1 round trip (50 ms), target ≤ 2 | the reference sends records one Lambda invoke + SSM read + PATCH each",
                batch.as_secs_f64() * 1e3
            );
        }
    }
    group.finish();
}

fn cold_start(c: &mut Criterion) {
    let rt = runtime();
    let binary = match function_binary("ctr-data-sync") {
        Ok(binary) => binary,
        Err(error) => {
            println!("SKIPPED cold start: {error}");
            return;
        }
    };
    let moto = rt.block_on(Moto::start()).unwrap();
    let fx = rt.block_on(Fixture::start()).unwrap();
    let parameter = unique("bench-key");
    rt.block_on(moto.put_secure_parameter(
        &parameter,
        &keys::one_line_with_literal_newlines(&fx.scrt_key.pkcs1_pem()),
    ))
    .unwrap();
    let mut env = moto.function_env();
    env.extend(fx.scrt_env());
    env.push(("PRIVATE_KEY_PARAM_NAME".into(), parameter));
    env.push(("LOG_LEVEL".into(), "warn".into()));
    let event = events::read("ctr-data-sync", "happy-path").unwrap();

    let starts = Mutex::new(Vec::new());
    let rss = Mutex::new(0_u64);
    let mut group = c.benchmark_group("ctr-data-sync cold start");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("process start to first response", |b| {
        b.to_async(&rt).iter_custom(|iterations| {
            let (binary, env, event, starts, rss) = (&binary, &env, &event, &starts, &rss);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let api = RuntimeApi::start("ctr-data-sync").await.unwrap();
                    let started = Instant::now();
                    let process = FunctionProcess::spawn(binary, &api, env).unwrap();
                    let outcome = api.invoke(event.clone(), Duration::from_secs(30)).await.unwrap();
                    let elapsed = started.elapsed();
                    assert!(matches!(outcome, Outcome::Response(_)));
                    let mut peak = rss.lock().unwrap();
                    *peak = (*peak).max(process.peak_rss_kib().unwrap_or(0));
                    starts.lock().unwrap().push(elapsed);
                    total += elapsed;
                }
                total
            }
        })
    });
    group.finish();

    let floor = (0..20)
        .map(|_| {
            let started = Instant::now();
            let _ = std::process::Command::new("/bin/true").status();
            started.elapsed()
        })
        .min()
        .unwrap_or_default();
    println!(
        "RESULT ctr-data-sync cold start (process start → first response, SSM key read and first PATCH included): {:.1} ms \
         | floor: {:.2} ms to start /bin/true | reference: {REFERENCE_START_MS} ms only to load the Node handler | peak RSS {:.1} MiB of 128 MB",
        median(&starts).as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
        *rss.lock().unwrap() as f64 / 1024.0
    );
}

criterion_group!(benches, batches, cold_start);
criterion_main!(benches);
