//! The keyword automaton in the form the scan loop walks: one flat table of next states.
//!
//! This module owns turning every rule's keywords into an Aho-Corasick automaton and the loop
//! that reports each occurrence of each keyword (overlapping ones included) in a text. It does
//! not know what a keyword stands for: `detect` keeps, per keyword id, the rule or custom kind
//! it belongs to and whether it must match exactly.
//!
//! # Why not walk `aho-corasick`'s DFA directly
//!
//! Clean text is the common case, and on clean text this loop is most of the guard's cost: it
//! runs once per byte of every prompt. Walked through the crate's `Automaton` trait (a
//! special-state and a match check on every step, inlined into a caller whose live values
//! pushed the loop's state onto the stack), it cost about 17 instructions per byte natively.
//! Here `aho-corasick` still builds the automaton; its states are then renumbered so that every
//! match state comes after every other state, and the table holds 16-bit states where they fit,
//! so that any index is in bounds. The loop is a byte-class load, a table load and one
//! comparison per byte: about 8 instructions per byte. The crate's DFA is dropped once copied.
//!
//! Fewer instructions were not faster in V8: each step's table load waits on the one before,
//! so a walk is bound by load latency (about 8 cycles a byte there). A long text is therefore
//! walked in three lanes at once, each over a third of it with a warm-up of one keyword's
//! length, and the lanes' matches are put back in order. In node's V8, the request guard went
//! from about 190 to about 270 MB/s on clean prose.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::Builder;
use aho_corasick::{Anchored, MatchKind, PatternID};

/// Every keyword, matched ASCII-case-insensitively (an exact keyword is compared again by the
/// caller at each hit).
#[derive(Debug)]
pub(super) struct Keywords {
    /// Bytes that no state tells apart share a class: a row has one entry per class.
    classes: [u8; 256],
    /// log2 of a row's length: state `n` starts at `n << stride_shift`.
    stride_shift: u32,
    /// Next states, premultiplied by the row length.
    trans: Table,
    start: u32,
    /// States from this one (premultiplied) on are match states.
    first_match: u32,
    /// Per match state, in order, the keywords that end there.
    matches: Box<[Box<[u32]>]>,
    /// Each keyword's length, by id.
    lens: Box<[u32]>,
    longest: usize,
}

