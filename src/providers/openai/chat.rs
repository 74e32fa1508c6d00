//! OpenAI Chat Completions bodies (also legacy Completions and Embeddings, which share the
//! shape), whole and as stream chunks: choices, deltas, tool calls and legacy `functions`.
//!
//! This module owns reading those shapes into an [`LlmCall`], and the fallback that keeps a
//! chunk's ids and usage when its choices hold a shape we do not know. It does not detect the
//! API or read request bodies (the parent module), nor the Responses API (`responses`).

use super::{ErrorBody, PartialTool, StreamState, Usage, MAX_ARGUMENT_BYTES};
use crate::providers::{ExtractError, FrameFacts, LlmCall, ToolCall};
use serde::Deserialize;

#[derive(Deserialize)]
struct Function {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct FullToolCall {
    id: Option<String>,
    function: Option<Function>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    tool_calls: Option<Vec<FullToolCall>>,
    function_call: Option<Function>,
}

#[derive(Deserialize)]
struct DeltaToolCall {
    index: Option<usize>,
    id: Option<String>,
    function: Option<Function>,
}

/// Any JSON value, reduced to whether it carries generated content: a non-empty string, a
/// non-empty list (of content parts, thinking blocks...), or an object. Content fields take
/// this instead of a string because providers send lists of parts there (reasoning models'
/// thinking blocks), and a shape we do not expect must not cost the call its usage.
#[derive(Debug, Default, Clone, Copy)]
struct Carries(bool);

impl<'de> Deserialize<'de> for Carries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Carries, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Carries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Carries, E> {
                Ok(Carries(!v.is_empty()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_unit<E>(self) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_none<E>(self) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Carries, D2::Error> {
                Carries::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Carries, A::Error> {
                let mut any = false;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    any = true;
                }
                Ok(Carries(any))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Carries, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Carries(true))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Carries,
    #[serde(default)]
    refusal: Carries,
    /// DeepSeek's and xAI's reasoning text.
    #[serde(default)]
    reasoning_content: Carries,
    /// OpenRouter's, Groq's and vLLM's name for it.
    #[serde(default)]
    reasoning: Carries,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaToolCall>>,
    function_call: Option<Function>,
}

#[derive(Deserialize)]
struct Choice {
    index: Option<usize>,
    finish_reason: Option<String>,
    message: Option<Message>,
    delta: Option<Delta>,
    /// Legacy completions.
    #[serde(default)]
    text: Carries,
}

#[derive(Deserialize)]
struct XGroq {
    usage: Option<Usage>,
}

/// A chat completion, a chunk of one, a legacy completion or an embeddings response.
#[derive(Deserialize)]
struct Completion {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
    x_groq: Option<XGroq>,
    error: Option<ErrorBody>,
}

/// What every completion and chunk says the same way, whatever its choices hold.
#[derive(Deserialize)]
struct Skeleton {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<SkeletonChoice>,
    usage: Option<Usage>,
    x_groq: Option<XGroq>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct SkeletonChoice {
    index: Option<usize>,
    finish_reason: Option<String>,
}

impl Skeleton {
    fn apply(&self, call: &mut LlmCall) {
        if let Some(e) = &self.error {
            call.error_type = e.name();
        }
        if call.response_id.is_none() {
            call.response_id = self.id.clone().filter(|s| !s.is_empty());
        }
        if call.response_model.is_none() {
            call.response_model = self.model.clone().filter(|s| !s.is_empty());
        }
        if let Some(u) = &self.usage {
            u.apply(call);
        }
        if let Some(u) = self.x_groq.as_ref().and_then(|x| x.usage.as_ref()) {
            u.apply(call);
        }
    }
}

/// What a completion, a chunk of one, or an error body say the same way: the error, the ids,
/// and usage (Groq puts it under `x_groq`).
fn apply_common(c: &Completion, call: &mut LlmCall) {
    if let Some(e) = &c.error {
        call.error_type = e.name();
    }
    take_ids(c, call);
    if let Some(u) = &c.usage {
        u.apply(call);
    }
    if let Some(u) = c.x_groq.as_ref().and_then(|x| x.usage.as_ref()) {
        u.apply(call);
    }
}

fn take_ids(c: &Completion, call: &mut LlmCall) {
    if call.response_id.is_none() {
        call.response_id = c.id.clone().filter(|s| !s.is_empty());
    }
    if call.response_model.is_none() {
        call.response_model = c.model.clone().filter(|s| !s.is_empty());
    }
}

/// A whole Chat Completions (or legacy Completions, or Embeddings) response body.
pub(super) fn read_json(body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let c: Completion = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(_) => {
            let c: Skeleton = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("response is not JSON"))?;
            c.apply(call);
            call.finish_reasons.extend(c.choices.into_iter().filter_map(|ch| ch.finish_reason));
            return Ok(());
        }
    };
    apply_common(&c, call);
    for choice in &c.choices {
        if let Some(r) = &choice.finish_reason {
            call.finish_reasons.push(r.clone());
        }
        let Some(m) = &choice.message else { continue };
        for t in m.tool_calls.iter().flatten() {
            let f = t.function.as_ref();
            call.tool_calls.push(ToolCall {
                id: t.id.clone().unwrap_or_default(),
                name: f.and_then(|f| f.name.clone()).unwrap_or_default(),
                arguments: f.and_then(|f| f.arguments.clone()).unwrap_or_default(),
                ..Default::default()
            });
        }
        if let Some(f) = &m.function_call {
            call.tool_calls.push(ToolCall {
                id: String::new(),
                name: f.name.clone().unwrap_or_default(),
                arguments: f.arguments.clone().unwrap_or_default(),
                ..Default::default()
            });
        }
    }
    Ok(())
}

impl StreamState {
    /// One Chat Completions (or legacy Completions) stream chunk.
    pub(super) fn chat_chunk(&mut self, trimmed: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let c: Completion = match serde_json::from_slice(trimmed) {
            Ok(c) => c,
            Err(_) => return self.skeleton_chunk(trimmed, call),
        };
        apply_common(&c, call);
        let mut content = false;
        for (pos, choice) in c.choices.iter().enumerate() {
            let idx = choice.index.unwrap_or(pos);
            if let Some(r) = &choice.finish_reason {
                match self.finish.iter_mut().find(|(i, _)| *i == idx) {
                    Some(slot) => slot.1 = r.clone(),
                    None => self.finish.push((idx, r.clone())),
                }
            }
            if choice.text.0 {
                content = true;
            }
            let Some(delta) = &choice.delta else { continue };
            if delta.content.0 || delta.refusal.0 || delta.reasoning_content.0 || delta.reasoning.0 {
                content = true;
            }
            for (tpos, t) in delta.tool_calls.iter().flatten().enumerate() {
                content = true;
                let tidx = t.index.unwrap_or(tpos);
                let f = t.function.as_ref();
                self.tool_delta(idx, tidx, t.id.as_deref(), f.and_then(|f| f.name.as_deref()), f.and_then(|f| f.arguments.as_deref()));
            }
            if let Some(f) = &delta.function_call {
                content = true;
                self.tool_delta(idx, usize::MAX, None, f.name.as_deref(), f.arguments.as_deref());
            }
        }
        Ok(FrameFacts { content })
    }

