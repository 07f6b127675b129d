//! The tags KVS and Amazon Connect put into each fragment, and what the reader keeps of them.
//!
//! Tags are fragment-scoped (AD-14: never the first value of an ever-growing list): [`FragmentInfo`] is
//! reset at every EBML header and holds the *latest* value of each known tag seen in that fragment, whether
//! the tag came before or after the Cluster.

use std::cmp::Ordering;

/// `AWS_KINESISVIDEO_FRAGMENT_NUMBER`: the fragment's number, a decimal string of up to ~50 digits.
pub const FRAGMENT_NUMBER: &str = "AWS_KINESISVIDEO_FRAGMENT_NUMBER";
/// `AWS_KINESISVIDEO_SERVER_TIMESTAMP`: when KVS received the fragment, epoch seconds with milliseconds.
pub const SERVER_TIMESTAMP: &str = "AWS_KINESISVIDEO_SERVER_TIMESTAMP";
/// `AWS_KINESISVIDEO_PRODUCER_TIMESTAMP`: the producer's time of the fragment, epoch seconds.
pub const PRODUCER_TIMESTAMP: &str = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP";
/// `AWS_KINESISVIDEO_CONTINUATION_TOKEN`: where to reconnect (`StartSelectorType=CONTINUATION_TOKEN`).
pub const CONTINUATION_TOKEN: &str = "AWS_KINESISVIDEO_CONTINUATION_TOKEN";
/// `AWS_KINESISVIDEO_MILLIS_BEHIND_NOW`.
pub const MILLIS_BEHIND_NOW: &str = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW";
/// `AWS_KINESISVIDEO_ERROR_CODE`: an error inside the stream (4000 fragment not found, 5000 internal…).
pub const ERROR_CODE: &str = "AWS_KINESISVIDEO_ERROR_CODE";
/// `AWS_KINESISVIDEO_ERROR_ID`.
pub const ERROR_ID: &str = "AWS_KINESISVIDEO_ERROR_ID";
/// Connect's contact id; a different value means the (reused) stream moved on to another call.
pub const CONTACT_ID: &str = "ContactId";
/// Connect's instance id.
pub const INSTANCE_ID: &str = "InstanceId";
/// `"true"` when the stream must stop (Salesforce's transcriber honours it before each block).
pub const STOP_STREAMING: &str = "STOP_STREAMING";

/// One SimpleTag as it appeared in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// What the reader knows about the fragment being read: the latest value of each known tag.
#[derive(Debug, Clone, Default)]
pub struct FragmentInfo {
    pub(crate) index: u64,
    pub(crate) offset: u64,
    pub(crate) number: String,
    pub(crate) server_timestamp: String,
    pub(crate) producer_timestamp: String,
    pub(crate) continuation_token: String,
    pub(crate) millis_behind_now: String,
    pub(crate) contact_id: String,
    pub(crate) instance_id: String,
    pub(crate) error_code: String,
    pub(crate) error_id: String,
    pub(crate) stop_streaming: bool,
    pub(crate) cluster_timestamp_ms: Option<i64>,
    pub(crate) frames: u64,
}

