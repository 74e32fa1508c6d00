//! JSON text without a parser: where string literals are, where escapes and number tokens
//! start and end, and the `\u` escapes decoded so that a value hidden behind them is seen.
//!
//! This module owns the byte-level JSON lexing that lets the redactors replace values in place
//! and keep the body valid JSON, for a whole body (`redact`) and across the chunks of a
//! streamed one (`request`, through [`Lex`]). It finds nothing sensitive and replaces nothing.

/// Whether `text` is one JSON value; asked only of a body without strings that has a finding.
pub(super) fn is_json(text: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
}

/// The JSON number token around `start..end`, not reaching back before `floor`.
pub(super) fn number_around(t: &[u8], floor: usize, mut start: usize, mut end: usize) -> (usize, usize) {
    let in_number = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    while start > floor && in_number(t[start - 1]) {
        start -= 1;
    }
    while end < t.len() && in_number(t[end]) {
        end += 1;
    }
    (start, end)
}

/// Whether byte `i` is the second byte of an escape (`\n`, `\"`), counting the backslashes.
fn escape_in_progress(t: &[u8], i: usize) -> bool {
    let mut n = 0;
    let mut j = i;
    while j > 0 && t[j - 1] == b'\\' {
        n += 1;
        j -= 1;
    }
    n % 2 == 1
}

/// The byte ranges of the insides of JSON string literals.
pub(super) fn string_ranges(t: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(q) = memchr::memchr(b'"', &t[i..]) {
        let start = i + q + 1;
        let mut j = start;
        loop {
            match memchr::memchr2(b'"', b'\\', &t[j..]) {
                Some(k) if t[j + k] == b'\\' => j += k + 2,
                Some(k) => {
                    out.push((start, j + k));
                    i = j + k + 1;
                    break;
                }
                None => return out,
            }
            if j >= t.len() {
                return out;
            }
        }
        if i >= t.len() {
            break;
        }
    }
    out
}

/// Decodes `\uXXXX` escapes inside JSON strings to UTF-8 (surrogate pairs included), except
/// `"`, `\` and control characters, which must stay escaped: the result is the same JSON value,
/// and a value hidden behind escapes (`jos\u00e9\u0040example.com`, Python's `json.dumps` of
/// any non-ASCII letter) is visible to the detectors and is never cut in the middle of an
/// escape. `None` when there are none: the common case costs one `memmem` pass.
pub(crate) fn decode_ascii_escapes(t: &[u8]) -> Option<Vec<u8>> {
    memchr::memmem::find(t, b"\\u")?;
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    let mut changed = false;
    while i < t.len() {
        if t[i] == b'\\' && i + 1 < t.len() {
            if t[i + 1] == b'u' {
                if let Some((c, len)) = decode_escape(t, i) {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += len;
                    changed = true;
                    continue;
                }
            }
            out.extend_from_slice(&t[i..i + 2]);
            i += 2;
            continue;
        }
        out.push(t[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// The character the `\uXXXX` escape at `t[i..]` stands for, and the escape's length (12 for
/// a surrogate pair), when it may be decoded without changing the JSON value: never `"`, `\`
/// or a control character, and never half a surrogate pair.
pub(crate) fn decode_escape(t: &[u8], i: usize) -> Option<(char, usize)> {
    let hex4 = |i: usize| -> Option<u32> {
        let h = t.get(i..i + 4)?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    if t.get(i..i + 2) != Some(b"\\u") {
        return None;
    }
    match hex4(i + 2)? {
        v @ 0xD800..=0xDBFF => {
            // a high surrogate counts only with its low half right after it
            let lo = (t.get(i + 6..i + 8) == Some(b"\\u")).then(|| hex4(i + 8)).flatten().filter(|lo| (0xDC00..=0xDFFF).contains(lo))?;
            char::from_u32(0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)).map(|c| (c, 12))
        }
        0xDC00..=0xDFFF => None,
        v if v < 0x20 || v == 0x22 || v == 0x5C || v == 0x7F => None,
        v => char::from_u32(v).map(|c| (c, 6)),
    }
}

/// Moves `start..end` so that it neither starts nor ends inside an escape sequence (`\n`,
/// `\u000a`): cutting one leaves a stray backslash or `\u` with no digits, which is not JSON.
/// The start moves forward past the escape (a control character is not part of a value), the
/// end forward to the escape's end (a secret is never left in part).
pub(crate) fn align_to_escapes(t: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    // the escape that holds byte `i` after its backslash, if any: where it ends
    let escape_end = |i: usize| -> Option<usize> {
        (i.saturating_sub(5)..i).rev().find_map(|b| {
            if t.get(b) != Some(&b'\\') || escape_in_progress(t, b) {
                return None;
            }
            let len = if t.get(b + 1) == Some(&b'u') && t.get(b + 2..b + 6).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) { 6 } else { 2 };
            (i < b + len).then_some(b + len)
        })
    };
    if let Some(e) = escape_end(start) {
        start = e;
    }
    if end > start {
        if let Some(e) = escape_end(end) {
            end = e.min(t.len());
        }
    }
    (start, end.max(start))
}

/// JSON lexer state at the first held byte.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Lex {
    pub(super) in_string: bool,
    pub(super) escape: bool,
}

impl Lex {
    /// The state after `t`; jumps between quotes and backslashes, so prose costs a memchr.
    pub(super) fn run(mut self, t: &[u8]) -> Lex {
        let mut i = 0;
        if self.escape {
            self.escape = false;
            i = 1;
        }
        while let Some(k) = t.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
            let at = i + k;
            match t.get(at) {
                Some(b'\\') if self.in_string => {
                    if at + 1 >= t.len() {
                        self.escape = true;
                        return self;
                    }
                    i = at + 2;
                }
                Some(b'"') => {
                    self.in_string = !self.in_string;
                    i = at + 1;
                }
                _ => i = at + 1,
            }
        }
        self
    }
}

/// The insides of JSON string literals in `t[from..to]`, given the lexer state at `from`; a
/// literal still open at `to` ends there.
pub(super) fn string_ranges_from(t: &[u8], from: usize, to: usize, lex: Lex) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let Some(t) = t.get(..to) else { return out };
    let mut open = if lex.in_string { Some(from) } else { None };
    let mut i = if lex.escape { from + 1 } else { from };
    // jump between quotes and backslashes, as `Lex::run` does: prose costs a memchr
    while let Some(k) = t.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
        let at = i + k;
        i = at + 1;
        match (t[at], open) {
            (b'\\', Some(_)) => i = at + 2,
            (b'"', Some(s)) => {
                out.push((s, at));
                open = None;
            }
            (b'"', None) => open = Some(at + 1),
            _ => {}
        }
    }
    if let Some(s) = open {
        out.push((s, to));
    }
    out
}

