//! Property tests: writer → reader round trips give back the exact PCM per track at any chunking, and
//! random corruption of valid streams never panics and never hangs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Owned, run};
use kvs_media::{
    CollectOptions, ConnectStreamWriter, Reader, StreamOptions,
    audio::{AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER},
    writer::{ClusterSize, Lacing, SyntheticCall, TagPlacement, TrackSpec},
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    options: StreamOptions,
    from: Vec<u8>,
    to: Vec<u8>,
    fragment_ms: usize,
}

fn stream_options() -> impl Strategy<Value = StreamOptions> {
    (
        prop_oneof![Just(ClusterSize::Known), Just(ClusterSize::Unknown)],
        prop_oneof![
            Just(TagPlacement::AfterCluster),
            Just(TagPlacement::BeforeCluster)
        ],
        prop_oneof![
            Just(Lacing::None),
            Just(Lacing::Xiph),
            Just(Lacing::Ebml),
            Just(Lacing::Fixed)
        ],
        prop_oneof![Just(1024usize), 2usize..700],
        1usize..9,
        any::<bool>(),
    )
        .prop_map(
            |(cluster_size, connect_tags, lacing, frame_bytes, frames_per_block, swapped)| {
                let (from, to) = if swapped { (2, 1) } else { (1, 2) };
                StreamOptions {
                    tracks: vec![
                        TrackSpec {
                            number: from,
                            name: AUDIO_FROM_CUSTOMER.into(),
                        },
                        TrackSpec {
                            number: to,
                            name: AUDIO_TO_CUSTOMER.into(),
                        },
                    ],
                    cluster_size,
                    connect_tags,
                    lacing,
                    frame_bytes,
                    frames_per_block,
                    ..StreamOptions::default()
                }
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        stream_options(),
        proptest::collection::vec(any::<u8>(), 0..12_000),
        proptest::collection::vec(any::<u8>(), 0..12_000),
        prop_oneof![Just(1000usize), 50usize..600],
    )
        .prop_map(|(options, from, to, fragment_ms)| Case {
            options,
            from,
            to,
            fragment_ms,
        })
}

fn write(case: &Case) -> Vec<u8> {
    ConnectStreamWriter::new(case.options.clone()).write_call(&SyntheticCall {
        contact_id: "c-1",
        instance_id: "i-1",
        start_ms: 1_700_000_000_000,
        fragment_ms: case.fragment_ms,
        audio: &[&case.from, &case.to],
        ..SyntheticCall::default()
    })
}

fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(vec![1]),
        proptest::collection::vec(1usize..20, 1..8),
        proptest::collection::vec(1usize..5000, 1..8),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_gives_back_the_exact_pcm_at_any_chunking(case in case(), cuts in chunking()) {
        let stream = write(&case);
        let chunked = run(&stream, &cuts, CollectOptions::default());
        prop_assert_eq!(&chunked.error, &None);
        let pcm = |name: &str| chunked.collector.track(name).map(|t| t.pcm.clone()).unwrap_or_default();
        prop_assert!(pcm(AUDIO_FROM_CUSTOMER) == case.from, "customer audio differs");
        prop_assert!(pcm(AUDIO_TO_CUSTOMER) == case.to, "agent audio differs");
        // And the events are exactly those of reading the stream in one piece.
        let whole = run(&stream, &[usize::MAX], CollectOptions::default());
        prop_assert!(whole.events == chunked.events);
    }
}

#[derive(Debug, Clone)]
enum Damage {
    Flip {
        at: usize,
        xor: u8,
    },
    Set {
        at: usize,
        value: u8,
    },
    Cut {
        at: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    /// Overwrite with a size vint that claims the maximum.
    Huge {
        at: usize,
    },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Damage::Flip { at, xor }),
        (
            any::<usize>(),
            prop_oneof![Just(0u8), Just(0xFF), Just(0x01), any::<u8>()]
        )
            .prop_map(|(at, value)| Damage::Set { at, value }),
        any::<usize>().prop_map(|at| Damage::Cut { at }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Damage::Delete { at, len }),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..32))
            .prop_map(|(at, bytes)| Damage::Insert { at, bytes }),
        any::<usize>().prop_map(|at| Damage::Huge { at }),
    ]
}

