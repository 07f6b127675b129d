//! Audio out: per-track PCM from the reader's events, cut by fragment number, written as WAV.
//!
//! [`AudioCollector`] takes every [`Event`] and appends each selected track's frames to that track's PCM
//! (s16le, 8 kHz mono for Connect). A fragment's audio is kept or dropped when its tags are complete, at
//! [`Event::FragmentEnd`]: outside the fragment-number range, of another contact (a reused stream), or
//! marked `STOP_STREAMING` → dropped, by truncating back to where the fragment began (one copy, no
//! holding buffer). Past the last wanted fragment, a different ContactId or `STOP_STREAMING`, the collector
//! says [`Flow::Stop`] so that the caller closes the connection (AD-23) instead of reading on.

use std::{cmp::Ordering, io, path::Path};

use crate::{
    reader::{Event, Frame, Track},
    tags::{FRAGMENT_NUMBER, FragmentInfo, compare_fragment_numbers},
};

/// Connect's customer-to-agent track.
pub const AUDIO_FROM_CUSTOMER: &str = "AUDIO_FROM_CUSTOMER";
/// Connect's agent-to-customer track.
pub const AUDIO_TO_CUSTOMER: &str = "AUDIO_TO_CUSTOMER";
/// Older Connect streams: one track, treated as the customer's.
pub const LEGACY_TRACK: &str = "Track_audio/L16";
/// Connect's sample rate.
pub const SAMPLE_RATE: u32 = 8000;
/// PCM bytes per millisecond at 8 kHz, 16-bit mono.
pub const BYTES_PER_MS: usize = (SAMPLE_RATE as usize / 1000) * 2;

/// The call direction of a Connect track, by name (the legacy single track is the customer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Direction {
    FromCustomer,
    ToCustomer,
}

impl Direction {
    pub fn of_track(name: &str) -> Option<Self> {
        match name {
            AUDIO_FROM_CUSTOMER | LEGACY_TRACK => Some(Self::FromCustomer),
            AUDIO_TO_CUSTOMER => Some(Self::ToCustomer),
            _ => None,
        }
    }
}

/// Whether a track carries PCM we can write out: Connect's named tracks (whatever their CodecID says),
/// or an audio track declared as little-endian integer PCM.
pub fn is_pcm_track(track: &Track) -> bool {
    Direction::of_track(&track.name).is_some()
        || (track.track_type == 2 && track.codec_id == "A_PCM/INT/LIT" && track.bit_depth.unwrap_or(16) == 16)
}

/// Which tracks to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Connect's tracks, by name (the default).
    Connect,
    /// Every track [`is_pcm_track`] accepts.
    AllPcm,
    /// These names only.
    Names(Vec<String>),
}

/// What the collector keeps.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    pub selection: Selection,
    /// First fragment number to keep (inclusive).
    pub first_fragment: Option<String>,
    /// Last fragment number to keep (inclusive); past it the collector stops.
    pub last_fragment: Option<String>,
    /// Keep only this contact's fragments; another ContactId stops the collector.
    pub contact_id: Option<String>,
    /// Honour `STOP_STREAMING=true` (drop that fragment and stop). Default on.
    pub stop_streaming: bool,
}

impl Default for CollectOptions {
    fn default() -> Self {
        Self {
            selection: Selection::Connect,
            first_fragment: None,
            last_fragment: None,
            contact_id: None,
            stop_streaming: true,
        }
    }
}

/// Why the collector stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    PastLastFragment,
    ContactChanged { contact_id: String },
    StopStreaming,
}

/// Go on reading, or stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop(StopReason),
}

/// The audio of one track.
#[derive(Debug, Clone, Default)]
pub struct TrackAudio {
    pub name: String,
    /// s16le samples as bytes.
    pub pcm: Vec<u8>,
    pub sample_rate: u32,
    pub channels: u16,
    /// Timestamp of the first kept frame, in epoch milliseconds for Connect.
    pub first_timestamp_ms: Option<i64>,
    /// Fragments that contributed at least one frame.
    pub fragments: u64,
    mark: usize,
    mark_first_timestamp: Option<i64>,
    in_fragment: bool,
}

impl TrackAudio {
    /// Whole samples (a trailing odd byte does not count).
    pub fn samples(&self) -> u64 {
        (self.pcm.len() / 2 / usize::from(self.channels.max(1))) as u64
    }

