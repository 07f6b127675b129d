//! EBML primitives: element IDs, variable-size integers, element levels and the writer's encoders.
//!
//! Only the Matroska elements that KVS GetMedia and Amazon Connect use are named here; every other ID is
//! "unknown" to the reader and skipped by its declared size.

/// Matroska element IDs (with their marker bits, as they appear in the stream).
pub mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMECODE_SCALE: u32 = 0x2A_D7B1;
    pub const TITLE: u32 = 0x7BA9;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const NAME: u32 = 0x536E;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const BIT_DEPTH: u32 = 0x6264;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMECODE: u32 = 0xE7;
    pub const POSITION: u32 = 0xA7;
    pub const PREV_SIZE: u32 = 0xAB;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const BLOCK_GROUP: u32 = 0xA0;
    pub const BLOCK: u32 = 0xA1;
    pub const BLOCK_DURATION: u32 = 0x9B;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CHAPTERS: u32 = 0x1043_A770;
    pub const ATTACHMENTS: u32 = 0x1941_A469;
    pub const TAGS: u32 = 0x1254_C367;
    pub const TAG: u32 = 0x7373;
    pub const TARGETS: u32 = 0x63C0;
    pub const SIMPLE_TAG: u32 = 0x67C8;
    pub const TAG_NAME: u32 = 0x45A3;
    pub const TAG_STRING: u32 = 0x4487;
    pub const TAG_BINARY: u32 = 0x4485;
    // Void (0xEC) and CRC-32 (0xBF) are global: skipped like any element we do not read.
}

/// The element's level in the Matroska tree, for closing masters of unknown size (the rule of AWS's
/// `EBMLParser`): a new element closes every open unknown-size master whose level is ≥ its own. Global
/// elements (Void, CRC-32) and IDs we do not know have no level and close nothing.
pub(crate) fn level(element: u32) -> Option<u8> {
    use id::*;
    Some(match element {
        EBML | SEGMENT => 0,
        SEEK_HEAD | INFO | TRACKS | CLUSTER | CUES | CHAPTERS | ATTACHMENTS | TAGS => 1,
        TRACK_ENTRY | TAG | TIMECODE | POSITION | PREV_SIZE | SIMPLE_BLOCK | BLOCK_GROUP | TIMECODE_SCALE
        | TITLE | MUXING_APP | WRITING_APP | DOC_TYPE => 2,
        TRACK_NUMBER | TRACK_UID | TRACK_TYPE | NAME | CODEC_ID | CODEC_PRIVATE | AUDIO | BLOCK
        | BLOCK_DURATION | TARGETS | SIMPLE_TAG => 3,
        SAMPLING_FREQUENCY | CHANNELS | BIT_DEPTH | TAG_NAME | TAG_STRING | TAG_BINARY => 4,
        _ => return None,
    })
}

/// A printable name for error messages.
pub(crate) fn name(element: u32) -> &'static str {
    use id::*;
    match element {
        EBML => "EBML header",
        SEGMENT => "Segment",
        INFO => "Info",
        TRACKS => "Tracks",
        TRACK_ENTRY => "TrackEntry",
        AUDIO => "Audio",
        CLUSTER => "Cluster",
        SIMPLE_BLOCK => "SimpleBlock",
        BLOCK_GROUP => "BlockGroup",
        BLOCK => "Block",
        TAGS => "Tags",
        TAG => "Tag",
        SIMPLE_TAG => "SimpleTag",
        TAG_NAME => "TagName",
        TAG_STRING => "TagString",
        NAME => "Name",
        CODEC_ID => "CodecID",
        TIMECODE => "Timecode",
        _ => "element",
    }
}

/// What a vint at the start of `bytes` is, without consuming it.
pub(crate) enum Vint {
    /// Needs this many bytes in all and fewer are there.
    Incomplete,
    /// The first byte is zero: longer than 8 bytes, which EBML does not allow.
    Invalid,
    /// `len` bytes; `value` with the marker bit removed; `all_ones` when every value bit is set (for a
    /// size: "unknown").
    Value { len: usize, value: u64, all_ones: bool },
}

pub(crate) fn vint_len(first: u8) -> Option<usize> {
    (first != 0).then(|| first.leading_zeros() as usize + 1)
}

/// Reads a size-style vint (marker removed).
pub(crate) fn read_vint(bytes: &[u8]) -> Vint {
    let Some(&first) = bytes.first() else {
        return Vint::Incomplete;
    };
    let Some(len) = vint_len(first) else {
        return Vint::Invalid;
    };
    if bytes.len() < len {
        return Vint::Incomplete;
    }
    let mask = if len == 8 { 0 } else { 0xFFu8 >> len };
    let mut value = u64::from(first & mask);
    for &b in &bytes[1..len] {
        value = (value << 8) | u64::from(b);
    }
    let all_ones = value == (1u64 << (7 * len)) - 1;
    Vint::Value { len, value, all_ones }
}

