//! The reader and the collector allocate nothing per frame in the steady state: after the first
//! fragments have sized the carry-over buffer, the track table and the tag strings, reading hundreds of
//! further fragments (chunks that split blocks, tags before and after the Cluster) allocates not one
//! block. Counted with dhat's heap profiler as the global allocator (this test binary only).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kvs_media::{
    AudioCollector, CollectOptions, ConnectStreamWriter, Flow, Reader, StreamOptions,
    audio::{AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER},
    writer::{ClusterSize, SyntheticCall},
};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn feed(reader: &mut Reader, collector: &mut AudioCollector, stream: &[u8], chunk: usize) -> u64 {
    let mut frames = 0;
    for piece in stream.chunks(chunk) {
        let mut rest = piece;
        while let Some(event) = reader.next(&mut rest).unwrap() {
            if let kvs_media::Event::Frame(_) = event {
                frames += 1;
            }
            assert_eq!(collector.push(&event), Flow::Continue);
        }
    }
    frames
}

#[test]
fn steady_state_reading_allocates_nothing_per_frame() {
    let seconds = 200;
    let audio: Vec<u8> = (0..seconds * 16_000).map(|i| (i % 251) as u8).collect();
    let stream = ConnectStreamWriter::new(StreamOptions {
        cluster_size: ClusterSize::Known,
        ..StreamOptions::default()
    })
    .write_call(&SyntheticCall {
        contact_id: "contact",
        instance_id: "instance",
        start_ms: 1_700_000_000_000,
        audio: &[&audio, &audio],
        ..SyntheticCall::default()
    });
    let warm_up = stream.len() / 50;

    let _profiler = dhat::Profiler::builder().testing().build();
    let mut reader = Reader::new();
    let mut collector = AudioCollector::new(CollectOptions::default());
    collector.reserve(&[AUDIO_FROM_CUSTOMER, AUDIO_TO_CUSTOMER], audio.len());
    feed(&mut reader, &mut collector, &stream[..warm_up], 1500);
    let before = dhat::HeapStats::get();
    let frames = feed(&mut reader, &mut collector, &stream[warm_up..], 1500);
    let after = dhat::HeapStats::get();

    assert!(
        before.total_blocks > 0,
        "the profiler counts (the warm-up allocated)"
    );
    assert!(frames > 5000, "{frames} frames");
    assert!(reader.fragments() > 190);
    assert_eq!(
        after.total_blocks - before.total_blocks,
        0,
        "{} allocations ({} bytes) for {frames} frames",
        after.total_blocks - before.total_blocks,
        after.total_bytes - before.total_bytes
    );
    while reader.finish().unwrap().is_some() {}
    assert!(collector.track(AUDIO_FROM_CUSTOMER).unwrap().pcm == audio);
}
