//! proxy-wasm itself: the module's entry point, [`super::Host`] over `hostcalls`, and the
//! context traits that hand each callback to [`Root`] or [`Stream`]. The only file that names
//! proxy-wasm.

use super::root::Root;
use super::stream::Stream;
use super::{Action, BodyOf, HeaderBlock, Headers, Host, Level};
use crate::session::SetError;
use crate::stats::MetricKind;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action as WasmAction, BufferType, ContextType, LogLevel, MapType, MetricType, Status};
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    std::panic::set_hook(Box::new(|info| {
        let _ = hostcalls::log(LogLevel::Critical, &format!("genai-tap: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(RootContextImpl(Root::default())) });
}}

/// The host as proxy-wasm's ABI offers it. Holds nothing: the ABI knows the current context.
struct WasmHost;

fn map_type(map: Headers) -> MapType {
    match map {
        Headers::Request => MapType::HttpRequestHeaders,
        Headers::Response => MapType::HttpResponseHeaders,
        Headers::CallResponse => MapType::HttpCallResponseHeaders,
    }
}

fn buffer_type(which: BodyOf) -> BufferType {
    match which {
        BodyOf::Request => BufferType::HttpRequestBody,
        BodyOf::Response => BufferType::HttpResponseBody,
        BodyOf::CallResponse => BufferType::HttpCallResponseBody,
    }
}

impl Host for WasmHost {
    fn now_ns(&self) -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn log(&mut self, level: Level, message: &str) {
        let level = match level {
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Critical => LogLevel::Critical,
        };
        let _ = hostcalls::log(level, message);
    }

    fn headers(&self, map: Headers) -> HeaderBlock {
        HeaderBlock::from_serialized(abi::header_map_pairs(map_type(map)))
    }

    fn set_header(&mut self, map: Headers, name: &str, value: Option<&str>) {
        let _ = hostcalls::set_map_value(map_type(map), name, value);
    }

    fn body(&self, which: BodyOf, size: usize) -> Vec<u8> {
        hostcalls::get_buffer(buffer_type(which), 0, size).ok().flatten().unwrap_or_default()
    }

    fn replace_body(&mut self, which: BodyOf, len: usize, bytes: &[u8]) {
        let _ = hostcalls::set_buffer(buffer_type(which), 0, len, bytes);
    }

    fn send_reply(&mut self, status: u32, content_type: &str, body: &[u8]) {
        let _ = hostcalls::send_http_response(status, vec![("content-type", content_type)], Some(body));
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::get_property(path.to_vec()).ok().flatten()
    }

    fn shared_get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        hostcalls::get_shared_data(key).unwrap_or((None, None))
    }

    fn shared_set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError> {
        match hostcalls::set_shared_data(key, Some(value), cas) {
            Ok(()) => Ok(()),
            Err(Status::CasMismatch) => Err(SetError::CasMismatch),
            Err(_) => Err(SetError::Host),
        }
    }

    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Option<u32> {
        let kind = match kind {
            MetricKind::Counter => MetricType::Counter,
            MetricKind::Gauge => MetricType::Gauge,
            MetricKind::Histogram => MetricType::Histogram,
        };
        hostcalls::define_metric(kind, name).ok()
    }

    fn increment_metric(&mut self, id: u32, delta: i64) {
        let _ = hostcalls::increment_metric(id, delta);
    }

    fn record_metric(&mut self, id: u32, value: u64) {
        let _ = hostcalls::record_metric(id, value);
    }

    fn dispatch(&mut self, cluster: &str, headers: &[(&str, &str)], body: &[u8], timeout_ms: u64) -> Result<u32, String> {
        hostcalls::dispatch_http_call(cluster, headers.to_vec(), Some(body), vec![], Duration::from_millis(timeout_ms)).map_err(|s| format!("{s:?}"))
    }

    fn plugin_configuration(&self) -> Vec<u8> {
        hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX).ok().flatten().unwrap_or_default()
    }

    fn set_tick_period(&mut self, ms: u64) {
        let _ = hostcalls::set_tick_period(Duration::from_millis(ms));
    }

    fn random(&mut self, buf: &mut [u8]) {
        let _ = getrandom::fill(buf);
    }

    fn memory_bytes(&self) -> i64 {
        i64::try_from(core::arch::wasm32::memory_size(0).saturating_mul(65_536)).unwrap_or(i64::MAX)
    }
}

fn action(a: Action) -> WasmAction {
    match a {
        Action::Continue => WasmAction::Continue,
        Action::Pause => WasmAction::Pause,
    }
}

struct RootContextImpl(Root);

impl Context for RootContextImpl {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        self.0.call_response(&mut WasmHost, token_id, body_size);
    }

    fn on_done(&mut self) -> bool {
        self.0.done(&mut WasmHost);
        true
    }
}

impl RootContext for RootContextImpl {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        self.0.configure(&mut WasmHost)
    }

    fn on_tick(&mut self) {
        self.0.tick(&mut WasmHost);
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(StreamContext(self.0.stream(&mut WasmHost)?)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct StreamContext(Stream);

impl Context for StreamContext {}

impl HttpContext for StreamContext {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> WasmAction {
        action(self.0.on_request_headers(&mut WasmHost, end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> WasmAction {
        action(self.0.on_request_body(&mut WasmHost, body_size, end_of_stream))
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> WasmAction {
        action(self.0.on_request_trailers(&mut WasmHost))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> WasmAction {
        action(self.0.on_response_headers(&mut WasmHost, end_of_stream))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> WasmAction {
        action(self.0.on_response_body(&mut WasmHost, body_size, end_of_stream))
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> WasmAction {
        action(self.0.on_response_trailers(&mut WasmHost))
    }

    fn on_log(&mut self) {
        self.0.on_log(&mut WasmHost);
    }
}

/// The one host call made without the SDK's wrapper, whose `get_map` copies every name and
/// value of a map into a `String` of its own; [`HeaderBlock`] reads the host's buffer in place.
#[allow(unsafe_code)]
mod abi {
    use proxy_wasm::types::MapType;

    extern "C" {
        // the SDK's import, with `u32` for its `repr(u32)` enums: a status the SDK's `Status`
        // does not list (a newer host's) is then a number, not an invalid enum value
        fn proxy_get_header_map_pairs(map_type: u32, return_map_data: *mut *mut u8, return_map_size: *mut usize) -> u32;
    }

    /// proxy-wasm's `Ok`.
    const OK: u32 = 0;

    /// The serialized map; empty when the host refuses (the SDK would panic).
    pub(super) fn header_map_pairs(map: MapType) -> Vec<u8> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: on `Ok` with a non-null pointer, the host has filled a buffer that it got from
        // this module's `proxy_on_memory_allocate(size)`, which is the SDK's: a `Box<[u8]>` of
        // exactly `size` bytes from the global allocator, given up with `Box::into_raw`. Taking
        // it back as a `Vec` of that length and capacity is how the SDK's own `get_map` does it;
        // the host keeps no reference to it.
        unsafe {
            match proxy_get_header_map_pairs(map as u32, &mut data, &mut size) {
                OK if !data.is_null() => Vec::from_raw_parts(data, size, size),
                _ => Vec::new(),
            }
        }
    }
}
