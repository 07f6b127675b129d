//! Reader + demux throughput on a ≥ 100 MB two-track stream, beside `cat file > /dev/null` on the same
//! file in the same run, and beside the reference decoder's figure (`../shared/spec/reference-baselines.md`
//! rows 1a and 1e: the vendor's Node `ebml` Decoder with per-track payload collection, 21.4 MB/s with 64 KiB
//! reads and 19.2 MB/s with 16 KiB reads, where cat did 7814 MB/s: 1/364 of cat).
//!
//! The streams are generated into `target/kvs-bench/` on first use (never committed): 2 × 50,000,000
//! bytes of 8 kHz PCM in 1-second fragments, once with 2048-byte blocks (the reference's file) and once
//! with Connect's 1024-byte frames. Two kinds of demux, each frame routed by track name:
//!
//! * streaming: into 8 KiB chunks per direction handed to a consumer ([`AudioChunker`], what the
//!   transcriber sends to Transcribe), the steady state of a long-lived reader;
//! * collecting: the whole call's PCM appended to one buffer per track ([`AudioCollector`], the voicemail
//!   WAV path, and what the reference's figure measures). Its buffers are kept across iterations, but
//!   100 MB of fresh writes cost memory bandwidth that `cat` does not spend.
//!
//! Run with `cargo bench -p kvs-media` (or `cargo xtask bench`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark report

use std::{
    fs::File,
    io::Read,
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvs_media::{
    AudioChunker, AudioCollector, CollectOptions, ConnectStreamWriter, Reader, StreamOptions,
    audio::{AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER},
    writer::SyntheticCall,
};

const PCM_PER_TRACK: usize = 50_000_000;
const REFERENCE_MB_S: f64 = 21.4;
const REFERENCE_16K_MB_S: f64 = 19.2;
const REFERENCE_CAT_RATIO: f64 = 364.0;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("kvs-bench")
}

