//! The incremental reader: bytes in, in chunks of any size; [`Event`]s out.
//!
//! ```
//! # fn demo(chunks: &[&[u8]]) -> Result<(), kvs_media::Error> {
//! use kvs_media::{Event, Reader};
//! let mut reader = Reader::new();
//! for chunk in chunks {
//!     let mut rest: &[u8] = chunk;
//!     while let Some(event) = reader.next(&mut rest)? {
//!         if let Event::Frame(frame) = event {
//!             println!("{:?} {} bytes", frame.track_name(), frame.data.len());
//!         }
//!     }
//! }
//! while let Some(_event) = reader.finish()? {}
//! # Ok(()) }
//! ```
//!
//! How it works: element headers are parsed from the input in place, and so are whole elements that lie
//! inside one chunk, so a frame is normally handed out as a slice of the caller's chunk. Only an element
//! split across chunks is gathered in a carry-over buffer, never larger than that element (and refused
//! beyond [`Limits::max_element_size`]). Elements the reader does not need are skipped by their declared
//! size without being held. Masters of unknown size (Segment always, Cluster sometimes) are closed by the
//! next element of the same or a higher level, as in AWS's `EBMLParser`; known-size masters close at
//! their end. The reader never scans for magic bytes (PCM can contain `1A 45 DF A3`). After the first
//! fragment it allocates nothing: track names, tags and buffers reuse their storage.

use crate::{
    ebml::{self, Vint, id},
    tags::{CONTINUATION_TOKEN, FragmentInfo, Tag},
};

/// What the reader refuses rather than allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest element the reader will hold in memory (a block, a tag string). Skipped elements
    /// may be of any size.
    pub max_element_size: u64,
    /// How deeply masters may nest.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_element_size: 16 << 20,
            max_depth: 16,
        }
    }
}

/// Corrupt or truncated input, with the byte offset (from the start of the stream) where it was found.
/// After an error the reader returns the same error on every call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid element ID at byte {offset}")]
    InvalidId { offset: u64 },
    #[error("invalid element size at byte {offset}")]
    InvalidSize { offset: u64 },
    #[error("{element} at byte {offset} declares {size} bytes, more than the limit of {limit}")]
    TooLarge {
        element: &'static str,
        offset: u64,
        size: u64,
        limit: u64,
    },
    #[error("{element} at byte {offset} has unknown size, which is only allowed for masters")]
    UnknownSize { element: &'static str, offset: u64 },
    #[error("{element} at byte {offset} ends at byte {end}, past the end of its parent at byte {bound}")]
    Overflow {
        element: &'static str,
        offset: u64,
        end: u64,
        bound: u64,
    },
    #[error("{element} at byte {offset} cannot be inside {parent}")]
    Misplaced {
        element: &'static str,
        parent: &'static str,
        offset: u64,
    },
    #[error("elements nested deeper than {limit} at byte {offset}")]
    TooDeep { limit: usize, offset: u64 },
    #[error("malformed {element} at byte {offset}: {reason}")]
    Malformed {
        element: &'static str,
        offset: u64,
        reason: &'static str,
    },
    #[error("the stream ends at byte {offset} inside {element} (truncated)")]
    Truncated { element: &'static str, offset: u64 },
}

impl Error {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match *self {
            Self::InvalidId { offset }
            | Self::InvalidSize { offset }
            | Self::TooLarge { offset, .. }
            | Self::UnknownSize { offset, .. }
            | Self::Overflow { offset, .. }
            | Self::Misplaced { offset, .. }
            | Self::TooDeep { offset, .. }
            | Self::Malformed { offset, .. }
            | Self::Truncated { offset, .. } => offset,
        }
    }
}

/// One entry of a fragment's track table. Connect labels its PCM tracks `A_AAC`: choose tracks by
/// [`name`](Self::name), never by codec.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Track {
    pub number: u64,
    pub uid: u64,
    pub name: String,
    pub codec_id: String,
    /// 1 video, 2 audio, 17 subtitle… (0 when absent).
    pub track_type: u64,
    pub sampling_frequency: Option<f64>,
    pub channels: Option<u64>,
    pub bit_depth: Option<u64>,
}

