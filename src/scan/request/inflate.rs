//! `gzip` and `deflate` request bodies: decoded for the request guard's scanner, and released
//! compressed as the decoded text they stand for becomes final.
//!
//! This module owns inflating a compressed body in bounded pieces (and refusing a zip bomb
//! past [`MAX_INFLATED`]), parsing the gzip member header, and tracking which compressed bytes
//! may leave. Finding and holding back is the parent module's [`Scanner`]'s; a compressed body
//! is never redacted in place, only released or blocked.

use super::{reason, Labels, Mode, Scanner, Step, MAX_INFLATED};
use crate::scan::{Guard, Kind, Policy};
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// A deflate symbol can reveal at most this many bytes not yet written out (a match's length).
const DEFLATE_LOOKAHEAD: u64 = 258;

/// Compressed input is fed in pieces of this size, so that what it releases follows closely.
const INFLATE_PIECE: usize = 4096;
/// A `gzip` or `deflate` body: decoded for the scanner, released compressed as the decoded text
/// it stands for becomes final.
pub(super) struct Inflater {
    state: Box<InflateState>,
    /// gzip: the member header's bytes until it is complete.
    header: Option<Vec<u8>>,
    gzip: bool,
    /// The deflate stream ended; what follows is the gzip trailer.
    ended: bool,
    /// The scanner has seen the end of the decoded text: every finding is final.
    finalized: bool,
    trailer: usize,
    /// Compressed bytes not yet released, from absolute offset `held_from`.
    pub(super) held: Vec<u8>,
    held_from: u64,
    fed: u64,
    decoded: u64,
    /// (compressed bytes fed, decoded bytes out) after each piece.
    checkpoints: std::collections::VecDeque<(u64, u64)>,
    pub(super) inner: Scanner,
    out: Vec<u8>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").field("held", &self.held.len()).field("decoded", &self.decoded).finish()
    }
}

impl Inflater {
    pub(super) fn new(gzip: bool) -> Inflater {
        Inflater {
            state: InflateState::new_boxed(if gzip { DataFormat::Raw } else { DataFormat::ZLibIgnoreChecksum }),
            header: gzip.then(Vec::new),
            gzip,
            ended: false,
            finalized: false,
            trailer: 0,
            held: Vec::new(),
            held_from: 0,
            fed: 0,
            decoded: 0,
            checkpoints: std::collections::VecDeque::new(),
            inner: Scanner::default(),
            out: vec![0; 16 * 1024],
        }
    }

    pub(super) fn push(&mut self, g: &Guard, policy: Policy, chunk: &[u8], eos: bool, window: usize, labels: &mut Labels<'_>) -> Step {
        self.held.extend_from_slice(chunk);
        for piece in chunk.chunks(INFLATE_PIECE) {
            if let Err(why) = self.feed(g, policy, piece, window, labels) {
                return match why {
                    Stop::Secret(rule) => Step::Secret(rule),
                    Stop::Uninspectable(r) => Step::Uninspectable(r, std::mem::take(&mut self.held)),
                };
            }
            self.fed += piece.len() as u64;
            self.checkpoints.push_back((self.fed, self.decoded));
        }
        // the decoded text is complete at the end of the deflate stream (the body's end may
        // come later, often as an empty chunk): its tail must be judged before any of the
        // compressed bytes holding it leave. A truncated stream ends with the body: all that
        // could be decoded was scanned, and the upstream gets the same broken body.
        if (self.ended || eos) && !self.finalized {
            self.finalized = true;
            match self.inner.push(g, policy, &[], true, Mode::Detect, window, labels) {
                Step::Out(_) => {}
                Step::Secret(rule) => return Step::Secret(rule),
                Step::Uninspectable(r, _) => return Step::Uninspectable(r, std::mem::take(&mut self.held)),
            }
        }
        if eos || self.finalized {
            self.held_from += self.held.len() as u64;
            self.checkpoints.clear();
            return Step::Out(std::mem::take(&mut self.held));
        }
        // release the compressed bytes whose decoded text is final
        let safe = self.inner.released;
        let mut upto = None;
        while let Some(&(c, d)) = self.checkpoints.front() {
            if d + DEFLATE_LOOKAHEAD > safe {
                break;
            }
            upto = Some(c);
            self.checkpoints.pop_front();
        }
        let Some(upto) = upto else { return Step::Out(Vec::new()) };
        let n = usize::try_from(upto.saturating_sub(self.held_from)).unwrap_or(0).min(self.held.len());
        self.held_from += n as u64;
        Step::Out(self.held.drain(..n).collect())
    }

