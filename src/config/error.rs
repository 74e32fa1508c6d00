//! `ConfigError`, and the cleaning of serde's messages so that no configured value leaks.
//!
//! This module owns how a configuration error reads: the dotted field, then a lowercase
//! message with no trailing period that names the limit or the expected type and never the
//! value written. It does not decide what is invalid; each domain's `compile` does that and
//! hands back its own error, which the caller turns into a `ConfigError` under its field.
//!
//! Why the cleaning: serde's messages quote the input (`invalid type: string "s3cr3t-salt",
//! expected u64`), and Envoy logs a refused configuration, so a salt or token pasted under
//! the wrong key would end up in the log. Only shapes known not to hold a value pass through.

use core::fmt;

/// A configuration error: the dotted path of the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: String,
    message: String,
}

impl ConfigError {
    /// `message` must not hold the configured value (see the module doc).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { field: field.into(), message: message.into() }
    }

    /// An error found by a domain's `compile` at `field` inside the block `block`: `routes` and
    /// `[0].host` give `routes[0].host`, `pii` and `custom[1].name` give `pii.custom[1].name`.
    pub fn within(block: &str, field: &str, message: impl Into<String>) -> ConfigError {
        let path = match (block.is_empty(), field.is_empty()) {
            (_, true) => block.to_owned(),
            (true, false) => field.to_owned(),
            (false, false) if field.starts_with('[') => format!("{block}{field}"),
            (false, false) => format!("{block}.{field}"),
        };
        ConfigError::new(path, message)
    }

    /// From serde's failure at `field` (empty for the document itself), with the value cut out.
    pub fn from_serde(field: impl Into<String>, err: &serde_json::Error) -> ConfigError {
        ConfigError::new(field, serde_message(err))
    }

    /// The dotted path of the field (`secrets.custom[0].pattern`); empty for the whole document.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong, without the field.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "invalid genai-tap configuration: {}", self.message)
        } else {
            write!(f, "invalid genai-tap configuration: {}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// serde's message for `err`, keeping what was expected and dropping what was written.
pub(crate) fn serde_message(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let text = err.to_string();
    let text = strip_position(&text);
    match err.classify() {
        // serde_json's syntax messages are fixed strings ("expected `,` or `}`", "EOF while
        // parsing a string", "invalid escape"): none quotes the input.
        Category::Syntax | Category::Eof => text.to_owned(),
        Category::Io => "could not be read".to_owned(),
        Category::Data => data_message(text),
    }
}

/// serde_json appends " at line 1 column 17"; the field path says more, so drop it.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => msg.get(..i).unwrap_or(msg),
        None => msg,
    }
}

/// serde's data errors, by the shapes of `serde::de::Error`'s provided methods. The expected
/// part is written by our types (a type name, our variant or field names), never by the input,
/// and it always comes last, so the last `, expected ` splits a quoted value off safely even if
/// the value itself holds that text. Anything not recognised gets a fixed message.
fn data_message(text: &str) -> String {
    let expected = text.rfind(", expected ").and_then(|i| text.get(i + ", expected ".len()..));
    if let Some(rest) = text.strip_prefix("invalid type: ") {
        let got = unexpected_kind(rest);
        return match expected {
            Some(e) => format!("invalid type: {got}, expected {e}"),
            None => format!("invalid type: {got}"),
        };
    }
    if let Some(rest) = text.strip_prefix("invalid value: ") {
        let got = unexpected_kind(rest);
        return match expected {
            Some(e) => format!("invalid value: {got}, expected {e}"),
            None => format!("invalid value: {got}"),
        };
    }
    if text.starts_with("unknown variant ") {
        return match expected {
            Some(e) => format!("unknown variant, expected {e}"),
            None => "unknown variant, there are no variants".to_owned(),
        };
    }
    // Field names are keys of our own structs: the path names them anyway.
    for shape in ["unknown field `", "missing field `", "duplicate field `", "invalid length "] {
        if text.starts_with(shape) && names_only(text) {
            return text.to_owned();
        }
    }
    "is not valid here".to_owned()
}

/// What kind of value came (`string`, `integer`, `map`), from serde's `Unexpected` text, which
/// puts the value after the kind (`string "x"`, ``integer `5` ``). Unknown kinds say nothing.
fn unexpected_kind(rest: &str) -> &'static str {
    const KINDS: [&str; 18] = [
        "boolean",
        "integer",
        "floating point",
        "character",
        "string",
        "byte array",
        "Option value",
        "unit value",
        "unit variant",
        "newtype struct",
        "newtype variant",
        "sequence",
        "map",
        "enum",
        "tuple variant",
        "struct variant",
        "null",
        "unit",
    ];
    for kind in KINDS {
        if let Some(after) = rest.strip_prefix(kind) {
            if after.is_empty() || after.starts_with([' ', ',']) {
                return kind;
            }
        }
    }
    "a value of another type"
}

/// An unknown, missing or duplicate field message names only identifiers, which are keys we
/// know or keys the path already shows; anything else (a quote, a control byte) is refused.
fn names_only(text: &str) -> bool {
    text.len() <= 512 && text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && !text.contains('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_of<T: serde::de::DeserializeOwned + fmt::Debug>(json: &str) -> String {
        match serde_json::from_str::<T>(json) {
            Ok(v) => panic!("{json} parsed as {v:?}"),
            Err(e) => serde_message(&e),
        }
    }

    #[test]
    fn values_are_cut_and_the_expected_type_kept() {
        assert_eq!(message_of::<u64>(r#""s3cr3t-salt""#), "invalid type: string, expected u64");
        assert_eq!(message_of::<u32>("-7777"), "invalid value: integer, expected u32");
        assert_eq!(message_of::<u64>("1.5"), "invalid type: floating point, expected u64");
        assert_eq!(message_of::<String>("true"), "invalid type: boolean, expected a string");
        assert_eq!(message_of::<String>("{}"), "invalid type: map, expected a string");
        assert_eq!(message_of::<u8>(r#""x, expected u64""#), "invalid type: string, expected u8");
    }

    #[test]
    fn syntax_errors_keep_their_fixed_text() {
        assert_eq!(message_of::<u64>(r#"{"a""#), "invalid type: map, expected u64");
        assert_eq!(message_of::<Vec<u8>>("[1,"), "EOF while parsing a value");
        assert_eq!(message_of::<u8>("1 2"), "trailing characters");
    }

    #[test]
    fn within_joins_paths() {
        assert_eq!(ConfigError::within("routes", "[0].host", "x").field(), "routes[0].host");
        assert_eq!(ConfigError::within("pii", "custom[1].name", "x").field(), "pii.custom[1].name");
        assert_eq!(ConfigError::within("stats", "", "x").field(), "stats");
        assert_eq!(ConfigError::within("", "max_body_bytes", "x").field(), "max_body_bytes");
    }
}
