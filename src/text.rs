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
}
