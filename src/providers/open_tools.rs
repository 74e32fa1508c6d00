//! Tool calls assembled from stream deltas, for the readers whose streams open a call (an id
//! and a name) and then send its arguments in pieces: Anthropic's `tool_use` blocks, Bedrock's
//! ConverseStream `toolUse` blocks, Cohere v2's `tool-call-*` events. It owns the bound on
//! argument text and the order calls are reported in; it does not know any wire shape.
//! (OpenAI's deltas are keyed by choice as well, so `openai::chat` keeps its own.)

use super::{LlmCall, ToolCall};

/// The most argument text kept per call; pieces past it are dropped, the call still counts.
pub(crate) const MAX_ARGUMENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Default)]
struct OpenTool {
    index: u64,
    id: String,
    name: String,
    arguments: String,
}

/// The calls a stream has opened so far, in the order they were opened.
#[derive(Debug, Default)]
pub(crate) struct OpenTools {
    tools: Vec<OpenTool>,
}

impl OpenTools {
    /// A new call at `index` (its content block), or after the last one when the event has none.
    pub(crate) fn open(&mut self, index: Option<u64>, id: Option<String>, name: Option<String>) {
        let index = index.unwrap_or(self.tools.len() as u64);
        self.tools.push(OpenTool { index, id: id.unwrap_or_default(), name: name.unwrap_or_default(), arguments: String::new() });
    }

    /// Argument text for the latest call opened at `index` (the latest call when `None`).
    pub(crate) fn append(&mut self, index: Option<u64>, part: &str) {
        if let Some(t) = self.tools.iter_mut().rev().find(|t| index.is_none_or(|i| i == t.index)) {
            push_bounded(&mut t.arguments, part);
        }
    }

    /// One delta of the call at `index`, opened by its first delta: a non-empty id or name sets
    /// it, arguments append.
    pub(crate) fn delta(&mut self, index: Option<u64>, id: Option<&str>, name: Option<&str>, arguments: Option<&str>) {
        let index = index.unwrap_or(self.tools.len() as u64);
        let at = match self.tools.iter().position(|t| t.index == index) {
            Some(at) => at,
            None => {
                self.tools.push(OpenTool { index, ..Default::default() });
                self.tools.len() - 1
            }
        };
        let t = &mut self.tools[at];
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            id.clone_into(&mut t.id);
        }
        if let Some(name) = name.filter(|s| !s.is_empty()) {
            name.clone_into(&mut t.name);
        }
        if let Some(a) = arguments {
            push_bounded(&mut t.arguments, a);
        }
    }

    /// The stream ended: every call into `call`, by index; a call with no arguments gets `{}`.
    pub(crate) fn finish(&mut self, call: &mut LlmCall) {
        self.tools.sort_by_key(|t| t.index);
        for t in self.tools.drain(..) {
            let arguments = if t.arguments.is_empty() { "{}".to_owned() } else { t.arguments };
            call.tool_calls.push(ToolCall { id: t.id, name: t.name, arguments, ..Default::default() });
        }
    }

    /// Heap held now (bounded: [`MAX_ARGUMENT_BYTES`] per call).
    pub(crate) fn state_bytes(&self) -> usize {
        self.tools.iter().map(|t| t.id.capacity() + t.name.capacity() + t.arguments.capacity()).sum::<usize>()
            + self.tools.capacity() * std::mem::size_of::<OpenTool>()
    }
}

fn push_bounded(arguments: &mut String, part: &str) {
    if arguments.len() + part.len() <= MAX_ARGUMENT_BYTES {
        arguments.push_str(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_reported_by_index_with_bounded_arguments() {
        let mut open = OpenTools::default();
        open.open(Some(3), Some("b".into()), Some("second".into()));
        open.open(Some(1), Some("a".into()), Some("first".into()));
        open.append(Some(3), r#"{"x":"#);
        open.append(None, r#"{"latest":true}"#);
        open.append(Some(3), "1}");
        open.append(Some(9), "no call at 9: dropped");
        open.delta(Some(7), Some("c"), Some("third"), Some(""));
        open.delta(Some(7), Some(""), None, Some(&"y".repeat(MAX_ARGUMENT_BYTES + 1)));
        let mut call = LlmCall::default();
        open.finish(&mut call);
        let got: Vec<(&str, &str, &str)> = call.tool_calls.iter().map(|t| (t.id.as_str(), t.name.as_str(), t.arguments.as_str())).collect();
        assert_eq!(got, [("a", "first", r#"{"latest":true}"#), ("b", "second", r#"{"x":1}"#), ("c", "third", "{}")]);
        assert_eq!(open.state_bytes(), open.tools.capacity() * std::mem::size_of::<OpenTool>());
    }
}