impl Keywords {
    /// The automaton for `patterns` (ids are their positions); `None` when there are none.
    pub(super) fn new<'a>(patterns: impl ExactSizeIterator<Item = &'a [u8]> + Clone) -> Result<Option<Keywords>, String> {
        if patterns.len() == 0 {
            return Ok(None);
        }
        let dfa = Builder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(patterns.clone())
            .map_err(|e| e.to_string())?;
        let start = dfa.start_state(Anchored::No).map_err(|e| e.to_string())?;
        // every state the unanchored search reaches, from the start, breadth first; the crate's
        // state ids are small (offsets into its table), so a vector maps them to ours
        let mut order: Vec<StateID> = vec![start];
        let mut ours: Vec<u32> = Vec::new();
        let mut index_of = |sid: StateID, order: &mut Vec<StateID>| -> usize {
            if ours.len() <= sid.as_usize() {
                ours.resize(sid.as_usize() + 1, u32::MAX);
            }
            if ours[sid.as_usize()] == u32::MAX {
                ours[sid.as_usize()] = order.len() as u32;
                order.push(sid);
            }
            ours[sid.as_usize()] as usize
        };
        index_of(start, &mut order);
        let mut next: Vec<[u32; 256]> = Vec::new();
        let mut at = 0;
        while let Some(&sid) = order.get(at) {
            let mut row = [0u32; 256];
            for (b, slot) in row.iter_mut().enumerate() {
                let n = dfa.next_state(Anchored::No, sid, b as u8);
                if dfa.is_dead(n) {
                    // an unanchored search with standard semantics never dies
                    return Err("keyword automaton has a dead state".into());
                }
                *slot = index_of(n, &mut order) as u32;
            }
            next.push(row);
            at += 1;
        }
        // byte classes: bytes whose column of next states is the same in every state, grouped
        // by a fingerprint of the column and then compared in full
        let column_eq = |a: usize, b: usize| next.iter().all(|row| row[a] == row[b]);
        let fingerprint = |b: usize| next.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, row| (h ^ u64::from(row[b])).wrapping_mul(0x100_0000_01b3));
        let mut classes = [0u8; 256];
        // per class: its first byte and that byte's fingerprint
        let mut class_of_first: Vec<usize> = Vec::new();
        let mut prints: Vec<u64> = Vec::new();
        for (b, slot) in classes.iter_mut().enumerate() {
            let fp = fingerprint(b);
            let found = (0..class_of_first.len()).find(|&c| prints[c] == fp && column_eq(class_of_first[c], b));
            let class = match found {
                Some(c) => c,
                None => {
                    class_of_first.push(b);
                    prints.push(fp);
                    class_of_first.len() - 1
                }
            };
            *slot = u8::try_from(class).map_err(|_| "keyword automaton needs more than 256 byte classes")?;
        }
        let stride_shift = class_of_first.len().next_power_of_two().trailing_zeros();
        // match states last, so that one comparison tells them apart
        let is_match = |i: usize| dfa.is_match(order[i]);
        let mut renumbered: Vec<usize> = (0..order.len()).filter(|&i| !is_match(i)).collect();
        let n_plain = renumbered.len();
        renumbered.extend((0..order.len()).filter(|&i| is_match(i)));
        let mut new_id = vec![0u32; order.len()];
        for (new, &old) in renumbered.iter().enumerate() {
            new_id[old] = u32::try_from(new << stride_shift).map_err(|_| "keyword automaton too large")?;
        }
        let mut trans = vec![0u32; renumbered.len() << stride_shift];
        for (new, &old) in renumbered.iter().enumerate() {
            for (class, &b) in class_of_first.iter().enumerate() {
                trans[(new << stride_shift) + class] = new_id[next[old][b] as usize];
            }
        }
        let trans = match Box::<[u16; SMALL]>::try_from(vec![0u16; SMALL]) {
            Ok(mut small) if trans.len() <= SMALL => {
                for (to, &from) in small.iter_mut().zip(&trans) {
                    *to = from as u16;
                }
                Table::Small(small)
            }
            _ => Table::Large(trans.into()),
        };
        let matches = renumbered[n_plain..]
            .iter()
            .map(|&old| (0..dfa.match_len(order[old])).map(|k| dfa.match_pattern(order[old], k).as_u32()).collect())
            .collect();
        let lens: Box<[u32]> = (0..dfa.patterns_len()).map(|p| dfa.pattern_len(PatternID::new_unchecked(p)) as u32).collect();
        let longest = lens.iter().max().map_or(0, |&l| l as usize);
        Ok(Some(Keywords {
            classes,
            stride_shift,
            trans,
            start: new_id[0],
            first_match: (n_plain << stride_shift) as u32,
            matches,
            lens,
            longest,
        }))
    }

    /// The longest keyword's length.
    pub(super) fn longest(&self) -> usize {
        self.longest
    }

    /// Calls `hit(keyword, start, end)` for every occurrence of every keyword in `text`, in
    /// order of where they end; offsets are `offset` plus the position in `text`.
    #[inline]
    pub(super) fn for_each(&self, text: &[u8], offset: usize, mut hit: impl FnMut(usize, usize, usize)) {
        let mut report = |end: usize, state: u32| {
            let matches = self.matches.get(((state - self.first_match) >> self.stride_shift) as usize);
            for &p in matches.map_or(&[][..], |m| &m[..]) {
                let len = self.lens.get(p as usize).map_or(0, |&l| l as usize);
                hit(p as usize, offset + end - len, offset + end);
            }
        };
        match &self.trans {
            Table::Small(t) => self.walker(&**t).scan(self.start, self.longest, text, &mut report),
            Table::Large(t) => self.walker(&**t).scan(self.start, self.longest, text, &mut report),
        }
    }

    fn walker<'a, T: Step + ?Sized>(&'a self, trans: &'a T) -> Walker<'a, T> {
        Walker { trans, classes: &self.classes, first_match: self.first_match }
    }
}

/// What a walk reads: the table, the byte classes, and where the match states start.
struct Walker<'a, T: ?Sized> {
    trans: &'a T,
    classes: &'a [u8; 256],
    first_match: u32,
}

