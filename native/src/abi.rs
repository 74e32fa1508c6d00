//! The C ABI of Envoy 1.40's dynamic modules, written by hand: the few types, callbacks and
//! event hooks the spike uses, and nothing else. This is the only module with `unsafe`.
//!
//! Signatures follow `source/extensions/dynamic_modules/abi/abi.h` in Envoy's source and were
//! checked against the 1.40.0 binary itself (`objdump` of the exported callbacks: which argument
//! registers each reads). On x86-64 a `{ptr, len}` struct passed by value travels in two
//! registers, exactly like two separate arguments, so a buffer struct here is also what older
//! headers spell as `ptr, size`.
//!
//! Lifetimes: Envoy's buffers and header views are valid only during the callback that hands
//! them out, so everything below copies headers into owned strings and lends body slices to a
//! closure that cannot keep them.

#![allow(unsafe_code)]

use crate::filter::{self, Filter, Native};
use std::ffi::c_void;

type EnvoyPtr = *mut c_void;
type ModulePtr = *const c_void;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct EnvoyBuffer {
    ptr: *const u8,
    length: usize,
}

#[repr(C)]
pub struct ModuleBuffer {
    ptr: *const u8,
    length: usize,
}

impl ModuleBuffer {
    fn of(bytes: &[u8]) -> ModuleBuffer {
        ModuleBuffer { ptr: bytes.as_ptr(), length: bytes.len() }
    }
}

#[repr(C)]
pub struct EnvoyHttpHeader {
    key_ptr: *const u8,
    key_length: usize,
    value_ptr: *const u8,
    value_length: usize,
}

#[repr(C)]
pub struct ModuleHttpHeader {
    key_ptr: *const u8,
    key_length: usize,
    value_ptr: *const u8,
    value_length: usize,
}

// envoy_dynamic_module_type_http_header_type
const REQUEST_HEADER: u32 = 0;
const RESPONSE_HEADER: u32 = 2;
// envoy_dynamic_module_type_http_body_type
const RECEIVED_REQUEST_BODY: u32 = 0;
const RECEIVED_RESPONSE_BODY: u32 = 2;
// every on_http_filter_*_status enum starts with Continue
const CONTINUE: u32 = 0;
// envoy_dynamic_module_type_http_callout_init_result / _result
const CALLOUT_SUCCESS: u32 = 0;
// envoy_dynamic_module_type_log_level
const LOG_WARN: u32 = 3;

