//! A writer of Connect-shaped GetMedia streams, for tests, the local KVS fake and the demo.
//!
//! Each fragment is one EBML document laid out as `../shared/spec/transcribe-kvs.md` §5 describes from
//! KVS and Connect dumps: EBML header; Segment of unknown size with Info ("Kinesis Video SDK",
//! TimecodeScale 1 ms), Tracks (named PCM tracks labelled `A_AAC`, TrackType 2, no Audio element), Tags
//! with the KVS fragment number and timestamps, a Cluster (known or unknown size) whose Timecode is
//! absolute epoch milliseconds, SimpleBlocks of both tracks interleaved, Connect's own tags (each in its
//! own Tags element, after or before the Cluster), and a trailing Tags element with
//! `AWS_KINESISVIDEO_MILLIS_BEHIND_NOW` and `AWS_KINESISVIDEO_CONTINUATION_TOKEN`.

use crate::{
    audio::{AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER, BYTES_PER_MS},
    ebml::{UNKNOWN_SIZE, id, write_bytes, write_id, write_master, write_size, write_uint},
    tags,
};

/// How the Cluster's size is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterSize {
    /// Declared, as ffmpeg and mkvmerge write it.
    Known,
    /// `01 FF FF FF FF FF FF FF`, as the producer SDK writes it; closed by the next Tags element.
    Unknown,
}

/// Where Connect's tags (ContactId, InstanceId, MimeType, track mapping, Events) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagPlacement {
    /// As in the real Connect dump.
    AfterCluster,
    /// As in one third-party fixture.
    BeforeCluster,
}

/// Block lacing (Connect does not lace; the reader must cope anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lacing {
    None,
    Xiph,
    Ebml,
    /// Fixed-size; groups of unequal frames fall back to unlaced blocks.
    Fixed,
}

/// One track of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSpec {
    pub number: u64,
    pub name: String,
}

/// The shape of the stream.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Default: `AUDIO_FROM_CUSTOMER` = 1, `AUDIO_TO_CUSTOMER` = 2.
    pub tracks: Vec<TrackSpec>,
    /// Default `A_AAC`, the label Connect puts on its PCM.
    pub codec_id: String,
    pub cluster_size: ClusterSize,
    pub connect_tags: TagPlacement,
    /// Bytes of PCM per frame (default 1024 = 64 ms at 8 kHz).
    pub frame_bytes: usize,
    pub lacing: Lacing,
    /// Frames per laced block.
    pub frames_per_block: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            tracks: vec![
                TrackSpec {
                    number: 1,
                    name: AUDIO_FROM_CUSTOMER.into(),
                },
                TrackSpec {
                    number: 2,
                    name: AUDIO_TO_CUSTOMER.into(),
                },
            ],
            codec_id: "A_AAC".into(),
            cluster_size: ClusterSize::Unknown,
            connect_tags: TagPlacement::AfterCluster,
            frame_bytes: 1024,
            lacing: Lacing::None,
            frames_per_block: 4,
        }
    }
}

/// One fragment's content.
#[derive(Debug, Clone, Default)]
pub struct FragmentSpec<'a> {
    /// `AWS_KINESISVIDEO_FRAGMENT_NUMBER`.
    pub number: &'a str,
    /// Epoch milliseconds; also the Cluster's Timecode.
    pub producer_timestamp_ms: i64,
    pub server_timestamp_ms: i64,
    pub contact_id: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    pub stop_streaming: bool,
    /// PCM (s16le) per track, in the order of [`StreamOptions::tracks`]; missing or empty: no blocks.
    pub audio: &'a [&'a [u8]],
    /// More tags, after Connect's.
    pub extra_tags: &'a [(&'a str, &'a str)],
    /// Write no Cluster at all (a tags-only document).
    pub no_cluster: bool,
}

/// Writes Connect-shaped GetMedia streams.
#[derive(Debug, Clone, Default)]
pub struct ConnectStreamWriter {
    pub options: StreamOptions,
}