/// Independent walks over parts of one text, interleaved. A walk is a chain of dependent loads
/// (each state's row is found from the one before), so one walk waits on memory at every byte
/// whatever its instruction count; walks side by side overlap those waits.
const LANES: usize = 3;
// `walk_together` is written out for three lanes
const _: () = assert!(LANES == 3);
/// Texts shorter than this take one walk: the lanes' warm-up would cost more than it saves.
const MIN_LANED: usize = 2048;

impl<T: Step + ?Sized> Walker<'_, T> {
    /// Calls `report(end, state)` for every match state reached in `text`, in order, starting
    /// from `start`; `warm` is the longest keyword.
    fn scan(&self, start: u32, warm: usize, text: &[u8], report: &mut impl FnMut(usize, u32)) {
        // a lane's warm-up must stay small beside its share of the text
        if text.len() >= MIN_LANED.max(4 * LANES * warm) {
            for (end, state) in self.lanes(start, warm, text).into_iter().flatten() {
                report(end, state);
            }
        } else {
            self.walk_from(text, 0, start, report);
        }
    }

    /// One walk over `text` from byte `at` in state `s`, reporting every match state.
    fn walk_from(&self, text: &[u8], mut at: usize, mut s: u32, report: &mut impl FnMut(usize, u32)) {
        while let Some((end, state)) = walk(self.trans, self.classes, self.first_match, text, at, s) {
            report(end, state);
            (at, s) = (end, state);
        }
    }

    /// Every match state reached in `text` and where, for each lane in order, so that the
    /// lanes' lists end to end are the one walk's.
    ///
    /// Lane `k` starts at `k * d` and reports the ends in `(k * d + warm, (k + 1) * d + warm]`
    /// (lane 0 from 0): the automaton's state after a byte depends only on the `warm` bytes
    /// before it (the longest keyword), so a lane's state is exact once it has read `warm`
    /// bytes, and what ends before that is the lane before's.
    fn lanes(&self, start: u32, warm: usize, text: &[u8]) -> [Vec<(usize, u32)>; LANES] {
        let mut found: [Vec<(usize, u32)>; LANES] = Default::default();
        let len = text.len();
        let d = len.saturating_sub(warm).div_ceil(LANES);
        let origin = |k: usize| k * d;
        let reports = |k: usize, end: usize| (k == 0 || end > origin(k) + warm) && end <= origin(k + 1) + warm;
        // the steps every lane has: the last lane's, which stops at the end of the text
        let n = len - origin(LANES - 1);
        let lanes: [&[u8]; LANES] = std::array::from_fn(|k| text.get(origin(k)..origin(k) + n).unwrap_or_default());
        let mut s = [start; LANES];
        let mut i = 0;
        while let Some(at) = walk_together(self.trans, self.classes, self.first_match, &lanes, i, &mut s) {
            for (k, &state) in s.iter().enumerate() {
                if state >= self.first_match && reports(k, origin(k) + at + 1) {
                    found[k].push((origin(k) + at + 1, state));
                }
            }
            i = at + 1;
        }
        // the other lanes' rest, one at a time
        for (k, lane_found) in found.iter_mut().enumerate().take(LANES - 1) {
            let part = text.get(..(origin(k + 1) + warm).min(len)).unwrap_or_default();
            self.walk_from(part, origin(k) + n, s[k], &mut |end, state| {
                if reports(k, end) {
                    lane_found.push((end, state));
                }
            });
        }
        found
    }
}

