//! The AWS event stream (`application/vnd.amazon.eventstream`): Bedrock's binary framing.
//!
//! Each message is a 12-byte prelude (total length, headers length, prelude CRC32), typed
//! headers, a payload and a message CRC32, all big-endian. Both checksums are verified; a bad
//! one is a [`FramingError`], after which the caller stops extracting and keeps
//! passing bytes. Only a message that straddles chunks is copied, bounded by `max_frame_bytes`.

use super::{Frame, FramingError};
use crate::crc::crc32;

const PRELUDE: usize = 12;
const MIN_MESSAGE: usize = PRELUDE + 4;

#[derive(Debug)]
pub(crate) struct EventStreamDecoder {
    max_frame_bytes: usize,
    partial: Vec<u8>,
}

/// CRC-32 (IEEE 802.3), as the event stream uses. Table built at compile time.
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The total length of the message starting at `b`, once its prelude is whole and checked.
fn message_len(b: &[u8], max: usize) -> Result<Option<usize>, FramingError> {
    if b.len() < PRELUDE {
        return Ok(None);
    }
    let (Some(total), Some(headers), Some(crc)) = (be32(b, 0), be32(b, 4), be32(b, 8)) else { return Ok(None) };
    if crc32(&b[..8]) != crc {
        return Err(FramingError::bad_checksum());
    }
    let total = total as usize;
    if total < MIN_MESSAGE || headers as usize > total - MIN_MESSAGE {
        return Err(FramingError::malformed("event-stream lengths do not add up"));
    }
    if total > max {
        return Err(FramingError::too_large(max));
    }
    Ok(Some(total))
}

/// Reads one whole, length-checked message and hands it out.
fn emit(m: &[u8], on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
    let total = m.len();
    let crc = be32(m, total - 4).ok_or(FramingError::truncated())?;
    if crc32(&m[..total - 4]) != crc {
        return Err(FramingError::bad_checksum());
    }
    let headers_len = be32(m, 4).ok_or(FramingError::truncated())? as usize;
    let headers = m.get(PRELUDE..PRELUDE + headers_len).ok_or(FramingError::malformed("headers past the message"))?;
    let payload = m.get(PRELUDE + headers_len..total - 4).ok_or(FramingError::malformed("payload past the message"))?;
    let (mut event_type, mut message_type, mut exception_type) = ("", "event", None);
    let mut h = headers;
    while !h.is_empty() {
        let bad = FramingError::malformed("bad event-stream header");
        let name_len = *h.first().ok_or(bad.clone())? as usize;
        let name = h.get(1..1 + name_len).ok_or(bad.clone())?;
        let kind = *h.get(1 + name_len).ok_or(bad.clone())?;
        let rest = h.get(2 + name_len..).ok_or(bad.clone())?;
        let (value, used): (Option<&[u8]>, usize) = match kind {
            0 | 1 => (None, 0),
            2 => (None, 1),
            3 => (None, 2),
            4 => (None, 4),
            5 | 8 => (None, 8),
            6 | 7 => {
                let n = u16::from_be_bytes(rest.get(..2).ok_or(bad.clone())?.try_into().map_err(|_| bad.clone())?) as usize;
                (Some(rest.get(2..2 + n).ok_or(bad.clone())?), 2 + n)
            }
            9 => (None, 16),
            _ => return Err(bad),
        };
        if rest.len() < used {
            return Err(bad);
        }
        if kind == 7 {
            let v = value.and_then(|v| std::str::from_utf8(v).ok()).unwrap_or("");
            match name {
                b":event-type" => event_type = v,
                b":message-type" => message_type = v,
                b":exception-type" => exception_type = Some(v),
                _ => {}
            }
        }
        h = &rest[used..];
    }
    let event_type = exception_type.unwrap_or(event_type);
    on_frame(Frame::EventStream { event_type, message_type, payload });
    Ok(())
}

impl EventStreamDecoder {
    pub(crate) fn new(max_frame_bytes: usize) -> Self {
        EventStreamDecoder { max_frame_bytes, partial: Vec::new() }
    }

