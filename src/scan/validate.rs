//! Second looks at a secret rule's match: what a pattern cannot say about a value.
//!
//! This module owns the checks that refuse look-alikes after a rule matched: built-in checksums
//! (GitHub's and npm's base62 CRC32), documented structures (a JWT's header is a JSON object
//! with `alg`, RFC 7515; a PyPI token is a binary macaroon whose location is `pypi.org`),
//! placeholders (`ghp_XXXX...`, `sk_live_0000...`,
//! `${DB_PASSWORD}`), a PEM header with no key after it, and a `-u user:pass` outside a curl
//! command. It does not find anything, and it never keeps the value it is shown.

/// Whether the match `value` of rule `id` is a credential. `after` is the text that follows
/// the match, and `before` the text that precedes it (both bounded by the caller).
/// Only built-in rules get second looks: a configured rule is the operator's word.
pub(super) fn plausible(id: &str, value: &str, before: &str, after: &str) -> bool {
    match id {
        "private-key" => return pem_has_material(after),
        "gcp-service-account" => return true,
        "jwt" if !jwt_header_ok(value) => return false,
        "pypi-upload-token" if !pypi_macaroon_ok(value) => return false,
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

/// A JWT's header (the part before the first `.`) is base64url of a JSON object that names its
/// algorithm: RFC 7515 section 4.1.1 makes `alg` mandatory, so a header without it is not a
/// JWS, and one that does not decode is not a JWT at all.
pub(super) fn jwt_header_ok(token: &str) -> bool {
    let Some(header) = token.split('.').next() else { return false };
    let Some(json) = base64url(header) else { return false };
    serde_json::from_slice::<serde_json::Value>(&json).is_ok_and(|v| v.get("alg").is_some_and(serde_json::Value::is_string))
}

/// A PyPI API token is `pypi-` and a base64url macaroon in the binary V2 format (version byte
/// 2, then fields of a type, a varint length and bytes): its location field is `pypi.org`
/// (the part every rule keys on), an identifier follows, and the last field is a 32-byte
/// signature. Random text after the well-known prefix has none of that.
pub(super) fn pypi_macaroon_ok(token: &str) -> bool {
    let Some(m) = token.strip_prefix("pypi-").and_then(base64url) else { return false };
    let Some((&2, rest)) = m.split_first() else { return false };
    // location, then identifier: the fixed start of every PyPI macaroon
    let Some(rest) = rest.strip_prefix(b"\x01\x08pypi.org\x02") else { return false };
    let Some((id_len, rest)) = varint(rest) else { return false };
    if id_len == 0 || rest.len() < id_len {
        return false;
    }
    // ... caveats ..., then the signature: field 6, length 32, 32 bytes, at the very end
    m.len() >= 34 && m[m.len() - 34] == 6 && m[m.len() - 33] == 32
}

fn varint(b: &[u8]) -> Option<(usize, &[u8])> {
    let mut n = 0usize;
    for (i, &c) in b.iter().enumerate().take(4) {
        n |= usize::from(c & 0x7F) << (7 * i);
        if c & 0x80 == 0 {
            return Some((n, &b[i + 1..]));
        }
    }
    None
}

/// base64url without padding (a trailing `=` run is accepted); `None` on any other byte.
fn base64url(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
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
    if v.contains("${") || v.contains("{{") || is_template_variable(v) {
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

/// A whole value that names a variable rather than holding one: `$NAME`, `%NAME%`, `%(name)s`,
/// `<your-token>`. Only the whole shape counts: a password that merely starts with `$` or `%`
/// (`%W8VgYrdDg`) is a password.
fn is_template_variable(v: &str) -> bool {
    let ident = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if let Some(name) = v.strip_prefix('$') {
        return ident(name) && !name.starts_with(|c: char| c.is_ascii_digit());
    }
    if let Some(inner) = v.strip_prefix('%').and_then(|r| r.strip_suffix('%')) {
        return ident(inner);
    }
    if let Some(inner) = v.strip_prefix("%(").and_then(|r| r.strip_suffix(")s")) {
        return ident(inner);
    }
    if let Some(inner) = v.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
        return !inner.is_empty() && !inner.contains(['<', '>']);
    }
    false
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
    fn jwt_headers() {
        // {"alg":"HS256","typ":"JWT"}, {"alg":"RS256","kid":"k1"}
        assert!(jwt_header_ok("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.sig"));
        assert!(jwt_header_ok("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiIxIn0.sig"));
        // {"typ":"JWT"}: no alg; then not JSON; then not base64url
        assert!(!jwt_header_ok("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.sig"));
        assert!(!jwt_header_ok("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ8.eyJzdWIiOiIxIn0.sig"));
        assert!(!jwt_header_ok("eyJhb$ciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"));
    }

    #[test]
    fn pypi_macaroons() {
        let mac = |id: &[u8], sig_field: u8| {
            let mut m = vec![2, 1, 8];
            m.extend_from_slice(b"pypi.org");
            m.extend_from_slice(&[2, id.len() as u8]);
            m.extend_from_slice(id);
            m.extend_from_slice(&[0, 2, 5]);
            m.extend_from_slice(b"caveat");
            m.extend_from_slice(&[0, 0, sig_field, 32]);
            m.extend_from_slice(&[0xA5; 32]);
            let b64 = crate::framing::base64_encode(&m).replace('+', "-").replace('/', "_");
            format!("pypi-{}", b64.trim_end_matches('='))
        };
        let good = mac(b"user-token-id", 6);
        assert!(good.starts_with("pypi-AgEIcHlwaS5vcmc"), "{good}");
        assert!(pypi_macaroon_ok(&good));
        assert!(!pypi_macaroon_ok(&mac(b"user-token-id", 4)), "no signature field last");
        assert!(!pypi_macaroon_ok(&mac(b"", 6)), "no identifier");
        assert!(!pypi_macaroon_ok("pypi-AgEIcHlwaS5vcmcXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"));
        assert!(!pypi_macaroon_ok("pypi-AgEIcHlwaS5vcmc$"));
    }

    #[test]
    fn placeholders() {
        for p in ["XXXXXXXXXXXXXXXXXXXX", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk_live_000000000000000000000000", "${DB_PASSWORD}", "YOUR_API_TOKEN", "abcdefghijklmnopqrstuvwxyz", "AKIA0123456789ABCDEF", "********", "password", "$DB_PASSWORD", "%DB_PASSWORD%", "%(password)s", "<your-token>"] {
            assert!(is_placeholder(p), "{p}");
        }
        for real in ["S3cr3t!Passw0rd#2024", "ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5", "AKIAIOSFODNN7EXAMPLE", "hunter2", "Zx8Qp2Lm9Vt4Rw7Yk3Hs", "%W8VgYrdDg", "$ecretPa55!", "$2b$12$Zx8Qp2Lm9Vt4Rw7Yk3", "<Zx8Qp2Lm9"] {
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