/// Epoch milliseconds as KVS writes them in tags: seconds with three decimals.
pub fn kvs_timestamp(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// A plausible 47-digit KVS fragment number, increasing with `index`.
pub fn fragment_number(index: u64) -> String {
    format!("91343852333181432392682062607743920146{:09}", index * 4_951_760)
}

fn simple_tag(out: &mut Vec<u8>, name: &str, value: &str) {
    write_master(out, id::SIMPLE_TAG, |t| {
        write_bytes(t, id::TAG_NAME, name.as_bytes());
        write_bytes(t, id::TAG_STRING, value.as_bytes());
    });
}

fn tags_element(out: &mut Vec<u8>, tags: &[(&str, &str)]) {
    write_master(out, id::TAGS, |t| {
        write_master(t, id::TAG, |t| {
            for (name, value) in tags {
                simple_tag(t, name, value);
            }
        });
    });
}

impl ConnectStreamWriter {
    pub fn new(options: StreamOptions) -> Self {
        Self { options }
    }

    /// Appends one fragment (one EBML document) to `out`.
    pub fn write_fragment(&self, fragment: &FragmentSpec<'_>, out: &mut Vec<u8>) {
        let o = &self.options;
        write_master(out, id::EBML, |h| {
            write_uint(h, 0x4286, 1);
            write_uint(h, 0x42F7, 1);
            write_uint(h, 0x42F2, 4);
            write_uint(h, 0x42F3, 8);
            write_bytes(h, id::DOC_TYPE, b"matroska");
            write_uint(h, 0x4287, 2);
            write_uint(h, 0x4285, 2);
        });
        write_id(out, id::SEGMENT);
        out.extend_from_slice(&UNKNOWN_SIZE);
        write_master(out, id::INFO, |i| {
            write_bytes(i, 0x73A4, &[0x5A; 16]);
            write_uint(i, id::TIMECODE_SCALE, 1_000_000);
            write_bytes(i, id::TITLE, b"Kinesis Video SDK");
            write_bytes(i, id::MUXING_APP, b"Kinesis Video SDK");
            write_bytes(i, id::WRITING_APP, b"Kinesis Video SDK");
        });
        write_master(out, id::TRACKS, |t| {
            for track in &o.tracks {
                write_master(t, id::TRACK_ENTRY, |e| {
                    write_uint(e, id::TRACK_NUMBER, track.number);
                    write_uint(e, id::TRACK_UID, 0x1000 + track.number);
                    write_uint(e, id::TRACK_TYPE, 2);
                    write_bytes(e, id::NAME, track.name.as_bytes());
                    write_bytes(e, id::CODEC_ID, o.codec_id.as_bytes());
                    write_bytes(e, id::CODEC_PRIVATE, &[0x15, 0x88]);
                });
            }
        });
        let server = kvs_timestamp(fragment.server_timestamp_ms);
        let producer = kvs_timestamp(fragment.producer_timestamp_ms);
        tags_element(
            out,
            &[
                (tags::FRAGMENT_NUMBER, fragment.number),
                (tags::SERVER_TIMESTAMP, &server),
                (tags::PRODUCER_TIMESTAMP, &producer),
            ],
        );
        if o.connect_tags == TagPlacement::BeforeCluster {
            self.connect_tags(fragment, out);
        }
        if !fragment.no_cluster {
            self.clusters(fragment, out);
        }
        if o.connect_tags == TagPlacement::AfterCluster {
            self.connect_tags(fragment, out);
        }
        tags_element(
            out,
            &[
                (tags::MILLIS_BEHIND_NOW, "290"),
                (tags::CONTINUATION_TOKEN, fragment.number),
            ],
        );
    }

    fn connect_tags(&self, fragment: &FragmentSpec<'_>, out: &mut Vec<u8>) {
        let mut list: Vec<(&str, String)> = Vec::new();
        if let Some(contact) = fragment.contact_id {
            list.push((tags::CONTACT_ID, contact.into()));
        }
        if let Some(instance) = fragment.instance_id {
            list.push((tags::INSTANCE_ID, instance.into()));
        }
        list.push(("MimeType", "audio/L16;rate=8000;channels=1;".into()));
        for track in &self.options.tracks {
            list.push((&track.name, track.number.to_string()));
        }
        list.push(("Events", "[]".into()));
        if fragment.stop_streaming {
            list.push((tags::STOP_STREAMING, "true".into()));
        }
        list.extend(fragment.extra_tags.iter().map(|&(n, v)| (n, v.to_owned())));
        for (name, value) in &list {
            tags_element(out, &[(name, value)]);
        }
    }

    /// Blocks of both tracks interleaved by time; a new Cluster whenever the relative timecode would
    /// leave the signed 16-bit range.
    fn clusters(&self, fragment: &FragmentSpec<'_>, out: &mut Vec<u8>) {
        let o = &self.options;
        let frame_bytes = o.frame_bytes.max(2);
        let per_block = if o.lacing == Lacing::None {
            1
        } else {
            o.frames_per_block.clamp(1, 256)
        };
        let block_bytes = frame_bytes * per_block;
        let longest = fragment.audio.iter().map(|a| a.len()).max().unwrap_or(0);
        let mut cluster = Vec::new();
        let mut cluster_start_ms = fragment.producer_timestamp_ms;
        let mut offset = 0usize;
        let mut first = true;
        loop {
            let relative = (offset / BYTES_PER_MS) as i64 + fragment.producer_timestamp_ms - cluster_start_ms;
            if first || relative > i64::from(i16::MAX) {
                if !first {
                    self.flush_cluster(&mut cluster, out);
                }
                first = false;
                cluster_start_ms = fragment.producer_timestamp_ms + (offset / BYTES_PER_MS) as i64;
                write_uint(&mut cluster, id::TIMECODE, cluster_start_ms.max(0) as u64);
                write_uint(&mut cluster, id::POSITION, 0);
            }
            if offset >= longest {
                break;
            }
            let relative =
                ((offset / BYTES_PER_MS) as i64 + fragment.producer_timestamp_ms - cluster_start_ms) as i16;
            for (track, pcm) in o.tracks.iter().zip(fragment.audio) {
                let Some(block) = pcm.get(offset..(offset + block_bytes).min(pcm.len())) else {
                    continue;
                };
                if block.is_empty() {
                    continue;
                }
                let frames: Vec<&[u8]> = block.chunks(frame_bytes).collect();
                self.simple_block(&mut cluster, track.number, relative, &frames);
            }
            offset += block_bytes;
        }
        self.flush_cluster(&mut cluster, out);
    }

    fn flush_cluster(&self, cluster: &mut Vec<u8>, out: &mut Vec<u8>) {
        match self.options.cluster_size {
            ClusterSize::Known => write_bytes(out, id::CLUSTER, cluster),
            ClusterSize::Unknown => {
                write_id(out, id::CLUSTER);
                out.extend_from_slice(&UNKNOWN_SIZE);
                out.extend_from_slice(cluster);
            }
        }
        cluster.clear();
    }

    fn simple_block(&self, out: &mut Vec<u8>, track: u64, relative: i16, frames: &[&[u8]]) {
        let equal = frames.windows(2).all(|w| w[0].len() == w[1].len());
        let lacing = match self.options.lacing {
            _ if frames.len() < 2 => Lacing::None,
            Lacing::Fixed if !equal => {
                for frame in frames {
                    self.simple_block(out, track, relative, std::slice::from_ref(frame));
                }
                return;
            }
            other => other,
        };
        let mut body = Vec::new();
        write_size(&mut body, track);
        body.extend_from_slice(&relative.to_be_bytes());
        let lacing_bits = match lacing {
            Lacing::None => 0,
            Lacing::Xiph => 1,
            Lacing::Fixed => 2,
            Lacing::Ebml => 3,
        };
        body.push(0x80 | (lacing_bits << 1));
        if lacing != Lacing::None {
            body.push((frames.len() - 1) as u8);
            let listed = &frames[..frames.len() - 1];
            match lacing {
                Lacing::Xiph => {
                    for frame in listed {
                        let mut size = frame.len();
                        while size >= 255 {
                            body.push(255);
                            size -= 255;
                        }
                        body.push(size as u8);
                    }
                }
                Lacing::Ebml => {
                    let mut previous = 0i64;
                    for (i, frame) in listed.iter().enumerate() {
                        let size = frame.len() as i64;
                        if i == 0 {
                            write_size(&mut body, size as u64);
                        } else {
                            write_signed_vint(&mut body, size - previous);
                        }
                        previous = size;
                    }
                }
                _ => {}
            }
        }
        for frame in frames {
            body.extend_from_slice(frame);
        }
        write_bytes(out, id::SIMPLE_BLOCK, &body);
    }
}

/// EBML lacing's signed differences: the value plus a bias of 2^(7n−1) − 1 in the shortest n bytes.
fn write_signed_vint(out: &mut Vec<u8>, value: i64) {
    for len in 1..=8u32 {
        let bias = (1i64 << (7 * len - 1)) - 1;
        let biased = value + bias;
        if biased >= 0 && biased < (1i64 << (7 * len)) - 1 {
            let marked = (biased as u64) | (1u64 << (7 * len));
            out.extend_from_slice(&marked.to_be_bytes()[8 - len as usize..]);
            return;
        }
    }
}

/// A whole call: PCM per track cut into fragments of `fragment_ms`, numbered from `first_index`.
#[derive(Debug, Clone, Default)]
pub struct SyntheticCall<'a> {
    pub contact_id: &'a str,
    pub instance_id: &'a str,
    /// Epoch milliseconds of the first sample.
    pub start_ms: i64,
    /// Fragment length; 0 means 1000 ms (Connect's fragments are about a second).
    pub fragment_ms: usize,
    pub first_index: u64,
    /// PCM (s16le, 8 kHz) per track, in the order of the writer's tracks.
    pub audio: &'a [&'a [u8]],
    /// Add `STOP_STREAMING=true` to the last fragment.
    pub stop_at_end: bool,
}

