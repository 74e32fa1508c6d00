//! One header map as proxy-wasm hands it over, read in place instead of copied pair by pair.
//!
//! Envoy serializes a map as a count, a table of (name size, value size) little-endian `u32`s,
//! then each name and each value followed by a NUL. The SDK's `get_map` copies every name and
//! value into a `String` of its own: two allocations a header, 35 for the 17 headers an SDK
//! sends. [`HeaderBlock`] keeps the one buffer the host filled, checks it is UTF-8 once, and
//! lends `&str` views. In Envoy under callgrind (`bench/count.py`), a call genai-tap does not
//! observe cost 39,000 instructions over the no-op module with the SDK's read; see
//! `docs/operations.md` for what this read saves.
//!
//! It owns the parsing of that format, not the host call (`host::wasm`).

/// A header map: names and values borrowed from one buffer.
#[derive(Debug, Default)]
pub(crate) struct HeaderBlock {
    /// The whole serialized map as text: the size table is zeroed before the UTF-8 check, so
    /// only names and values decide it.
    text: String,
    /// Where each pair's name and value sit in `text`, in the host's order.
    pairs: Vec<PairAt>,
}

#[derive(Debug, Clone, Copy)]
struct PairAt {
    name: (usize, usize),
    value: (usize, usize),
}

impl HeaderBlock {
    /// Reads proxy-wasm's serialization of a map. A table whose sizes run past the end of the
    /// buffer keeps the pairs before the first that does. A byte of an invalid UTF-8 sequence in
    /// a name or value reads as a space (Envoy passes `obs-text` header bytes through).
    pub(crate) fn from_serialized(mut bytes: Vec<u8>) -> HeaderBlock {
        let Some(count) = bytes.get(..4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize) else {
            return HeaderBlock::default();
        };
        let Some(table_end) = count.checked_mul(8).and_then(|t| t.checked_add(4)).filter(|&end| end <= bytes.len()) else {
            return HeaderBlock::default();
        };
        let mut pairs = Vec::with_capacity(count);
        let mut at = table_end;
        for entry in bytes[4..table_end].chunks_exact(8) {
            let name_len = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize;
            let value_len = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]) as usize;
            // each name and value is followed by its NUL
            let Some(name_end) = at.checked_add(name_len) else { break };
            let Some(value_end) = name_end.checked_add(1).and_then(|v| v.checked_add(value_len)) else { break };
            if value_end >= bytes.len() {
                break;
            }
            pairs.push(PairAt { name: (at, name_end), value: (name_end + 1, value_end) });
            at = value_end + 1;
        }
        bytes[..table_end].fill(0);
        HeaderBlock { text: crate::text::blanking_invalid_utf8(bytes), pairs }
    }

    /// `pairs` serialized the way proxy-wasm's host does it, for the fake host.
    #[cfg(test)]
    pub(crate) fn serialize(pairs: &[(String, String)]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (name, value) in pairs {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        }
        for (name, value) in pairs {
            for part in [name, value] {
                out.extend_from_slice(part.as_bytes());
                out.push(0);
            }
        }
        out
    }

    /// Every (name, value), in the host's order.
    pub(crate) fn pairs(&self) -> Vec<(&str, &str)> {
        let at = |(start, end): (usize, usize)| self.text.get(start..end).unwrap_or("");
        self.pairs.iter().map(|p| (at(p.name), at(p.value))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_serialized_map_reads_back_pair_for_pair() {
        let sent = [(":authority", "api.openai.com"), (":path", "/v1/chat/completions"), ("x-empty", ""), ("x-name", "héllo 日本")];
        let block = HeaderBlock::from_serialized(HeaderBlock::serialize(&owned(&sent)));
        assert_eq!(block.pairs(), sent.to_vec());
        assert!(HeaderBlock::from_serialized(Vec::new()).pairs().is_empty());
        assert!(HeaderBlock::from_serialized(HeaderBlock::serialize(&[])).pairs().is_empty());
    }

    #[test]
    fn long_sizes_in_the_table_do_not_make_the_text_invalid() {
        // sizes of 200 and 40,000 put bytes above 0x7f into the table
        let long = "v".repeat(40_000);
        let name = "n".repeat(200);
        let block = HeaderBlock::from_serialized(HeaderBlock::serialize(&owned(&[(&name, &long), ("b", "2")])));
        assert_eq!(block.pairs(), vec![(name.as_str(), long.as_str()), ("b", "2")]);
    }

    #[test]
    fn bytes_that_are_not_utf8_read_as_spaces_in_that_value_only() {
        let mut bytes = HeaderBlock::serialize(&owned(&[("x-note", "caf?"), ("next", "ok")]));
        let at = bytes.iter().position(|&b| b == b'?').unwrap();
        bytes[at] = 0xe9; // Latin-1 é
        let block = HeaderBlock::from_serialized(bytes);
        assert_eq!(block.pairs(), vec![("x-note", "caf "), ("next", "ok")]);
    }

    #[test]
    fn a_table_that_runs_past_the_buffer_keeps_the_pairs_before_it() {
        let mut bytes = HeaderBlock::serialize(&owned(&[("a", "1"), ("b", "2")]));
        // the second value claims 1,000 bytes
        bytes[16..20].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(HeaderBlock::from_serialized(bytes).pairs(), vec![("a", "1")]);
        // a count whose table does not fit reads as no headers
        let mut bytes = HeaderBlock::serialize(&owned(&[("a", "1")]));
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(HeaderBlock::from_serialized(bytes).pairs().is_empty());
        // the last value without its NUL
        let mut bytes = HeaderBlock::serialize(&owned(&[("a", "1")]));
        bytes.pop();
        assert!(HeaderBlock::from_serialized(bytes).pairs().is_empty());
        // sizes that overflow when added
        let mut bytes = HeaderBlock::serialize(&owned(&[("a", "1")]));
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(HeaderBlock::from_serialized(bytes).pairs().is_empty());
    }

    #[test]
    fn any_cut_or_damaged_buffer_reads_without_a_panic_and_within_bounds() {
        let whole = HeaderBlock::serialize(&owned(&[(":authority", "api.openai.com"), ("x-note", "héllo"), ("x-empty", ""), ("accept", "*/*")]));
        let full = HeaderBlock::from_serialized(whole.clone());
        let full = full.pairs();
        assert_eq!(full.len(), 4);
        // every truncation: the pairs that fit whole, in order, and nothing cut short
        let mut seen = 0;
        for cut in 0..=whole.len() {
            let block = HeaderBlock::from_serialized(whole[..cut].to_vec());
            let pairs = block.pairs();
            assert_eq!(pairs, full[..pairs.len()].to_vec(), "{cut}");
            assert!(pairs.len() >= seen, "{cut}: a longer buffer never reads fewer pairs");
            seen = pairs.len();
        }
        assert_eq!(seen, 4);
        // every byte set to every value in turn (a cheap fuzz, deterministic)
        for at in 0..whole.len() {
            for value in [0u8, 1, 0x7f, 0x80, 0xc3, 0xe9, 0xff] {
                let mut damaged = whole.clone();
                damaged[at] = value;
                let block = HeaderBlock::from_serialized(damaged);
                for (name, value) in block.pairs() {
                    assert!(name.len() + value.len() < whole.len(), "{at}");
                }
            }
        }
    }
}