/// One frame of one track: a SimpleBlock or Block payload, or one frame of a laced block.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub track_number: u64,
    /// The track table's entry for `track_number`; `None` for a frame of a track the fragment did not
    /// declare (skip it: AD-15).
    pub track: Option<&'a Track>,
    /// Cluster timecode + the block's relative timecode, in TimecodeScale units.
    pub timecode: i64,
    /// `timecode` × TimecodeScale: nanoseconds (Connect: since the epoch).
    pub timestamp_ns: i64,
    pub keyframe: bool,
    pub data: &'a [u8],
}

impl Frame<'_> {
    /// The track's name (`AUDIO_FROM_CUSTOMER`, `AUDIO_TO_CUSTOMER`, `Track_audio/L16`…).
    pub fn track_name(&self) -> Option<&str> {
        self.track.map(|t| t.name.as_str())
    }
    /// The timestamp in milliseconds.
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp_ns.div_euclid(1_000_000)
    }
}

/// What the reader found, in stream order.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An EBML header: a new fragment (KVS sends one EBML document per fragment). Tags and the track
    /// table start afresh; see [`Reader::fragment`].
    FragmentStart { index: u64, offset: u64 },
    /// The track table of the fragment (each Tracks element).
    Tracks(&'a [Track]),
    /// One SimpleTag, whether before or after the Cluster. Known tags are also kept in
    /// [`Reader::fragment`].
    Tag(Tag<'a>),
    /// A Cluster's Timecode was read; `timestamp_ns` is it times TimecodeScale.
    Cluster { timecode: u64, timestamp_ns: i64 },
    /// One frame.
    Frame(Frame<'a>),
    /// The fragment is complete (next EBML header, or [`Reader::finish`]), with all its tags, wherever
    /// they were: decide about its audio now.
    FragmentEnd(&'a FragmentInfo),
}

#[derive(Debug, Clone, Copy)]
struct Header {
    id: u32,
    start: u64,
    data: u64,
    size: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    id: u32,
    level: u8,
    start: u64,
    end: Option<u64>,
    /// The innermost known end of this master or its ancestors.
    bound: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Header,
    Dispatch(Header),
    Body(Header),
    Skip(Header),
    Laces,
}

#[derive(Debug, Clone, Copy)]
enum Data<'d> {
    Input(&'d [u8]),
    Buf(usize, usize),
}

#[derive(Debug, Clone, Copy)]
enum Emit<'d> {
    FragmentStart,
    FragmentEnd,
    Tracks,
    Tag,
    Cluster(u64),
    Frame {
        number: u64,
        timecode: i64,
        keyframe: bool,
        data: Data<'d>,
    },
}

/// A parsed block header; `range` is the payload within the block body.
#[derive(Debug, Clone, Copy)]
struct Block {
    number: u64,
    timecode: i64,
    keyframe: bool,
    lacing: u8,
    payload: usize,
}

#[derive(Debug, Default)]
struct Laces {
    sizes: Vec<u32>,
    next: usize,
    pos: usize,
    number: u64,
    timecode: i64,
    keyframe: bool,
}

/// The incremental Matroska reader. See the [module documentation](self).
#[derive(Debug)]
pub struct Reader {
    limits: Limits,
    offset: u64,
    state: State,
    stack: Vec<Open>,
    head: [u8; 12],
    head_len: usize,
    buf: Vec<u8>,
    tracks: Vec<Track>,
    tracks_len: usize,
    timecode_scale: u64,
    cluster_timecode: i64,
    tag_name: String,
    tag_value: String,
    info: FragmentInfo,
    fragment_open: bool,
    fragments: u64,
    continuation_token: String,
    laces: Laces,
    error: Option<Error>,
}

impl Default for Reader {
    fn default() -> Self {
        Self::new()
    }
}

const DEFAULT_TIMECODE_SCALE: u64 = 1_000_000;

impl Reader {
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            offset: 0,
            state: State::Header,
            stack: Vec::with_capacity(limits.max_depth),
            head: [0; 12],
            head_len: 0,
            buf: Vec::new(),
            tracks: Vec::new(),
            tracks_len: 0,
            timecode_scale: DEFAULT_TIMECODE_SCALE,
            cluster_timecode: 0,
            tag_name: String::new(),
            tag_value: String::new(),
            info: FragmentInfo::default(),
            fragment_open: false,
            fragments: 0,
            continuation_token: String::new(),
            laces: Laces::default(),
            error: None,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The current (or, at [`Event::FragmentEnd`], the just completed) fragment's tags.
    pub fn fragment(&self) -> &FragmentInfo {
        &self.info
    }

    /// The current fragment's track table.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks[..self.tracks_len]
    }

    /// The last `AWS_KINESISVIDEO_CONTINUATION_TOKEN` of the whole stream, for reconnecting.
    pub fn continuation_token(&self) -> Option<&str> {
        (!self.continuation_token.is_empty()).then_some(self.continuation_token.as_str())
    }

    /// EBML documents (fragments) seen so far.
    pub fn fragments(&self) -> u64 {
        self.fragments
    }

    /// The next event from `input`, consuming from its front. `Ok(None)`: `input` is used up and the
    /// reader needs the next chunk. Events borrow the reader (and the chunk): handle one before asking for
    /// the next.
    pub fn next<'s, 'd: 's>(&'s mut self, input: &mut &'d [u8]) -> Result<Option<Event<'s>>, Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        match self.step(input) {
            Ok(emit) => Ok(emit.map(|emit| self.event(emit))),
            Err(error) => {
                self.error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// The end of the stream: closes what is open (a Segment or Cluster of unknown size is normal) and
    /// ends the last fragment. Call until `Ok(None)`. An element cut off in the middle is
    /// [`Error::Truncated`].
    pub fn finish(&mut self) -> Result<Option<Event<'_>>, Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        match self.step_finish() {
            Ok(emit) => Ok(emit.map(|emit| self.event(emit))),
            Err(error) => {
                self.error = Some(error.clone());
                Err(error)
            }
        }
    }

    fn step_finish(&mut self) -> Result<Option<Emit<'static>>, Error> {
        loop {
            match self.state {
                State::Laces | State::Dispatch(_) => {
                    let mut empty: &'static [u8] = &[];
                    if let Some(emit) = self.step(&mut empty)? {
                        return Ok(Some(emit));
                    }
                }
                State::Body(h) | State::Skip(h) => {
                    return Err(Error::Truncated {
                        element: ebml::name(h.id),
                        offset: h.start,
                    });
                }
                State::Header if self.head_len > 0 => {
                    return Err(Error::Truncated {
                        element: "an element header",
                        offset: self.offset - self.head_len as u64,
                    });
                }
                State::Header => {
                    if let Some(open) = self.stack.pop() {
                        if open.end.is_some_and(|end| end > self.offset) {
                            return Err(Error::Truncated {
                                element: ebml::name(open.id),
                                offset: open.start,
                            });
                        }
                        if let Some(emit) = self.close(open) {
                            return Ok(Some(emit));
                        }
                        continue;
                    }
                    if self.fragment_open {
                        self.fragment_open = false;
                        return Ok(Some(Emit::FragmentEnd));
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn event<'s>(&'s self, emit: Emit<'s>) -> Event<'s> {
        match emit {
            Emit::FragmentStart => Event::FragmentStart {
                index: self.info.index(),
                offset: self.info.offset(),
            },
            Emit::FragmentEnd => Event::FragmentEnd(&self.info),
            Emit::Tracks => Event::Tracks(self.tracks()),
            Emit::Tag => Event::Tag(Tag {
                name: &self.tag_name,
                value: &self.tag_value,
            }),
            Emit::Cluster(timecode) => Event::Cluster {
                timecode,
                timestamp_ns: self.timestamp_ns(timecode as i64),
            },
            Emit::Frame {
                number,
                timecode,
                keyframe,
                data,
            } => Event::Frame(Frame {
                track_number: number,
                track: self.tracks().iter().find(|t| t.number == number),
                timecode,
                timestamp_ns: self.timestamp_ns(timecode),
                keyframe,
                data: match data {
                    Data::Input(slice) => slice,
                    Data::Buf(start, len) => self.buf.get(start..start + len).unwrap_or_default(),
                },
            }),
        }
    }

    fn timestamp_ns(&self, timecode: i64) -> i64 {
        timecode.saturating_mul(i64::try_from(self.timecode_scale).unwrap_or(i64::MAX))
    }

    fn consume<'d>(&mut self, input: &mut &'d [u8], n: usize) -> &'d [u8] {
        let (taken, rest) = input.split_at(n);
        *input = rest;
        self.offset += n as u64;
        taken
    }

    fn step<'d>(&mut self, input: &mut &'d [u8]) -> Result<Option<Emit<'d>>, Error> {
        loop {
            match self.state {
                State::Laces => {
                    if let Some(emit) = self.next_lace() {
                        return Ok(Some(emit));
                    }
                    self.state = State::Header;
                }
                State::Header => {
                    // Close masters that end here (and whatever unknown-size masters they contain).
                    if self
                        .stack
                        .iter()
                        .any(|open| open.end.is_some_and(|end| end <= self.offset))
                    {
                        if let Some(open) = self.stack.pop()
                            && let Some(emit) = self.close(open)
                        {
                            return Ok(Some(emit));
                        }
                        continue;
                    }
                    match self.read_header(input)? {
                        Some(header) => self.state = State::Dispatch(header),
                        None => return Ok(None),
                    }
                }
                State::Dispatch(header) => {
                    // Only masters of unknown size close by level; a known size is authoritative (what
                    // lies inside it is its child, or skipped when out of place).
                    if let Some(level) = ebml::level(header.id)
                        && let Some(&top) = self.stack.last()
                        && top.level >= level
                        && top.end.is_none()
                    {
                        self.stack.pop();
                        if let Some(emit) = self.close(top) {
                            return Ok(Some(emit));
                        }
                        continue;
                    }
                    if header.id == id::EBML && self.fragment_open {
                        self.fragment_open = false;
                        return Ok(Some(Emit::FragmentEnd));
                    }
                    self.state = State::Header;
                    if let Some(emit) = self.begin(header, input)? {
                        return Ok(Some(emit));
                    }
                }
                State::Body(header) => {
                    let size = header.size.unwrap_or(0) as usize;
                    let need = size - self.buf.len();
                    let take = need.min(input.len());
                    let taken = self.consume(input, take);
                    self.buf.extend_from_slice(taken);
                    if self.buf.len() < size {
                        return Ok(None);
                    }
                    self.state = State::Header;
                    let body = std::mem::take(&mut self.buf);
                    let result = self.leaf(header, &body);
                    self.buf = body;
                    if let Some(emit) = result? {
                        return Ok(Some(match emit {
                            Leaf::Frame(block) => self.frame_from_buf(block, size)?,
                            Leaf::Emit(emit) => emit,
                        }));
                    }
                }
                State::Skip(header) => {
                    let end = header.data + header.size.unwrap_or(0);
                    let left = end - self.offset;
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    self.consume(input, take);
                    if self.offset < end {
                        return Ok(None);
                    }
                    self.state = State::Header;
                }
            }
        }
    }

    /// Parses an element header from the carry-over and `input`. `None`: more bytes needed (all of
    /// `input` was taken into the carry-over).
    fn read_header(&mut self, input: &mut &[u8]) -> Result<Option<Header>, Error> {
        let start = self.offset - self.head_len as u64;
        if self.head_len == 0 {
            // The common case: the whole header is in this chunk.
            if let Some((header, len)) = parse_header(input, start)? {
                self.consume(input, len);
                return Ok(Some(header));
            }
        }
        // Gather byte by byte until the header is complete (at most 12 bytes).
        while let Some((&byte, rest)) = input.split_first() {
            if self.head_len == self.head.len() {
                break;
            }
            self.head[self.head_len] = byte;
            self.head_len += 1;
            *input = rest;
            self.offset += 1;
            if let Some((header, len)) = parse_header(&self.head[..self.head_len], start)? {
                debug_assert_eq!(len, self.head_len);
                self.head_len = 0;
                return Ok(Some(header));
            }
        }
        Ok(None)
    }

    fn parent(&self) -> Option<u32> {
        self.stack.last().map(|open| open.id)
    }

    /// Handles a new element once the masters it closes are closed.
    fn begin<'d>(&mut self, header: Header, input: &mut &'d [u8]) -> Result<Option<Emit<'d>>, Error> {
        let element = ebml::name(header.id);
        let bound = self.stack.last().and_then(|open| open.bound);
        let end = header.size.map(|size| header.data.saturating_add(size));
        if let (Some(end), Some(bound)) = (end, bound)
            && end > bound
        {
            return Err(Error::Overflow {
                element,
                offset: header.start,
                end,
                bound,
            });
        }
        let parent = self.parent();
        if header.id == id::EBML {
            if parent.is_some() {
                return Err(Error::Misplaced {
                    element,
                    parent: ebml::name(parent.unwrap_or_default()),
                    offset: header.start,
                });
            }
            if header.size.is_none() {
                return Err(Error::UnknownSize {
                    element,
                    offset: header.start,
                });
            }
            self.info.reset(self.fragments, header.start);
            self.fragments += 1;
            self.fragment_open = true;
            self.tracks_len = 0;
            self.timecode_scale = DEFAULT_TIMECODE_SCALE;
            self.state = State::Skip(header);
            return Ok(Some(Emit::FragmentStart));
        }
        if descends(parent, header.id) {
            if self.stack.len() >= self.limits.max_depth {
                return Err(Error::TooDeep {
                    limit: self.limits.max_depth,
                    offset: header.start,
                });
            }
            self.stack.push(Open {
                id: header.id,
                level: ebml::level(header.id).unwrap_or(u8::MAX),
                start: header.start,
                end,
                bound: end.or(bound),
            });
            match header.id {
                id::TRACKS => self.tracks_len = 0,
                id::TRACK_ENTRY => {
                    if self.tracks.len() == self.tracks_len {
                        self.tracks.push(Track::default());
                    }
                    let track = &mut self.tracks[self.tracks_len];
                    track.name.clear();
                    track.codec_id.clear();
                    track.number = 0;
                    track.uid = 0;
                    track.track_type = 0;
                    track.sampling_frequency = None;
                    track.channels = None;
                    track.bit_depth = None;
                }
                id::SIMPLE_TAG => {
                    self.tag_name.clear();
                    self.tag_value.clear();
                }
                id::CLUSTER => self.cluster_timecode = 0,
                _ => {}
            }
            return Ok(None);
        }
        let Some(size) = header.size else {
            return Err(Error::UnknownSize {
                element,
                offset: header.start,
            });
        };
        if !wanted(parent, header.id) {
            self.state = State::Skip(header);
            return Ok(None);
        }
        if size > self.limits.max_element_size {
            return Err(Error::TooLarge {
                element,
                offset: header.start,
                size,
                limit: self.limits.max_element_size,
            });
        }
        let size = size as usize;
        if input.len() >= size {
            // Zero-copy: the whole element is in this chunk.
            let body = self.consume(input, size);
            return match self.leaf(header, body)? {
                None => Ok(None),
                Some(Leaf::Emit(emit)) => Ok(Some(emit)),
                Some(Leaf::Frame(block)) if block.lacing == 0 => {
                    self.info.frames += 1;
                    Ok(Some(Emit::Frame {
                        number: block.number,
                        timecode: block.timecode,
                        keyframe: block.keyframe,
                        data: Data::Input(&body[block.payload..]),
                    }))
                }
                Some(Leaf::Frame(block)) => {
                    self.buf.clear();
                    self.buf.extend_from_slice(body);
                    self.frame_from_buf(block, size).map(Some)
                }
            };
        }
        self.buf.clear();
        self.state = State::Body(header);
        Ok(None)
    }

    /// A block held in `buf` (`size` bytes): its frame, or the first of its laced frames.
    fn frame_from_buf(&mut self, block: Block, size: usize) -> Result<Emit<'static>, Error> {
        if block.lacing == 0 {
            self.info.frames += 1;
            return Ok(Emit::Frame {
                number: block.number,
                timecode: block.timecode,
                keyframe: block.keyframe,
                data: Data::Buf(block.payload, size - block.payload),
            });
        }
        self.split_laces(block)?;
        self.state = State::Laces;
        // `split_laces` always lists at least the last frame.
        self.next_lace().ok_or(Error::Malformed {
            element: "laced block",
            offset: self.offset,
            reason: "no frames",
        })
    }

    fn split_laces(&mut self, block: Block) -> Result<(), Error> {
        let offset = self.offset - self.buf.len() as u64;
        let malformed = |reason| Error::Malformed {
            element: "laced block",
            offset,
            reason,
        };
        let body = &self.buf;
        let mut pos = block.payload;
        let count = usize::from(*body.get(pos).ok_or(malformed("no lace count"))?) + 1;
        pos += 1;
        let sizes = &mut self.laces.sizes;
        sizes.clear();
        match block.lacing {
            1 => {
                for _ in 1..count {
                    let mut size = 0usize;
                    loop {
                        let byte = *body.get(pos).ok_or(malformed("Xiph lace sizes cut off"))?;
                        pos += 1;
                        size += usize::from(byte);
                        if byte != 255 {
                            break;
                        }
                    }
                    sizes.push(u32::try_from(size).map_err(|_| malformed("lace too large"))?);
                }
            }
            3 => {
                let mut previous: i64 = 0;
                for i in 1..count {
                    let Vint::Value { len, value, .. } = ebml::read_vint(&body[pos.min(body.len())..]) else {
                        return Err(malformed("EBML lace sizes cut off"));
                    };
                    pos += len;
                    let size = if i == 1 {
                        i64::try_from(value).map_err(|_| malformed("lace too large"))?
                    } else {
                        let bias = (1i64 << (7 * len - 1)) - 1;
                        previous + (value as i64 - bias)
                    };
                    if size < 0 {
                        return Err(malformed("negative lace size"));
                    }
                    previous = size;
                    sizes.push(u32::try_from(size).map_err(|_| malformed("lace too large"))?);
                }
            }
            _ => {
                let total = body.len().saturating_sub(pos);
                if !total.is_multiple_of(count) {
                    return Err(malformed("fixed-size laces do not divide the block"));
                }
                let each = u32::try_from(total / count).map_err(|_| malformed("lace too large"))?;
                sizes.extend(std::iter::repeat_n(each, count - 1));
            }
        }
        let listed: u64 = sizes.iter().map(|&s| u64::from(s)).sum();
        let remaining = (body.len() as u64)
            .checked_sub(pos as u64)
            .and_then(|r| r.checked_sub(listed))
            .ok_or(malformed("lace sizes exceed the block"))?;
        sizes.push(u32::try_from(remaining).map_err(|_| malformed("lace too large"))?);
        self.laces.next = 0;
        self.laces.pos = pos;
        self.laces.number = block.number;
        self.laces.timecode = block.timecode;
        self.laces.keyframe = block.keyframe;
        Ok(())
    }

    fn next_lace(&mut self) -> Option<Emit<'static>> {
        let laces = &mut self.laces;
        let size = *laces.sizes.get(laces.next)? as usize;
        laces.next += 1;
        let start = laces.pos;
        laces.pos += size;
        self.info.frames += 1;
        Some(Emit::Frame {
            number: laces.number,
            timecode: laces.timecode,
            keyframe: laces.keyframe,
            data: Data::Buf(start, size),
        })
    }

    /// A leaf element we keep, with its whole body.
    fn leaf(&mut self, header: Header, body: &[u8]) -> Result<Option<Leaf>, Error> {
        let malformed = |reason| Error::Malformed {
            element: ebml::name(header.id),
            offset: header.start,
            reason,
        };
        let uint = || ebml::read_uint(body).ok_or(malformed("integer longer than 8 bytes"));
        let text = || std::str::from_utf8(trim_nul(body)).map_err(|_| malformed("not UTF-8"));
        let track = self.tracks.get_mut(self.tracks_len);
        match (header.id, track) {
            (id::TIMECODE_SCALE, _) => {
                let scale = uint()?;
                self.timecode_scale = if scale == 0 { DEFAULT_TIMECODE_SCALE } else { scale };
            }
            (id::TRACK_NUMBER, Some(track)) => track.number = uint()?,
            (id::TRACK_UID, Some(track)) => track.uid = uint()?,
            (id::TRACK_TYPE, Some(track)) => track.track_type = uint()?,
            (id::NAME, Some(track)) => {
                track.name.clear();
                track.name.push_str(text()?);
            }
            (id::CODEC_ID, Some(track)) => {
                track.codec_id.clear();
                track.codec_id.push_str(text()?);
            }
            (id::SAMPLING_FREQUENCY, Some(track)) => {
                track.sampling_frequency =
                    Some(ebml::read_float(body).ok_or(malformed("float of 4 or 8 bytes expected"))?);
            }
            (id::CHANNELS, Some(track)) => track.channels = Some(uint()?),
            (id::BIT_DEPTH, Some(track)) => track.bit_depth = Some(uint()?),
            (id::TAG_NAME, _) => {
                self.tag_name.clear();
                self.tag_name.push_str(text()?);
            }
            (id::TAG_STRING, _) => {
                self.tag_value.clear();
                self.tag_value.push_str(text()?);
            }
            (id::TIMECODE, _) => {
                let timecode = uint()?;
                self.cluster_timecode =
                    i64::try_from(timecode).map_err(|_| malformed("timecode too large"))?;
                if self.info.cluster_timestamp_ms.is_none() {
                    self.info.cluster_timestamp_ms =
                        Some(self.timestamp_ns(self.cluster_timecode).div_euclid(1_000_000));
                }
                return Ok(Some(Leaf::Emit(Emit::Cluster(timecode))));
            }
            (id::SIMPLE_BLOCK | id::BLOCK, _) => {
                let block = parse_block(body, header.id == id::SIMPLE_BLOCK)
                    .ok_or(malformed("short block header"))?;
                return Ok(Some(Leaf::Frame(Block {
                    timecode: self.cluster_timecode.saturating_add(block.timecode),
                    ..block
                })));
            }
            _ => {}
        }
        Ok(None)
    }

    /// Closes a master; some masters produce an event when complete.
    fn close(&mut self, open: Open) -> Option<Emit<'static>> {
        match open.id {
            id::TRACK_ENTRY => {
                if self.tracks.get(self.tracks_len).is_some_and(|t| t.number != 0) {
                    self.tracks_len += 1;
                }
                None
            }
            id::TRACKS => Some(Emit::Tracks),
            id::SIMPLE_TAG if !self.tag_name.is_empty() => {
                let tag = Tag {
                    name: &self.tag_name,
                    value: &self.tag_value,
                };
                self.info.record(tag);
                if tag.name == CONTINUATION_TOKEN {
                    self.continuation_token.clear();
                    self.continuation_token.push_str(&self.tag_value);
                }
                Some(Emit::Tag)
            }
            _ => None,
        }
    }
}