fn present(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

impl FragmentInfo {
    pub(crate) fn reset(&mut self, index: u64, offset: u64) {
        self.index = index;
        self.offset = offset;
        for field in [
            &mut self.number,
            &mut self.server_timestamp,
            &mut self.producer_timestamp,
            &mut self.continuation_token,
            &mut self.millis_behind_now,
            &mut self.contact_id,
            &mut self.instance_id,
            &mut self.error_code,
            &mut self.error_id,
        ] {
            field.clear();
        }
        self.stop_streaming = false;
        self.cluster_timestamp_ms = None;
        self.frames = 0;
    }

    /// Records a tag if it is one we know (reusing the string buffers: no allocation in steady state).
    pub(crate) fn record(&mut self, tag: Tag<'_>) {
        let field = match tag.name {
            FRAGMENT_NUMBER => &mut self.number,
            SERVER_TIMESTAMP => &mut self.server_timestamp,
            PRODUCER_TIMESTAMP => &mut self.producer_timestamp,
            CONTINUATION_TOKEN => &mut self.continuation_token,
            MILLIS_BEHIND_NOW => &mut self.millis_behind_now,
            CONTACT_ID => &mut self.contact_id,
            INSTANCE_ID => &mut self.instance_id,
            ERROR_CODE => &mut self.error_code,
            ERROR_ID => &mut self.error_id,
            STOP_STREAMING => {
                self.stop_streaming = tag.value.trim().eq_ignore_ascii_case("true");
                return;
            }
            _ => return,
        };
        field.clear();
        field.push_str(tag.value);
    }

    /// 0 for the first EBML document of the stream, then 1, 2, …
    pub fn index(&self) -> u64 {
        self.index
    }
    /// Byte offset of the fragment's EBML header in the stream.
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// `AWS_KINESISVIDEO_FRAGMENT_NUMBER`.
    pub fn number(&self) -> Option<&str> {
        present(&self.number)
    }
    /// `AWS_KINESISVIDEO_SERVER_TIMESTAMP` as written (epoch seconds, e.g. `"1516124526.822"`).
    pub fn server_timestamp(&self) -> Option<&str> {
        present(&self.server_timestamp)
    }
    /// `AWS_KINESISVIDEO_PRODUCER_TIMESTAMP` as written.
    pub fn producer_timestamp(&self) -> Option<&str> {
        present(&self.producer_timestamp)
    }
    /// The server timestamp in epoch milliseconds.
    pub fn server_timestamp_ms(&self) -> Option<i64> {
        epoch_seconds_to_ms(&self.server_timestamp)
    }
    /// The producer timestamp in epoch milliseconds.
    pub fn producer_timestamp_ms(&self) -> Option<i64> {
        epoch_seconds_to_ms(&self.producer_timestamp)
    }
    /// `AWS_KINESISVIDEO_CONTINUATION_TOKEN`, when this fragment carried one.
    pub fn continuation_token(&self) -> Option<&str> {
        present(&self.continuation_token)
    }
    /// `AWS_KINESISVIDEO_MILLIS_BEHIND_NOW`.
    pub fn millis_behind_now(&self) -> Option<u64> {
        self.millis_behind_now.trim().parse().ok()
    }
    /// Connect's `ContactId`.
    pub fn contact_id(&self) -> Option<&str> {
        present(&self.contact_id)
    }
    /// Connect's `InstanceId`.
    pub fn instance_id(&self) -> Option<&str> {
        present(&self.instance_id)
    }
    /// `AWS_KINESISVIDEO_ERROR_CODE`.
    pub fn error_code(&self) -> Option<&str> {
        present(&self.error_code)
    }
    /// `AWS_KINESISVIDEO_ERROR_ID`.
    pub fn error_id(&self) -> Option<&str> {
        present(&self.error_id)
    }
    /// `STOP_STREAMING` was `"true"` in this fragment.
    pub fn stop_streaming(&self) -> bool {
        self.stop_streaming
    }
    /// The first Cluster's timestamp (Connect: absolute epoch milliseconds).
    pub fn cluster_timestamp_ms(&self) -> Option<i64> {
        self.cluster_timestamp_ms
    }
    /// Frames (all tracks) read so far in this fragment.
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

/// `"1516124526.822"` → 1516124526822. `None` unless digits, an optional dot and digits.
pub fn epoch_seconds_to_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    if seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut millis: i64 = 0;
    for b in fraction.bytes().chain(std::iter::repeat(b'0')).take(3) {
        millis = millis * 10 + i64::from(b - b'0');
    }
    seconds
        .parse::<i64>()
        .ok()?
        .checked_mul(1000)?
        .checked_add(millis)
}

/// Whether `text` is a fragment number: non-empty ASCII digits.
pub fn is_fragment_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Compares two fragment numbers by value (they are longer than any machine integer). `None` when either
/// is not a decimal number.
pub fn compare_fragment_numbers(a: &str, b: &str) -> Option<Ordering> {
    if !is_fragment_number(a) || !is_fragment_number(b) {
        return None;
    }
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    Some(a.len().cmp(&b.len()).then_with(|| a.cmp(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_numbers_compare_by_value_not_by_text() {
        let a = "91343852333181432392682062607743920146159169392";
        let b = "91343852333181432397633822764885441725874549018";
        assert_eq!(compare_fragment_numbers(a, b), Some(Ordering::Less));
        assert_eq!(compare_fragment_numbers(b, a), Some(Ordering::Greater));
        assert_eq!(compare_fragment_numbers("0099", "100"), Some(Ordering::Less));
        assert_eq!(compare_fragment_numbers("007", "7"), Some(Ordering::Equal));
        assert_eq!(compare_fragment_numbers("7a", "7"), None);
        assert_eq!(compare_fragment_numbers("", "7"), None);
    }

    #[test]
    fn kvs_timestamps_become_milliseconds() {
        assert_eq!(epoch_seconds_to_ms("1516124526.822"), Some(1_516_124_526_822));
        assert_eq!(epoch_seconds_to_ms("0.000"), Some(0));
        assert_eq!(epoch_seconds_to_ms("12"), Some(12_000));
        assert_eq!(epoch_seconds_to_ms("12.5"), Some(12_500));
        assert_eq!(epoch_seconds_to_ms("12.3456"), Some(12_345));
        assert_eq!(epoch_seconds_to_ms("-1.0"), None);
        assert_eq!(epoch_seconds_to_ms("x"), None);
    }

    #[test]
    fn tags_are_kept_per_fragment_latest_value_wins() {
        let mut info = FragmentInfo::default();
        info.record(Tag {
            name: CONTACT_ID,
            value: "a",
        });
        info.record(Tag {
            name: CONTACT_ID,
            value: "b",
        });
        info.record(Tag {
            name: STOP_STREAMING,
            value: "TRUE",
        });
        info.record(Tag {
            name: "Events",
            value: "[]",
        });
        assert_eq!(info.contact_id(), Some("b"));
        assert!(info.stop_streaming());
        info.reset(1, 10);
        assert_eq!(
            (info.contact_id(), info.stop_streaming(), info.index()),
            (None, false, 1)
        );
    }
}