impl ConnectStreamWriter {
    /// Writes a whole call; returns the stream.
    pub fn write_call(&self, call: &SyntheticCall<'_>) -> Vec<u8> {
        let fragment_ms = if call.fragment_ms == 0 {
            1000
        } else {
            call.fragment_ms
        };
        let fragment_bytes = fragment_ms * BYTES_PER_MS;
        let longest = call.audio.iter().map(|a| a.len()).max().unwrap_or(0);
        let count = longest.div_ceil(fragment_bytes).max(1);
        let mut out = Vec::with_capacity(longest * call.audio.len() + count * 1024);
        for i in 0..count {
            let range = i * fragment_bytes..(i + 1) * fragment_bytes;
            let audio: Vec<&[u8]> = call
                .audio
                .iter()
                .map(|pcm| {
                    pcm.get(range.start.min(pcm.len())..range.end.min(pcm.len()))
                        .unwrap_or_default()
                })
                .collect();
            let number = fragment_number(call.first_index + i as u64);
            let at = call.start_ms + (i * fragment_ms) as i64;
            self.write_fragment(
                &FragmentSpec {
                    number: &number,
                    producer_timestamp_ms: at,
                    server_timestamp_ms: at + 120,
                    contact_id: Some(call.contact_id),
                    instance_id: Some(call.instance_id),
                    stop_streaming: call.stop_at_end && i + 1 == count,
                    audio: &audio,
                    ..FragmentSpec::default()
                },
                &mut out,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_vints_use_the_shortest_form() {
        let mut out = Vec::new();
        write_signed_vint(&mut out, 0);
        assert_eq!(out, [0xBF]);
        out.clear();
        write_signed_vint(&mut out, -1);
        assert_eq!(out, [0xBE]);
        out.clear();
        write_signed_vint(&mut out, 100);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn timestamps_and_numbers_look_like_kvs() {
        assert_eq!(kvs_timestamp(1_516_124_526_822), "1516124526.822");
        assert_eq!(kvs_timestamp(5), "0.005");
        assert_eq!(fragment_number(0).len(), 47);
        assert_eq!(
            crate::tags::compare_fragment_numbers(&fragment_number(9), &fragment_number(10)),
            Some(std::cmp::Ordering::Less)
        );
    }
}