    /// A chunk whose choices hold a shape we do not know (a tool call or message of a new
    /// form): keep what every chunk says the same way (ids, usage, error, finish reasons) and
    /// count the chunk as content, rather than lose the call's usage over one field.
    pub(super) fn skeleton_chunk(&mut self, data: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let c: Skeleton = serde_json::from_slice(data).map_err(|_| ExtractError::malformed("stream chunk is not JSON"))?;
        c.apply(call);
        for (pos, choice) in c.choices.iter().enumerate() {
            if let Some(r) = &choice.finish_reason {
                let idx = choice.index.unwrap_or(pos);
                match self.finish.iter_mut().find(|(i, _)| *i == idx) {
                    Some(slot) => slot.1 = r.clone(),
                    None => self.finish.push((idx, r.clone())),
                }
            }
        }
        Ok(FrameFacts { content: !c.choices.is_empty() })
    }

    fn tool_delta(&mut self, choice: usize, index: usize, id: Option<&str>, name: Option<&str>, arguments: Option<&str>) {
        let slot = match self.tools.iter().position(|t| t.choice == choice && t.index == index) {
            Some(i) => &mut self.tools[i],
            None => {
                self.tools.push(PartialTool { choice, index, ..Default::default() });
                let last = self.tools.len() - 1;
                &mut self.tools[last]
            }
        };
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            slot.id = id.to_owned();
        }
        if let Some(name) = name.filter(|s| !s.is_empty()) {
            slot.name.push_str(name);
        }
        if let Some(a) = arguments {
            if slot.arguments.len() + a.len() <= MAX_ARGUMENT_BYTES {
                slot.arguments.push_str(a);
            }
        }
    }
}