extern "C" {
    fn envoy_dynamic_module_callback_http_get_headers_size(filter: EnvoyPtr, kind: u32) -> usize;
    fn envoy_dynamic_module_callback_http_get_headers(filter: EnvoyPtr, kind: u32, out: *mut EnvoyHttpHeader) -> bool;
    fn envoy_dynamic_module_callback_http_get_header(
        filter: EnvoyPtr,
        kind: u32,
        key: ModuleBuffer,
        out: *mut EnvoyBuffer,
        index: usize,
        total: *mut usize,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_get_body_chunks_size(filter: EnvoyPtr, kind: u32) -> usize;
    fn envoy_dynamic_module_callback_http_get_body_chunks(filter: EnvoyPtr, kind: u32, out: *mut EnvoyBuffer) -> bool;
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_new(config: EnvoyPtr) -> EnvoyPtr;
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_delete(scheduler: EnvoyPtr);
    fn envoy_dynamic_module_callback_http_filter_config_scheduler_commit(scheduler: EnvoyPtr, event_id: u64);
    fn envoy_dynamic_module_callback_http_filter_config_http_callout(
        config: EnvoyPtr,
        callout_id_out: *mut u64,
        cluster: ModuleBuffer,
        headers: *const ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_ms: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_log(level: u32, message: ModuleBuffer);
}

/// Copies `len` bytes that Envoy lent; a null or empty view is empty.
fn lent<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: Envoy hands out (ptr, len) views of memory it keeps alive for the whole callback,
    // and every caller here uses the slice only within that callback.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

fn text(ptr: *const u8, len: usize) -> String {
    String::from_utf8_lossy(lent(ptr, len)).into_owned()
}

/// A line in Envoy's log (component `dynamic_modules`).
pub fn warn(message: &str) {
    // SAFETY: the buffer points into `message`, which outlives the call; Envoy copies it.
    unsafe { envoy_dynamic_module_callback_log(LOG_WARN, ModuleBuffer::of(message.as_bytes())) }
}

/// One HTTP stream's handle, valid for the duration of the hook that made it.
pub struct Stream(EnvoyPtr);

/// Which side of the exchange.
#[derive(Clone, Copy)]
pub enum Side {
    Request,
    Response,
}

impl Stream {
    /// Every header of a side, copied (Envoy's map is read in place, one call for all of it).
    pub fn headers(&self, side: Side) -> Vec<(String, String)> {
        let kind = match side {
            Side::Request => REQUEST_HEADER,
            Side::Response => RESPONSE_HEADER,
        };
        // SAFETY: self.0 is the filter pointer Envoy passed to the current hook.
        let n = unsafe { envoy_dynamic_module_callback_http_get_headers_size(self.0, kind) };
        if n == 0 {
            return Vec::new();
        }
        let mut views: Vec<EnvoyHttpHeader> = Vec::with_capacity(n);
        // SAFETY: `views` has room for the `n` entries Envoy said it holds; Envoy writes exactly
        // that many before returning true, and only then is the length set.
        let ok = unsafe {
            let ok = envoy_dynamic_module_callback_http_get_headers(self.0, kind, views.as_mut_ptr());
            if ok {
                views.set_len(n);
            }
            ok
        };
        if !ok {
            return Vec::new();
        }
        views.iter().map(|h| (text(h.key_ptr, h.key_length), text(h.value_ptr, h.value_length))).collect()
    }

    /// The first value of one header, read by name without touching the rest of the map.
    pub fn header(&self, side: Side, name: &str) -> Option<String> {
        let kind = match side {
            Side::Request => REQUEST_HEADER,
            Side::Response => RESPONSE_HEADER,
        };
        let mut out = EnvoyBuffer { ptr: std::ptr::null(), length: 0 };
        let mut total = 0usize;
        // SAFETY: self.0 is the current hook's filter pointer; `out` and `total` are valid for
        // writes, and `name` outlives the call.
        let found = unsafe {
            envoy_dynamic_module_callback_http_get_header(self.0, kind, ModuleBuffer::of(name.as_bytes()), &mut out, 0, &mut total)
        };
        (found && !out.ptr.is_null()).then(|| text(out.ptr, out.length))
    }

    /// Lends the slices of the body chunk that arrived with this callback to `f`, in order.
    /// Nothing is copied: the slices are Envoy's own buffer.
    pub fn with_body<R>(&self, side: Side, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let kind = match side {
            Side::Request => RECEIVED_REQUEST_BODY,
            Side::Response => RECEIVED_RESPONSE_BODY,
        };
        // SAFETY: self.0 is the current hook's filter pointer.
        let n = unsafe { envoy_dynamic_module_callback_http_get_body_chunks_size(self.0, kind) };
        if n == 0 {
            return f(&[]);
        }
        let mut views: Vec<EnvoyBuffer> = Vec::with_capacity(n);
        // SAFETY: room for the `n` views Envoy reported; the length is set only after it wrote them.
        let ok = unsafe {
            let ok = envoy_dynamic_module_callback_http_get_body_chunks(self.0, kind, views.as_mut_ptr());
            if ok {
                views.set_len(n);
            }
            ok
        };
        if !ok {
            return f(&[]);
        }
        let slices: Vec<&[u8]> = views.iter().map(|v| lent(v.ptr, v.length)).collect();
        f(&slices)
    }
}

/// The filter configuration's Envoy side: HTTP callouts, on the main thread.
pub struct ConfigHandle(EnvoyPtr);

impl ConfigHandle {
    /// Sends one export request; the callout id comes back with its answer.
    pub fn callout(&self, cluster: &str, headers: &[(String, String)], body: &[u8], timeout_ms: u64) -> Result<u64, u32> {
        let views: Vec<ModuleHttpHeader> = headers
            .iter()
            .map(|(k, v)| ModuleHttpHeader { key_ptr: k.as_ptr(), key_length: k.len(), value_ptr: v.as_ptr(), value_length: v.len() })
            .collect();
        let mut id = 0u64;
        // SAFETY: self.0 is the configuration pointer Envoy passed to this hook (main thread);
        // every buffer points into data that outlives the call, and Envoy copies what it keeps.
        let result = unsafe {
            envoy_dynamic_module_callback_http_filter_config_http_callout(
                self.0,
                &mut id,
                ModuleBuffer::of(cluster.as_bytes()),
                views.as_ptr(),
                views.len(),
                ModuleBuffer::of(body),
                timeout_ms,
            )
        };
        if result == CALLOUT_SUCCESS {
            Ok(id)
        } else {
            Err(result)
        }
    }
}

/// A config scheduler: `commit` posts an event to the main thread, from any thread.
pub struct Scheduler(EnvoyPtr);

// SAFETY: Envoy's config scheduler holds a weak reference to the configuration and its
// main-thread dispatcher; `commit` only posts to that dispatcher, which is thread-safe. The
// pointer is deleted once, in `on_http_filter_config_destroy`, after the ticker thread that
// shares it has been joined.
unsafe impl Send for Scheduler {}
// SAFETY: as above; `commit` takes `&self` and is safe to call from several threads.
unsafe impl Sync for Scheduler {}

impl Scheduler {
    pub fn commit(&self) {
        // SAFETY: the scheduler is alive until `delete`, which runs after every user is gone.
        unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_commit(self.0, 0) }
    }

    fn delete(self) {
        // SAFETY: created by scheduler_new, deleted exactly once (this consumes it).
        unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_delete(self.0) }
    }
}

