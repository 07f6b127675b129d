//! A synthetic five-minute two-track Connect call, through the real `kvs-extract` binary, decoded again
//! by ffmpeg: the samples ffmpeg plays are exactly the samples that went into the stream, on the right
//! track, and each track has its own tone. Also: standard input, `--help`, the fragment-range cut and a
//! corrupt stream's exit status. ffmpeg and ffprobe are installed by `cargo xtask test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

use common::require_tool;
use kvs_media::{
    ConnectStreamWriter,
    audio::{AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER},
    writer::{SyntheticCall, fragment_number},
};
use serde_json::Value;

const SECONDS: usize = 300;
const RATE: usize = 8000;

/// The customer speaks a 440 Hz tone, the agent 1000 Hz, each with a slow amplitude ramp so that no two
/// seconds are alike (a shifted or reordered fragment would not match).
fn signal(frequency: f64, seed: usize) -> Vec<i16> {
    (0..SECONDS * RATE)
        .map(|n| {
            let t = n as f64 / RATE as f64;
            let amplitude = 3000.0 + ((n / RATE + seed) % 17) as f64 * 1000.0;
            (amplitude * (2.0 * std::f64::consts::PI * frequency * t).sin()).round() as i16
        })
        .collect()
}

fn bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn kvs_extract() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kvs-extract"))
}

/// ffmpeg decodes the WAV to raw s16le mono 8 kHz.
fn ffmpeg_samples(wav: &Path) -> Vec<i16> {
    let output = Command::new(require_tool("ffmpeg"))
        .args(["-v", "error", "-i"])
        .arg(wav)
        .args([
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            "-ac",
            "1",
            "-ar",
            "8000",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// The frequency with most energy among `candidates` (Goertzel over one second).
fn dominant(samples: &[i16], candidates: &[f64]) -> f64 {
    let power = |f: f64| {
        let k = 2.0 * (2.0 * std::f64::consts::PI * f / RATE as f64).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in &samples[..RATE] {
            let s = f64::from(x) + k * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    };
    candidates
        .iter()
        .copied()
        .max_by(|a, b| power(*a).total_cmp(&power(*b)))
        .unwrap()
}

#[test]
fn a_five_minute_call_plays_back_sample_exact_through_ffmpeg() {
    let from = signal(440.0, 0);
    let to = signal(1000.0, 5);
    let stream = ConnectStreamWriter::default().write_call(&SyntheticCall {
        contact_id: "contact-5min",
        instance_id: "instance-1",
        start_ms: 1_726_677_688_724,
        audio: &[&bytes(&from), &bytes(&to)],
        ..SyntheticCall::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mkv = dir.path().join("call.mkv");
    std::fs::write(&mkv, &stream).unwrap();
    let out = dir.path().join("wav");
    let output = kvs_extract().arg(&mkv).arg("--out").arg(&out).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(summary["fragments"].as_array().unwrap().len(), SECONDS);
    assert_eq!(summary["fragments"][0]["number"], fragment_number(0).as_str());
    assert_eq!(summary["fragments"][299]["number"], fragment_number(299).as_str());
    assert_eq!(summary["fragments"][0]["contact_id"], "contact-5min");
    assert_eq!(
        summary["fragments"][1]["cluster_timestamp_ms"],
        1_726_677_689_724i64
    );
    assert_eq!(summary["duration_seconds"], 300.0);
    assert_eq!(summary["error"], Value::Null);
    let tracks: Vec<&str> = summary["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tracks, [AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER]);

    for (name, expected, tone) in [
        (AUDIO_FROM_CUSTOMER, &from, 440.0),
        (AUDIO_TO_CUSTOMER, &to, 1000.0),
    ] {
        let audio = summary["audio"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["track"] == name)
            .unwrap();
        assert_eq!(audio["samples"], (SECONDS * RATE) as u64);
        assert_eq!(audio["first_timestamp_ms"], 1_726_677_688_724i64);
        let wav = out.join(format!("{name}.wav"));
        assert_eq!(audio["file"], wav.display().to_string());

        let probe = Command::new(require_tool("ffprobe"))
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,sample_rate,channels,duration",
                "-of",
                "json",
            ])
            .arg(&wav)
            .output()
            .unwrap();
        let probe: Value = serde_json::from_slice(&probe.stdout).unwrap();
        let stream = &probe["streams"][0];
        assert_eq!(
            (stream["codec_name"].as_str(), stream["sample_rate"].as_str()),
            (Some("pcm_s16le"), Some("8000"))
        );
        assert_eq!(
            (stream["channels"].as_u64(), stream["duration"].as_str()),
            (Some(1), Some("300.000000"))
        );

        let played = ffmpeg_samples(&wav);
        assert_eq!(played.len(), expected.len(), "{name}");
        if let Some(i) = played.iter().zip(expected.iter()).position(|(a, b)| a != b) {
            panic!("{name}: sample {i} is {} but {} went in", played[i], expected[i]);
        }
        // And it sounds like the right party: each second's dominant tone.
        for second in [0, 150, 299] {
            let window = &played[second * RATE..];
            assert_eq!(dominant(window, &[440.0, 1000.0]), tone, "{name} at {second} s");
        }
    }
}

#[test]
fn standard_input_fragment_ranges_and_help() {
    let from: Vec<u8> = (0..RATE * 6)
        .flat_map(|i| ((i / RATE) as i16).to_le_bytes())
        .collect();
    let stream = ConnectStreamWriter::default().write_call(&SyntheticCall {
        audio: &[&from, &from],
        ..SyntheticCall::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut child = kvs_extract()
        .args(["-", "--out"])
        .arg(dir.path())
        .args([
            "--first-fragment",
            &fragment_number(2),
            "--last-fragment",
            &fragment_number(3),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    match child.stdin.take().unwrap().write_all(&stream) {
        // It stops reading after the last wanted fragment (AD-23), possibly before all was written.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["stopped"], "past_last_fragment");
    let wav = hound::WavReader::open(dir.path().join("AUDIO_TO_CUSTOMER.wav")).unwrap();
    let seconds: Vec<i16> = wav
        .into_samples::<i16>()
        .map(Result::unwrap)
        .step_by(RATE)
        .collect();
    assert_eq!(seconds, [2, 3]);

    let help = kvs_extract().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success());
    for option in [
        "--out",
        "--first-fragment",
        "--last-fragment",
        "--contact-id",
        "standard input",
        "<TrackName>.wav",
    ] {
        assert!(text.contains(option), "--help lacks {option}: {text}");
    }
    let bad = kvs_extract()
        .args(["x.mkv", "--last-fragment", "12a"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_corrupt_stream_exits_1_with_the_offset_and_keeps_the_audio_before_it() {
    let from = vec![7u8; 16_000 * 3];
    let mut stream = ConnectStreamWriter::default().write_call(&SyntheticCall {
        audio: &[&from, &from],
        ..SyntheticCall::default()
    });
    let second = stream
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x1A, 0x45, 0xDF, 0xA3])
        .nth(1)
        .unwrap()
        .0;
    stream.truncate(second);
    stream.extend_from_slice(&[0x00; 16]);
    let dir = tempfile::tempdir().unwrap();
    let mkv = dir.path().join("bad.mkv");
    std::fs::write(&mkv, &stream).unwrap();
    let output = kvs_extract()
        .arg(&mkv)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["error"]["offset"], second as u64);
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("byte {second}")));
    assert_eq!(summary["audio"][0]["samples"], 8000);
}
