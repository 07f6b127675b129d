//! Helpers shared by the integration tests: feeding a stream in chosen chunks and recording the events
//! in an owned form that can be compared.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use kvs_media::{
    AudioCollector, CollectOptions, Error, Event, Flow, Reader, StreamOptions,
    audio::{AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER},
    writer::TrackSpec,
};

/// An event with its data copied out, for comparing runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Owned {
    Start {
        index: u64,
        offset: u64,
    },
    Tracks(Vec<(u64, String, String)>),
    Tag(String, String),
    Cluster(u64),
    Frame {
        track: u64,
        name: Option<String>,
        timestamp_ns: i64,
        keyframe: bool,
        data: Vec<u8>,
    },
    End {
        number: Option<String>,
        contact: Option<String>,
        stop: bool,
        frames: u64,
    },
}

impl Owned {
    pub fn of(event: &Event<'_>) -> Self {
        match event {
            Event::FragmentStart { index, offset } => Self::Start {
                index: *index,
                offset: *offset,
            },
            Event::Tracks(tracks) => Self::Tracks(
                tracks
                    .iter()
                    .map(|t| (t.number, t.name.clone(), t.codec_id.clone()))
                    .collect(),
            ),
            Event::Tag(tag) => Self::Tag(tag.name.into(), tag.value.into()),
            Event::Cluster { timecode, .. } => Self::Cluster(*timecode),
            Event::Frame(f) => Self::Frame {
                track: f.track_number,
                name: f.track_name().map(str::to_owned),
                timestamp_ns: f.timestamp_ns,
                keyframe: f.keyframe,
                data: f.data.to_vec(),
            },
            Event::FragmentEnd(info) => Self::End {
                number: info.number().map(str::to_owned),
                contact: info.contact_id().map(str::to_owned),
                stop: info.stop_streaming(),
                frames: info.frames(),
            },
        }
    }
}

/// What one run produced.
#[derive(Debug, Default)]
pub struct Run {
    pub events: Vec<Owned>,
    pub collector: AudioCollector,
    pub error: Option<Error>,
    pub stopped: bool,
    pub continuation_token: Option<String>,
}

/// Feeds `stream` cut at the sizes `cuts` yields (cycled; 0 counts as 1), records every event and
/// collects audio with `options`. Stops at the first error, or when the collector says stop.
pub fn run(stream: &[u8], cuts: &[usize], options: CollectOptions) -> Run {
    let mut reader = Reader::new();
    let mut out = Run {
        collector: AudioCollector::new(options),
        ..Run::default()
    };
    let mut position = 0;
    let mut cut = cuts.iter().copied().cycle();
    while position < stream.len() && out.error.is_none() && !out.stopped {
        let size = cut.next().unwrap_or(stream.len()).max(1);
        let end = (position + size).min(stream.len());
        let mut rest = &stream[position..end];
        position = end;
        loop {
            match reader.next(&mut rest) {
                Ok(Some(event)) => {
                    out.events.push(Owned::of(&event));
                    if let Flow::Stop(_) = out.collector.push(&event) {
                        out.stopped = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            }
        }
    }
    while out.error.is_none() && !out.stopped {
        match reader.finish() {
            Ok(Some(event)) => {
                out.events.push(Owned::of(&event));
                if let Flow::Stop(_) = out.collector.push(&event) {
                    out.stopped = true;
                }
            }
            Ok(None) => break,
            Err(e) => out.error = Some(e),
        }
    }
    out.continuation_token = reader.continuation_token().map(str::to_owned);
    out
}

/// The whole stream in one chunk.
pub fn run_whole(stream: &[u8]) -> Run {
    run(stream, &[usize::MAX], CollectOptions::default())
}

/// `../shared/fixtures/kvs` beside the repository.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/kvs")
}

/// PCM of a sine tone (s16le bytes), `samples` long.
pub fn tone(frequency: f64, amplitude: f64, samples: usize) -> Vec<u8> {
    (0..samples)
        .flat_map(|n| {
            let t = n as f64 / 8000.0;
            ((amplitude * (2.0 * std::f64::consts::PI * frequency * t).sin()).round() as i16).to_le_bytes()
        })
        .collect()
}

/// Fails with a clear message when a tool the test needs is missing (`cargo xtask test` installs it).
pub fn require_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    found.unwrap_or_else(|| {
        panic!("{name} is not installed: run `cargo xtask test` (it installs mkvtoolnix and ffmpeg) or apt-get install it")
    })
}

impl Run {
    /// Every tag, in order.
    pub fn tags(&self) -> Vec<(String, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Owned::Tag(name, value) => Some((name.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    /// The size of every frame, in order.
    pub fn frame_sizes(&self) -> Vec<usize> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Owned::Frame { data, .. } => Some(data.len()),
                _ => None,
            })
            .collect()
    }

    /// How many events match.
    pub fn count(&self, matches: impl Fn(&Owned) -> bool) -> usize {
        self.events.iter().filter(|e| matches(e)).count()
    }

    /// The collected PCM of a track (empty when the track was never seen).
    pub fn pcm(&self, name: &str) -> Vec<u8> {
        self.collector
            .track(name)
            .map(|t| t.pcm.clone())
            .unwrap_or_default()
    }
}

/// Connect's two tracks with the numbers swapped (FROM = 2, TO = 1), as in a third-party fixture.
pub fn swapped_tracks() -> StreamOptions {
    StreamOptions {
        tracks: vec![
            TrackSpec {
                number: 2,
                name: AUDIO_FROM_CUSTOMER.into(),
            },
            TrackSpec {
                number: 1,
                name: AUDIO_TO_CUSTOMER.into(),
            },
        ],
        ..StreamOptions::default()
    }
}

/// `mkvinfo -a` on a stream (written to a temporary file).
pub fn mkvinfo_text(stream: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.mkv");
    std::fs::write(&path, stream).unwrap();
    let output = std::process::Command::new(require_tool("mkvinfo"))
        .arg("-a")
        .arg(&path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}
