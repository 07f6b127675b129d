//! Connect-shaped streams from the writer, read back: every shape the issue lists (both Cluster forms,
//! tags before and after the Cluster, empty fragments and clusters, tags-only documents, swapped track
//! numbers, the legacy single track, lacing, unknown elements, a ContactId switch on a reused stream,
//! STOP_STREAMING, fragment-number cuts, error tags) and the refusals (absurd sizes, truncation, bad
//! vints). The writer's output is also checked against mkvinfo, so the two halves do not just agree
//! with each other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Owned, mkvinfo_text, run, run_whole, swapped_tracks, tone};
use kvs_media::{
    CollectOptions, ConnectStreamWriter, Error, FragmentSpec, Reader, Selection, StopReason, StreamOptions,
    audio::{AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER, LEGACY_TRACK},
    tags,
    writer::{ClusterSize, Lacing, SyntheticCall, TagPlacement, TrackSpec, fragment_number},
};

const CONTACT: &str = "6a1c4bd5-0a2f-4a8e-9f3e-3c2b0d7e5f11";
const INSTANCE: &str = "e9d8c7b6-a5f4-4e3d-9c2b-1a0f9e8d7c6b";

fn call(writer: &ConnectStreamWriter, from: &[u8], to: &[u8]) -> Vec<u8> {
    writer.write_call(&SyntheticCall {
        contact_id: CONTACT,
        instance_id: INSTANCE,
        start_ms: 1_726_677_688_724,
        audio: &[from, to],
        ..SyntheticCall::default()
    })
}

fn pcm(run: &common::Run, name: &str) -> Vec<u8> {
    run.pcm(name)
}

#[test]
fn both_cluster_forms_and_both_tag_placements_give_back_the_exact_pcm() {
    let from = tone(440.0, 9000.0, 8000 * 3 + 123);
    let to = tone(1000.0, 5000.0, 8000 * 2 + 17);
    for cluster_size in [ClusterSize::Known, ClusterSize::Unknown] {
        for connect_tags in [TagPlacement::AfterCluster, TagPlacement::BeforeCluster] {
            let writer = ConnectStreamWriter::new(StreamOptions {
                cluster_size,
                connect_tags,
                ..StreamOptions::default()
            });
            let stream = call(&writer, &from, &to);
            let run = run(&stream, &[1, 5, 333], CollectOptions::default());
            assert_eq!(run.error, None);
            assert!(
                pcm(&run, AUDIO_FROM_CUSTOMER) == from,
                "{cluster_size:?} {connect_tags:?}"
            );
            assert!(
                pcm(&run, AUDIO_TO_CUSTOMER) == to,
                "{cluster_size:?} {connect_tags:?}"
            );
            let ends: Vec<&Owned> = run
                .events
                .iter()
                .filter(|e| matches!(e, Owned::End { .. }))
                .collect();
            assert_eq!(ends.len(), 4);
            for (i, end) in ends.iter().enumerate() {
                let Owned::End { number, contact, .. } = end else {
                    unreachable!()
                };
                assert_eq!(number.as_deref(), Some(fragment_number(i as u64).as_str()));
                assert_eq!(contact.as_deref(), Some(CONTACT));
            }
        }
    }
}

#[test]
fn frames_carry_track_names_and_absolute_timestamps() {
    let from = tone(300.0, 1000.0, 8000);
    let stream = call(&ConnectStreamWriter::default(), &from, &from);
    let run = run_whole(&stream);
    let frames: Vec<(&str, i64, usize)> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Owned::Frame {
                name,
                timestamp_ns,
                data,
                ..
            } => Some((name.as_deref().unwrap(), *timestamp_ns / 1_000_000, data.len())),
            _ => None,
        })
        .collect();
    // 1024-byte frames (64 ms), both tracks interleaved.
    assert_eq!(frames[0], (AUDIO_FROM_CUSTOMER, 1_726_677_688_724, 1024));
    assert_eq!(frames[1], (AUDIO_TO_CUSTOMER, 1_726_677_688_724, 1024));
    assert_eq!(frames[2], (AUDIO_FROM_CUSTOMER, 1_726_677_688_724 + 64, 1024));
    assert_eq!(frames.len(), 2 * 16);
    let from_track = run.collector.track(AUDIO_FROM_CUSTOMER).unwrap();
    assert_eq!(from_track.first_timestamp_ms, Some(1_726_677_688_724));
    assert_eq!(
        (from_track.sample_rate, from_track.channels, from_track.samples()),
        (8000, 1, 8000)
    );
}