/// Reads an element ID (marker kept, at most 4 bytes).
pub(crate) fn read_id(bytes: &[u8]) -> Result<Option<(u32, usize)>, ()> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    match vint_len(first) {
        Some(len @ 1..=4) => {
            if bytes.len() < len {
                return Ok(None);
            }
            let id = bytes[..len]
                .iter()
                .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            Ok(Some((id, len)))
        }
        _ => Err(()),
    }
}

/// Big-endian unsigned integer of 0–8 bytes.
pub(crate) fn read_uint(bytes: &[u8]) -> Option<u64> {
    (bytes.len() <= 8).then(|| bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// EBML float of 0, 4 or 8 bytes.
pub(crate) fn read_float(bytes: &[u8]) -> Option<f64> {
    match bytes.len() {
        0 => Some(0.0),
        4 => Some(f64::from(f32::from_bits(read_uint(bytes)? as u32))),
        8 => Some(f64::from_bits(read_uint(bytes)?)),
        _ => None,
    }
}

// ---- encoding (the writer) ----

pub(crate) fn write_id(out: &mut Vec<u8>, element: u32) {
    let bytes = element.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.extend_from_slice(&bytes[skip..]);
}

/// The shortest size vint for `value` (never the all-ones pattern, which means "unknown").
pub(crate) fn write_size(out: &mut Vec<u8>, value: u64) {
    let len = (1..=8usize)
        .find(|&len| value < (1u64 << (7 * len)) - 1)
        .unwrap_or(8);
    let marked = value | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// The 8-byte "unknown size" marker that KVS writes for Segments and producer-SDK Clusters.
pub(crate) const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

pub(crate) fn write_uint(out: &mut Vec<u8>, element: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    write_id(out, element);
    write_size(out, (8 - skip) as u64);
    out.extend_from_slice(&bytes[skip..]);
}

pub(crate) fn write_bytes(out: &mut Vec<u8>, element: u32, value: &[u8]) {
    write_id(out, element);
    write_size(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// Writes a master element whose body `body` builds.
pub(crate) fn write_master(out: &mut Vec<u8>, element: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    body(&mut inner);
    write_bytes(out, element, &inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_trip_through_the_shortest_vint() {
        for value in [0u64, 1, 126, 127, 128, 16_382, 16_383, 1 << 20, (1 << 56) - 2] {
            let mut out = Vec::new();
            write_size(&mut out, value);
            match read_vint(&out) {
                Vint::Value {
                    len,
                    value: read,
                    all_ones,
                } => {
                    assert_eq!((len, read, all_ones), (out.len(), value, false), "{value}");
                }
                _ => panic!("{value} did not read back"),
            }
        }
        assert!(matches!(
            read_vint(&UNKNOWN_SIZE),
            Vint::Value {
                all_ones: true,
                len: 8,
                ..
            }
        ));
        assert!(matches!(
            read_vint(&[0xFF]),
            Vint::Value {
                all_ones: true,
                len: 1,
                ..
            }
        ));
        assert!(matches!(read_vint(&[0x00, 1]), Vint::Invalid));
        assert!(matches!(read_vint(&[0x40]), Vint::Incomplete));
    }

    #[test]
    fn ids_keep_their_marker_and_reject_five_bytes() {
        assert_eq!(read_id(&[0x1A, 0x45, 0xDF, 0xA3]), Ok(Some((id::EBML, 4))));
        assert_eq!(read_id(&[0xA3, 0x00]), Ok(Some((id::SIMPLE_BLOCK, 1))));
        assert_eq!(read_id(&[0x1A, 0x45]), Ok(None));
        assert_eq!(read_id(&[0x08, 0, 0, 0, 0]), Err(()));
        let mut out = Vec::new();
        write_id(&mut out, id::TIMECODE_SCALE);
        assert_eq!(out, [0x2A, 0xD7, 0xB1]);
    }

    #[test]
    fn uints_and_floats() {
        let mut out = Vec::new();
        write_uint(&mut out, id::TIMECODE, 1_726_677_688_724);
        assert_eq!(read_uint(&out[2..]), Some(1_726_677_688_724));
        assert_eq!(read_float(&8000.0f32.to_bits().to_be_bytes()), Some(8000.0));
        assert_eq!(read_float(&[1, 2, 3]), None);
        let mut zero = Vec::new();
        write_uint(&mut zero, id::TRACK_TYPE, 0);
        assert_eq!(zero, [0x83, 0x81, 0x00]);
    }
}