/// Steps every lane, from byte `i` on, until a step leaves some lane in a match state: that
/// step's index, with `s` the states after it; `None` at the end. Kept small and out of line
/// so that every lane's state stays in a register.
///
/// The lanes go four bytes a turn, read as `[u8; 4]` so that no byte needs a bounds check,
/// and each step tests its three states with a branch that is never taken until a match. V8
/// compiled the loop this replaced, which indexed every lane at each byte and or-ed the tests
/// together, into 65 instructions for three bytes, most of them bounds checks and spills.
#[inline(never)]
fn walk_together<T: Step + ?Sized>(trans: &T, classes: &[u8; 256], first_match: u32, lanes: &[&[u8]; LANES], i: usize, s: &mut [u32; LANES]) -> Option<usize> {
    let n = lanes.iter().map(|l| l.len()).min().unwrap_or(0);
    let [a, b, c] = lanes.map(|l| l.get(i.min(n)..n).unwrap_or_default());
    let step = |st: u32, byte: u8| trans.step(st + u32::from(classes[usize::from(byte)])).unwrap_or(0);
    let [mut s0, mut s1, mut s2] = *s;
    let mut at = i;
    let turns = a.chunks_exact(4).zip(b.chunks_exact(4)).zip(c.chunks_exact(4));
    for ((qa, qb), qc) in turns {
        let (Ok(qa), Ok(qb), Ok(qc)) = (<&[u8; 4]>::try_from(qa), <&[u8; 4]>::try_from(qb), <&[u8; 4]>::try_from(qc)) else { break };
        for k in 0..4 {
            s0 = step(s0, qa[k]);
            s1 = step(s1, qb[k]);
            s2 = step(s2, qc[k]);
            if s0 >= first_match || s1 >= first_match || s2 >= first_match {
                *s = [s0, s1, s2];
                return Some(at + k);
            }
        }
        at += 4;
    }
    // the last bytes, fewer than four
    let [a, b, c] = [a, b, c].map(|l| l.get(at - i..).unwrap_or_default());
    for (j, ((&x, &y), &z)) in a.iter().zip(b).zip(c).enumerate() {
        (s0, s1, s2) = (step(s0, x), step(s1, y), step(s2, z));
        if s0 >= first_match || s1 >= first_match || s2 >= first_match {
            *s = [s0, s1, s2];
            return Some(at + j);
        }
    }
    *s = [s0, s1, s2];
    None
}

/// Entries in a table of 16-bit states: any `u16` indexes it, so the loop needs no bounds
/// check. The built-in keywords take 40,448 of them; a configuration with many custom keywords
/// may need more, and gets 32-bit states.
const SMALL: usize = 1 << 16;

#[derive(Debug)]
enum Table {
    Small(Box<[u16; SMALL]>),
    Large(Box<[u32]>),
}

/// One step of the automaton: the entry at `at`, a state plus a byte class.
trait Step {
    fn step(&self, at: u32) -> Option<u32>;
}

impl Step for [u16; SMALL] {
    #[inline(always)]
    fn step(&self, at: u32) -> Option<u32> {
        Some(u32::from(self[usize::from(at as u16)]))
    }
}

impl Step for [u32] {
    #[inline(always)]
    fn step(&self, at: u32) -> Option<u32> {
        self.get(at as usize).copied()
    }
}