enum Leaf {
    Emit(Emit<'static>),
    Frame(Block),
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Masters the reader enters, in the places it expects them; other masters are skipped whole.
fn descends(parent: Option<u32>, element: u32) -> bool {
    matches!(
        (parent, element),
        (None, id::SEGMENT)
            | (Some(id::SEGMENT), id::INFO | id::TRACKS | id::TAGS | id::CLUSTER)
            | (Some(id::TRACKS), id::TRACK_ENTRY)
            | (Some(id::TRACK_ENTRY), id::AUDIO)
            | (Some(id::TAGS), id::TAG)
            | (Some(id::TAG | id::SIMPLE_TAG), id::SIMPLE_TAG)
            | (Some(id::CLUSTER), id::BLOCK_GROUP)
    )
}

/// Leaves the reader reads, in the places it expects them.
fn wanted(parent: Option<u32>, element: u32) -> bool {
    matches!(
        (parent, element),
        (Some(id::INFO), id::TIMECODE_SCALE)
            | (
                Some(id::TRACK_ENTRY),
                id::TRACK_NUMBER | id::TRACK_UID | id::TRACK_TYPE | id::NAME | id::CODEC_ID
            )
            | (
                Some(id::AUDIO),
                id::SAMPLING_FREQUENCY | id::CHANNELS | id::BIT_DEPTH
            )
            | (Some(id::SIMPLE_TAG), id::TAG_NAME | id::TAG_STRING)
            | (Some(id::CLUSTER), id::TIMECODE | id::SIMPLE_BLOCK)
            | (Some(id::BLOCK_GROUP), id::BLOCK)
    )
}

/// An element header at the start of `bytes`: `Ok(None)` when incomplete.
fn parse_header(bytes: &[u8], start: u64) -> Result<Option<(Header, usize)>, Error> {
    let Some((element, id_len)) = ebml::read_id(bytes).map_err(|()| Error::InvalidId { offset: start })?
    else {
        return Ok(None);
    };
    match ebml::read_vint(&bytes[id_len..]) {
        Vint::Incomplete => Ok(None),
        Vint::Invalid => Err(Error::InvalidSize {
            offset: start + id_len as u64,
        }),
        Vint::Value { len, value, all_ones } => {
            let header_len = id_len + len;
            Ok(Some((
                Header {
                    id: element,
                    start,
                    data: start + header_len as u64,
                    size: (!all_ones).then_some(value),
                },
                header_len,
            )))
        }
    }
}

/// Track number vint, signed 16-bit relative timecode, flags.
fn parse_block(body: &[u8], simple: bool) -> Option<Block> {
    let Vint::Value { len, value, .. } = ebml::read_vint(body) else {
        return None;
    };
    let rest = body.get(len..len + 3)?;
    let timecode = i64::from(i16::from_be_bytes([rest[0], rest[1]]));
    let flags = rest[2];
    Some(Block {
        number: value,
        timecode,
        keyframe: simple && flags & 0x80 != 0,
        lacing: (flags >> 1) & 0x03,
        payload: len + 3,
    })
}