#[test]
fn tracks_are_chosen_by_name_not_by_number_or_codec() {
    let from = tone(440.0, 8000.0, 4000);
    let to = tone(880.0, 8000.0, 4000);
    let writer = ConnectStreamWriter::new(swapped_tracks());
    let run = run_whole(&call(&writer, &from, &to));
    assert!(pcm(&run, AUDIO_FROM_CUSTOMER) == from);
    assert!(pcm(&run, AUDIO_TO_CUSTOMER) == to);
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Owned::Tracks(t) if t.iter().all(|t| t.2 == "A_AAC")))
    );
}

#[test]
fn the_legacy_single_track_is_collected() {
    let audio = tone(440.0, 8000.0, 6000);
    let writer = ConnectStreamWriter::new(StreamOptions {
        tracks: vec![TrackSpec {
            number: 1,
            name: LEGACY_TRACK.into(),
        }],
        ..StreamOptions::default()
    });
    let stream = writer.write_call(&SyntheticCall {
        contact_id: CONTACT,
        instance_id: INSTANCE,
        fragment_ms: 500,
        audio: &[&audio],
        ..SyntheticCall::default()
    });
    let run = run_whole(&stream);
    assert!(pcm(&run, LEGACY_TRACK) == audio);
    assert_eq!(
        kvs_media::Direction::of_track(LEGACY_TRACK),
        Some(kvs_media::Direction::FromCustomer)
    );
}

#[test]
fn every_lacing_gives_back_the_frames() {
    let from = tone(440.0, 8000.0, 5000);
    let to = tone(660.0, 8000.0, 4321);
    for lacing in [Lacing::Xiph, Lacing::Ebml, Lacing::Fixed] {
        let writer = ConnectStreamWriter::new(StreamOptions {
            lacing,
            frame_bytes: 300,
            frames_per_block: 5,
            ..StreamOptions::default()
        });
        let stream = call(&writer, &from, &to);
        let whole = run_whole(&stream);
        assert_eq!(whole.error, None, "{lacing:?}");
        assert!(pcm(&whole, AUDIO_FROM_CUSTOMER) == from, "{lacing:?}");
        assert!(pcm(&whole, AUDIO_TO_CUSTOMER) == to, "{lacing:?}");
        let sizes: Vec<usize> = whole.frame_sizes();
        assert_eq!(sizes[..5], [300; 5], "{lacing:?}: each laced frame separately");
        let chunked = run(&stream, &[3, 1, 700], CollectOptions::default());
        assert!(chunked.events == whole.events, "{lacing:?}");
    }
}

#[test]
fn laced_blocks_agree_with_mkvinfo() {
    let from = tone(440.0, 8000.0, 2000);
    for lacing in [Lacing::Xiph, Lacing::Ebml, Lacing::Fixed] {
        let writer = ConnectStreamWriter::new(StreamOptions {
            lacing,
            frame_bytes: 256,
            frames_per_block: 3,
            ..StreamOptions::default()
        });
        let stream = call(&writer, &from, &from[..1000]);
        let text = mkvinfo_text(&stream);
        let theirs: Vec<usize> = text
            .lines()
            .filter_map(|l| l.split("Frame with size ").nth(1))
            .map(|s| s.trim().parse().unwrap())
            .collect();
        let ours: Vec<usize> = run_whole(&stream).frame_sizes();
        assert_eq!(ours, theirs, "{lacing:?}");
    }
}

