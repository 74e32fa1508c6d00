//! Text helpers of the stream guard: where a value that may still be growing begins in a
//! channel's pending text, how the edits the scan found apply to a piece of that text, and the
//! JSON string state across pieces. Pure functions over `&str`; the channel bookkeeping that
//! calls them lives in `stream_guard`.

use super::SECRET_STARTS;

/// An SSE event with no JSON that is not a reading failure: `[DONE]`, a comment, a ping.
pub(super) fn is_plain_sse(b: &[u8]) -> bool {
    b.split(|c| *c == b'\n').all(|l| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        l.is_empty() || l.starts_with(b":") || l.starts_with(b"event:") || l.starts_with(b"id:") || l.starts_with(b"retry:") || l == b"data: [DONE]" || l == b"data:[DONE]"
    })
}

/// A piece's new text: its part of the channel text with `edits` applied.
pub(super) fn apply(text: &str, base: u64, start: u64, end: u64, edits: &[(u64, u64, Option<String>)]) -> String {
    let mut out = String::new();
    let mut at = start;
    for (s, e, p) in edits {
        if *e <= start || *s >= end {
            // a placeholder at a removed run's start belongs to the piece holding that start
            continue;
        }
        let (cs, ce) = ((*s).max(start), (*e).min(end));
        if cs > at {
            out.push_str(slice(text, base, at, cs));
        }
        if *s >= start {
            if let Some(p) = p {
                out.push_str(p);
            }
        }
        at = at.max(ce);
    }
    if at < end {
        out.push_str(slice(text, base, at, end));
    }
    out
}

pub(super) fn slice(text: &str, base: u64, from: u64, to: u64) -> &str {
    let (a, b) = ((from.saturating_sub(base)) as usize, (to.saturating_sub(base)) as usize);
    text.get(a..b).unwrap_or("")
}

/// Where the part of `text` that might still grow into a match begins (see the module doc).
pub(super) fn hold_from(text: &str) -> usize {
    let b = text.as_bytes();
    let end = b.len();
    let tok = token_start(b, end);
    let mut hold = end;
    if tok < end {
        let last = text.get(tok..).unwrap_or("");
        if !suspicious(last) {
            return end;
        }
        hold = tok;
    }
    // digit groups written with spaces between them belong together
    loop {
        let mut j = hold;
        let mut spaces = 0;
        while j > 0 && b[j - 1] == b' ' && spaces < 2 {
            j -= 1;
            spaces += 1;
        }
        if spaces == 0 {
            break;
        }
        let ts = token_start(b, j);
        if ts == j || !groupish(text.get(ts..j).unwrap_or("")) {
            break;
        }
        hold = ts;
    }
    hold
}

pub(super) fn token_start(b: &[u8], end: usize) -> usize {
    let mut i = end;
    while i > 0 && !b[i - 1].is_ascii_whitespace() {
        i -= 1;
    }
    i
}

pub(super) fn suspicious(tok: &str) -> bool {
    if tok.bytes().any(|c| c.is_ascii_digit() || matches!(c, b'@' | b'.' | b'-' | b'_' | b'+' | b':' | b'/' | b'=' | b'%')) {
        return true;
    }
    // a token is compared from its first letter (`"AKIA`, `(xoxb`)
    let t = tok.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    SECRET_STARTS.iter().any(|s| t.starts_with(s) || (t.len() >= 3 && s.starts_with(t)))
}

pub(super) fn groupish(tok: &str) -> bool {
    tok.bytes().any(|c| c.is_ascii_digit()) && tok.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'(' | b')' | b'+' | b'/'))
}

pub(super) use crate::text::floor_char;

/// Whether byte `i` follows an odd run of backslashes.
pub(super) fn escape_open(t: &str, i: usize) -> bool {
    t.as_bytes().get(..i).map_or(0, |b| b.iter().rev().take_while(|c| **c == b'\\').count()) % 2 == 1
}

/// The JSON string state at `to`, from the state at `from`.
pub(super) fn json_state(t: &str, from: usize, to: usize, mut in_str: bool, mut esc: bool) -> (bool, bool) {
    for &c in t.as_bytes().get(from..to).unwrap_or_default() {
        if esc {
            esc = false;
        } else if in_str && c == b'\\' {
            esc = true;
        } else if c == b'"' {
            in_str = !in_str;
        }
    }
    (in_str, esc)
}

pub(super) fn json_in_string(t: &str, from: usize, to: usize, in_str: bool, esc: bool) -> bool {
    json_state(t, from, to, in_str, esc).0
}