/// The scan loop. Kept out of line: inlined into a caller with many live values, it spilled its
/// state to the stack on every byte.
#[inline(never)]
fn walk<T: Step + ?Sized>(trans: &T, classes: &[u8; 256], first_match: u32, text: &[u8], at: usize, mut s: u32) -> Option<(usize, u32)> {
    let rest = text.get(at..)?;
    // four bytes a turn: the loop's own bookkeeping once per four steps
    let quads = rest.chunks_exact(4);
    let tail = quads.remainder();
    let whole = rest.len() - tail.len();
    for (n, quad) in quads.enumerate() {
        for (k, &b) in quad.iter().enumerate() {
            s = trans.step(s + u32::from(classes[usize::from(b)]))?;
            if s >= first_match {
                return Some((at + n * 4 + k + 1, s));
            }
        }
    }
    let done = at + whole;
    for (k, &b) in tail.iter().enumerate() {
        s = trans.step(s + u32::from(classes[usize::from(b)]))?;
        if s >= first_match {
            return Some((done + k + 1, s));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crate's own overlapping search, as the oracle.
    fn oracle(patterns: &[&str], text: &[u8]) -> Vec<(usize, usize, usize)> {
        let ac = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .unwrap();
        let mut out: Vec<_> = ac.find_overlapping_iter(text).map(|m| (m.pattern().as_usize(), m.start(), m.end())).collect();
        out.sort_by_key(|&(p, s, e)| (e, p, s));
        out
    }

    fn ours(patterns: &[&str], text: &[u8], offset: usize) -> Vec<(usize, usize, usize)> {
        let k = Keywords::new(patterns.iter().map(|p| p.as_bytes())).unwrap().unwrap();
        let mut out = Vec::new();
        k.for_each(text, offset, |p, s, e| out.push((p, s - offset, e - offset)));
        out.sort_by_key(|&(p, s, e)| (e, p, s));
        out
    }

    #[test]
    fn finds_what_the_crates_overlapping_search_finds() {
        let patterns = ["sk-", "sk-proj-", "SK", "key", "api_key", "api-key", "-u ", "://", "eyJ", "Q~", "hf_", "password", "pwd"];
        let texts: [&[u8]; 6] = [
            b"",
            b"plain prose with no keyword at all",
            b"SK-PROJ-abc sk-proj- Sk api_KEY api-key -u user https://x eyJhbGci Q~x hf_y PassWord pwd",
            b"skskskSK-sk-proj-sk-proj-",
            b"\xff\xfe\x00sk-\x80key\xc3\xa9api_key",
            b"kekekeykey apapi_keyi_key",
        ];
        for t in texts {
            assert_eq!(ours(&patterns, t, 0), oracle(&patterns, t), "{:?}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn every_builtin_keyword_over_every_byte_value() {
        let patterns: Vec<&str> = super::super::rules::RULES.iter().flat_map(|r| r.keywords.iter().copied()).collect();
        // every keyword, glued and separated, and every byte value between them
        let mut text: Vec<u8> = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            text.extend_from_slice(p.as_bytes());
            text.push((i * 37 % 256) as u8);
            text.extend_from_slice(p.to_ascii_uppercase().as_bytes());
        }
        text.extend(0u8..=255);
        assert_eq!(ours(&patterns, &text, 7), oracle(&patterns, &text));
        assert!(ours(&patterns, &text, 0).len() > patterns.len() * 2);
    }

    #[test]
    fn many_keywords_take_the_wide_table_and_find_the_same() {
        // 400 distinct keywords of 12 bytes: more states than 16-bit entries can number
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut letter = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            b"abcdefghijklmnopqrstuvwxyz0123456789_-"[(seed % 38) as usize]
        };
        let owned: Vec<String> = (0..400).map(|_| (0..12).map(|_| letter() as char).collect()).collect();
        let patterns: Vec<&str> = owned.iter().map(String::as_str).collect();
        let k = Keywords::new(patterns.iter().map(|p| p.as_bytes())).unwrap().unwrap();
        assert!(matches!(k.trans, Table::Large(_)), "expected more than {SMALL} entries");
        let mut text = owned.join(" ").into_bytes();
        text.extend((0..20_000).map(|_| letter()));
        assert_eq!(ours(&patterns, &text, 3), oracle(&patterns, &text));
        // and the built-in keywords fit the small one
        let builtin: Vec<&str> = super::super::rules::RULES.iter().flat_map(|r| r.keywords.iter().copied()).collect();
        let k = Keywords::new(builtin.iter().map(|p| p.as_bytes())).unwrap().unwrap();
        assert!(matches!(k.trans, Table::Small(_)));
    }

    #[test]
    fn lanes_meet_exactly_whatever_the_text_length_and_keyword_length() {
        // occurrences straddling every lane boundary, for texts around the laned threshold, and
        // a keyword so long that the lanes' warm-up would swallow their share
        let long = "k".repeat(700) + "END";
        for patterns in [vec!["ab", "abcab", "b", "cabca"], vec!["ab", "b", long.as_str()]] {
            for len in [MIN_LANED - 1, MIN_LANED, MIN_LANED + 1, MIN_LANED + 2, 3 * MIN_LANED + 5, 9000] {
                let mut text: Vec<u8> = b"abcabcabx".iter().cycle().take(len).copied().collect();
                if len > 3000 {
                    text[1500..2203].copy_from_slice(long.as_bytes());
                }
                assert_eq!(ours(&patterns, &text, 0), oracle(&patterns, &text), "len {len}");
            }
        }
    }

    #[test]
    fn offsets_shift_every_hit_and_lengths_are_each_keywords() {
        let k = Keywords::new([&b"ab"[..], b"abc", b"c"].into_iter()).unwrap().unwrap();
        let mut hits = Vec::new();
        k.for_each(b"xABCab", 100, |p, s, e| hits.push((p, s, e)));
        hits.sort_by_key(|&(p, s, e)| (e, p, s));
        assert_eq!(hits, vec![(0, 101, 103), (1, 101, 104), (2, 103, 104), (0, 104, 106)]);
        assert_eq!(k.longest(), 3);
        assert!(Keywords::new(std::iter::empty::<&[u8]>()).unwrap().is_none());
    }
}