#[test]
fn writer_output_reads_the_same_in_mkvinfo() {
    let from = tone(440.0, 8000.0, 8000 * 2);
    let stream = call(&ConnectStreamWriter::default(), &from, &from);
    let text = mkvinfo_text(&stream);
    assert_eq!(text.matches("Simple block:").count(), 2 * 2 * 16);
    // Per fragment: the track's name, and Connect's tag mapping the name to the track number.
    assert_eq!(text.matches("Name: AUDIO_FROM_CUSTOMER").count(), 2 * 2);
    for i in 0..2 {
        assert!(
            text.contains(&format!("String: {}", fragment_number(i))),
            "{text}"
        );
    }
    assert!(text.contains(&format!("String: {CONTACT}")));
    assert!(text.contains("Codec ID: A_AAC"));
}

#[test]
fn empty_fragments_empty_clusters_and_tags_only_documents() {
    let writer = ConnectStreamWriter::default();
    let audio = tone(440.0, 8000.0, 800);
    let mut stream = Vec::new();
    let specs = [
        FragmentSpec {
            number: "100",
            contact_id: Some(CONTACT),
            audio: &[&audio, &audio],
            ..FragmentSpec::default()
        },
        // An empty cluster.
        FragmentSpec {
            number: "101",
            contact_id: Some(CONTACT),
            audio: &[],
            ..FragmentSpec::default()
        },
        // No cluster at all.
        FragmentSpec {
            number: "102",
            contact_id: Some(CONTACT),
            no_cluster: true,
            ..FragmentSpec::default()
        },
        // One track silent in this fragment.
        FragmentSpec {
            number: "103",
            contact_id: Some(CONTACT),
            audio: &[&audio, &[]],
            ..FragmentSpec::default()
        },
    ];
    for spec in &specs {
        writer.write_fragment(spec, &mut stream);
    }
    let run = run(&stream, &[11], CollectOptions::default());
    assert_eq!(run.error, None);
    let frames_per_fragment: Vec<u64> = run
        .events
        .iter()
        .filter_map(|e| {
            if let Owned::End { frames, .. } = e {
                Some(*frames)
            } else {
                None
            }
        })
        .collect();
    // 1600 bytes per track = a 1024-byte and a 576-byte frame.
    assert_eq!(frames_per_fragment, [4, 0, 0, 2]);
    assert!(pcm(&run, AUDIO_FROM_CUSTOMER) == [&audio[..], &audio[..]].concat());
    assert!(pcm(&run, AUDIO_TO_CUSTOMER) == audio);
    assert_eq!(run.collector.track(AUDIO_TO_CUSTOMER).unwrap().fragments, 1);
}

#[test]
fn a_new_contact_on_the_reused_stream_stops_collection_even_with_tags_after_the_cluster() {
    let writer = ConnectStreamWriter::default();
    let ours = tone(440.0, 8000.0, 800);
    let theirs = tone(1200.0, 8000.0, 800);
    let mut stream = Vec::new();
    for (number, contact, audio) in [
        ("1", CONTACT, &ours),
        ("2", CONTACT, &ours),
        ("3", "next-contact", &theirs),
        ("4", "next-contact", &theirs),
    ] {
        writer.write_fragment(
            &FragmentSpec {
                number,
                contact_id: Some(contact),
                audio: &[audio, audio],
                ..FragmentSpec::default()
            },
            &mut stream,
        );
    }
    let run = run(
        &stream,
        &[64],
        CollectOptions {
            contact_id: Some(CONTACT.into()),
            ..CollectOptions::default()
        },
    );
    assert!(run.stopped);
    assert_eq!(
        run.collector.stopped(),
        Some(&StopReason::ContactChanged {
            contact_id: "next-contact".into()
        })
    );
    assert!(
        pcm(&run, AUDIO_FROM_CUSTOMER) == [&ours[..], &ours[..]].concat(),
        "none of the next call's audio"
    );
    // The reader reports each fragment's own ContactId (latest value, per fragment: AD-14).
    let contacts: Vec<Option<String>> = run_whole(&stream)
        .events
        .iter()
        .filter_map(|e| {
            if let Owned::End { contact, .. } = e {
                Some(contact.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        contacts.iter().flatten().map(String::as_str).collect::<Vec<_>>(),
        [CONTACT, CONTACT, "next-contact", "next-contact"]
    );
}

#[test]
fn stop_streaming_ends_the_audio() {
    let audio = tone(440.0, 8000.0, 8000 * 3);
    let stream = ConnectStreamWriter::default().write_call(&SyntheticCall {
        contact_id: CONTACT,
        instance_id: INSTANCE,
        audio: &[&audio, &audio],
        stop_at_end: true,
        ..SyntheticCall::default()
    });
    let run = run_whole(&stream);
    assert_eq!(run.collector.stopped(), Some(&StopReason::StopStreaming));
    assert!(pcm(&run, AUDIO_FROM_CUSTOMER) == audio[..16000 * 2]);
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Owned::End { stop: true, .. }))
    );
    let ignoring = common::run(
        &stream,
        &[usize::MAX],
        CollectOptions {
            stop_streaming: false,
            ..CollectOptions::default()
        },
    );
    assert!(pcm(&ignoring, AUDIO_FROM_CUSTOMER) == audio);
}