fn apply(stream: &mut Vec<u8>, damage: &Damage) {
    if stream.is_empty() {
        return;
    }
    let at = |at: usize| at % stream.len().max(1);
    match damage {
        Damage::Flip { at: i, xor } => {
            let i = at(*i);
            stream[i] ^= xor;
        }
        Damage::Set { at: i, value } => {
            let i = at(*i);
            stream[i] = *value;
        }
        Damage::Cut { at: i } => {
            let i = at(*i);
            stream.truncate(i);
        }
        Damage::Delete { at: i, len } => {
            let i = at(*i);
            let end = (i + len).min(stream.len());
            stream.drain(i..end);
        }
        Damage::Insert { at: i, bytes } => {
            let i = at(*i);
            stream.splice(i..i, bytes.iter().copied());
        }
        Damage::Huge { at: i } => {
            let i = at(*i);
            let end = (i + 8).min(stream.len());
            stream.splice(i..end, [0x01, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]);
        }
    }
}

/// Reads a damaged stream, counting calls: every call must consume input or produce an event, and there
/// can be at most a bounded number of events per byte, so the count is bounded by the length.
fn read_bounded(stream: &[u8], cuts: &[usize]) -> Result<(), String> {
    let mut reader = Reader::new();
    let mut calls = 0usize;
    let limit = 64 * (stream.len() + 64);
    let mut position = 0;
    let mut cut = cuts.iter().copied().cycle();
    while position < stream.len() {
        let end = (position + cut.next().unwrap_or(1).max(1)).min(stream.len());
        let mut rest = &stream[position..end];
        position = end;
        loop {
            calls += 1;
            if calls > limit {
                return Err(format!(
                    "more than {limit} calls for {} bytes: a hang",
                    stream.len()
                ));
            }
            match reader.next(&mut rest) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    if !rest.is_empty() {
                        return Err("asked for more input with input left".into());
                    }
                    break;
                }
                Err(e) => {
                    if e.offset() > stream.len() as u64 + 12 {
                        return Err(format!(
                            "error offset {} past the stream's {} bytes: {e}",
                            e.offset(),
                            stream.len()
                        ));
                    }
                    // The same error again, without reading.
                    let mut more: &[u8] = &[1, 2, 3];
                    if reader.next(&mut more).err() != Some(e.clone()) {
                        return Err("an error is not sticky".into());
                    }
                    return Ok(());
                }
            }
        }
        if reader.offset() != position as u64 {
            return Err(format!("offset {} after {position} bytes", reader.offset()));
        }
    }
    loop {
        calls += 1;
        if calls > limit {
            return Err("finish does not finish".into());
        }
        match reader.finish() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return Ok(()),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_corruption_never_panics_and_never_hangs(
        case in case(),
        damages in proptest::collection::vec(damage(), 1..6),
        cuts in chunking(),
    ) {
        let mut stream = write(&case);
        for d in &damages {
            apply(&mut stream, d);
        }
        let result = std::panic::catch_unwind(|| read_bounded(&stream, &cuts));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(message)) => prop_assert!(false, "{}", message),
            Err(_) => prop_assert!(false, "the reader panicked"),
        }
        // The collector on top of a damaged stream must not panic either.
        let collected = std::panic::catch_unwind(|| run(&stream, &cuts, CollectOptions::default()).events.len());
        prop_assert!(collected.is_ok());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), cuts in chunking()) {
        prop_assert!(std::panic::catch_unwind(|| read_bounded(&bytes, &cuts)).is_ok_and(|r| r.is_ok()));
    }
}

#[test]
fn owned_events_compare_by_content() {
    // A guard for the round-trip property: equal streams give equal logs, different ones do not.
    let a = write(&Case {
        options: StreamOptions::default(),
        from: vec![1, 2, 3, 4],
        to: vec![],
        fragment_ms: 1000,
    });
    let b = write(&Case {
        options: StreamOptions::default(),
        from: vec![1, 2, 3, 5],
        to: vec![],
        fragment_ms: 1000,
    });
    let whole = |s: &[u8]| run(s, &[usize::MAX], CollectOptions::default()).events;
    assert!(whole(&a) == whole(&a));
    assert!(whole(&a) != whole(&b));
    assert!(
        whole(&a)
            .iter()
            .any(|e| matches!(e, Owned::Frame { data, .. } if data == &[1, 2, 3, 4]))
    );
}
