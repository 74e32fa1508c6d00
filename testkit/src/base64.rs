//! Standard base64 (RFC 4648, with padding), for the upstream's `x-raw-body-b64` header and
//! the recordings' `body_base64`. Tests only: no streaming, no validation beyond skipping
//! whitespace and padding.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `data` in standard base64, padded.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// The bytes of standard or URL-safe base64 `s`; whitespace and padding are skipped, and any
/// other byte outside the alphabet reads as 63.
pub fn decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a' + 26),
            b'0'..=b'9' => u32::from(c - b'0' + 52),
            b'+' | b'-' => 62,
            _ => 63,
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for g in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in g.iter().enumerate() {
            acc |= val(*c) << (18 - 6 * i);
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..g.len()]);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_every_padding() {
        assert_eq!(super::encode(b""), "");
        assert_eq!(super::encode(b"f"), "Zg==");
        assert_eq!(super::encode(b"fo"), "Zm8=");
        assert_eq!(super::encode(b"foo"), "Zm9v");
        assert_eq!(super::encode(&[0xfb, 0xff]), "+/8=");
        for s in [&b"f"[..], b"fo", b"foo", b"foob", &[0xfb, 0xff, 0x00]] {
            assert_eq!(super::decode(&super::encode(s)), s);
        }
        assert_eq!(super::decode("-_8"), [0xfb, 0xff]);
        assert_eq!(super::decode("Zm9v\nYmFy"), b"foobar");
    }
}