#[test]
fn fragment_number_range_cuts_and_stops_past_the_end() {
    let audio: Vec<u8> = (0..8000 * 10)
        .flat_map(|i: i32| ((i / 8000) as i16).to_le_bytes())
        .collect();
    let stream = call(&ConnectStreamWriter::default(), &audio, &audio);
    let options = CollectOptions {
        first_fragment: Some(fragment_number(3)),
        last_fragment: Some(fragment_number(5)),
        ..CollectOptions::default()
    };
    let run = run(&stream, &[4096], options);
    assert_eq!(run.collector.stopped(), Some(&StopReason::PastLastFragment));
    let track = run.collector.track(AUDIO_FROM_CUSTOMER).unwrap();
    let seconds: Vec<i16> = track.samples_i16().step_by(8000).collect();
    assert_eq!(seconds, [3, 4, 5]);
    assert_eq!(track.fragments, 3);
    // It stopped at fragment 6's number tag, before that fragment's cluster: no reading to the end (AD-23).
    let last_start = run
        .events
        .iter()
        .rposition(|e| matches!(e, Owned::Start { .. }))
        .unwrap();
    assert!(
        !run.events[last_start..]
            .iter()
            .any(|e| matches!(e, Owned::Frame { .. }))
    );
    assert_eq!(run.count(|e| matches!(e, Owned::Start { .. })), 7);
}

#[test]
fn kvs_error_tags_and_timestamps_are_reported() {
    let mut stream = Vec::new();
    ConnectStreamWriter::default().write_fragment(
        &FragmentSpec {
            number: "42",
            producer_timestamp_ms: 1_515_865_326_543,
            server_timestamp_ms: 1_516_124_526_822,
            instance_id: Some(INSTANCE),
            extra_tags: &[(tags::ERROR_CODE, "4000"), (tags::ERROR_ID, "fragment-not-found")],
            ..FragmentSpec::default()
        },
        &mut stream,
    );
    let mut reader = Reader::new();
    let mut rest = &stream[..];
    let mut seen = false;
    while let Some(event) = reader.next(&mut rest).unwrap() {
        assert!(!matches!(event, kvs_media::Event::FragmentEnd(_)));
    }
    while let Some(event) = reader.finish().unwrap() {
        if let kvs_media::Event::FragmentEnd(info) = event {
            assert_eq!(info.number(), Some("42"));
            assert_eq!(info.server_timestamp(), Some("1516124526.822"));
            assert_eq!(info.server_timestamp_ms(), Some(1_516_124_526_822));
            assert_eq!(info.producer_timestamp_ms(), Some(1_515_865_326_543));
            assert_eq!(info.error_code(), Some("4000"));
            assert_eq!(info.error_id(), Some("fragment-not-found"));
            assert_eq!(info.instance_id(), Some(INSTANCE));
            assert_eq!(info.contact_id(), None);
            assert_eq!(info.millis_behind_now(), Some(290));
            assert_eq!(info.continuation_token(), Some("42"));
            seen = true;
        }
    }
    assert!(seen);
    assert_eq!(reader.continuation_token(), Some("42"));
}

