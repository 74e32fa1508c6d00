//! A response body as the reader of one call sees it: not started, gathered whole up to a
//! limit, decoded as a stream of frames, or skipped.
//!
//! This owns the choice between "one JSON document" and "a stream of frames" once it is made,
//! and the bounds on both. It does not choose (the caller does, from the content type and the
//! API) and it does not know what the bytes mean.

use super::{Frame, FramingError, StreamDecoder, StreamFormat};

/// A body copy that stops growing at its limit and remembers that it overflowed.
#[derive(Debug, Default)]
pub struct BoundedBody {
    bytes: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl BoundedBody {
    pub fn new(limit: usize) -> BoundedBody {
        BoundedBody { bytes: Vec::new(), limit, overflowed: false }
    }

    /// Appends `chunk`, or forgets everything once the limit would be passed.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.overflowed {
            return;
        }
        if self.bytes.len() + chunk.len() > self.limit {
            self.overflow();
            return;
        }
        self.bytes.extend_from_slice(chunk);
    }

    /// Gives up on the body: it is too large to read.
    pub fn overflow(&mut self) {
        self.overflowed = true;
        self.bytes = Vec::new();
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The gathered bytes, leaving the body empty.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

/// What became of a response body by its end.
#[derive(Debug)]
pub enum BodyEnd {
    /// A whole document within its limit.
    Whole(Vec<u8>),
    /// A whole document past its limit.
    TooLarge,
    /// A stream: its last frames went to `on_frame`; the result of finishing its framing.
    Stream(Result<(), FramingError>),
    /// Not read.
    Skipped,
}

/// One response body being read.
#[derive(Debug, Default)]
pub enum Body {
    /// Before the response headers.
    #[default]
    Pending,
    /// A single document, gathered up to a limit.
    Whole(BoundedBody),
    /// A stream of frames.
    Stream(StreamDecoder),
    /// Not read (compressed, unknown shape, or reading stopped).
    Skip,
}

impl Body {
    /// A body to read as `format`'s frames, or whole when there is no format.
    pub fn new(format: Option<StreamFormat>, max_body_bytes: usize, max_frame_bytes: usize) -> Body {
        match format {
            Some(format) => Body::Stream(StreamDecoder::new(format, max_frame_bytes)),
            None => Body::Whole(BoundedBody::new(max_body_bytes)),
        }
    }

    /// Whether the bytes are still wanted.
    pub fn is_reading(&self) -> bool {
        matches!(self, Body::Whole(_) | Body::Stream(_))
    }

    /// Feeds a chunk. A framing error is sticky: the body is skipped from then on.
    pub fn push(&mut self, chunk: &[u8], on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        let result = match self {
            Body::Whole(b) => {
                b.push(chunk);
                Ok(())
            }
            Body::Stream(d) => d.push(chunk, on_frame),
            Body::Pending | Body::Skip => Ok(()),
        };
        if result.is_err() {
            *self = Body::Skip;
        }
        result
    }

    /// Ends the body; it is skipped afterwards.
    pub fn finish(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> BodyEnd {
        match std::mem::replace(self, Body::Skip) {
            Body::Whole(b) if b.overflowed() => BodyEnd::TooLarge,
            Body::Whole(mut b) => BodyEnd::Whole(b.take()),
            Body::Stream(mut d) => BodyEnd::Stream(d.finish(on_frame)),
            Body::Pending | Body::Skip => BodyEnd::Skipped,
        }
    }

    /// Heap bytes a stream holds now (a whole body counts its copy).
    pub fn state_bytes(&self) -> usize {
        match self {
            Body::Stream(d) => d.state_bytes(),
            Body::Whole(b) => b.bytes.capacity(),
            Body::Pending | Body::Skip => 0,
        }
    }
}
