//! The guard's scanners: PII and secret detectors, and redaction that keeps JSON valid.
//!
//! This module owns finding sensitive values in bytes and replacing them. It does not decide
//! when to scan or what to do with a finding (that is `exchange`, from `policy`'s
//! policies), and it never keeps the values it finds: a [`Finding`] is a kind and a byte
//! range.
//!
//! # How a scan stays cheap
//!
//! Clean text costs one pass of each trigger: `memchr` for `@` and `:`, eight bytes a step for
//! runs of digits, and one Aho-Corasick pass over every secret rule's keywords (the way
//! gitleaks prefilters), which `keywords` walks as a flat table in three interleaved lanes. A secret rule is checked only in a small window around a keyword hit, never
//! over the whole body, and most rules (50 of 56) by hand: `shape` matches their patterns
//! (literals and runs of a byte class) with regex-lite's semantics at a fraction of the cost
//! of its PikeVM, which has no DFA and stays for the rest and for configured rules.
//!
//! # Redacting JSON
//!
//! Bodies are redacted as bytes, in place, which keeps them valid JSON without re-encoding:
//! detectors never match a quote, a finding never starts inside an escape sequence, a
//! placeholder needs no escaping, and a finding outside a string (a card number written as a
//! JSON number) becomes a quoted placeholder. Values hidden behind `\u` escapes are found by
//! first decoding the escapes of printable ASCII, which yields the same JSON value.

mod bytes;
mod detect;
mod entropy;
mod ipranges;
mod json;
mod keywords;
mod memo;
mod pii;
mod policy;
mod redact;
pub mod request;
mod rules;
mod shape;
mod tally;
mod tlds;
mod validate;

pub use detect::{entropy, CustomPii, CustomSecret, Detectors, Finding, Kind};
pub use ipranges::IpRanges;
pub use pii::PiiKinds;
pub use tally::Tally;
pub use policy::{Block, Direction, Guard, PiiMode, Placeholder, Policy, SecretMode};
pub use redact::{block_body, guard_body, redact, redact_all, sanitize_for_telemetry, Guarded, Outcome, StreamRedactor};

pub(crate) use json::{align_to_escapes, decode_ascii_escapes};
pub(crate) use redact::placeholder;

#[cfg(test)]
mod tests;