/// One default Connect fragment with this number and audio.
fn one_fragment(number: &str, audio: &[&[u8]]) -> Vec<u8> {
    let mut stream = Vec::new();
    ConnectStreamWriter::default().write_fragment(
        &FragmentSpec {
            number,
            audio,
            ..FragmentSpec::default()
        },
        &mut stream,
    );
    stream
}

/// One element: ID bytes, a one-byte size, the body.
fn element(id: &[u8], body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 127);
    [id, &[0x80 | body.len() as u8], body].concat()
}

#[test]
fn unknown_and_global_elements_are_skipped_wherever_they_are() {
    let audio = tone(440.0, 8000.0, 800);
    let plain = one_fragment("7", &[&audio, &audio]);
    // Insert a Void, a CRC-32 and an unknown 3-byte-ID element right after the Cluster's header (inside an
    // unknown-size Cluster) and at the top of the Segment.
    let junk = [
        element(&[0xEC], &[0; 20]),
        element(&[0xBF], &[1, 2, 3, 4]),
        element(&[0x3F, 0xAB, 0xCD], b"future"),
    ]
    .concat();
    let cluster = plain
        .windows(4)
        .position(|w| w == [0x1F, 0x43, 0xB6, 0x75])
        .unwrap()
        + 12;
    let segment = plain
        .windows(4)
        .position(|w| w == [0x18, 0x53, 0x80, 0x67])
        .unwrap()
        + 12;
    let mut stream = plain.clone();
    stream.splice(cluster..cluster, junk.iter().copied());
    stream.splice(segment..segment, junk.iter().copied());
    let run = run(&stream, &[2], CollectOptions::default());
    assert_eq!(run.error, None);
    assert!(pcm(&run, AUDIO_FROM_CUSTOMER) == audio);
    assert!(pcm(&run, AUDIO_TO_CUSTOMER) == audio);
}

#[test]
fn the_ebml_magic_inside_pcm_is_just_audio() {
    let audio: Vec<u8> = [0x1A, 0x45, 0xDF, 0xA3]
        .iter()
        .copied()
        .cycle()
        .take(4096)
        .collect();
    let stream = call(&ConnectStreamWriter::default(), &audio, &audio);
    let run = run(&stream, &[1000], CollectOptions::default());
    assert_eq!(run.count(|e| matches!(e, Owned::Start { .. })), 1);
    assert!(pcm(&run, AUDIO_FROM_CUSTOMER) == audio);
}

#[test]
fn absurd_sizes_are_refused_with_their_offset_not_allocated() {
    let mut stream = one_fragment("1", &[]);
    let at = stream.len();
    // A Cluster of unknown size holding a SimpleBlock that claims 2^55 bytes.
    stream.extend_from_slice(&[
        0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xA3, 0x01, 0x80, 0, 0, 0, 0, 0, 0, 0x81, 0x00,
    ]);
    let run = run_whole(&stream);
    match run.error {
        Some(Error::TooLarge { offset, size, .. }) => {
            assert_eq!(offset, at as u64 + 5);
            assert_eq!(size, 1 << 55);
        }
        other => panic!("{other:?}"),
    }
    // A TagString of unknown size.
    let bad = [
        &stream[..at],
        &[
            0x12, 0x54, 0xC3, 0x67, 0xFF, 0x73, 0x73, 0xFF, 0x67, 0xC8, 0xFF, 0x44, 0x87, 0xFF,
        ][..],
    ]
    .concat();
    assert!(matches!(
        run_whole(&bad).error,
        Some(Error::UnknownSize {
            element: "TagString",
            ..
        })
    ));
}

