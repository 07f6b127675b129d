//! Reading a whole saved GetMedia stream into audio and a summary: what `kvs-extract` does, as a
//! function.

use std::io::{self, Read};

use serde::Serialize;

use crate::{
    audio::{AudioCollector, CollectOptions, Flow, StopReason, TrackAudio},
    reader::{Event, Reader, Track},
};

/// One fragment as the summary shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FragmentSummary {
    pub index: u64,
    pub offset: u64,
    pub number: Option<String>,
    pub server_timestamp: Option<String>,
    pub producer_timestamp: Option<String>,
    pub cluster_timestamp_ms: Option<i64>,
    pub contact_id: Option<String>,
    pub frames: u64,
    /// Every SimpleTag of the fragment, in stream order.
    pub tags: Vec<TagEntry>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TagEntry {
    pub name: String,
    pub value: String,
}

/// One track's audio as the summary shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AudioSummary {
    pub track: String,
    /// The WAV file written, when there was an output directory.
    pub file: Option<String>,
    pub samples: u64,
    pub sample_rate: u32,
    pub duration_seconds: f64,
    pub first_timestamp_ms: Option<i64>,
    pub fragments: u64,
}

/// Where reading stopped with an error.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorSummary {
    pub message: String,
    pub offset: u64,
}

/// The JSON that `kvs-extract` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub bytes: u64,
    pub fragments: Vec<FragmentSummary>,
    /// Every distinct track seen (number and name), in order of appearance.
    pub tracks: Vec<Track>,
    pub audio: Vec<AudioSummary>,
    /// The longest track's duration.
    pub duration_seconds: f64,
    pub continuation_token: Option<String>,
    pub stopped: Option<StopReason>,
    pub error: Option<ErrorSummary>,
}

/// The outcome of [`extract`].
#[derive(Debug)]
pub struct Extraction {
    pub summary: Summary,
    pub audio: Vec<TrackAudio>,
}

/// Reads `input` to its end (or until the collector says stop, or the stream is corrupt: then
/// `summary.error` says where) in chunks of `chunk_size` bytes.
pub fn extract(mut input: impl Read, options: CollectOptions, chunk_size: usize) -> io::Result<Extraction> {
    let mut reader = Reader::new();
    let mut collector = AudioCollector::new(options);
    let mut fragments: Vec<FragmentSummary> = Vec::new();
    let mut tracks: Vec<Track> = Vec::new();
    let mut chunk = vec![0u8; chunk_size.max(1)];
    let mut error = None;
    let mut bytes = 0u64;
    let mut on_event = |event: &Event<'_>| {
        match event {
            Event::FragmentStart { index, offset } => fragments.push(FragmentSummary {
                index: *index,
                offset: *offset,
                number: None,
                server_timestamp: None,
                producer_timestamp: None,
                cluster_timestamp_ms: None,
                contact_id: None,
                frames: 0,
                tags: Vec::new(),
            }),
            Event::Tracks(list) => {
                for track in *list {
                    if !tracks
                        .iter()
                        .any(|t| t.number == track.number && t.name == track.name)
                    {
                        tracks.push(track.clone());
                    }
                }
            }
            Event::Tag(tag) => {
                if let Some(last) = fragments.last_mut() {
                    last.tags.push(TagEntry {
                        name: tag.name.to_owned(),
                        value: tag.value.to_owned(),
                    });
                }
            }
            Event::FragmentEnd(info) => {
                if let Some(last) = fragments.last_mut() {
                    last.number = info.number().map(str::to_owned);
                    last.server_timestamp = info.server_timestamp().map(str::to_owned);
                    last.producer_timestamp = info.producer_timestamp().map(str::to_owned);
                    last.cluster_timestamp_ms = info.cluster_timestamp_ms();
                    last.contact_id = info.contact_id().map(str::to_owned);
                    last.frames = info.frames();
                }
            }
            _ => {}
        }
        collector.push(event)
    };
    let mut stopped = None;
    'read: loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes += n as u64;
        let mut rest = &chunk[..n];
        loop {
            match reader.next(&mut rest) {
                Ok(Some(event)) => {
                    if let Flow::Stop(reason) = on_event(&event) {
                        stopped = Some(reason);
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'read;
                }
            }
        }
    }
    if error.is_none() && stopped.is_none() {
        loop {
            match reader.finish() {
                Ok(Some(event)) => {
                    if let Flow::Stop(reason) = on_event(&event) {
                        stopped = Some(reason);
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
    }
    let audio = collector.into_tracks();
    let summary = Summary {
        bytes,
        fragments,
        tracks,
        audio: audio
            .iter()
            .map(|t| AudioSummary {
                track: t.name.clone(),
                file: None,
                samples: t.samples(),
                sample_rate: t.sample_rate,
                duration_seconds: t.duration_seconds(),
                first_timestamp_ms: t.first_timestamp_ms,
                fragments: t.fragments,
            })
            .collect(),
        duration_seconds: audio.iter().map(TrackAudio::duration_seconds).fold(0.0, f64::max),
        continuation_token: reader.continuation_token().map(str::to_owned),
        stopped,
        error: error.map(|e| ErrorSummary {
            message: e.to_string(),
            offset: e.offset(),
        }),
    };
    Ok(Extraction { summary, audio })
}

/// A file name for a track: characters other than letters, digits, `_`, `-` and `.` become `_`.
pub fn wav_file_name(track: &str) -> String {
    let stem: String = track
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.wav", if stem.is_empty() { "track" } else { &stem })
}
