//! Every real KVS GetMedia capture in `../shared/fixtures/kvs/` parses, at any chunking, and what the
//! reader reports (fragment numbers, blocks, sizes, timestamps) agrees with two independent readers:
//! `mkvinfo` (mkvtoolnix) and `ffprobe` (ffmpeg). Both are installed by `cargo xtask test`; the tests
//! fail, not skip, without them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{fs, path::Path, process::Command};

use common::{Owned, Run, fixtures_dir, require_tool, run, run_whole};
use kvs_media::{CollectOptions, tags};

fn fixtures() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(fixtures_dir())
        .expect("../shared/fixtures/kvs beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mkv"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

/// What mkvinfo says: fragment numbers, and per block (track, timestamp in ns, frame sizes).
#[derive(Debug, Default)]
struct MkvInfo {
    fragment_numbers: Vec<String>,
    tags: Vec<(String, String)>,
    blocks: Vec<(u64, i64, Vec<usize>)>,
}

fn mkvinfo(path: &Path) -> MkvInfo {
    let output = Command::new(require_tool("mkvinfo"))
        .arg("-a")
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut info = MkvInfo::default();
    let mut lines = text.lines().map(|l| l.trim_start_matches(['|', ' ', '+']));
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("Name: ")
            && let Some(value) = lines.next().and_then(|l| l.strip_prefix("String: "))
        {
            if name == tags::FRAGMENT_NUMBER {
                info.fragment_numbers.push(value.to_owned());
            }
            info.tags.push((name.to_owned(), value.to_owned()));
        } else if let Some(block) = line.strip_prefix("Simple block: ") {
            // "key, track number 1, 1 frame(s), timestamp 00:00:00.033000000"
            let track: u64 = block
                .split("track number ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let stamp = block.split("timestamp ").nth(1).unwrap();
            let parts: Vec<&str> = stamp.split([':', '.']).collect();
            let [h, m, s, ns] = parts[..] else {
                panic!("{stamp}")
            };
            let ns = ((h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()) * 60
                + s.parse::<i64>().unwrap())
                * 1_000_000_000
                + ns.parse::<i64>().unwrap();
            info.blocks.push((track, ns, Vec::new()));
        } else if let Some(size) = line.strip_prefix("Frame with size ") {
            info.blocks.last_mut().unwrap().2.push(size.parse().unwrap());
        }
    }
    info
}

/// ffprobe's packet sizes in file order; `None` when ffprobe gives up (it does on the captures without a
/// single block: "End of file").
fn ffprobe_packet_sizes(path: &Path) -> Option<Vec<usize>> {
    let output = Command::new(require_tool("ffprobe"))
        .args(["-v", "quiet", "-show_entries", "packet=size", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    })
}

fn frames(run: &Run) -> Vec<(u64, i64, usize)> {
    run.events
        .iter()
        .filter_map(|e| match e {
            Owned::Frame {
                track,
                timestamp_ns,
                data,
                ..
            } => Some((*track, *timestamp_ns, data.len())),
            _ => None,
        })
        .collect()
}

fn fragment_numbers(run: &Run) -> Vec<String> {
    run.events
        .iter()
        .filter_map(|e| match e {
            Owned::End { number: Some(n), .. } => Some(n.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_fixture_parses_without_error() {
    for path in fixtures() {
        let stream = fs::read(&path).unwrap();
        let run = run_whole(&stream);
        assert_eq!(run.error, None, "{}", path.display());
        let starts = run.count(|e| matches!(e, Owned::Start { .. }));
        let ends = run.count(|e| matches!(e, Owned::End { .. }));
        assert!(
            starts >= 1 && starts == ends,
            "{}: {starts} starts, {ends} ends",
            path.display()
        );
    }
}

#[test]
fn fixtures_give_the_same_events_at_any_chunking() {
    for path in fixtures() {
        let stream = fs::read(&path).unwrap();
        let whole = run_whole(&stream).events;
        let mut chunkings: Vec<Vec<usize>> = vec![vec![7], vec![4096], vec![1, 2, 3, 13, 1000, 65_536]];
        if stream.len() < 100_000 {
            chunkings.push(vec![1]);
        }
        for cuts in chunkings {
            let chunked = run(&stream, &cuts, CollectOptions::default());
            assert_eq!(chunked.error, None, "{} at {cuts:?}", path.display());
            assert!(
                chunked.events == whole,
                "{}: events differ at chunking {cuts:?}",
                path.display()
            );
        }
    }
}

#[test]
fn fragment_numbers_and_blocks_agree_with_mkvinfo() {
    for path in fixtures() {
        let stream = fs::read(&path).unwrap();
        let ours = run_whole(&stream);
        let theirs = mkvinfo(&path);
        assert_eq!(
            fragment_numbers(&ours),
            theirs.fragment_numbers,
            "{}",
            path.display()
        );
        assert_eq!(ours.tags(), theirs.tags, "{}", path.display());
        let our_frames = frames(&ours);
        let their_frames: Vec<(u64, i64, usize)> = theirs
            .blocks
            .iter()
            .flat_map(|(track, ns, sizes)| sizes.iter().map(move |size| (*track, *ns, *size)))
            .collect();
        assert_eq!(our_frames, their_frames, "{}", path.display());
    }
}

#[test]
fn frame_sizes_agree_with_ffprobe() {
    for path in fixtures() {
        let stream = fs::read(&path).unwrap();
        let ours: Vec<usize> = frames(&run_whole(&stream))
            .into_iter()
            .map(|(_, _, size)| size)
            .collect();
        match ffprobe_packet_sizes(&path) {
            Some(theirs) => assert_eq!(ours, theirs, "{}", path.display()),
            None => assert!(
                ours.is_empty(),
                "ffprobe failed on {}, which has frames",
                path.display()
            ),
        }
    }
}

#[test]
fn tags_before_and_after_the_cluster_are_kept_per_fragment() {
    let stream = fs::read(fixtures_dir().join("test_mixed_tags.mkv")).unwrap();
    let run = run_whole(&stream);
    let numbers = fragment_numbers(&run);
    assert_eq!(numbers.len(), 10);
    // The continuation token comes after the Cluster; the last one is the stream's.
    let tokens: Vec<&String> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Owned::Tag(name, value) if name == tags::CONTINUATION_TOKEN => Some(value),
            _ => None,
        })
        .collect();
    assert_eq!(tokens.len(), 10);
    assert_eq!(run.continuation_token.as_deref(), Some(tokens[9].as_str()));
    // Producer tags before and after the cluster, five each per fragment.
    let test_tags = run.count(|e| matches!(e, Owned::Tag(n, _) if n.starts_with("testTag_")));
    assert_eq!(test_tags, 55, "as mkvinfo counts them");
}

#[test]
fn a_tags_only_document_has_tags_and_no_frames() {
    let stream = fs::read(fixtures_dir().join("test_tags_empty_cluster.mkv")).unwrap();
    let run = run_whole(&stream);
    let tags = run.tags();
    assert_eq!(tags.len(), 5);
    assert_eq!(tags[4], ("testTag_4".into(), "testTag_4_Value".into()));
    assert!(frames(&run).is_empty());
    assert!(matches!(
        run.events.last(),
        Some(Owned::End {
            number: None,
            frames: 0,
            ..
        })
    ));
}

#[test]
fn video_tracks_are_listed_but_not_collected_as_audio() {
    let stream = fs::read(fixtures_dir().join("output_get_media.mkv")).unwrap();
    let run = run(
        &stream,
        &[65_536],
        CollectOptions {
            selection: kvs_media::Selection::AllPcm,
            ..CollectOptions::default()
        },
    );
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Owned::Tracks(t) if t[0].2 == "V_MPEG4/ISO/AVC"))
    );
    assert!(run.collector.tracks().is_empty());
}