#[test]
fn corrupt_headers_and_truncation_are_errors_with_offsets() {
    let audio = tone(440.0, 8000.0, 800);
    let stream = one_fragment("1", &[&audio, &audio]);
    // A zero byte where an element ID must start.
    let mut bad = stream.clone();
    bad.extend_from_slice(&[0x00, 0x81, 0x00]);
    assert_eq!(
        run_whole(&bad).error,
        Some(Error::InvalidId {
            offset: stream.len() as u64
        })
    );
    // Cut inside a block: truncated, reported at the block.
    let block = stream.windows(2).position(|w| w == [0xA3, 0x44]).unwrap();
    let cut = &stream[..block + 100];
    match run(cut, &[10], CollectOptions::default()).error {
        Some(Error::Truncated {
            element: "SimpleBlock",
            offset,
        }) => assert_eq!(offset, block as u64),
        other => panic!("{other:?}"),
    }
    // A child that overflows its known-size parent.
    let tags_at = stream.len();
    let overflow = [
        &stream[..],
        &[0x12, 0x54, 0xC3, 0x67, 0x83, 0x73, 0x73, 0x85, 0, 0, 0, 0, 0][..],
    ]
    .concat();
    assert!(
        matches!(run_whole(&overflow).error, Some(Error::Overflow { offset, .. }) if offset == tags_at as u64 + 5)
    );
}

#[test]
fn nesting_is_bounded() {
    // SimpleTags nested 100 deep (each known-size, holding the next): refused at the limit.
    let mut stream = one_fragment("1", &[]);
    stream.extend_from_slice(&[0x12, 0x54, 0xC3, 0x67, 0xFF, 0x73, 0x73, 0xFF]);
    for depth in 0..100u64 {
        let size = (99 - depth) * 10;
        stream.extend_from_slice(&[0x67, 0xC8]);
        stream.extend_from_slice(&(size | 1 << 56).to_be_bytes());
    }
    assert!(matches!(
        run_whole(&stream).error,
        Some(Error::TooDeep { limit: 16, .. })
    ));
}

#[test]
fn selection_by_names_collects_only_those() {
    let from = tone(440.0, 8000.0, 800);
    let to = tone(880.0, 8000.0, 800);
    let stream = call(&ConnectStreamWriter::default(), &from, &to);
    let run = run(
        &stream,
        &[usize::MAX],
        CollectOptions {
            selection: Selection::Names(vec![AUDIO_TO_CUSTOMER.into()]),
            ..CollectOptions::default()
        },
    );
    assert_eq!(run.collector.tracks().len(), 1);
    assert!(pcm(&run, AUDIO_TO_CUSTOMER) == to);
}

#[test]
fn the_chunker_streams_each_direction_in_fixed_chunks() {
    let from = tone(440.0, 8000.0, 8000 * 2 + 77);
    let to = tone(880.0, 8000.0, 8000 + 5);
    let writer = ConnectStreamWriter::new(swapped_tracks());
    let stream = call(&writer, &from, &to);
    for chunk_bytes in [2, 1000, 4096, 100_000] {
        let mut chunker = kvs_media::AudioChunker::new(chunk_bytes);
        let mut got: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
        let mut sink = |direction: kvs_media::Direction, chunk: &[u8]| {
            got[direction as usize].push(chunk.to_vec());
        };
        let mut reader = Reader::new();
        for piece in stream.chunks(777) {
            let mut rest = piece;
            while let Some(event) = reader.next(&mut rest).unwrap() {
                chunker.push(&event, &mut sink);
            }
        }
        chunker.flush(&mut sink);
        for (chunks, expected) in got.iter().zip([&from, &to]) {
            assert!(chunks.concat() == *expected, "{chunk_bytes}");
            let (last, full) = chunks.split_last().unwrap();
            assert!(full.iter().all(|c| c.len() == chunk_bytes) && last.len() <= chunk_bytes);
        }
    }
}
