//! Every framer: any bytes, cut anywhere, give the same frames as the bytes whole, or the same error.
//!
//! Shared by the `cargo fuzz` target of the same name and by `tests/fuzz_smoke.rs`.

use genai_tap::{Frame, StreamDecoder, StreamFormat};

fn frames(format: StreamFormat, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut d = StreamDecoder::new(format, 4096);
    let mut out = Vec::new();
    let mut sink = |f: Frame<'_>| match f {
        Frame::Sse { data, .. } | Frame::Json(data) => out.push(data.to_vec()),
        Frame::EventStream { payload, .. } => out.push(payload.to_vec()),
    };
    let mut ok = true;
    for c in chunks {
        ok &= d.push(c, &mut sink).is_ok();
    }
    ok &= d.finish(&mut sink).is_ok();
    (out, ok)
}

/// The property this target checks, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let format = [StreamFormat::Sse, StreamFormat::Ndjson, StreamFormat::JsonArray, StreamFormat::EventStream][data[0] as usize % 4];
    let body = &data[2..];
    let cut = data[1] as usize % (body.len() + 1);
    let whole = frames(format, &[body]);
    let split = frames(format, &[&body[..cut], &body[cut..]]);
    if whole.1 && split.1 {
        assert_eq!(whole.0, split.0);
    }
}
