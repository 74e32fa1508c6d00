//! The host shell: the only code that calls the proxy-wasm ABI.
//!
//! It maps Envoy's callbacks onto the sans-I/O core and applies what the core answers. The root
//! context (`root`) owns the configuration, the exporter and the metrics of one VM; each HTTP
//! stream gets an `http::Stream` that feeds an [`crate::exchange::Exchange`]. Host data is never
//! unwrapped: a failed host call degrades to "do nothing" and traffic continues, because a panic
//! here would kill the VM for every request it serves.

mod metrics;
mod root;
mod stream;

use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    std::panic::set_hook(Box::new(|info| {
        let _ = proxy_wasm::hostcalls::log(LogLevel::Critical, &format!("genai-tap: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::Root::default())
    });
}}

/// Unix time in nanoseconds from the host clock (0 if the host cannot say).
fn now_ns() -> u64 {
    proxy_wasm::hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn log(level: LogLevel, message: &str) {
    let _ = proxy_wasm::hostcalls::log(level, message);
}
