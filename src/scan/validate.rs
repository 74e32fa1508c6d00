//! Second looks at a secret rule's match: what a pattern cannot say about a value.
//!
//! This module owns the checks that refuse look-alikes after a rule matched: built-in checksums
//! (GitHub's and npm's base62 CRC32), placeholders (`ghp_XXXX...`, `sk_live_0000...`,
//! `${DB_PASSWORD}`), a PEM header with no key after it, and a `-u user:pass` outside a curl
//! command. It does not find anything, and it never keeps the value it is shown.

/// Whether the match `value` of rule `id` is a credential. `after` is the text that follows
/// the match, and `before` the text that precedes it (both bounded by the caller).
/// Only built-in rules get second looks: a configured rule is the operator's word.
pub(super) fn plausible(id: &str, value: &str, before: &str, after: &str) -> bool {
    match id {
        "private-key" => return pem_has_material(after),
        "gcp-service-account" => return true,
        "github-pat" | "github-oauth" | "github-app-token" | "github-refresh-token" | "npm-access-token" if !base62_crc32_ok(value) => return false,
        "curl-auth-user" => {
            // `-u` is a flag of many tools (`docker run -u 1000:1000`, `git push -u`)
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            if !before[line_start..].contains("curl") {
                return false;
            }
        }
        _ => {}
    }
    !is_placeholder(value)
}

/// GitHub's token format (shared by npm's): a prefix, 30 random base62 characters, and the
/// CRC32 of those 30 in base62 as the last 6. A wrong checksum cannot be a real token.
/// Both base62 digit orders in use are accepted.
pub(super) fn base62_crc32_ok(token: &str) -> bool {
    let Some((_, body)) = token.split_once('_') else { return false };
    let b = body.as_bytes();
    if b.len() != 36 {
        return false;
    }
    let (random, check) = b.split_at(30);
    let crc = crc32(random);
    [b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"]
        .iter()
        .any(|alphabet| base62_6(crc, alphabet) == check)
}

fn base62_6(mut n: u32, alphabet: &[u8; 62]) -> [u8; 6] {
    let mut out = [alphabet[0]; 6];
    for slot in out.iter_mut().rev() {
        *slot = alphabet[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// CRC-32 (IEEE 802.3, the zlib one), by a table built at compile time.
pub(super) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !data.iter().fold(0xFFFF_FFFFu32, |crc, &b| TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8))
}

/// Values that stand for a secret in docs and templates rather than being one: one repeated
/// character (`XXXX`, `****`, `0000`), a run of `x`s, an alphabet or digit sequence, a
/// template variable, or the word itself.
pub(super) fn is_placeholder(value: &str) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'');
    let lower = v.to_ascii_lowercase();
    if v.contains("${") || v.contains("{{") || v.starts_with('<') || v.starts_with('$') || v.starts_with('%') {
        return true;
    }
    if matches!(
        lower.as_str(),
        "password" | "passwd" | "pass" | "pwd" | "secret" | "changeit" | "yourpassword" | "your-password" | "your_password" | "mypassword" | "redacted" | "token" | "null" | "none"
    ) {
        return true;
    }
    // an all-caps name (`YOUR_API_TOKEN`) is a variable, not a value
    if v.len() >= 6 && v.contains('_') && v.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        return true;
    }
    // the part after a vendor prefix: the last 16 characters (or all of a short value)
    let b = v.as_bytes();
    let tail = &b[b.len().saturating_sub(16)..];
    if tail.len() < 3 {
        return false;
    }
    let mut counts = [0u8; 256];
    for &c in tail {
        counts[c.to_ascii_lowercase() as usize] = counts[c.to_ascii_lowercase() as usize].saturating_add(1);
    }
    let top = counts.iter().copied().max().unwrap_or(0) as usize;
    if top * 4 >= tail.len() * 3 || counts[b'x' as usize] as usize + counts[b'*' as usize] as usize * 2 >= tail.len() * 3 / 4 {
        return true;
    }
    // `abcdefgh...`, `0123456789...`: ascending by one for most of the tail
    let steps = tail.windows(2).filter(|w| w[1] == w[0].wrapping_add(1)).count();
    steps + 4 >= tail.len() && tail.len() >= 8
}

/// A PEM block has key material after its header: base64 lines (after `Proc-Type`-style
/// headers), written with real newlines or JSON's `\n`. A header in prose has none.
fn pem_has_material(after: &str) -> bool {
    let mut run = 0;
    let b = after.as_bytes();
    let mut i = 0;
    while i < b.len().min(512) {
        let c = b[i];
        if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=' {
            run += 1;
            if run >= 40 {
                return true;
            }
        } else if c == b'\\' && matches!(b.get(i + 1), Some(b'n' | b'r')) {
            i += 1;
            // a line break inside the base64 does not end it
        } else if c == b'\n' || c == b'\r' {
        } else {
            run = 0;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn placeholders() {
        for p in ["XXXXXXXXXXXXXXXXXXXX", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk_live_000000000000000000000000", "${DB_PASSWORD}", "YOUR_API_TOKEN", "abcdefghijklmnopqrstuvwxyz", "AKIA0123456789ABCDEF", "********", "password"] {
            assert!(is_placeholder(p), "{p}");
        }
        for real in ["S3cr3t!Passw0rd#2024", "ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5", "AKIAIOSFODNN7EXAMPLE", "hunter2", "Zx8Qp2Lm9Vt4Rw7Yk3Hs"] {
            assert!(!is_placeholder(real), "{real}");
        }
    }

    #[test]
    fn pem_material() {
        assert!(pem_has_material("\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"));
        assert!(pem_has_material("\\nMIIEvQIBADANBgkqhkiG9w0BAQEF\\nAASCBKcwggSjAgEAAoIBAQC7"));
        assert!(pem_has_material("\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123\n\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj"));
        assert!(!pem_has_material(" line starts a key in PEM files; paste yours after it."));
        assert!(!pem_has_material(""));
    }
}
