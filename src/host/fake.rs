//! A host in memory, for native tests of the stream and root logic: headers and bodies are
//! plain data, metrics are a map, dispatched calls a list, and the clock is set by the test.

use super::{BodyOf, HeaderBlock, Headers, Host, Level};
use crate::session::SetError;
use crate::stats::MetricKind;
use std::collections::HashMap;

#[derive(Default)]
pub(crate) struct FakeHost {
    pub now: u64,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub call_response_headers: Vec<(String, String)>,
    /// The current chunk of each body, as Envoy would hold it.
    pub request_chunk: Vec<u8>,
    pub response_chunk: Vec<u8>,
    pub call_response_body: Vec<u8>,
    pub replies: Vec<(u32, Vec<u8>)>,
    pub logs: Vec<(Level, String)>,
    pub properties: HashMap<String, Vec<u8>>,
    /// How many times each property was read.
    pub property_reads: std::cell::Cell<usize>,
    pub shared: HashMap<String, (Vec<u8>, u32)>,
    /// Metric name -> (id, kind); values by id.
    pub metric_ids: HashMap<String, (u32, MetricKind)>,
    pub metric_values: HashMap<u32, i64>,
    pub histogram_samples: HashMap<u32, Vec<u64>>,
    /// (cluster, headers, body), in dispatch order; the token is the index + 1.
    pub dispatched: Vec<(String, Vec<(String, String)>, Vec<u8>)>,
    /// Clusters that refuse dispatch.
    pub unknown_clusters: Vec<String>,
    pub plugin_configuration: Vec<u8>,
    pub tick_ms: Option<u64>,
    pub random_calls: usize,
    pub memory: i64,
    /// Whole-map reads of the request headers.
    pub request_map_reads: std::cell::Cell<usize>,
    /// Envoy in a trailers callback: the body buffer is gone, a write gets `BadArgument`, and
    /// proxy-wasm's SDK panics on it (measured). The fake panics the same way.
    pub refuse_body_writes: bool,
    /// Every host call by its proxy-wasm name, counted: the tests that pin what a call costs
    /// read (and clear) it with [`FakeHost::take_calls`].
    pub calls: std::cell::RefCell<std::collections::BTreeMap<&'static str, usize>>,
}

impl FakeHost {
    fn count(&self, call: &'static str) {
        *self.calls.borrow_mut().entry(call).or_default() += 1;
    }

    /// The host calls made since the last take, by proxy-wasm name.
    pub fn take_calls(&self) -> std::collections::BTreeMap<&'static str, usize> {
        std::mem::take(&mut *self.calls.borrow_mut())
    }

    /// The value a metric has been handed (counters and gauges: the sum of increments).
    pub fn metric(&self, name: &str) -> Option<i64> {
        let (id, _) = self.metric_ids.get(name)?;
        Some(self.metric_values.get(id).copied().unwrap_or(0))
    }

    fn map(&self, map: Headers) -> &Vec<(String, String)> {
        match map {
            Headers::Request => &self.request_headers,
            Headers::Response => &self.response_headers,
            Headers::CallResponse => &self.call_response_headers,
        }
    }

    fn chunk(&mut self, which: BodyOf) -> &mut Vec<u8> {
        match which {
            BodyOf::Request => &mut self.request_chunk,
            BodyOf::Response => &mut self.response_chunk,
            BodyOf::CallResponse => &mut self.call_response_body,
        }
    }
}

pub(crate) fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Host for FakeHost {
    fn now_ns(&self) -> u64 {
        self.count("get_current_time");
        self.now
    }
    fn log(&mut self, level: Level, message: &str) {
        self.count("log");
        self.logs.push((level, message.to_owned()));
    }
    fn headers(&self, map: Headers) -> HeaderBlock {
        self.count("get_map");
        if map == Headers::Request {
            self.request_map_reads.set(self.request_map_reads.get() + 1);
        }
        // through Envoy's serialization, so that every native test reads headers the way
        // the module does
        HeaderBlock::from_serialized(HeaderBlock::serialize(self.map(map)))
    }
    fn set_header(&mut self, map: Headers, name: &str, value: Option<&str>) {
        self.count("set_map_value");
        let m = match map {
            Headers::Request => &mut self.request_headers,
            Headers::Response => &mut self.response_headers,
            Headers::CallResponse => &mut self.call_response_headers,
        };
        m.retain(|(k, _)| k != name);
        if let Some(v) = value {
            m.push((name.to_owned(), v.to_owned()));
        }
    }
    fn body(&self, which: BodyOf, size: usize) -> Vec<u8> {
        self.count("get_buffer");
        let b = match which {
            BodyOf::Request => &self.request_chunk,
            BodyOf::Response => &self.response_chunk,
            BodyOf::CallResponse => &self.call_response_body,
        };
        b[..size.min(b.len())].to_vec()
    }
    fn replace_body(&mut self, which: BodyOf, len: usize, bytes: &[u8]) {
        assert!(!self.refuse_body_writes, "a body write from a trailers callback: Envoy answers BadArgument and the SDK panics");
        self.count("set_buffer");
        let chunk = self.chunk(which);
        let len = len.min(chunk.len());
        chunk.splice(..len, bytes.iter().copied());
    }
    fn send_reply(&mut self, status: u32, _content_type: &str, body: &[u8]) {
        self.count("send_http_response");
        self.replies.push((status, body.to_vec()));
    }
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.count("get_property");
        self.property_reads.set(self.property_reads.get() + 1);
        self.properties.get(&path.join(".")).cloned()
    }
    fn shared_get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.count("get_shared_data");
        match self.shared.get(key) {
            Some((v, cas)) => (Some(v.clone()), Some(*cas)),
            None => (None, None),
        }
    }
    fn shared_set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError> {
        self.count("set_shared_data");
        let current = self.shared.get(key).map(|(_, c)| *c);
        if cas.is_some() && cas != current {
            return Err(SetError::CasMismatch);
        }
        self.shared.insert(key.to_owned(), (value.to_vec(), current.unwrap_or(0) + 1));
        Ok(())
    }
    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Option<u32> {
        self.count("define_metric");
        let next = self.metric_ids.len() as u32 + 1;
        Some(self.metric_ids.entry(name.to_owned()).or_insert((next, kind)).0)
    }
    fn increment_metric(&mut self, id: u32, delta: i64) {
        self.count("increment_metric");
        *self.metric_values.entry(id).or_default() += delta;
    }
    fn record_metric(&mut self, id: u32, value: u64) {
        self.count("record_metric");
        self.histogram_samples.entry(id).or_default().push(value);
    }
    fn dispatch(&mut self, cluster: &str, headers: &[(&str, &str)], body: &[u8], _timeout_ms: u64) -> Result<u32, String> {
        self.count("dispatch_http_call");
        if self.unknown_clusters.iter().any(|c| c == cluster) {
            return Err("BadArgument".into());
        }
        self.dispatched.push((cluster.to_owned(), headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body.to_vec()));
        Ok(self.dispatched.len() as u32)
    }
    fn plugin_configuration(&self) -> Vec<u8> {
        self.count("get_plugin_configuration");
        self.plugin_configuration.clone()
    }
    fn set_tick_period(&mut self, ms: u64) {
        self.count("set_tick_period");
        self.tick_ms = Some(ms);
    }
    fn random(&mut self, buf: &mut [u8]) {
        self.count("random_get");
        self.random_calls += 1;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (self.random_calls as u8).wrapping_mul(31).wrapping_add(i as u8);
        }
    }
    fn memory_bytes(&self) -> i64 {
        self.count("memory_size");
        self.memory
    }
}
