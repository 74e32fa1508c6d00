//! The host shell: the only code that calls the proxy-wasm ABI.
//!
//! It maps Envoy's callbacks onto the sans-I/O core and applies what the core answers. Every
//! host call goes through the small [`Host`] trait: `wasm` implements it with proxy-wasm's
//! `hostcalls` (and is the only file that names proxy-wasm), and the tests implement it with a
//! fake, so the stream and root logic below runs natively too.
//!
//! - [`stream::Stream`]: one HTTP stream; feeds an [`crate::exchange::Exchange`] and applies
//!   its verdicts in one `drive` step.
//! - [`root::Root`]: one VM's configuration, export and metrics; `on_tick` forwards time.
//! - [`vm::Vm`]: what the root context shares with its streams.
//!
//! Host data is never unwrapped: a failed host call degrades to "do nothing" and traffic
//! continues, because a panic here would kill the VM for every request it serves.

mod header_block;
mod metrics;
mod root;
mod stream;
mod vm;

#[cfg(test)]
mod cost_tests;
#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "wasm32")]
mod wasm;

use crate::session::SetError;
use header_block::HeaderBlock;
use crate::stats::MetricKind;

/// Which header map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Headers {
    Request,
    Response,
    /// The response headers of a call the root context dispatched.
    CallResponse,
}

/// Which body buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyOf {
    Request,
    Response,
    /// The response body of a call the root context dispatched.
    CallResponse,
}

/// How loud a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Warn,
    Critical,
}

/// What a stream callback tells Envoy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Continue,
    /// Stop iteration (a held body, or a local reply was sent).
    Pause,
}

/// Every host call the shell makes. Each degrades instead of failing: a read that the host
/// refuses is empty, a write that it refuses is dropped.
pub(crate) trait Host {
    /// Unix time in nanoseconds (0 if the host cannot say).
    fn now_ns(&self) -> u64;
    fn log(&mut self, level: Level, message: &str);
    fn headers(&self, map: Headers) -> HeaderBlock;
    /// Sets (or, with `None`, removes) a header.
    fn set_header(&mut self, map: Headers, name: &str, value: Option<&str>);
    /// The first `size` bytes of the current body chunk.
    fn body(&self, which: BodyOf, size: usize) -> Vec<u8>;
    /// Replaces the first `len` bytes of the current body chunk with `bytes`.
    fn replace_body(&mut self, which: BodyOf, len: usize, bytes: &[u8]);
    fn send_reply(&mut self, status: u32, content_type: &str, body: &[u8]);
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
    fn shared_get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    fn shared_set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError>;
    /// A metric's id, defining it on first use.
    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Option<u32>;
    fn increment_metric(&mut self, id: u32, delta: i64);
    fn record_metric(&mut self, id: u32, value: u64);
    /// Sends an HTTP call to `cluster`; the token comes back with its response.
    fn dispatch(&mut self, cluster: &str, headers: &[(&str, &str)], body: &[u8], timeout_ms: u64) -> Result<u32, String>;
    fn plugin_configuration(&self) -> Vec<u8>;
    fn set_tick_period(&mut self, ms: u64);
    /// Fills `buf` with random bytes (zeros if the host cannot).
    fn random(&mut self, buf: &mut [u8]);
    /// The size of this VM's linear memory.
    fn memory_bytes(&self) -> i64;
}

/// Shared data through the host: one store for every worker of this VM id.
pub(crate) struct SharedStore<'a, H: Host>(pub &'a mut H);

impl<H: Host> crate::session::SharedData for SharedStore<'_, H> {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.0.shared_get(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError> {
        self.0.shared_set(key, value, cas)
    }
}
