//! Byte-class searches for the scanners' triggers, eight bytes at a time.
//!
//! Clean text is mostly letters and spaces; the number, IBAN and phone scanners only start
//! at an ASCII digit. Testing a word of eight bytes at once (SWAR: plain `u64` arithmetic,
//! which wasm runs natively) skips the bytes that cannot start anything in one step instead
//! of eight, with no SIMD target feature and no dependency.

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

/// The index of the first ASCII digit in `t` at or after `from`: sixteen bytes a step with wasm
/// SIMD, which the module is built with (V8 compiled the `u64` step below into about 20
/// instructions per eight bytes, its constants reloaded each time; this is about 8 per 16).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
pub(super) fn find_digit(t: &[u8], from: usize) -> Option<usize> {
    use core::arch::wasm32::{i8x16_lt, i8x16_splat, u64x2, u8x16_add, u8x16_bitmask, u8x16_splat};
    let mut i = from;
    while let Some(block) = t.get(i..i + 16) {
        let (lo, hi) = block.split_at(8);
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        // plus 0x50, the digits are exactly the bytes 0x80..=0x89, the ten smallest as signed
        // bytes: one signed compare, which x86 has (an unsigned one takes V8 three)
        let v = u8x16_add(u64x2(word(lo), word(hi)), u8x16_splat(0x50));
        let m = u8x16_bitmask(i8x16_lt(v, i8x16_splat(-118)));
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
    fn the_mask_marks_exactly_the_digit_bytes() {
        for b in 0u8..=255 {
            let m = digit_mask(u64::from_le_bytes([b'a', b, b'/', b':', 0x30 | 0x80, b, 0xff, 0]));
            let want = if b.is_ascii_digit() { (1u64 << 15) | (1u64 << 47) } else { 0 };
            assert_eq!(m, want, "byte {b:#x}");
        }
    }
}