    fn feed(&mut self, g: &Guard, policy: Policy, piece: &[u8], window: usize, labels: &mut Labels<'_>) -> Result<(), Stop> {
        let mut input: &[u8] = piece;
        let header_rest;
        if let Some(h) = self.header.as_mut() {
            h.extend_from_slice(piece);
            match gzip_header(h) {
                GzipHeader::Partial => return Ok(()),
                GzipHeader::Complete(n) => {
                    header_rest = h.split_off(n);
                    self.header = None;
                    input = &header_rest;
                }
                GzipHeader::NotGzip => return Err(Stop::Uninspectable(reason::DECODE_ERROR)),
            }
        }
        loop {
            if self.ended {
                // only the gzip trailer (crc32 and size) may follow the stream's end
                self.trailer += input.len();
                if !self.gzip && self.trailer > 0 || self.trailer > 8 {
                    return Err(Stop::Uninspectable(reason::DECODE_ERROR));
                }
                return Ok(());
            }
            let r = inflate(&mut self.state, input, &mut self.out, MZFlush::None);
            input = input.get(r.bytes_consumed..).unwrap_or_default();
            if r.bytes_written > 0 {
                self.decoded += r.bytes_written as u64;
                if self.decoded > MAX_INFLATED {
                    return Err(Stop::Uninspectable(reason::INFLATE_LIMIT));
                }
                let out = self.out.get(..r.bytes_written).unwrap_or_default().to_vec();
                match self.inner.push(g, policy, &out, false, Mode::Detect, window, labels) {
                    Step::Out(_) => {}
                    Step::Secret(rule) => return Err(Stop::Secret(rule)),
                    Step::Uninspectable(why, _) => return Err(Stop::Uninspectable(why)),
                }
            }
            match r.status {
                Ok(MZStatus::StreamEnd) => self.ended = true,
                Ok(_) if r.bytes_consumed == 0 && r.bytes_written == 0 => return Ok(()),
                Ok(_) => {}
                // no progress possible without more input
                Err(MZError::Buf) => return Ok(()),
                Err(_) => return Err(Stop::Uninspectable(reason::DECODE_ERROR)),
            }
            if input.is_empty() && r.bytes_written < self.out.len() && !self.ended {
                return Ok(());
            }
        }
    }
}

enum Stop {
    Secret(Kind),
    Uninspectable(&'static str),
}

/// How much of a gzip member header (RFC 1952) the bytes so far hold. Not enough bytes yet
/// is no error (as in httparse): only bytes that cannot start a gzip member are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GzipHeader {
    /// Incomplete: wait for more bytes.
    Partial,
    /// The header is this many bytes long; the deflate stream follows.
    Complete(usize),
    /// Not a gzip member (bad magic or method).
    NotGzip,
}

fn gzip_header(h: &[u8]) -> GzipHeader {
    let Some(fixed) = h.get(..10) else { return GzipHeader::Partial };
    if fixed.first() != Some(&0x1f) || fixed.get(1) != Some(&0x8b) || fixed.get(2) != Some(&8) {
        return GzipHeader::NotGzip;
    }
    let flags = fixed.get(3).copied().unwrap_or(0);
    let mut at = 10;
    if flags & 4 != 0 {
        let (Some(&a), Some(&b)) = (h.get(at), h.get(at + 1)) else { return GzipHeader::Partial };
        at += 2 + usize::from(u16::from_le_bytes([a, b]));
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            match h.get(at..).and_then(|r| memchr::memchr(0, r)) {
                Some(z) => at += z + 1,
                None => return GzipHeader::Partial,
            }
        }
    }
    if flags & 2 != 0 {
        at += 2;
    }
    if h.len() >= at {
        GzipHeader::Complete(at)
    } else {
        GzipHeader::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::{gzip_header, GzipHeader};

    #[test]
    fn a_gzip_header_is_partial_at_every_prefix_then_complete_and_anything_else_is_not_gzip() {
        // FEXTRA (2 bytes of extra) and FNAME ("a\0"), then the deflate stream
        let mut h = vec![0x1f, 0x8b, 8, 4 | 8, 0, 0, 0, 0, 0, 3, 2, 0, b'x', b'y', b'a', 0];
        for n in 0..h.len() {
            assert_eq!(gzip_header(&h[..n]), GzipHeader::Partial, "prefix of {n} bytes");
        }
        assert_eq!(gzip_header(&h), GzipHeader::Complete(16));
        h.push(0xff);
        assert_eq!(gzip_header(&h), GzipHeader::Complete(16), "what follows is the deflate stream's");
        assert_eq!(gzip_header(b"{\"model\":\"gpt\"}"), GzipHeader::NotGzip);
        assert_eq!(gzip_header(&[0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3]), GzipHeader::NotGzip, "method other than deflate");
    }
}
