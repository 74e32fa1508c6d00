//! TODO(ndjson) decoder.

use super::{Frame, FramingError};

#[derive(Debug)]
pub(crate) struct NdjsonDecoder {
    max_frame_bytes: usize,
}

impl NdjsonDecoder {
    pub(crate) fn new(max_frame_bytes: usize) -> Self {
        NdjsonDecoder { max_frame_bytes }
    }
    pub(crate) fn push(&mut self, _chunk: &[u8], _on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        let _ = self.max_frame_bytes;
        Ok(())
    }
    pub(crate) fn finish(&mut self, _on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        Ok(())
    }
    pub(crate) fn state_bytes(&self) -> usize {
        0
    }
}