    pub(crate) fn push(&mut self, chunk: &[u8], on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        let mut rest = chunk;
        // finish a message begun in an earlier chunk
        while !self.partial.is_empty() {
            let need = match message_len(&self.partial, self.max_frame_bytes)? {
                Some(total) => total - self.partial.len(),
                None => PRELUDE - self.partial.len(),
            };
            let take = need.min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            match message_len(&self.partial, self.max_frame_bytes)? {
                Some(total) if self.partial.len() == total => {
                    let m = std::mem::take(&mut self.partial);
                    emit(&m, on_frame)?;
                }
                _ if rest.is_empty() => return Ok(()),
                _ => {}
            }
        }
        // whole messages inside this chunk are read in place
        while let Some(total) = message_len(rest, self.max_frame_bytes)? {
            if rest.len() < total {
                break;
            }
            emit(&rest[..total], on_frame)?;
            rest = &rest[total..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    pub(crate) fn finish(&mut self, _on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        if self.partial.is_empty() {
            Ok(())
        } else {
            Err(FramingError::truncated())
        }
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.partial.capacity()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::crc::crc32;
    use crate::framing::{Frame, FramingError, StreamDecoder, StreamFormat};

    /// Builds one message with string headers, as AWS does.
    pub(crate) fn message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (k, v) in headers {
            h.push(k.len() as u8);
            h.extend_from_slice(k.as_bytes());
            h.push(7);
            h.extend_from_slice(&(v.len() as u16).to_be_bytes());
            h.extend_from_slice(v.as_bytes());
        }
        let total = 12 + h.len() + payload.len() + 4;
        let mut m = Vec::new();
        m.extend_from_slice(&(total as u32).to_be_bytes());
        m.extend_from_slice(&(h.len() as u32).to_be_bytes());
        let c = crc32(&m);
        m.extend_from_slice(&c.to_be_bytes());
        m.extend_from_slice(&h);
        m.extend_from_slice(payload);
        let c = crc32(&m);
        m.extend_from_slice(&c.to_be_bytes());
        m
    }

    fn decode(chunks: &[&[u8]]) -> Result<Vec<(String, String, String)>, FramingError> {
        let mut d = StreamDecoder::new(StreamFormat::EventStream, 4096);
        let mut out = Vec::new();
        let mut sink = |f: Frame<'_>| {
            if let Frame::EventStream { event_type, message_type, payload } = f {
                out.push((event_type.to_owned(), message_type.to_owned(), String::from_utf8_lossy(payload).into_owned()));
            }
        };
        for c in chunks {
            d.push(c, &mut sink)?;
        }
        d.finish(&mut sink)?;
        Ok(out)
    }

    #[test]
    fn the_crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn messages_at_every_split() {
        let mut body = message(&[(":event-type", "chunk"), (":message-type", "event")], b"{\"a\":1}");
        body.extend(message(&[(":message-type", "exception"), (":exception-type", "throttlingException")], b"{}"));
        let want = vec![
            ("chunk".to_owned(), "event".to_owned(), "{\"a\":1}".to_owned()),
            ("throttlingException".to_owned(), "exception".to_owned(), "{}".to_owned()),
        ];
        for i in 0..=body.len() {
            let (a, b) = body.split_at(i);
            assert_eq!(decode(&[a, b]).unwrap(), want, "split at {i}");
        }
        assert_eq!(decode(&body.chunks(1).collect::<Vec<_>>()).unwrap(), want);
    }

    #[test]
    fn a_flipped_byte_is_a_bad_checksum_and_a_cut_is_truncation() {
        let good = message(&[(":event-type", "chunk")], b"{\"bytes\":\"eyJ9\"}");
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            let r = decode(&[&bad]);
            assert!(r.is_err(), "flip at {i}: {r:?}");
        }
        assert_eq!(decode(&[&good[..good.len() - 3]]), Err(FramingError::truncated()));
    }
}

/// One whole message re-encoded around a new payload: `headers` are the original message's
/// header bytes, kept as they were; both lengths and both CRCs are computed afresh.
pub fn encode_message(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = PRELUDE + headers.len() + payload.len() + 4;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_be_bytes());
    m.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&m);
    m.extend_from_slice(&prelude_crc.to_be_bytes());
    m.extend_from_slice(headers);
    m.extend_from_slice(payload);
    let crc = crc32(&m);
    m.extend_from_slice(&crc.to_be_bytes());
    m
}

/// The header bytes of one whole message (as [`message_total_len`] delimited it), or `None`
/// when its lengths do not add up.
pub fn message_headers(m: &[u8]) -> Option<&[u8]> {
    let headers_len = be32(m, 4)? as usize;
    m.get(PRELUDE..PRELUDE.checked_add(headers_len)?)
}

/// The total length a message announces in its prelude, once 4 bytes are there. The prelude's
/// CRC is checked when the whole message is decoded.
pub fn message_total_len(b: &[u8]) -> Option<usize> {
    be32(b, 0).map(|n| n as usize)
}

/// Standard base64 with padding: Bedrock's `chunk` payloads carry the model's event this way.
pub fn base64_encode(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for g in b.chunks(3) {
        let n = (u32::from(g[0]) << 16) | (u32::from(*g.get(1).unwrap_or(&0)) << 8) | u32::from(*g.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= g.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod encode_tests {
    use super::*;

    #[test]
    fn encoded_message_decodes_with_both_crcs() {
        // a header `:event-type` = "chunk" (type 7, string)
        let mut headers = vec![11u8];
        headers.extend_from_slice(b":event-type");
        headers.push(7);
        headers.extend_from_slice(&5u16.to_be_bytes());
        headers.extend_from_slice(b"chunk");
        let m = encode_message(&headers, b"{\"a\":1}");
        assert_eq!(message_total_len(&m), Some(m.len()));
        assert_eq!(message_headers(&m), Some(&headers[..]));
        let mut got = Vec::new();
        let mut d = EventStreamDecoder::new(1 << 16);
        // one byte at a time, so the straddling path runs too
        for b in &m {
            d.push(std::slice::from_ref(b), &mut |f| {
                if let Frame::EventStream { event_type, payload, .. } = f {
                    got.push((event_type.to_owned(), payload.to_vec()));
                }
            })
            .unwrap();
        }
        assert_eq!(got, vec![("chunk".to_owned(), b"{\"a\":1}".to_vec())]);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
        }
    }
}