// ---------------------------------------------------------------------------------------------
// Event hooks: Envoy calls these. Each converts raw pointers and hands over to `filter`.
// ---------------------------------------------------------------------------------------------

/// The ABI version this module was written against (Envoy only warns on a mismatch).
static ABI_VERSION: &[u8] = b"v0.2.0\0";

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    ABI_VERSION.as_ptr()
}

/// A configuration: the plugin JSON (a `StringValue`), checked here once; `null` refuses it.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: EnvoyPtr,
    _name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> ModulePtr {
    let raw = lent(config.ptr, config.length).to_vec();
    // SAFETY: Envoy passes its live configuration object; the scheduler lives until config_destroy.
    let scheduler = Scheduler(unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_new(config_envoy) });
    match Native::new(raw, scheduler) {
        Ok(native) => Box::into_raw(Box::new(native)) as ModulePtr,
        Err((message, scheduler)) => {
            warn(&message);
            if let Some(scheduler) = scheduler {
                scheduler.delete();
            }
            std::ptr::null()
        }
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: ModulePtr) {
    if config.is_null() {
        return;
    }
    // SAFETY: `config` came from Box::into_raw in config_new and Envoy destroys it once.
    let native = unsafe { Box::from_raw(config as *mut Native) };
    if let Some(scheduler) = native.stop() {
        scheduler.delete();
    }
}

/// The main thread: time to export (the ticker thread committed an event).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_scheduled(config_envoy: EnvoyPtr, config: ModulePtr, _event: u64) {
    if let Some(native) = native(config) {
        native.pump(&ConfigHandle(config_envoy), filter::now_ns());
    }
}

