//! The last line for telemetry: token-like runs that look random enough to be a credential,
//! whatever the vendor (gitleaks' generic rule, without its keyword).
//!
//! This module owns finding such runs in a string bound for the trace store (captured content,
//! span attributes, log lines). It does not run on the wire: there a false positive blocks a
//! request, so only rules with a vendor shape or a keyword may block. It keeps readable what a
//! span needs: hex digests and trace ids, UUIDs, provider ids (`chatcmpl-...`, `msg_01...`,
//! `toolu_...`), model names, paths and identifiers made of words. Tuned on the labelled set in
//! `tests/data/detectors.jsonl` (the `telemetry` tier).

/// A run must be at least this long to be a credential. Shorter random strings are ids as often
/// as secrets (Gemini's `responseId` is 23 characters of base64url, OpenAI's `call_` ids 24),
/// and the vendor rules already know the short credentials worth knowing.
const MIN_LEN: usize = 32;

/// Ids that providers and tracers mint; they are random by design and the span needs them.
const ID_PREFIXES: &[&str] = &[
    "chatcmpl-", "cmpl-", "msg_", "msgbatch_", "toolu_", "srvtoolu_", "call_", "resp_", "rs_", "fc_", "ws_", "req_", "run_",
    "thread_", "asst_", "file-", "file_", "batch_", "ft:", "ftjob-", "vs_", "step_", "evt_", "gen-", "compl_", "conv_", "ci_",
    "mcp_", "org-", "proj_", "user-", "sess_", "span_", "trace_", "item_", "cust_", "modelfile_",
];

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~')
}

/// Every high-entropy token-like run in `t`, as byte ranges.
pub(super) fn runs(t: &[u8], out: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while i < t.len() {
        if !is_run_byte(t[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < t.len() && is_run_byte(t[i]) {
            i += 1;
        }
        // a run glued to a `\` is the tail of an escape (`\nabc...`): skip the escape letter
        let s = if start > 0 && t[start - 1] == b'\\' { start + 1 } else { start };
        // sentence punctuation is not part of a token
        let mut e = i;
        while e > s && matches!(t[e - 1], b'.' | b'-' | b'_' | b'~') {
            e -= 1;
        }
        if e >= s + MIN_LEN && looks_secret(&t[s..e]) {
            out.push((s, e));
        }
    }
}

/// Whether one run is credential-like.
pub(super) fn looks_secret(run: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(run) else { return false };
    if ID_PREFIXES.iter().any(|p| text.starts_with(p)) {
        return false;
    }
    // URLs' and paths' pieces, dotted names (`anthropic.claude-3-sonnet-20240229-v1`): judge
    // the longest piece between separators a credential never has many of
    let longest = text.split(['/', '.', '-']).max_by_key(|p| p.len()).unwrap_or(text);
    let pieces = text.split(['/', '.', '-']).filter(|p| !p.is_empty()).count();
    if pieces > 3 && longest.len() < MIN_LEN {
        return false;
    }
    let core = if longest.len() >= MIN_LEN { longest } else { text };
    let b = core.as_bytes();
    let (mut lower, mut upper, mut digit) = (0usize, 0usize, 0usize);
    for &c in b {
        if c.is_ascii_lowercase() {
            lower += 1;
        } else if c.is_ascii_uppercase() {
            upper += 1;
        } else if c.is_ascii_digit() {
            digit += 1;
        }
    }
    // hex digests, trace and span ids, UUIDs: ids, not credentials (vendor rules still catch
    // the hex secrets they know, on the wire and here)
    let hexish = b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-');
    if hexish {
        return false;
    }
    // letters and digits both, or both cases with something else: random strings have them
    let classes = usize::from(lower > 0) + usize::from(upper > 0) + usize::from(digit > 0);
    if classes < 2 || digit == 0 && (lower == 0 || upper == 0) {
        return false;
    }
    if digit == 0 && classes == 2 && b.len() < 32 {
        // `CamelCaseIdentifierName`
        return false;
    }
    // identifiers are made of words: long lowercase runs a random string rarely has
    if wordiness(b) * 2 > b.len() {
        return false;
    }
    let h = super::entropy(b);
    // the entropy a random base62 string of this length reaches, less a margin
    let want = ((b.len() as f32).log2() - 1.0).min(4.0);
    h >= want
}

/// How many bytes sit in runs of 5 or more lowercase letters (or a capital and 4 lowercase):
/// in random base62 such runs are rare, in identifiers they are most of the string.
fn wordiness(b: &[u8]) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i].is_ascii_uppercase() {
            i += 1;
        }
        while i < b.len() && b[i].is_ascii_lowercase() {
            i += 1;
        }
        if i - start >= 5 {
            total += i - start;
        }
        if i == start {
            i += 1;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        runs(s.as_bytes(), &mut out);
        out.into_iter().map(|(a, b)| &s[a..b]).collect()
    }

    #[test]
    fn random_tokens_are_found_and_ids_are_not() {
        for secret in ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "hvs.CAESIJ3kQ9x7Lm2Vp8RtYw5Zb1Nc4Df6GhQ2", "Zx8Qp2Lm9Vt4Rw7Yk3HsP0aBc5Dd6Ee7Ff8G"] {
            assert_eq!(found(&format!("key {secret} ok")), vec![secret], "{secret}");
        }
        for id in [
            "4bf92f3577b34da6a3ce929d0e0e4736", "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "chatcmpl-AbC123dEf456GhI789jKl012MnO", "msg_01XFDUDYJgAACzvnptvVoYEL", "toolu_01A09q90qw90lq917835lq9",
            "anthropic.claude-3-5-sonnet-20241022-v2:0", "gpt-4o-mini-2024-07-18", "123e4567-e89b-12d3-a456-426614174000",
            "/home/agent/projects/genai-tap/src/scan/mod.rs", "internationalization", "getUserAccountSettingsForTenant2024",
            "https://api.openai.com/v1/chat/completions", "hNcEarPuMNa3qtsP7MHt4As",
        ] {
            assert_eq!(found(&format!("see {id} here")), Vec::<&str>::new(), "{id}");
        }
    }
}
