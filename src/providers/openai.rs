//! TODO(openai): detection and body reading for this provider family.

use super::{Api, Detected, ExtractError, FrameFacts, LlmCall};
use crate::framing::Frame;

pub(crate) fn detect(_host: &str, _path: &str) -> Option<Detected> {
    None
}

pub(crate) fn handle_request(_api: Api, _body: &[u8], _call: &mut LlmCall) -> Result<(), ExtractError> {
    Ok(())
}

#[derive(Debug, Default)]
pub(crate) struct StreamState {}

impl StreamState {
    pub(crate) fn handle_frame(&mut self, _api: Api, _frame: Frame<'_>, _call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        Ok(FrameFacts::default())
    }
    pub(crate) fn handle_json(&mut self, _api: Api, _body: &[u8], _call: &mut LlmCall) -> Result<(), ExtractError> {
        Ok(())
    }
    pub(crate) fn finish(&mut self, _call: &mut LlmCall) {}
    pub(crate) fn state_bytes(&self) -> usize {
        0
    }
}
