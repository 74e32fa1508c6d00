//! The demo OTLP sink: prints every span it receives, decoded (port from argv, default 4318).

fn main() {
    let port = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(4318);
    match genai_tap_testkit::sink::OtlpSink::start(port) {
        Ok(s) => {
            s.print(true);
            println!("genai-tap-sink: OTLP/HTTP on 127.0.0.1:{} (/v1/traces, /v1/logs); spans print below", s.port);
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("genai-tap-sink: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    }
}
