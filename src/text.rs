//! Cutting UTF-8 text on character boundaries: what every bounded text in the crate (labels,
//! record fields, rule windows, surfaced reasons) is cut with. Owns nothing else.

/// The largest character boundary of `s` at or before byte `i` (0 at the start).
pub(crate) fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `s` cut to at most `max` bytes, on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    &s[..floor_char(s, max)]
}

/// `bytes` as text with every offset kept: each byte of an invalid UTF-8 sequence reads as a
/// space, and a character cut off at the very end (whose rest a next chunk may bring) is left
/// out. Valid bytes (almost always) become the `String` without a copy.
pub(crate) fn blanking_invalid_utf8(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let mut bytes = e.into_bytes();
            let valid = blank_invalid_utf8(&mut bytes);
            bytes.truncate(valid);
            String::from_utf8(bytes).unwrap_or_default()
        }
    }
}

/// Replaces each byte of an invalid UTF-8 sequence in `b` with a space, in place; returns how
/// much of `b` is then valid, which is less than its length only when `b` ends inside a
/// character.
fn blank_invalid_utf8(b: &mut [u8]) -> usize {
    let mut at = 0;
    loop {
        let err = match std::str::from_utf8(&b[at..]) {
            Ok(_) => return b.len(),
            Err(e) => e,
        };
        let bad = at + err.valid_up_to();
        let Some(n) = err.error_len() else { return bad };
        b[bad..bad + n].fill(b' ');
        at = bad + n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_on_character_boundaries() {
        assert_eq!(cut("héllo", 2), "h", "é is two bytes: byte 2 is inside it");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
        assert_eq!(floor_char("日本", 4), 3);
        assert_eq!(floor_char("abc", 99), 3);
    }

    #[test]
    fn invalid_bytes_become_spaces_at_their_offsets() {
        let mut b = b"a\xe9b\xc3(c\xf0\x9f".to_vec();
        let valid = blank_invalid_utf8(&mut b);
        assert_eq!(&b[..valid], b"a b (c", "a lone byte and a cut sequence each become one space per byte");
        assert_eq!(valid, 6, "the character cut off at the end is left out, not blanked");
        let mut ok = "héllo".as_bytes().to_vec();
        assert_eq!(blank_invalid_utf8(&mut ok), 6);
        assert_eq!(ok, "héllo".as_bytes());
        assert_eq!(blanking_invalid_utf8(b"a\xe9b\xc3(c\xf0\x9f".to_vec()), "a b (c");
    }
}
