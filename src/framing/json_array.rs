//! TODO(json_array) decoder.

use super::{Frame, FramingError};

#[derive(Debug)]
pub(crate) struct JsonArrayDecoder {
    max_frame_bytes: usize,
}

impl JsonArrayDecoder {
    pub(crate) fn new(max_frame_bytes: usize) -> Self {
        JsonArrayDecoder { max_frame_bytes }
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
