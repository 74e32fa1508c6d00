//! The demo upstream: replays provider recordings on 127.0.0.1 (port from argv, default 18080).

fn main() {
    let port = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(18080);
    match genai_tap_testkit::upstream::Upstream::start(port) {
        Ok(u) => {
            println!("genai-tap-upstream: replaying recordings on 127.0.0.1:{}", u.port());
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("genai-tap-upstream: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    }
}