    pub fn duration_seconds(&self) -> f64 {
        self.samples() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// The samples as `i16`.
    pub fn samples_i16(&self) -> impl Iterator<Item = i16> + '_ {
        self.pcm.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]))
    }

    /// Writes a 16-bit PCM WAV file through `hound`.
    pub fn write_wav(&self, path: &Path) -> Result<(), hound::Error> {
        let file = io::BufWriter::new(std::fs::File::create(path)?);
        self.write_wav_to(file)
    }

    /// Writes a 16-bit PCM WAV to any seekable writer.
    pub fn write_wav_to<W: io::Write + io::Seek>(&self, writer: W) -> Result<(), hound::Error> {
        let spec = hound::WavSpec {
            channels: self.channels.max(1),
            sample_rate: self.sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut wav = hound::WavWriter::new(writer, spec)?;
        {
            let mut samples = wav.get_i16_writer(self.samples() as u32 * u32::from(self.channels.max(1)));
            for sample in self.samples_i16() {
                samples.write_sample(sample);
            }
            samples.flush()?;
        }
        wav.finalize()
    }
}

/// Collects per-track PCM from reader events. See the [module documentation](self).
#[derive(Debug, Clone, Default)]
pub struct AudioCollector {
    options: CollectOptions,
    tracks: Vec<TrackAudio>,
    /// Per track number of the current fragment: index into `tracks`, or `None` when not collected.
    routes: Vec<(u64, Option<usize>)>,
    stopped: Option<StopReason>,
    fragments_kept: u64,
    fragments_dropped: u64,
}