/// The stream, generated once per block size.
fn stream_file(frame_bytes: usize) -> PathBuf {
    let path = target_dir().join(format!("two-track-{frame_bytes}.mkv"));
    if path.metadata().is_ok_and(|m| m.len() >= 100_000_000) {
        return path;
    }
    std::fs::create_dir_all(target_dir()).unwrap();
    let from: Vec<u8> = (0..PCM_PER_TRACK).map(|i| (i % 253) as u8).collect();
    let to: Vec<u8> = (0..PCM_PER_TRACK).map(|i| (i % 241) as u8).collect();
    let writer = ConnectStreamWriter::new(StreamOptions {
        frame_bytes,
        ..StreamOptions::default()
    });
    let stream = writer.write_call(&SyntheticCall {
        contact_id: "bench-contact",
        instance_id: "bench-instance",
        start_ms: 1_726_677_688_724,
        audio: &[&from, &to],
        ..SyntheticCall::default()
    });
    let partial = path.with_extension("partial");
    std::fs::write(&partial, &stream).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// Where frames go.
enum Demux {
    Stream(AudioChunker),
    Collect(AudioCollector),
}

impl Demux {
    fn push(&mut self, event: &kvs_media::Event<'_>, consumed: &mut u64) {
        match self {
            Self::Stream(chunker) => chunker.push(event, |_, chunk| {
                *consumed += std::hint::black_box(chunk).len() as u64;
            }),
            Self::Collect(collector) => {
                collector.push(event);
            }
        }
    }

    /// PCM bytes per track after a full read.
    fn check(&mut self, consumed: u64) {
        match self {
            Self::Stream(chunker) => {
                let mut rest = 0;
                chunker.flush(|_, chunk| rest += chunk.len() as u64);
                assert_eq!(consumed + rest, 2 * PCM_PER_TRACK as u64);
            }
            Self::Collect(collector) => {
                for name in [AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER] {
                    assert_eq!(collector.track(name).unwrap().pcm.len(), PCM_PER_TRACK);
                }
            }
        }
    }
}

/// Reads the file in `chunk`-byte reads through the reader and the demux; returns (file bytes, PCM bytes
/// handed over in whole chunks).
fn decode(path: &Path, chunk: &mut [u8], demux: &mut Demux) -> (u64, u64) {
    if let Demux::Collect(collector) = demux {
        collector.reset();
    }
    let mut consumed = 0;
    let mut reader = Reader::new();
    let mut file = File::open(path).unwrap();
    let mut total = 0;
    loop {
        let n = file.read(chunk).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
        let mut rest = &chunk[..n];
        while let Some(event) = reader.next(&mut rest).unwrap() {
            demux.push(&event, &mut consumed);
        }
    }
    while let Some(event) = reader.finish().unwrap() {
        demux.push(&event, &mut consumed);
    }
    (total, consumed)
}

fn cat(path: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("cat '{}' > /dev/null", path.display()))
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

fn best_and_median(samples: &Mutex<Vec<Duration>>) -> (Duration, Duration) {
    let mut samples = samples.lock().unwrap().clone();
    samples.sort();
    (samples[0], samples[samples.len() / 2])
}

fn mb_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64()
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("kvs-media");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    let cases = [
        ("streaming demux (8 KiB chunks per direction)", 2048, 64 * 1024),
        ("streaming demux (8 KiB chunks per direction)", 2048, 16 * 1024),
        ("streaming demux (8 KiB chunks per direction)", 1024, 64 * 1024),
        ("collecting demux (whole call in memory)", 2048, 64 * 1024),
    ];
    for (kind, frame_bytes, chunk_size) in cases {
        let path = stream_file(frame_bytes);
        let bytes = path.metadata().unwrap().len();
        let mut demux = if kind.starts_with("streaming") {
            Demux::Stream(AudioChunker::new(8192))
        } else {
            let mut collector = AudioCollector::new(CollectOptions::default());
            collector.reserve(&[AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER], PCM_PER_TRACK);
            Demux::Collect(collector)
        };
        let mut chunk = vec![0u8; chunk_size];
        // Check once that the demux is complete before timing it.
        let (read, consumed) = decode(&path, &mut chunk, &mut demux);
        assert_eq!(read, bytes);
        demux.check(consumed);

        let ours = Mutex::new(Vec::new());
        let cats = Mutex::new(Vec::new());
        group.throughput(Throughput::Bytes(bytes));
        let label = format!(
            "reader + {kind}, {frame_bytes}-byte blocks, {} KiB reads",
            chunk_size / 1024
        );
        group.bench_function(&label, |b| {
            b.iter_custom(|iterations| {
                let started = Instant::now();
                for _ in 0..iterations {
                    if let Demux::Stream(chunker) = &mut demux {
                        chunker.flush(|_, _| {});
                    }
                    decode(&path, &mut chunk, &mut demux);
                }
                let elapsed = started.elapsed();
                ours.lock().unwrap().push(elapsed / iterations as u32);
                // cat on the same file, interleaved with our samples (same page-cache state).
                cats.lock().unwrap().push(cat(&path));
                elapsed
            });
        });
        let (best, median) = best_and_median(&ours);
        let (cat_best, cat_median) = best_and_median(&cats);
        let (ours_best, ours_median) = (mb_s(bytes, best), mb_s(bytes, median));
        let (cat_best, cat_median) = (mb_s(bytes, cat_best), mb_s(bytes, cat_median));
        let reference = if chunk_size == 16 * 1024 {
            REFERENCE_16K_MB_S
        } else {
            REFERENCE_MB_S
        };
        println!(
            "RESULT kvs-media {label} ({:.1} MB): best {ours_best:.0} MB/s, median {ours_median:.0} MB/s \
             | cat file > /dev/null: best {cat_best:.0} MB/s, median {cat_median:.0} MB/s \
             | ratio to cat: {:.2}× best/best, {:.2}× median/median (target ≥ 0.5×) \
             | reference (Node ebml decoder): {reference} MB/s = 1/{REFERENCE_CAT_RATIO:.0} of cat, we are {:.0}× faster",
            bytes as f64 / 1e6,
            ours_best / cat_best,
            ours_median / cat_median,
            ours_best / reference,
        );
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