/// An export callout answered (main thread).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_callout_done(
    config_envoy: EnvoyPtr,
    config: ModulePtr,
    callout_id: u64,
    result: u32,
    headers: *const EnvoyHttpHeader,
    headers_size: usize,
    body: *const EnvoyBuffer,
    body_size: usize,
) {
    let Some(native) = native(config) else { return };
    let mut owned_headers = Vec::new();
    let mut owned_body = Vec::new();
    if result == CALLOUT_SUCCESS {
        if !headers.is_null() {
            // SAFETY: Envoy passes `headers_size` header views, valid during this call.
            let views = unsafe { std::slice::from_raw_parts(headers, headers_size) };
            owned_headers = views.iter().map(|h| (text(h.key_ptr, h.key_length), text(h.value_ptr, h.value_length))).collect();
        }
        if !body.is_null() {
            // SAFETY: Envoy passes `body_size` slices of the response body, valid during this call.
            let slices = unsafe { std::slice::from_raw_parts(body, body_size) };
            for s in slices {
                owned_body.extend_from_slice(lent(s.ptr, s.length));
            }
        }
    }
    native.callout_done(&ConfigHandle(config_envoy), callout_id, result == CALLOUT_SUCCESS, &owned_headers, &owned_body, filter::now_ns());
}

fn native<'a>(config: ModulePtr) -> Option<&'a Native> {
    // SAFETY: a non-null config pointer came from Box::into_raw in config_new and stays alive
    // until config_destroy, after which Envoy calls no hook with it. `Native` is Sync.
    unsafe { (config as *const Native).as_ref() }
}

fn filter<'a>(ptr: ModulePtr) -> Option<&'a mut Filter> {
    // SAFETY: a non-null filter pointer came from Box::into_raw in filter_new; Envoy calls a
    // stream's hooks one at a time on its worker thread, so this is the only reference.
    unsafe { (ptr as *mut Filter).as_mut() }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(config: ModulePtr, _filter_envoy: EnvoyPtr) -> ModulePtr {
    match native(config) {
        Some(native) => Box::into_raw(Box::new(Filter::new(native))) as ModulePtr,
        None => std::ptr::null(),
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(ptr: ModulePtr) {
    if !ptr.is_null() {
        // SAFETY: from Box::into_raw in filter_new; Envoy destroys each filter once.
        drop(unsafe { Box::from_raw(ptr as *mut Filter) });
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(envoy: EnvoyPtr, ptr: ModulePtr, end_of_stream: bool) -> u32 {
    if let Some(f) = filter(ptr) {
        f.request_headers(&Stream(envoy), end_of_stream);
    }
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(envoy: EnvoyPtr, ptr: ModulePtr, end_of_stream: bool) -> u32 {
    if let Some(f) = filter(ptr) {
        f.request_body(&Stream(envoy), end_of_stream);
    }
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(_envoy: EnvoyPtr, _ptr: ModulePtr) -> u32 {
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(envoy: EnvoyPtr, ptr: ModulePtr, end_of_stream: bool) -> u32 {
    if let Some(f) = filter(ptr) {
        f.response_headers(&Stream(envoy), end_of_stream);
    }
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(envoy: EnvoyPtr, ptr: ModulePtr, end_of_stream: bool) -> u32 {
    if let Some(f) = filter(ptr) {
        f.response_body(&Stream(envoy), end_of_stream);
    }
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(_envoy: EnvoyPtr, ptr: ModulePtr) -> u32 {
    if let Some(f) = filter(ptr) {
        f.response_trailers();
    }
    CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(_envoy: EnvoyPtr, ptr: ModulePtr) {
    if let Some(f) = filter(ptr) {
        f.complete();
    }
}

// Hooks Envoy requires but the spike does not use: per-stream callouts and streams, per-stream
// timers, and downstream flow control. Their arguments are ignored, so none are declared.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done() {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers() {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data() {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers() {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete() {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset() {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled() {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark() {}
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark() {}
