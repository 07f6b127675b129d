//! The reader on arbitrary bytes, cut into chunks whose sizes the input's first byte chooses, with the
//! audio collector on top. It must never panic, and every call must consume input or produce an event
//! (a hang shows up as a libFuzzer timeout).
#![no_main]

use kvs_media::{AudioCollector, CollectOptions, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let chunk = match selector % 4 {
        0 => 1,
        1 => 7,
        2 => 4096,
        _ => usize::from(selector) + 1,
    };
    let mut reader = Reader::new();
    let mut collector = AudioCollector::new(CollectOptions::default());
    for piece in stream.chunks(chunk) {
        let mut rest = piece;
        loop {
            match reader.next(&mut rest) {
                Ok(Some(event)) => {
                    collector.push(&event);
                }
                Ok(None) => {
                    assert!(rest.is_empty());
                    break;
                }
                Err(e) => {
                    assert!(e.offset() <= stream.len() as u64 + 12);
                    return;
                }
            }
        }
    }
    while let Ok(Some(event)) = reader.finish() {
        collector.push(&event);
    }
});