impl AudioCollector {
    pub fn new(options: CollectOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Reserves room for `bytes` of PCM in each of these tracks up front (avoids reallocating while
    /// reading; the collector allocates nothing per frame once its buffers are large enough).
    pub fn reserve(&mut self, names: &[&str], bytes: usize) {
        for name in names {
            let index = self.track_index(name, SAMPLE_RATE, 1);
            self.tracks[index].pcm.reserve(bytes);
        }
    }

    /// Starts over for another stream, keeping the tracks' buffers (and their capacity).
    pub fn reset(&mut self) {
        for track in &mut self.tracks {
            track.pcm.clear();
            track.first_timestamp_ms = None;
            track.fragments = 0;
            track.mark = 0;
            track.mark_first_timestamp = None;
            track.in_fragment = false;
        }
        self.routes.clear();
        self.stopped = None;
        self.fragments_kept = 0;
        self.fragments_dropped = 0;
    }

    /// The collected tracks, in order of first appearance.
    pub fn tracks(&self) -> &[TrackAudio] {
        &self.tracks
    }

    pub fn into_tracks(self) -> Vec<TrackAudio> {
        self.tracks
    }

    /// The track with this name.
    pub fn track(&self, name: &str) -> Option<&TrackAudio> {
        self.tracks.iter().find(|t| t.name == name)
    }

    /// Why the collector stopped, if it did.
    pub fn stopped(&self) -> Option<&StopReason> {
        self.stopped.as_ref()
    }

    /// Fragments whose audio was kept and dropped.
    pub fn fragment_counts(&self) -> (u64, u64) {
        (self.fragments_kept, self.fragments_dropped)
    }

    fn selected(&self, track: &Track) -> bool {
        match &self.options.selection {
            Selection::Connect => Direction::of_track(&track.name).is_some(),
            Selection::AllPcm => is_pcm_track(track),
            Selection::Names(names) => names.contains(&track.name),
        }
    }

    fn track_index(&mut self, name: &str, sample_rate: u32, channels: u16) -> usize {
        if let Some(i) = self.tracks.iter().position(|t| t.name == name) {
            return i;
        }
        self.tracks.push(TrackAudio {
            name: name.to_owned(),
            sample_rate,
            channels,
            ..TrackAudio::default()
        });
        self.tracks.len() - 1
    }

    /// Feeds one event.
    pub fn push(&mut self, event: &Event<'_>) -> Flow {
        if let Some(reason) = &self.stopped {
            return Flow::Stop(reason.clone());
        }
        match event {
            Event::FragmentStart { .. } => {
                self.routes.clear();
                for track in &mut self.tracks {
                    track.mark = track.pcm.len();
                    track.mark_first_timestamp = track.first_timestamp_ms;
                    track.in_fragment = false;
                }
            }
            Event::Tracks(tracks) => {
                self.routes.clear();
                for track in *tracks {
                    let route = self.selected(track).then(|| {
                        let (rate, channels) = pcm_format(track);
                        self.track_index(&track.name, rate, channels)
                    });
                    self.routes.push((track.number, route));
                }
            }
            Event::Tag(tag) if tag.name == FRAGMENT_NUMBER => {
                // Stop as early as the number says we are past the range (AD-23).
                if let Some(last) = &self.options.last_fragment
                    && compare_fragment_numbers(tag.value, last) == Some(Ordering::Greater)
                {
                    self.rollback();
                    return self.stop(StopReason::PastLastFragment);
                }
            }
            Event::Frame(frame) => self.frame(frame),
            Event::FragmentEnd(fragment) => return self.end_fragment(fragment),
            _ => {}
        }
        Flow::Continue
    }

    fn frame(&mut self, frame: &Frame<'_>) {
        let Some(&(_, Some(index))) = self.routes.iter().find(|(n, _)| *n == frame.track_number) else {
            return;
        };
        let track = &mut self.tracks[index];
        track.pcm.extend_from_slice(frame.data);
        track.first_timestamp_ms.get_or_insert(frame.timestamp_ms());
        track.in_fragment = true;
    }

    fn end_fragment(&mut self, fragment: &FragmentInfo) -> Flow {
        let number = fragment.number();
        let o = &self.options;
        let compare = |bound: &Option<String>| match (number, bound) {
            (Some(number), Some(bound)) => compare_fragment_numbers(number, bound),
            _ => None,
        };
        let stop = if o.last_fragment.is_some() && compare(&o.last_fragment) == Some(Ordering::Greater) {
            Some(StopReason::PastLastFragment)
        } else if let (Some(wanted), Some(seen)) = (&o.contact_id, fragment.contact_id())
            && wanted != seen
        {
            Some(StopReason::ContactChanged {
                contact_id: seen.to_owned(),
            })
        } else if o.stop_streaming && fragment.stop_streaming() {
            Some(StopReason::StopStreaming)
        } else {
            None
        };
        let before_first = o.first_fragment.is_some() && compare(&o.first_fragment) == Some(Ordering::Less);
        // With a range, a fragment without a number cannot be placed in it: drop it.
        let unplaced = number.is_none() && (o.first_fragment.is_some() || o.last_fragment.is_some());
        if stop.is_some() || before_first || unplaced {
            self.rollback();
        } else {
            self.fragments_kept += 1;
            for track in &mut self.tracks {
                if track.in_fragment {
                    track.fragments += 1;
                }
                track.in_fragment = false;
                track.mark = track.pcm.len();
            }
        }
        match stop {
            Some(reason) => self.stop(reason),
            None => Flow::Continue,
        }
    }

    fn rollback(&mut self) {
        self.fragments_dropped += 1;
        for track in &mut self.tracks {
            track.pcm.truncate(track.mark);
            track.first_timestamp_ms = track.mark_first_timestamp;
            track.in_fragment = false;
        }
    }

    fn stop(&mut self, reason: StopReason) -> Flow {
        self.stopped = Some(reason.clone());
        Flow::Stop(reason)
    }
}

/// Cuts each Connect track's audio into chunks of a fixed size as frames arrive, for a streaming consumer
/// (Transcribe audio events, a socket): the two directions kept apart (AD-22), routed by track name, frame
/// boundaries ignored. Its two buffers are allocated once; nothing is allocated per frame, and the data
/// stays in cache between the reader and the consumer.
#[derive(Debug, Clone)]
pub struct AudioChunker {
    chunk_bytes: usize,
    routes: Vec<(u64, Option<Direction>)>,
    from_customer: Vec<u8>,
    to_customer: Vec<u8>,
}

impl AudioChunker {
    /// Chunks of `chunk_bytes` (at least 2) per direction.
    pub fn new(chunk_bytes: usize) -> Self {
        let chunk_bytes = chunk_bytes.max(2);
        Self {
            chunk_bytes,
            routes: Vec::with_capacity(4),
            from_customer: Vec::with_capacity(chunk_bytes),
            to_customer: Vec::with_capacity(chunk_bytes),
        }
    }

    /// Feeds one event; every chunk it completes goes to `sink`.
    pub fn push(&mut self, event: &Event<'_>, mut sink: impl FnMut(Direction, &[u8])) {
        match event {
            Event::Tracks(tracks) => {
                self.routes.clear();
                self.routes
                    .extend(tracks.iter().map(|t| (t.number, Direction::of_track(&t.name))));
            }
            Event::Frame(frame) => {
                let Some(&(_, Some(direction))) = self.routes.iter().find(|(n, _)| *n == frame.track_number)
                else {
                    return;
                };
                let buffer = match direction {
                    Direction::FromCustomer => &mut self.from_customer,
                    Direction::ToCustomer => &mut self.to_customer,
                };
                let mut data = frame.data;
                while !data.is_empty() {
                    let take = (self.chunk_bytes - buffer.len()).min(data.len());
                    buffer.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if buffer.len() == self.chunk_bytes {
                        sink(direction, buffer);
                        buffer.clear();
                    }
                }
            }
            _ => {}
        }
    }

    /// Hands over what is left (shorter than a chunk) at the end of the stream.
    pub fn flush(&mut self, mut sink: impl FnMut(Direction, &[u8])) {
        for (direction, buffer) in [
            (Direction::FromCustomer, &mut self.from_customer),
            (Direction::ToCustomer, &mut self.to_customer),
        ] {
            if !buffer.is_empty() {
                sink(direction, buffer);
                buffer.clear();
            }
        }
    }
}

/// Connect's tracks are 8 kHz mono whatever they declare; a PCM track keeps its declared format.
fn pcm_format(track: &Track) -> (u32, u16) {
    if Direction::of_track(&track.name).is_some() && track.codec_id != "A_PCM/INT/LIT" {
        return (SAMPLE_RATE, 1);
    }
    let rate = track
        .sampling_frequency
        .filter(|f| f.is_finite() && *f >= 1.0 && *f <= 768_000.0)
        .map_or(SAMPLE_RATE, |f| f.round() as u32);
    let channels = track
        .channels
        .and_then(|c| u16::try_from(c).ok())
        .filter(|&c| c > 0)
        .unwrap_or(1);
    (rate, channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_by_name_with_the_legacy_track_as_customer() {
        assert_eq!(
            Direction::of_track(AUDIO_FROM_CUSTOMER),
            Some(Direction::FromCustomer)
        );
        assert_eq!(Direction::of_track(LEGACY_TRACK), Some(Direction::FromCustomer));
        assert_eq!(
            Direction::of_track(AUDIO_TO_CUSTOMER),
            Some(Direction::ToCustomer)
        );
        assert_eq!(Direction::of_track("test track"), None);
    }

    #[test]
    fn connect_tracks_are_pcm_whatever_their_codec_says() {
        let aac = Track {
            number: 1,
            name: AUDIO_TO_CUSTOMER.into(),
            codec_id: "A_AAC".into(),
            track_type: 2,
            ..Track::default()
        };
        assert!(is_pcm_track(&aac));
        assert_eq!(pcm_format(&aac), (8000, 1));
        let real_aac = Track {
            name: "mic".into(),
            ..aac.clone()
        };
        assert!(!is_pcm_track(&real_aac));
        let pcm = Track {
            name: "mic".into(),
            codec_id: "A_PCM/INT/LIT".into(),
            sampling_frequency: Some(16000.0),
            channels: Some(2),
            ..aac
        };
        assert!(is_pcm_track(&pcm));
        assert_eq!(pcm_format(&pcm), (16000, 2));
    }

    #[test]
    fn wav_holds_the_samples() {
        let track = TrackAudio {
            name: "x".into(),
            pcm: [1i16, -2, 300, i16::MIN]
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .chain([7])
                .collect(),
            sample_rate: 8000,
            channels: 1,
            ..TrackAudio::default()
        };
        assert_eq!(track.samples(), 4);
        let mut out = io::Cursor::new(Vec::new());
        track.write_wav_to(&mut out).unwrap();
        out.set_position(0);
        let mut wav = hound::WavReader::new(out).unwrap();
        assert_eq!(wav.spec().sample_rate, 8000);
        let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples, [1, -2, 300, i16::MIN]);
    }
}
