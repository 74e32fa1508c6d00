//! Byte-class searches for the scanners' triggers, sixteen bytes at a time in the module.
//!
//! Clean text is mostly letters and spaces; the number, IBAN and phone scanners only start
//! at an ASCII digit, and an IBAN only at two capitals before two digits. The wasm build (which
//! has `simd128`) tests sixteen bytes at once; other builds test a word of eight (SWAR: plain
//! `u64` arithmetic). Natively, the tests check the SWAR paths against byte loops; the SIMD
//! paths are the module's, and `guard_e2e` puts numbers at every place of a block in Envoy.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is an ASCII digit (`0`..=`9`), the rest clear.
#[inline(always)]
fn digit_mask(x: u64) -> u64 {
    // per byte b < 0x80: b + 0x50 has its high bit set iff b >= 0x30, b + 0x46 iff b >= 0x3a;
    // neither carries into the next byte (0x7f + 0x50 < 0x100); bytes >= 0x80 are masked out
    let low7 = x & !HI;
    let ge_0 = low7.wrapping_add(LO * (0x80 - 0x30));
    let gt_9 = low7.wrapping_add(LO * (0x80 - 0x3a));
    ge_0 & !gt_9 & !x & HI
}

/// Wasm SIMD tests for the byte classes the scanners start at, sixteen bytes at a time. The
/// module is built with `simd128`; V8 compiled the `u64` steps below into about 20
/// instructions per eight bytes, their constants reloaded each time.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::{i8x16_lt, i8x16_splat, u64x2, u8x16_add, u8x16_splat, v128};

    /// `t[at..at + 16]`, when there are that many bytes.
    #[inline(always)]
    pub(super) fn load(t: &[u8], at: usize) -> Option<v128> {
        let block = t.get(at..at.checked_add(16)?)?;
        let (lo, hi) = block.split_at(8);
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        Some(u64x2(word(lo), word(hi)))
    }

    /// All ones in each lane of `v` whose byte lies in `lo..lo + n`: shifted so that the range
    /// starts at 0x80, its bytes are the `n` smallest as signed bytes, and one signed compare
    /// (which x86 has, where an unsigned one takes V8 three) picks them out.
    #[inline(always)]
    fn in_range(v: v128, lo: u8, n: u8) -> v128 {
        i8x16_lt(u8x16_add(v, u8x16_splat(0x80u8.wrapping_sub(lo))), i8x16_splat(i8::MIN.wrapping_add(n as i8)))
    }

    #[inline(always)]
    pub(super) fn digits(v: v128) -> v128 {
        in_range(v, b'0', 10)
    }

    #[inline(always)]
    pub(super) fn uppercase(v: v128) -> v128 {
        in_range(v, b'A', 26)
    }
}

/// The index of the first ASCII digit in `t` at or after `from`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
pub(super) fn find_digit(t: &[u8], from: usize) -> Option<usize> {
    use core::arch::wasm32::u8x16_bitmask;
    let mut i = from;
    while let Some(v) = simd::load(t, i) {
        let m = u8x16_bitmask(simd::digits(v));
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    find_digit_swar(t, i)
}

/// The index of the first ASCII digit in `t` at or after `from`.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
pub(super) fn find_digit(t: &[u8], from: usize) -> Option<usize> {
    find_digit_swar(t, from)
}

/// The first `i` at or after `from` where an IBAN may start: two ASCII capitals, then two
/// digits (`t[i..i + 4]`). On text dense with numbers, jumping from digit to digit and looking
/// back was most of the IBAN scan; sixteen places are tested at once here instead.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
pub(super) fn find_iban_head(t: &[u8], from: usize) -> Option<usize> {
    use core::arch::wasm32::u8x16_bitmask;
    // one load a step: each block's masks are kept for the next, whose first three places
    // need the following block's bytes
    let masks = |v| (u32::from(u8x16_bitmask(simd::uppercase(v))), u32::from(u8x16_bitmask(simd::digits(v))));
    let mut i = from;
    let Some(first) = simd::load(t, i) else { return find_iban_head_by_digits(t, i) };
    let (mut upper, mut digit) = masks(first);
    while let Some(next) = simd::load(t, i + 16) {
        let (next_upper, next_digit) = masks(next);
        let (u, d) = (upper | next_upper << 16, digit | next_digit << 16);
        let heads = u & (u >> 1) & (d >> 2) & (d >> 3) & 0xffff;
        if heads != 0 {
            return Some(i + heads.trailing_zeros() as usize);
        }
        (upper, digit) = (next_upper, next_digit);
        i += 16;
    }
    find_iban_head_by_digits(t, i)
}

/// The first `i` at or after `from` where an IBAN may start: two ASCII capitals, then two
/// digits (`t[i..i + 4]`).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
pub(super) fn find_iban_head(t: &[u8], from: usize) -> Option<usize> {
    find_iban_head_by_digits(t, from)
}

/// [`find_iban_head`] by jumping to each digit two bytes on and looking back.
fn find_iban_head_by_digits(t: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let head = find_digit_swar(t, i.checked_add(2)?)? - 2;
        if t.get(head..head + 4).is_some_and(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase() && w[3].is_ascii_digit()) {
            return Some(head);
        }
        i = head + 1;
    }
}

/// [`find_digit`] eight bytes a step in plain `u64` arithmetic.
#[inline]
fn find_digit_swar(t: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(word) = t.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let m = digit_mask(u64::from_le_bytes(w));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    t.get(i..)?.iter().position(u8::is_ascii_digit).map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_digit_from_every_start_whatever_the_alignment() {
        // every byte value around the digits, so that a wrong range or a carry shows
        let mut t: Vec<u8> = (0u8..=255).collect();
        t.extend_from_slice(b"abc\xff\x80/:9 ;");
        for from in 0..=t.len() + 2 {
            let want = t.get(from..).and_then(|s| s.iter().position(u8::is_ascii_digit)).map(|p| from + p);
            assert_eq!(find_digit(&t, from), want, "from {from}");
            assert_eq!(find_digit_swar(&t, from), want, "from {from}");
        }
        assert_eq!(find_digit(b"", 0), None);
        assert_eq!(find_digit(b"no digits at all, none.", 0), None);
        assert_eq!(find_digit(b"exactly8", 0), Some(7));
        assert_eq!(find_digit(b"\xff\xff\xff\xff\xff\xff\xff\xff\xb9\xb0 1", 0), Some(11));
    }

    #[test]
    fn finds_every_iban_head_from_every_start() {
        let t = b"GB82 xGB8 G82 gb82 GBx2 DE8 9AB12CD34 Z Y12 AZ09\x80AZ09 QQ99 1234AB56";
        let is_head = |w: &[u8]| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase() && w[2].is_ascii_digit() && w[3].is_ascii_digit();
        for from in 0..=t.len() + 2 {
            let want = (from..t.len().saturating_sub(3)).find(|&i| is_head(&t[i..i + 4]));
            assert_eq!(find_iban_head(t, from), want, "from {from}");
            assert_eq!(find_iban_head_by_digits(t, from), want, "from {from}");
        }
        assert_eq!(find_iban_head(b"AB1", 0), None);
    }

    #[test]
    fn the_mask_marks_exactly_the_digit_bytes() {
        for b in 0u8..=255 {
            let m = digit_mask(u64::from_le_bytes([b'a', b, b'/', b':', 0x30 | 0x80, b, 0xff, 0]));
            let want = if b.is_ascii_digit() { (1u64 << 15) | (1u64 << 47) } else { 0 };
            assert_eq!(m, want, "byte {b:#x}");
        }
    }
}