/// The text with its `\uXXXX` escapes decoded as `scan::decode_ascii_escapes` decodes them
/// (to UTF-8, surrogate pairs included; `"`, `\` and control characters stay escaped), and for
/// each decoded byte (and one past the end) its offset in `t`: every byte of a decoded
/// character maps to its escape's backslash. `None` without escapes.
pub(super) fn decode_with_map(t: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let first = memchr::memmem::find(t, b"\\u")?;
    let mut out = Vec::with_capacity(t.len());
    let mut map = Vec::with_capacity(t.len() + 1);
    // the bytes before the first `\u` cannot hold an escape that decodes, except through a
    // backslash run, which the loop below handles from the run's start
    let mut i = first;
    while i > 0 && t.get(i - 1) == Some(&b'\\') {
        i -= 1;
    }
    out.extend_from_slice(t.get(..i).unwrap_or_default());
    map.extend(0..i);
    let mut changed = false;
    while i < t.len() {
        if t.get(i) == Some(&b'\\') && i + 1 < t.len() {
            if t.get(i + 1) == Some(&b'u') {
                if let Some((c, len)) = decode_escape(t, i) {
                    let mut buf = [0u8; 4];
                    let bytes = c.encode_utf8(&mut buf).as_bytes();
                    out.extend_from_slice(bytes);
                    map.extend(std::iter::repeat_n(i, bytes.len()));
                    i += len;
                    changed = true;
                    continue;
                }
            }
            out.extend_from_slice(t.get(i..i + 2).unwrap_or_default());
            map.extend([i, i + 1]);
            i += 2;
            continue;
        }
        if let Some(&b) = t.get(i) {
            out.push(b);
        }
        map.push(i);
        i += 1;
    }
    map.push(t.len());
    changed.then_some((out, map))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time lexer `string_ranges_from` replaced, kept as its oracle.
    fn byte_by_byte(t: &[u8], from: usize, to: usize, lex: Lex) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut open = if lex.in_string { Some(from) } else { None };
        let mut escape = lex.escape;
        for (i, &b) in t.iter().enumerate().take(to).skip(from) {
            if escape {
                escape = false;
                continue;
            }
            match (b, open) {
                (b'\\', Some(_)) => escape = true,
                (b'"', Some(s)) => {
                    out.push((s, i));
                    open = None;
                }
                (b'"', None) => open = Some(i + 1),
                _ => {}
            }
        }
        if let Some(s) = open {
            out.push((s, to));
        }
        out
    }

    #[test]
    fn string_ranges_jump_to_the_same_ranges_as_a_byte_loop() {
        let bodies: &[&[u8]] = &[
            br#"{"a":"b\"c","d":["e\\","f"],"g":1}"#,
            br#"x"\\\"y"z"\"#,
            br#""""\u0040"\\"#,
            b"no quotes at all",
        ];
        for t in bodies {
            for from in 0..=t.len() {
                for to in from..=t.len() {
                    for (in_string, escape) in [(false, false), (true, false), (true, true)] {
                        let lex = Lex { in_string, escape };
                        assert_eq!(string_ranges_from(t, from, to, lex), byte_by_byte(t, from, to, lex), "{from}..{to} {lex:?}");
                    }
                }
            }
        }
    }
}
